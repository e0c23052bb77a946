package steps

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/handrail-dev/handrail/steps/lockcheck"
)

// Status is a step's state, shown as text and symbol (never color alone).
type Status string

const (
	StatusPending   Status = "pending"
	StatusActive    Status = "active"  // current step, waiting for the operator
	StatusRunning   Status = "running" // statements or a command in flight
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusSkipped   Status = "skipped"
	StatusCancelled Status = "cancelled"
	StatusUnknown   Status = "outcome_unknown"
)

// Mark is the text mark of a status for the step list.
func (s Status) Mark() string {
	switch s {
	case StatusActive:
		return ">"
	case StatusRunning:
		return "~"
	case StatusSucceeded:
		return "ok"
	case StatusFailed:
		return "FAIL"
	case StatusSkipped:
		return "skip"
	case StatusCancelled:
		return "cncl"
	case StatusUnknown:
		return "??"
	default:
		return ""
	}
}

// Done reports whether the step reached a final status.
func (s Status) Done() bool {
	switch s {
	case StatusSucceeded, StatusSkipped:
		return true
	}
	return false
}

// ItemState is one checklist item.
type ItemState struct {
	Text    string `json:"text"`
	Ticked  bool   `json:"ticked,omitempty"`
	Auto    bool   `json:"auto,omitempty"`
	Skipped bool   `json:"skipped,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Note is what came with the tick: who answered it, when, and why
	// (an unattended apply's answers file).
	Note  string       `json:"note,omitempty"`
	Check *CheckReport `json:"check,omitempty"`
}

// StepState is everything the screens show about one step.
type StepState struct {
	PlannedStep
	Status Status `json:"status"`

	// sql / check. WouldRun is the step_would_run event's list itself:
	// one list, read-only, shared by the engine, the event, this fold, the
	// journal writer and the screen (a step of a million statements is
	// not copied for each); nothing changes it in place.
	WouldRun   *StatementList  `json:"would_run,omitempty"`
	Statement  *StatementInfo  `json:"statement,omitempty"` // current or last statement
	Done       int             `json:"done,omitempty"`      // statements finished
	Columns    []string        `json:"columns,omitempty"`
	Rows       [][]string      `json:"rows,omitempty"` // at most keep_rows
	TotalRows  int64           `json:"total_rows,omitempty"`
	Notices    []Notice        `json:"notices,omitempty"`
	Blockers   []Blocker       `json:"blockers,omitempty"`
	Check      *CheckReport    `json:"check,omitempty"`
	Passed     *bool           `json:"passed,omitempty"`   // check or manual verdict
	Note       string          `json:"note,omitempty"`     // manual note, skip reason, marked reason
	Rejected   *string         `json:"rejected,omitempty"` // confirm text typed wrong (last attempt)
	ItemStates []ItemState     `json:"item_states,omitempty"`
	Output     string          `json:"output,omitempty"` // exec output tail
	ExitCode   *int            `json:"exit_code,omitempty"`
	Message    *RenderedMsg    `json:"message,omitempty"`
	Monitor    []MonitorSample `json:"monitor,omitempty"`
	Alerts     []string        `json:"alerts,omitempty"`
	Error      *ErrorInfo      `json:"error,omitempty"`
	Attempts   int             `json:"attempts,omitempty"`
	Started    time.Duration   `json:"started,omitempty"` // session offsets
	Ended      time.Duration   `json:"ended,omitempty"`
	// InFlight: an intent was recorded and no result yet.
	InFlight bool `json:"in_flight,omitempty"`
	// Approvals are the approvals given for this attempt of the step's
	// write (reset when it starts again).
	Approvals []Partner `json:"approvals,omitempty"`
	// Marked: the operator settled this step's unknown outcome (Status
	// says applied or not, Note how they know), until it starts again.
	Marked bool `json:"marked,omitempty"`
	// EndedEarly: a monitoring window the operator ended before its
	// time (Note says why).
	EndedEarly bool `json:"ended_early,omitempty"`
	// WindowOpened and WindowRan: when a monitoring window opened
	// (session offset) and how long it was open once it ended.
	WindowOpened time.Duration `json:"window_opened,omitempty"`
	WindowRan    time.Duration `json:"window_ran,omitempty"`

	// sql: the locks the step takes, weighed on the target before it runs
	// (locks_weighed); the rule ids of the high-severity findings the
	// operator acknowledged (lock_acknowledged); the INVALID indexes a
	// failed CONCURRENTLY statement left (until dropped); the rehearsal.
	Locks   *StepLocksReport         `json:"locks,omitempty"`
	Acked   []string                 `json:"acked,omitempty"`
	Invalid []lockcheck.InvalidIndex `json:"invalid,omitempty"`
	// Dropping is the INVALID index whose drop was sent (invalid_index_drop)
	// and has no result yet; on resume its outcome is unknown.
	Dropping  string     `json:"dropping,omitempty"`
	Rehearsal *Rehearsal `json:"rehearsal,omitempty"`
}

// PendingAcks lists the rule ids of the step's high-severity lock findings
// that no allow comment accepts and the operator has not acknowledged:
// the step does not run before each is acknowledged.
func (st *StepState) PendingAcks() []string {
	if st.Locks == nil || st.Locks.Analysis == nil {
		return nil
	}
	var out []string
	for _, f := range st.Locks.Analysis.Findings {
		if HighUnaccepted(f) && !slices.Contains(st.Acked, f.Rule) && !slices.Contains(out, f.Rule) {
			out = append(out, f.Rule)
		}
	}
	return out
}

// Limits on what the fold keeps, so memory does not grow with the data.
const (
	MaxNotices     = 200
	MaxOutputBytes = 64 << 10
	MaxAlerts      = 100
	// MaxMonitorQueries bounds the queries of one monitor step (lint
	// rejects more), so a crafted journal cannot make the fold allocate
	// without bound.
	MaxMonitorQueries = 256
)

// State is the fold of a session's events. The live screen, replay, watch
// and resume all build it the same way, with Apply.
type State struct {
	Session   SessionInfo     `json:"session"`
	Started   time.Time       `json:"started"`
	Now       time.Duration   `json:"now"` // offset of the last event
	Seq       int64           `json:"seq"`
	Identity  *IdentityReport `json:"identity,omitempty"`
	HardStop  bool            `json:"hard_stop,omitempty"`
	Lock      *LockInfo       `json:"lock,omitempty"`
	LockHeld  bool            `json:"lock_held,omitempty"` // by someone else
	Steps     []StepState     `json:"steps"`
	Current   int             `json:"current"` // index into Steps; -1 before the first
	KeepRows  int             `json:"keep_rows"`
	Wrote     bool            `json:"wrote,omitempty"` // anything may have been written
	Consent   bool            `json:"consent,omitempty"`
	ConsentAt string          `json:"consent_step,omitempty"` // step waiting for consent
	Rollback  RollbackState   `json:"rollback"`
	Resumed   int             `json:"resumed,omitempty"`
	Ended     bool            `json:"ended,omitempty"`
	Outcome   Outcome         `json:"outcome,omitempty"`
	EndReason string          `json:"end_reason,omitempty"` // session_ended's text: why it ended so
	LastError *ErrorInfo      `json:"last_error,omitempty"`
	// Promotion is the staging proof the promotion gate found (or what is
	// missing); PromotionAt the write it holds back, waiting for an
	// override; PromotionOverride the operator's reason, once overridden.
	Promotion         *PromotionProof `json:"promotion,omitempty"`
	PromotionAt       string          `json:"promotion_step,omitempty"`
	PromotionOverride string          `json:"promotion_override,omitempty"`
	// ConsentRejected is the last wrong project id typed at the consent gate.
	ConsentRejected *string `json:"consent_rejected,omitempty"`
	// Connection says what the engine is waiting for from the server
	// ("connecting to ...", "reconnecting to ..."); "" once connected.
	Connection string `json:"connection,omitempty"`
	// Offline is why the target could not be reached again; a retry
	// reconnects first. "" while connected.
	Offline string `json:"offline,omitempty"`
	// LastRefusal is the last command the engine refused, and why.
	LastRefusal *Refusal `json:"last_refusal,omitempty"`
	// Share is set while the session is shared over SSH; Partners are the
	// partners connected now, in the order they joined.
	Share    *ShareInfo `json:"share,omitempty"`
	Partners []Partner  `json:"partners,omitempty"`
	// ApprovalAt is the write waiting for its approvals or for a hold to
	// be released (approval_required), until it starts; Holds are the
	// partners holding the session now.
	ApprovalAt string    `json:"approval_step,omitempty"`
	Holds      []Partner `json:"holds,omitempty"`
}

// Refusal is a command the engine did not act on, with its reason.
type Refusal struct {
	Seq     int64       `json:"seq"`
	Command CommandInfo `json:"command"`
	Reason  string      `json:"reason"`
}

// RollbackState tracks the rollback path.
type RollbackState struct {
	Offered string `json:"offered,omitempty"` // why it was offered
	// Requested: the operator asked for the rollback while a statement
	// ran; it starts once the statement has stopped.
	Requested string `json:"requested,omitempty"`
	Started   bool   `json:"started,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Finished  bool   `json:"finished,omitempty"`
	OK        bool   `json:"ok,omitempty"`
	// Proposed is the partner who last asked for the rollback dialog
	// (rollback_proposed), at ProposedSeq.
	Proposed    string `json:"proposed,omitempty"`
	ProposedSeq int64  `json:"proposed_seq,omitempty"`
}

