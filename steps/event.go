package steps

import (
	"fmt"
	"time"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/steps/lockcheck"
)

// Value types the db package produces, carried unchanged in events.
type (
	IdentitySource = db.IdentitySource
	LockInfo       = db.LockInfo
	Notice         = db.Notice
	Blocker        = db.Blocker
)

// EventType names one kind of event. The set is closed: the fold, the
// journal and the screens know every one of them.
type EventType string

const (
	// Session lifecycle.
	EvSessionStarted  EventType = "session_started"  // Session
	EvSessionResumed  EventType = "session_resumed"  // Session; Text: why
	EvSessionEnded    EventType = "session_ended"    // Outcome, ExitCode
	EvConnecting      EventType = "connecting"       // Text: where, and how long it may take
	EvConnectionLost  EventType = "connection_lost"  // Text: reconnecting; the identity is unproven until re-verified
	EvReconnectFailed EventType = "reconnect_failed" // Error: the target could not be reached again
	EvReconnected     EventType = "reconnected"      // Text

	// Commands.
	EvCommandRefused EventType = "command_refused" // Command: what was asked; Text: why it was refused

	// Safety gates.
	EvIdentityVerified EventType = "identity_verified" // Identity
	EvIdentityMismatch EventType = "identity_mismatch" // Identity (hard stop)
	EvLockAcquired     EventType = "lock_acquired"     // Lock
	EvLockHeld         EventType = "lock_held"         // Lock (who holds it)
	EvConsentRequired  EventType = "consent_required"  // Step: the write that needs it
	EvConsentGiven     EventType = "consent_given"     // Step
	EvConsentRejected  EventType = "consent_rejected"  // Step; Text: what was typed (project ids are not secret)
	// The promotion gate: a run against [target] of a runbook that names
	// [staging] needs a staging journal proving this runbook succeeded there.
	EvPromotionChecked    EventType = "promotion_checked"    // Promotion: the proof found, or what is missing
	EvPromotionRequired   EventType = "promotion_required"   // Step: the write it holds back; Text: what is missing
	EvPromotionOverridden EventType = "promotion_overridden" // Step; Text: the operator's typed reason

	// Steps.
	EvStepStarted        EventType = "step_started"         // Step; Text: step kind
	EvStepWouldRun       EventType = "step_would_run"       // Step; Statements: what would run (dry run)
	EvIntent             EventType = "intent"               // Step; Statements: about to be sent (write-ahead, fsynced)
	EvStatementStarted   EventType = "statement_started"    // Statement
	EvStatementFinished  EventType = "statement_finished"   // Statement (Tag, RowsAffected)
	EvRows               EventType = "rows"                 // Rows (a batch)
	EvNotice             EventType = "notice"               // Notice
	EvLockWait           EventType = "lock_wait"            // Blockers (empty: no longer waiting)
	EvCheckPassed        EventType = "check_passed"         // Check
	EvCheckFailed        EventType = "check_failed"         // Check
	EvItemTicked         EventType = "item_ticked"          // Item; Auto when a query ticked it
	EvItemUnticked       EventType = "item_unticked"        // Item
	EvItemSkipped        EventType = "item_skipped"         // Item; Text: reason
	EvItemCheckFailed    EventType = "item_check_failed"    // Item; Check
	EvConfirmed          EventType = "confirmed"            // Step
	EvConfirmRejected    EventType = "confirm_rejected"     // Step; Text: what was typed
	EvManualResult       EventType = "manual_result"        // Pass; Text: note
	EvMonitorTick        EventType = "monitor_tick"         // Monitor
	EvMonitorAlert       EventType = "monitor_alert"        // Monitor (Query, Text: the condition)
	EvMonitorEnded       EventType = "monitor_ended"        // Text: reason when ended early ("" when the window elapsed)
	EvExecOutput         EventType = "exec_output"          // Text: a chunk of output
	EvExecExited         EventType = "exec_exited"          // ExitCode
	EvMessageRendered    EventType = "message_rendered"     // Message
	EvStepSucceeded      EventType = "step_succeeded"       // Step
	EvStepFailed         EventType = "step_failed"          // Error
	EvStepCancelled      EventType = "step_cancelled"       // Error (what was rolled back)
	EvStepSkipped        EventType = "step_skipped"         // Text: reason ("dry run", operator reason)
	EvStepOutcomeUnknown EventType = "step_outcome_unknown" // Error: why the outcome cannot be known
	EvStepMarked         EventType = "step_marked"          // Pass (applied or not); Text: operator's reason (resolves outcome-unknown)

	// Lock hazards of a sql step (package lockcheck), weighed on the target.
	EvLocksWeighed     EventType = "locks_weighed"     // Step; Locks: what each statement locks, the findings and their live weight
	EvLockAcknowledged EventType = "lock_acknowledged" // Step; Text: the rule id the operator typed (a high-severity finding may now run)
	// After a failed CREATE/REINDEX INDEX CONCURRENTLY.
	EvInvalidIndexFound   EventType = "invalid_index_found"   // Step; Invalid: the INVALID indexes the failed statement left
	EvInvalidIndexDrop    EventType = "invalid_index_drop"    // Step; Text: the index; Statements: the DROP INDEX CONCURRENTLY about to be sent (write-ahead, fsynced)
	EvInvalidIndexDropped EventType = "invalid_index_dropped" // Step; Pass (none: outcome unknown, on resume); Text: the index; Error when the drop failed
	// Rehearsal (run --rehearse): the step ran in a transaction that was rolled back.
	EvRehearsed EventType = "rehearsed" // Step; Rehearsal: the locks taken, how long, and the wrong predictions (or why it was skipped)

	// Rollback.
	EvRollbackOffered   EventType = "rollback_offered"   // Text: why (failed check with on_fail = "rollback")
	EvRollbackRequested EventType = "rollback_requested" // Text: reason; the running statement is being cancelled first
	EvRollbackStarted   EventType = "rollback_started"   // Text: reason
	EvRollbackFinished  EventType = "rollback_finished"  // Pass: whether every rollback step succeeded

	// Pair partners watching over SSH (handrail run --share).
	EvShareOpened   EventType = "share_opened"   // Share: where, the host key, who may join
	EvPartnerJoined EventType = "partner_joined" // Partner
	EvPartnerLeft   EventType = "partner_left"   // Partner; Text: why (quit, connection lost, handrail exited)

	// Second-person approval ([approval] required, --require-approval):
	// what the approvers (partners) did, each with the partner.
	EvApprovalRequired EventType = "approval_required" // Step: the write waiting; Text: who approved, who is missing, what holds it
	EvApprovalGiven    EventType = "approval_given"    // Step: the write approved; Partner: the approver (typed the project id)
	EvHoldPlaced       EventType = "hold_placed"       // Partner: the holder; no write starts until released
	EvHoldReleased     EventType = "hold_released"     // Partner: the holder; Text: why (released, left)
	EvRollbackProposed EventType = "rollback_proposed" // Partner: who asks the operator to roll back (the dialog opens)
)

