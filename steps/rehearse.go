package steps

import "time"

// Rehearsal is what `run --rehearse` measured of one sql step: it ran in
// a transaction that was always rolled back, while a second connection
// read pg_locks for the step's backend.
type Rehearsal struct {
	// Skipped says why the step was not rehearsed (a step with
	// transaction = false cannot be rolled back); nothing else is set.
	Skipped string `json:"skipped,omitempty"`
	// Elapsed is from BEGIN to the ROLLBACK.
	Elapsed time.Duration `json:"elapsed,omitempty"`
	// Locks are the table-level locks the step's backend held, the
	// strongest per relation.
	Locks []RehearsedLock `json:"locks,omitempty"`
	// Wrong lists the predictions the rehearsal proved wrong, one line
	// each (the relation, what was predicted, what was taken).
	Wrong []string `json:"wrong,omitempty"`
	// Error is the statement error that ended the rehearsal early (the
	// transaction was rolled back all the same).
	Error string `json:"error,omitempty"`
}

// RehearsedLock is one relation's lock as the rehearsal saw it.
type RehearsedLock struct {
	Rel  string `json:"rel"`
	Mode string `json:"mode"`
	// Predicted is the mode lockcheck predicted for the relation ("" when
	// it predicted none).
	Predicted string `json:"predicted,omitempty"`
	// Statement is the first statement (0-based) after which it was held.
	Statement int `json:"statement"`
	// Held is how long it was held: from the start of that statement to
	// the rollback.
	Held  time.Duration `json:"held"`
	Wrong bool          `json:"wrong,omitempty"`
}