// NewState returns the state before any event.
func NewState() State { return State{Current: -1, KeepRows: DefaultKeepRows} }

// StepIndex returns the index of the step with this id, or -1.
func (s *State) StepIndex(id string) int {
	for i := range s.Steps {
		if s.Steps[i].ID == id {
			return i
		}
	}
	return -1
}

// CurrentStep returns the current step, or nil.
func (s *State) CurrentStep() *StepState {
	if s.Current < 0 || s.Current >= len(s.Steps) {
		return nil
	}
	return &s.Steps[s.Current]
}

// Apply folds one event into the state. It takes ownership of s (slices
// are updated in place for speed) and returns the new state; callers must
// not use the old value afterwards. It is deterministic: the same events
// give the same state, live or from the journal. The session's events
// are folded first, then, for an event about a known step, the step's:
// each family in a function of its own.
func Apply(s State, e Event) State {
	s.Seq = e.Seq
	s.Now = e.Mono
	var st *StepState
	if e.Step != "" {
		if i := s.StepIndex(e.Step); i >= 0 {
			st = &s.Steps[i]
		}
	}
	switch e.Type {
	case EvSessionStarted, EvSessionResumed, EvSessionEnded, EvCommandRefused:
		s.applySession(e)
	case EvConnecting, EvConnectionLost, EvReconnectFailed, EvReconnected,
		EvIdentityVerified, EvIdentityMismatch, EvLockAcquired, EvLockHeld:
		s.applyTarget(e)
	case EvConsentRequired, EvConsentGiven, EvConsentRejected,
		EvPromotionChecked, EvPromotionRequired, EvPromotionOverridden:
		s.applyGate(e)
	case EvRollbackOffered, EvRollbackRequested, EvRollbackStarted, EvRollbackFinished:
		s.applyRollback(e)
	case EvShareOpened, EvPartnerJoined, EvPartnerLeft:
		s.applyPartner(e)
	case EvApprovalRequired, EvApprovalGiven, EvHoldPlaced, EvHoldReleased, EvRollbackProposed:
		s.applyApproval(e)
	}
	if e.Type == EvIntent || e.Type.ResolvesIntent() || e.Type == EvStepStarted || e.Type == EvStepSkipped ||
		e.Type == EvRollbackStarted || e.Type == EvSessionEnded {
		s.ApprovalAt = "" // the write started, or is no longer about to
	}
	if st == nil {
		return s
	}
	if e.Type.ResolvesIntent() {
		st.InFlight = false
	}
	switch e.Type {
	case EvStepStarted, EvStepSucceeded, EvStepFailed, EvStepCancelled, EvStepSkipped, EvStepOutcomeUnknown, EvStepMarked:
		s.applyStepOutcome(st, e)
	case EvStepWouldRun, EvIntent, EvStatementStarted, EvStatementFinished, EvRows, EvNotice, EvLockWait:
		s.applyStatement(st, e)
	case EvCheckPassed, EvCheckFailed, EvItemTicked, EvItemUnticked, EvItemSkipped, EvItemCheckFailed,
		EvConfirmed, EvConfirmRejected, EvManualResult:
		applyVerdict(st, e)
	case EvMonitorTick, EvMonitorAlert, EvMonitorEnded, EvExecOutput, EvExecExited, EvMessageRendered:
		applyOutput(st, e)
	case EvLocksWeighed, EvLockAcknowledged, EvInvalidIndexFound, EvInvalidIndexDrop, EvInvalidIndexDropped, EvRehearsed:
		applyLocks(st, e)
	}
	return s
}