// Event is one fact of a session. Exactly the fields its type documents
// are set. Events are values: the engine emits them, the journal records
// them, and Apply folds them into State.
type Event struct {
	Seq  int64         `json:"seq"`
	Time time.Time     `json:"time"`
	Mono time.Duration `json:"mono"` // since the session started (monotonic clock)
	Type EventType     `json:"type"`
	Step string        `json:"step,omitempty"`

	Session    *SessionInfo             `json:"session,omitempty"`
	Identity   *IdentityReport          `json:"identity,omitempty"`
	Lock       *LockInfo                `json:"lock,omitempty"`
	Statements *StatementList           `json:"statements,omitempty"` // read-only, shared: a sql step's is the runbook's own list
	Statement  *StatementInfo           `json:"statement,omitempty"`
	Rows       *RowBatch                `json:"rows,omitempty"`
	Notice     *Notice                  `json:"notice,omitempty"`
	Blockers   []Blocker                `json:"blockers,omitempty"`
	Check      *CheckReport             `json:"check,omitempty"`
	Item       *int                     `json:"item,omitempty"`
	Auto       bool                     `json:"auto,omitempty"`
	Pass       *bool                    `json:"pass,omitempty"`
	ExitCode   *int                     `json:"exit_code,omitempty"`
	Monitor    *MonitorSample           `json:"monitor,omitempty"`
	Message    *RenderedMsg             `json:"message,omitempty"`
	Error      *ErrorInfo               `json:"error,omitempty"`
	Outcome    Outcome                  `json:"outcome,omitempty"`
	Command    *CommandInfo             `json:"command,omitempty"`
	Promotion  *PromotionProof          `json:"promotion,omitempty"`
	Share      *ShareInfo               `json:"share,omitempty"`
	Partner    *Partner                 `json:"partner,omitempty"`
	Locks      *StepLocksReport         `json:"locks,omitempty"`
	Invalid    []lockcheck.InvalidIndex `json:"invalid,omitempty"`
	Rehearsal  *Rehearsal               `json:"rehearsal,omitempty"`
	Text       string                   `json:"text,omitempty"`
	// Secret marks Text as operator input that must never be recorded; the
	// journal replaces it before hashing.
	Secret bool `json:"secret,omitempty"`
}

