package lockcheck

// Rule is one kind of finding: its id (what an allow comment names), a
// one-line summary, and the safer form in general terms. The finding
// itself says why for the statement at hand.
type Rule struct {
	ID      string
	Summary string
	Safer   string
}

// The rule ids.
const (
	RuleCreateIndexBlocking    = "create-index-blocking"
	RuleDropIndexBlocking      = "drop-index-blocking"
	RuleAddCheckValidates      = "add-check-validates"
	RuleAddForeignKeyValidates = "add-foreign-key-validates"
	RuleValidateSameTx         = "validate-same-transaction"
	RuleSetNotNullScans        = "set-not-null-scans"
	RuleColumnTypeRewrite      = "column-type-rewrite"
	RuleVolatileDefault        = "add-column-volatile-default"
	RuleUniqueWithoutIndex     = "add-unique-without-index"
	RuleLockHeldUntilCommit    = "lock-held-until-commit"
	RuleTimeoutOverride        = "timeout-override"
	RuleDropTable              = "drop-table"
	RuleDropColumn             = "drop-column"
	RuleTruncate               = "truncate-table"
	RuleRenameTable            = "rename-table"
	RuleRenameColumn           = "rename-column"
	RuleLocksUnknown           = "locks-unknown"
	RuleLockQueue              = "lock-queue"
)

// Rules lists every rule, in the order the README documents them.
var Rules = []Rule{
	{RuleCreateIndexBlocking, "CREATE INDEX without CONCURRENTLY on an existing table: SHARE lock, writes wait for the whole build",
		"CREATE INDEX CONCURRENTLY in a step with transaction = false"},
	{RuleDropIndexBlocking, "DROP INDEX without CONCURRENTLY: ACCESS EXCLUSIVE on the index's table",
		"DROP INDEX CONCURRENTLY in a step with transaction = false"},
	{RuleAddCheckValidates, "ADD CONSTRAINT ... CHECK without NOT VALID: every row is checked under ACCESS EXCLUSIVE",
		"ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT in a later step (SHARE UPDATE EXCLUSIVE: reads and writes continue)"},
	{RuleAddForeignKeyValidates, "ADD FOREIGN KEY without NOT VALID: every row is checked under SHARE ROW EXCLUSIVE on both tables",
		"ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then VALIDATE CONSTRAINT in a later step"},
	{RuleValidateSameTx, "NOT VALID and VALIDATE CONSTRAINT in the same transaction: the validation runs under the ACCESS EXCLUSIVE lock NOT VALID was meant to shorten",
		"VALIDATE CONSTRAINT in a later step (its own transaction)"},
	{RuleSetNotNullScans, "SET NOT NULL without a validated CHECK (col IS NOT NULL): every row is checked under ACCESS EXCLUSIVE",
		"ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT c in a later step; then SET NOT NULL (no scan) and DROP CONSTRAINT c"},
	{RuleColumnTypeRewrite, "ALTER COLUMN ... TYPE that is not binary-coercible: the table and its indexes are rewritten under ACCESS EXCLUSIVE",
		"a binary-coercible change (varchar(n) to a longer varchar or text), or a new column backfilled in batches and swapped in"},
	{RuleVolatileDefault, "ADD COLUMN with a volatile default (or identity, serial, stored generated column): the table is rewritten under ACCESS EXCLUSIVE",
		"ADD COLUMN without the default (or with a constant one), backfill in batches, then SET DEFAULT"},
	{RuleUniqueWithoutIndex, "ADD UNIQUE / PRIMARY KEY without USING INDEX: the index is built under ACCESS EXCLUSIVE",
		"CREATE UNIQUE INDEX CONCURRENTLY (transaction = false), then ADD CONSTRAINT ... UNIQUE / PRIMARY KEY USING INDEX"},
	{RuleLockHeldUntilCommit, "statements after an ACCESS EXCLUSIVE lock in one transactional step: the lock is held until COMMIT, through all of them",
		"take the ACCESS EXCLUSIVE lock last, or move the statements after it to their own step"},
	{RuleTimeoutOverride, "the step's SQL changes lock_timeout or statement_timeout (or RESET ALL): handrail's bound on waiting no longer holds",
		"set lock_timeout and statement_timeout in the runbook's [settings] instead"},
	{RuleDropTable, "DROP TABLE: the table and its data disappear",
		"make sure nothing uses it (rename it first and wait), and that the rollback can restore it"},
	{RuleDropColumn, "DROP COLUMN: the column and its values disappear",
		"stop the application using it first (deploy), then drop it in a later change"},
	{RuleTruncate, "TRUNCATE: every row disappears",
		"make sure this is the table meant, and that the rollback can restore its rows"},
	{RuleRenameTable, "RENAME of a table: queries using the old name fail from COMMIT on",
		"add a view with the old name, or deploy the application change first"},
	{RuleRenameColumn, "RENAME COLUMN: queries using the old name fail from COMMIT on",
		"add the new column and keep both in sync until the application moved, or deploy the application change first"},
	{RuleLocksUnknown, "a statement whose locks handrail cannot tell from its text (DO block, CALL, extension script)",
		"say in an allow comment what it locks, or move the DDL it runs into plain statements"},
	{RuleLockQueue, "live only: a session idle in its transaction, or in one for long, holds a lock that conflicts with the statement's: the request queues behind it, and later queries on the table queue behind the request",
		"wait until that session ends, or end it (pg_terminate_backend) if it is stuck; lock_timeout bounds the wait"},
}

var rulesByID = func() map[string]Rule {
	m := make(map[string]Rule, len(Rules))
	for _, r := range Rules {
		m[r.ID] = r
	}
	return m
}()

// RuleByID returns the rule with that id.
func RuleByID(id string) (Rule, bool) {
	r, ok := rulesByID[id]
	return r, ok
}