// applyLocks folds a sql step's lock events: its weighed locks, the
// acknowledgements, the INVALID indexes a failure left, the rehearsal.
// Slices are replaced, never appended to in place (see snapshot).
func applyLocks(st *StepState, e Event) {
	switch e.Type {
	case EvLocksWeighed:
		st.Locks = e.Locks
	case EvLockAcknowledged:
		if !slices.Contains(st.Acked, e.Text) {
			st.Acked = append(slices.Clip(st.Acked), e.Text)
		}
	case EvInvalidIndexFound:
		st.Invalid = e.Invalid
	case EvInvalidIndexDrop:
		st.Dropping = e.Text
	case EvInvalidIndexDropped:
		st.Dropping = ""
		if e.Pass != nil && *e.Pass {
			st.Invalid = slices.DeleteFunc(slices.Clone(st.Invalid), func(ix lockcheck.InvalidIndex) bool { return ix.Index.String() == e.Text })
			if len(st.Invalid) == 0 {
				st.Invalid = nil
			}
		}
	case EvRehearsed:
		st.Rehearsal = e.Rehearsal
	}
}

// applySession folds the session's own events: start, resume, end, and
// the commands the engine refused.
func (s *State) applySession(e Event) {
	switch e.Type {
	case EvSessionStarted:
		if e.Session != nil {
			s.Session = *e.Session
			s.Started = e.Time
			if e.Session.KeepRows > 0 {
				s.KeepRows = e.Session.KeepRows
			}
			s.Steps = make([]StepState, len(e.Session.Plan))
			for i, p := range e.Session.Plan {
				s.Steps[i] = StepState{PlannedStep: p, Status: StatusPending}
				if len(p.Items) > 0 {
					s.Steps[i].ItemStates = make([]ItemState, len(p.Items))
					for j, t := range p.Items {
						s.Steps[i].ItemStates[j].Text = t
					}
				}
			}
		}
	case EvSessionResumed:
		s.applyResumed(e)
	case EvSessionEnded:
		s.Ended = true
		s.Outcome = e.Outcome
		s.EndReason = e.Text
	case EvCommandRefused:
		r := Refusal{Seq: e.Seq, Reason: e.Text}
		if e.Command != nil {
			r.Command = *e.Command
		}
		s.LastRefusal = &r
	}
}