// SessionInfo describes the session; carried by session_started and session_resumed.
type SessionInfo struct {
	SessionID    string `json:"session_id"`
	RunbookID    string `json:"runbook_id"`
	RunbookTitle string `json:"runbook_title"`
	RunbookVer   string `json:"runbook_version,omitempty"`
	RunbookHash  string `json:"runbook_hash"`
	TargetName   string `json:"target_name"`
	ProjectID    string `json:"project_id"`
	Production   bool   `json:"production"`
	Apply        bool   `json:"apply"`
	// Rehearse: run --rehearse. Nothing is applied (Apply is false), but
	// each transactional sql step runs in a transaction that is rolled
	// back, taking its locks: consent and acknowledgements are asked as
	// for a write.
	Rehearse    bool   `json:"rehearse,omitempty"`
	Operator    string `json:"operator"`
	DSN         string `json:"dsn"` // password removed
	HasRollback bool   `json:"has_rollback"`
	KeepRows    int    `json:"keep_rows"`
	// Environment is "staging" for a run of the runbook's [staging]
	// environment; "" for its [target].
	Environment string `json:"environment,omitempty"`
	// Promotion: the first write needs staging proof (or an override).
	Promotion bool `json:"promotion,omitempty"`
	// StagingProjectID is the staging environment the proof must come from.
	StagingProjectID string `json:"staging_project_id,omitempty"`
	// ApprovalRequired is how many approvers must approve each write
	// ([approval] required, --require-approval; 0: none). OperatorKeys
	// are the SHA-256 fingerprints of the operator's own SSH keys: a
	// partner using one of them is the operator and may not approve.
	ApprovalRequired int      `json:"approval_required,omitempty"`
	OperatorKeys     []string `json:"operator_keys,omitempty"`
	// RollbackWhen is the runbook's [rollback] when list and
	// SuccessCriteria its success_criteria, for the rollback dialog and the
	// end summary (the screen draws them from the journal alone).
	RollbackWhen    []string `json:"rollback_when,omitempty"`
	SuccessCriteria []string `json:"success_criteria,omitempty"`
	// Plan is every step of the runbook in order (phases, then rollback),
	// so a fold from the journal alone can draw the step list.
	Plan []PlannedStep `json:"plan"`
}

