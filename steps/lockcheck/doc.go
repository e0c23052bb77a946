// Package lockcheck predicts which table-level locks each SQL statement of
// a step takes, whether it rewrites or scans a table while holding them,
// and which of those are hazards worth a finding (rule id, file:line, why,
// the safer form). Analyze does it from the SQL text alone; Weigh adds
// what only the target database knows: relation sizes, partitions, the
// volatility of a default, whether a type change is binary-coercible,
// and who would make a lock request queue.
//
// The statement grammar is deliberately small: the heads of the
// statements a migration uses and the subcommands of ALTER TABLE, on top
// of package sqlscan's lexer. Where the text cannot tell (a DO block, a
// function call, a type change before the column's current type is
// known) the answer is Unknown with the reason, never a guess. The lock
// modes follow PostgreSQL's documentation ("Explicit Locking" and the
// lock level of each ALTER TABLE form), and the oracle test checks each
// prediction against pg_locks and relfilenode on a real server.
//
// A finding is accepted in the SQL with a comment naming the rule and a
// reason, anywhere in the statement or in the comments directly above
// it:
//
//	-- handrail:allow create-index-blocking lookup table, 300 rows
//	create index on country_codes (name);
//
// The reason is kept (Finding.Allowed) so the journal can record who
// accepted what and why.
package lockcheck