// applyResumed: identity and the lock are proven again on resume, and
// the (possibly different) operator types the consent again.
func (s *State) applyResumed(e Event) {
	s.Resumed++
	s.Ended = false
	s.Outcome = ""
	s.EndReason = ""
	if e.Session != nil {
		s.Session.Apply = e.Session.Apply
		s.Session.Rehearse = e.Session.Rehearse
		s.Session.Operator = e.Session.Operator
		s.Session.SessionID = e.Session.SessionID
		s.Session.DSN = e.Session.DSN
		s.Session.ApprovalRequired = e.Session.ApprovalRequired
		s.Session.OperatorKeys = e.Session.OperatorKeys
	}
	s.Consent = false
	s.ConsentAt = ""
	s.PromotionAt = "" // asked again at the next write if still unproven
	s.Identity = nil
	s.Lock = nil
	s.LockHeld = false
	s.Connection, s.Offline = "", ""
	s.Rollback.Requested = ""
	s.Share, s.Partners = nil, nil // they belonged to the process that went away
	s.Holds, s.ApprovalAt = nil, ""
}

// applyTarget folds the connection, the target's identity and the deploy
// lock.
func (s *State) applyTarget(e Event) {
	switch e.Type {
	case EvConnecting:
		s.Connection = e.Text
	case EvConnectionLost:
		s.Connection = e.Text
		s.Identity = nil // unproven until verified again
	case EvReconnectFailed:
		s.Connection = ""
		s.Offline = "the target could not be reached"
		if e.Error != nil {
			s.Offline = e.Error.Message
		}
	case EvReconnected:
		s.Connection = "verifying the target's identity again"
		s.Offline = ""
	case EvIdentityVerified:
		s.Identity = e.Identity
		s.HardStop = false
		s.Connection = ""
	case EvIdentityMismatch:
		s.Identity = e.Identity
		s.HardStop = true
		s.Connection = ""
	case EvLockAcquired:
		s.Lock = e.Lock
		s.LockHeld = false
	case EvLockHeld:
		s.Lock = e.Lock
		s.LockHeld = true
	}
}