// PlannedStep is the static description of one step for the step list.
type PlannedStep struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Kind     Kind   `json:"kind"`
	Phase    string `json:"phase"`
	Rollback bool   `json:"rollback,omitempty"`
	// Items are checklist item texts; Watch are monitor watch items.
	Items []string `json:"items,omitempty"`
	Watch []string `json:"watch,omitempty"`
	// Prompt and TypeText are confirm details; Notes are instructions.
	Prompt   string `json:"prompt,omitempty"`
	TypeText string `json:"type_text,omitempty"`
	Notes    string `json:"notes,omitempty"`
	// SQL is the check/self-ticking query or the exec command, for display.
	SQL        string        `json:"sql,omitempty"`
	Expect     string        `json:"expect,omitempty"` // human summary of the expectation
	OnFail     string        `json:"on_fail,omitempty"`
	Writes     bool          `json:"writes,omitempty"`
	Duration   time.Duration `json:"duration,omitempty"` // monitor
	Statements int           `json:"statements,omitempty"`
}

// IdentityReport is the verdict of the identity gate.
type IdentityReport struct {
	Expected  string           `json:"expected"`
	Sources   []IdentitySource `json:"sources"`
	Forbidden string           `json:"forbidden,omitempty"` // the forbidden id that matched, if any
	OK        bool             `json:"ok"`
	Reason    string           `json:"reason,omitempty"` // one line: why it failed
}

// StatementInfo is one statement of a step, with its progress.
type StatementInfo struct {
	Index        int    `json:"index"` // 0-based
	Count        int    `json:"count"`
	SQL          string `json:"sql,omitempty"` // never empty in an event; a journal (format 2) leaves it out to refer to it by Index
	File         string `json:"file,omitempty"`
	Line         int    `json:"line,omitempty"`
	Tag          string `json:"tag,omitempty"`
	RowsAffected int64  `json:"rows_affected,omitempty"`
	// Elapsed is set on statement_finished.
	Elapsed time.Duration `json:"elapsed,omitempty"`
}

// RowBatch is a batch of result rows, already formatted for display.
// Columns is set on the first batch of a result. Total counts every row
// the server sent so far, kept or not.
type RowBatch struct {
	Columns []string   `json:"columns,omitempty"`
	Rows    [][]string `json:"rows,omitempty"`
	Total   int64      `json:"total"`
	// Dropped counts rows not kept (beyond keep_rows) so far.
	Dropped int64 `json:"dropped,omitempty"`
}

// CheckReport is the result of a check (or a self-ticking item).
type CheckReport struct {
	SQL        string     `json:"sql"`
	Expect     string     `json:"expect"`  // human summary of the expectation
	Summary    string     `json:"summary"` // one line verdict
	Columns    []string   `json:"columns,omitempty"`
	Actual     [][]string `json:"actual,omitempty"` // kept rows, formatted
	Expected   [][]string `json:"expected,omitempty"`
	Missing    []string   `json:"missing,omitempty"`    // expected rows not found, formatted
	Unexpected []string   `json:"unexpected,omitempty"` // actual rows not matched, formatted
	AsRole     string     `json:"as_role,omitempty"`
}

// MonitorSample is the latest result of one monitor query.
type MonitorSample struct {
	Query     int           `json:"query"` // index into the step's queries
	Title     string        `json:"title"`
	Columns   []string      `json:"columns,omitempty"`
	Rows      [][]string    `json:"rows,omitempty"`
	Error     string        `json:"error,omitempty"`
	Alerting  bool          `json:"alerting,omitempty"`
	Remaining time.Duration `json:"remaining"`
}

// RenderedMsg is a message template rendered with the session's facts.
type RenderedMsg struct {
	ID   string `json:"id"`
	To   string `json:"to"`
	When string `json:"when"`
	Body string `json:"body"`
}

