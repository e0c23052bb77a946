package db

import "time"

// These value types are produced by this package and carried unchanged in
// the engine's events (package steps aliases them), so the journal records
// exactly what the database said.

// IdentitySource is what one identity source said about the connected database.
type IdentitySource struct {
	Source   string `json:"source"`          // stamp | supabase | sql | system_identifier
	Found    string `json:"found,omitempty"` // "" when it did not resolve
	Resolved bool   `json:"resolved"`
	Detail   string `json:"detail,omitempty"` // how it resolved or why not
}

// LockInfo describes the deploy lock: ours, or the holder's when held.
type LockInfo struct {
	Key             int64     `json:"key"`
	PID             int       `json:"pid,omitempty"`
	ApplicationName string    `json:"application_name,omitempty"`
	Client          string    `json:"client,omitempty"`
	Since           time.Time `json:"since,omitzero"`
	// Runbook and Operator are read from a handrail holder's
	// application_name ("handrail/RUNBOOK/OPERATOR").
	Runbook  string `json:"runbook,omitempty"`
	Operator string `json:"operator,omitempty"`
}

// Notice is a server notice (RAISE NOTICE, warnings).
type Notice struct {
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Detail   string `json:"detail,omitempty"`
	Hint     string `json:"hint,omitempty"`
}

// Blocker is a backend blocking one of ours (pg_blocking_pids).
type Blocker struct {
	PID             int           `json:"pid"`
	State           string        `json:"state"`
	Query           string        `json:"query"`
	ApplicationName string        `json:"application_name,omitempty"`
	User            string        `json:"user,omitempty"`
	For             time.Duration `json:"for"`    // how long its transaction has run
	Waited          time.Duration `json:"waited"` // how long we have waited
}