// applyGate folds the gates before the first write: the production
// consent and the promotion gate.
func (s *State) applyGate(e Event) {
	switch e.Type {
	case EvConsentRequired:
		s.ConsentAt = e.Step
	case EvConsentGiven:
		s.Consent = true
		s.ConsentAt = ""
		s.ConsentRejected = nil
	case EvConsentRejected:
		typed := e.Text
		s.ConsentRejected = &typed
	case EvPromotionChecked, EvPromotionRequired, EvPromotionOverridden:
		s.applyPromotion(e)
	}
}

// applyRollback folds the rollback path.
func (s *State) applyRollback(e Event) {
	switch e.Type {
	case EvRollbackOffered:
		s.Rollback.Offered = e.Text
	case EvRollbackRequested:
		s.Rollback.Requested = e.Text
	case EvRollbackStarted:
		s.Rollback.Started = true
		s.Rollback.Reason = e.Text
		s.Rollback.Offered = ""
		s.Rollback.Requested = ""
	case EvRollbackFinished:
		s.Rollback.Finished = true
		s.Rollback.OK = e.Pass != nil && *e.Pass
	}
}

// applyStepOutcome folds a step's start and its outcome.
func (s *State) applyStepOutcome(st *StepState, e Event) {
	switch e.Type {
	case EvStepStarted:
		s.Current = s.StepIndex(e.Step)
		st.Status = StatusActive
		st.Started = e.Mono
		st.Error = nil
		st.Marked = false
		st.Attempts++
		st.Approvals = nil // an approval is for one attempt
	case EvStepSucceeded:
		st.Status = StatusSucceeded
		st.Ended = e.Mono
	case EvStepFailed:
		st.Status = StatusFailed
		st.Error = e.Error
		st.Ended = e.Mono
		s.LastError = e.Error
	case EvStepCancelled:
		st.Status = StatusCancelled
		st.Error = e.Error
		st.Ended = e.Mono
	case EvStepSkipped:
		st.Status = StatusSkipped
		st.Note = e.Text
		st.Ended = e.Mono
	case EvStepOutcomeUnknown:
		st.Status = StatusUnknown
		st.Error = e.Error
		st.Ended = e.Mono
		s.LastError = e.Error
	case EvStepMarked:
		st.Marked = true
		if e.Pass != nil && *e.Pass {
			st.Status = StatusSucceeded
		} else {
			st.Status = StatusFailed
		}
		st.Note = e.Text
	}
}