// ErrorInfo says what went wrong, where, and what to do.
type ErrorInfo struct {
	Message  string `json:"message"`
	SQLState string `json:"sqlstate,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Hint     string `json:"hint,omitempty"`
	Where    string `json:"where,omitempty"` // file:line of the statement
	// RolledBack says the step's transaction left the database as before.
	RolledBack bool `json:"rolled_back,omitempty"`
	// Retryable: a lock timeout; the operator may retry the whole step.
	Retryable bool `json:"retryable,omitempty"`
	// DryRun: a check that failed in a dry run after writes were only
	// shown; expected, not a real failure (the run goes on).
	DryRun bool `json:"dry_run,omitempty"`
	// Blockers are the sessions the step last waited for (a lock
	// timeout), kept with the failure so the pane can still show them.
	Blockers []Blocker `json:"blockers,omitempty"`
}

// PartnerRole is what a pair partner may do. The set is closed: the keys
// file (--share-keys) names one of these for every partner.
type PartnerRole string

const (
	// RoleObserver watches the session, read-only.
	RoleObserver PartnerRole = "observer"
	// RoleApprover watches the session and may approve writes, hold the
	// session before the next write, and ask for the rollback.
	RoleApprover PartnerRole = "approver"
)

// PartnerRoles lists every role, in the order help texts name them.
var PartnerRoles = []PartnerRole{RoleObserver, RoleApprover}

// Valid reports whether r is one of PartnerRoles.
func (r PartnerRole) Valid() bool {
	for _, v := range PartnerRoles {
		if r == v {
			return true
		}
	}
	return false
}

// Partner is a pair partner: who (name and role from the keys file, the
// SHA-256 fingerprint of the SSH key they authenticated with) and, once
// joined, which connection (ID, numbered from 1 by the process that
// serves the session, and the client's address).
type Partner struct {
	ID          int         `json:"id,omitempty"`
	Name        string      `json:"name"`
	Role        PartnerRole `json:"role"`
	Fingerprint string      `json:"fingerprint"`
	Addr        string      `json:"addr,omitempty"`
}

// Label is how screens and the record name the partner: name (role).
func (p Partner) Label() string { return fmt.Sprintf("%s (%s)", p.Name, p.Role) }

// ShareInfo says that the session is shared over SSH: the address it
// listens on, the host key partners check on first connect, and who may
// join (the keys file, as name, role and key fingerprint).
type ShareInfo struct {
	Addr     string    `json:"addr"`
	HostKey  string    `json:"host_key"`
	KeysFile string    `json:"keys_file,omitempty"`
	Allowed  []Partner `json:"allowed,omitempty"`
}

// Outcome is how a session ended.
type Outcome string

const (
	OutcomeSucceeded  Outcome = "succeeded"
	OutcomeFailed     Outcome = "failed"
	OutcomeHardStop   Outcome = "identity_hard_stop"
	OutcomeLockHeld   Outcome = "lock_held"
	OutcomeRolledBack Outcome = "rolled_back"
	OutcomeAborted    Outcome = "aborted" // operator quit before the end
)

// ExitCode maps an outcome to the CLI exit codes of the spec.
func (o Outcome) ExitCode() int {
	switch o {
	case OutcomeSucceeded:
		return ExitOK
	case OutcomeHardStop:
		return ExitIdentity
	case OutcomeLockHeld:
		return ExitLockHeld
	case OutcomeRolledBack:
		return ExitRolledBack
	default:
		return ExitFailed
	}
}

// Exit codes of the CLI (SPEC section 5), declared once: outcomes map to
// them, and every command returns them.
const (
	ExitOK         = 0 // success
	ExitFailed     = 1 // a check or step failed, or the session was aborted (quit)
	ExitUsage      = 2 // usage or runbook error; for check also: the target could not be reached (nothing was checked)
	ExitIdentity   = 3 // identity hard stop
	ExitLockHeld   = 4 // the deploy lock is held by another session
	ExitRolledBack = 5 // rolled back
)

// EventTypes is the closed set of event types, declared once: the fold,
// the journal's verifier and the screens all know exactly these.
var EventTypes = []EventType{
	EvSessionStarted, EvSessionResumed, EvSessionEnded,
	EvConnecting, EvConnectionLost, EvReconnectFailed, EvReconnected,
	EvCommandRefused,
	EvIdentityVerified, EvIdentityMismatch, EvLockAcquired, EvLockHeld,
	EvConsentRequired, EvConsentGiven, EvConsentRejected,
	EvPromotionChecked, EvPromotionRequired, EvPromotionOverridden,
	EvStepStarted, EvStepWouldRun, EvIntent, EvStatementStarted, EvStatementFinished,
	EvRows, EvNotice, EvLockWait, EvCheckPassed, EvCheckFailed,
	EvItemTicked, EvItemUnticked, EvItemSkipped, EvItemCheckFailed,
	EvConfirmed, EvConfirmRejected, EvManualResult,
	EvMonitorTick, EvMonitorAlert, EvMonitorEnded,
	EvExecOutput, EvExecExited, EvMessageRendered,
	EvStepSucceeded, EvStepFailed, EvStepCancelled, EvStepSkipped, EvStepOutcomeUnknown, EvStepMarked,
	EvLocksWeighed, EvLockAcknowledged, EvInvalidIndexFound, EvInvalidIndexDrop, EvInvalidIndexDropped, EvRehearsed,
	EvRollbackOffered, EvRollbackRequested, EvRollbackStarted, EvRollbackFinished,
	EvShareOpened, EvPartnerJoined, EvPartnerLeft,
	EvApprovalRequired, EvApprovalGiven, EvHoldPlaced, EvHoldReleased, EvRollbackProposed,
}

var knownEventTypes = func() map[EventType]bool {
	m := make(map[EventType]bool, len(EventTypes))
	for _, t := range EventTypes {
		m[t] = true
	}
	return m
}()

// ResolvesIntent reports whether an event of type t is the result of a
// step's write-ahead intent: after it the step is no longer in flight
// (its statements are known to have run or not, or recorded as unknown).
// The fold, the journal's fsync policy and resume all use this one rule.
func (t EventType) ResolvesIntent() bool {
	switch t {
	case EvStepSucceeded, EvStepFailed, EvStepCancelled, EvStepOutcomeUnknown, EvStepMarked:
		return true
	}
	return false
}

// Known reports whether t is one of EventTypes.
func (t EventType) Known() bool { return knownEventTypes[t] }

// CommandInfo is what a command_refused event records of the command: its
// type and target, never its text (it may be typed secret input).
type CommandInfo struct {
	Type CommandType `json:"type"`
	Step string      `json:"step,omitempty"`
	Item *int        `json:"item,omitempty"`
	// By is the pair partner who sent it (nil: the operator).
	By *Partner `json:"by,omitempty"`
}

// PromotionProof is what the promotion gate found: a staging journal that
// proves this runbook (same content hash) succeeded on the staging
// database, or what is missing or wrong. Problems name the journal's line
// or header field.
type PromotionProof struct {
	OK bool `json:"ok"`
	// Journal is the staging journal's path; Head its head hash (to
	// compare with the one pasted into the change ticket).
	Journal     string    `json:"journal,omitempty"`
	Head        string    `json:"head,omitempty"`
	SessionID   string    `json:"session_id,omitempty"`
	Operator    string    `json:"operator,omitempty"`
	ProjectID   string    `json:"project_id,omitempty"`
	RunbookHash string    `json:"runbook_hash,omitempty"`
	Ended       time.Time `json:"ended,omitzero"`
	// Searched says where the proof was looked for (the log directory, or
	// the --staging-journal given).
	Searched string   `json:"searched,omitempty"`
	Problems []string `json:"problems,omitempty"`
}

// TickedBy says who ticked a checklist item (item_ticked): "the
// operator", "its query" (an item with sql, Auto), or "its staging
// proof" (a staging_proof item, Auto: its check has no sql).
func (e Event) TickedBy() string {
	switch {
	case !e.Auto:
		return "the operator"
	case e.Check != nil && e.Check.SQL == "":
		return "its staging proof"
	}
	return "its query"
}

// Summary says in one line what the proof is, or what is missing.
func (p *PromotionProof) Summary() string {
	if p == nil {
		return "not checked yet"
	}
	if p.OK {
		head := p.Head
		if len(head) > 16 {
			head = head[:16]
		}
		return fmt.Sprintf("staging journal %s (head %s, %s, operator %s)", p.Journal, head, p.Ended.UTC().Format(time.RFC3339), p.Operator)
	}
	if len(p.Problems) == 0 {
		return "no staging proof"
	}
	msg := p.Problems[0]
	if n := len(p.Problems) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}