// applyStatement folds what a step sends to the target: the statements
// it would run, the intent, each statement, its rows, notices and lock
// waits.
func (s *State) applyStatement(st *StepState, e Event) {
	switch e.Type {
	case EvStepWouldRun:
		st.WouldRun = e.Statements
	case EvIntent:
		st.InFlight = true
		st.Status = StatusRunning
		s.Wrote = true
		// A retry starts from a clean pane.
		st.Done = 0
		st.Rows, st.Columns, st.TotalRows = nil, nil, 0
		st.Output, st.ExitCode = "", nil
	case EvStatementStarted:
		st.Status = StatusRunning
		if e.Statement != nil {
			cp := *e.Statement
			st.Statement = &cp
			// Statements run in order: the ones before it are done. Said
			// here too, a start supersedes the end before it
			// (Superseded).
			st.Done = cp.Index
		}
		st.Columns, st.Rows, st.TotalRows = nil, nil, 0
		st.Blockers = nil
	case EvStatementFinished:
		if e.Statement != nil {
			cp := *e.Statement
			st.Statement = &cp
			st.Done = cp.Index + 1
		}
		st.Blockers = nil
	case EvRows:
		if r := e.Rows; r != nil {
			if r.Columns != nil {
				st.Columns = r.Columns
			}
			room := s.KeepRows - len(st.Rows)
			if room > 0 {
				n := min(room, len(r.Rows))
				st.Rows = append(st.Rows, r.Rows[:n]...)
			}
			st.TotalRows = r.Total
		}
	case EvNotice:
		if e.Notice != nil && len(st.Notices) < MaxNotices {
			st.Notices = append(st.Notices, *e.Notice)
		}
	case EvLockWait:
		st.Blockers = e.Blockers
	}
}

// applyVerdict folds what decides a step: a check's result, checklist
// items, a confirmation, a manual result.
func applyVerdict(st *StepState, e Event) {
	switch e.Type {
	case EvCheckPassed, EvCheckFailed:
		st.Check = e.Check
		pass := e.Type == EvCheckPassed
		st.Passed = &pass
		if st.Status == StatusRunning {
			st.Status = StatusActive // a report check waits for enter
		}
	case EvItemTicked, EvItemUnticked, EvItemSkipped, EvItemCheckFailed:
		applyItem(st, e)
	case EvConfirmed:
		st.Rejected = nil
	case EvConfirmRejected:
		typed := e.Text
		st.Rejected = &typed
	case EvManualResult:
		st.Passed = e.Pass
		st.Note = e.Text
	}
}

// applyItem folds an event about one checklist item.
func applyItem(st *StepState, e Event) {
	if e.Item == nil || *e.Item < 0 || *e.Item >= len(st.ItemStates) {
		return
	}
	it := &st.ItemStates[*e.Item]
	switch e.Type {
	case EvItemTicked:
		it.Ticked, it.Auto, it.Skipped, it.Reason, it.Note = true, e.Auto, false, "", e.Text
		if e.Check != nil {
			it.Check = e.Check
		}
	case EvItemUnticked:
		it.Ticked, it.Auto = false, false
	case EvItemSkipped:
		it.Skipped, it.Reason, it.Ticked = true, e.Text, false
	case EvItemCheckFailed:
		it.Check = e.Check
	}
}

// applyOutput folds what a step shows as it runs: a monitoring window,
// a command's output and exit code, a rendered message.
func applyOutput(st *StepState, e Event) {
	switch e.Type {
	case EvMonitorTick, EvMonitorAlert:
		applyMonitor(st, e)
	case EvMonitorEnded:
		if st.Status == StatusRunning {
			st.WindowRan = e.Mono - st.WindowOpened
		}
		if e.Text != "" {
			st.Note = e.Text
			st.EndedEarly = true
		}
	case EvExecOutput:
		st.Status = StatusRunning
		st.Output += e.Text
		if len(st.Output) > MaxOutputBytes {
			cut := len(st.Output) - MaxOutputBytes
			for cut < len(st.Output) && !utf8.RuneStart(st.Output[cut]) {
				cut++ // keep whole runes
			}
			st.Output = st.Output[cut:]
		}
	case EvExecExited:
		st.ExitCode = e.ExitCode
	case EvMessageRendered:
		st.Message = e.Message
	}
}

// applyMonitor folds a monitor's sample or alert: the window is open.
func applyMonitor(st *StepState, e Event) {
	if st.Status != StatusRunning {
		st.WindowOpened = e.Mono
	}
	st.Status = StatusRunning
	if m := e.Monitor; m != nil && m.Query >= 0 && m.Query < MaxMonitorQueries {
		for len(st.Monitor) <= m.Query {
			st.Monitor = append(st.Monitor, MonitorSample{Query: len(st.Monitor)})
		}
		if e.Type == EvMonitorTick {
			st.Monitor[m.Query] = *m
		} else if len(st.Alerts) < MaxAlerts {
			st.Alerts = append(st.Alerts, e.Text)
		}
	}
}

// DryRunSkippedWrites counts the writing steps a dry run showed and did
// not run.
func (s *State) DryRunSkippedWrites() int {
	n := 0
	for i := range s.Steps {
		if st := &s.Steps[i]; st.Writes && !st.Rollback && st.Status == StatusSkipped && strings.HasPrefix(st.Note, "dry run") {
			n++
		}
	}
	return n
}

// ExpectedInDryRun reports a failure that a dry run expects (see
// ErrorInfo.DryRun): it neither stops the run nor fails the session.
func (st *StepState) ExpectedInDryRun() bool {
	return st.Status == StatusFailed && st.Error != nil && st.Error.DryRun
}

// Rehearsed: a --rehearse run ran the step in a transaction and rolled it
// back (it is recorded as skipped: nothing of it stays).
func (st *StepState) Rehearsed() bool {
	return st.Status == StatusSkipped && st.Rehearsal != nil && st.Rehearsal.Skipped == "" && st.Rehearsal.Error == ""
}

// applyPromotion folds the promotion gate's events.
func (s *State) applyPromotion(e Event) {
	switch e.Type {
	case EvPromotionChecked:
		s.Promotion = e.Promotion
	case EvPromotionRequired:
		s.PromotionAt = e.Step
	case EvPromotionOverridden:
		s.PromotionAt = ""
		s.PromotionOverride = e.Text
		if e.Secret || e.Text == "" {
			s.PromotionOverride = "overridden"
		}
	}
}

// applyPartner folds the share's events: the session shared over SSH,
// partners joining and leaving.
func (s *State) applyPartner(e Event) {
	switch e.Type {
	case EvShareOpened:
		s.Share = e.Share
	case EvPartnerJoined:
		if e.Partner != nil {
			s.Partners = append(s.Partners, *e.Partner)
		}
	case EvPartnerLeft:
		if e.Partner != nil {
			s.Partners = withoutPartner(s.Partners, e.Partner.ID)
		}
	}
}

// withoutPartner returns partners without the one with this id, in a new
// slice: a snapshot of the state may share the old one (see snapshot).
func withoutPartner(partners []Partner, id int) []Partner {
	var out []Partner
	for _, p := range partners {
		if p.ID != id {
			out = append(out, p)
		}
	}
	return out
}

// Fold applies events in order to a new state.
func Fold(events []Event) State {
	s := NewState()
	for _, e := range events {
		s = Apply(s, e)
	}
	return s
}
