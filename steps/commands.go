package steps

import (
	"fmt"
	"slices"
	"strings"
)

// CommandType is an operator command to the engine. The set is closed:
// Commands lists it, and State.Admit answers every one of them.
type CommandType string

const (
	CmdNext        CommandType = "next"               // run the current step / move on after it
	CmdTick        CommandType = "tick"               // toggle checklist Item; Text: an optional note (who answered, when)
	CmdSkipItem    CommandType = "skip_item"          // skip checklist Item with Text as reason
	CmdConfirm     CommandType = "confirm"            // confirm; Text is the typed text when required
	CmdConsent     CommandType = "consent"            // typed project id before the first production write
	CmdOverride    CommandType = "override"           // pass the promotion gate without staging proof; Text: reason
	CmdManual      CommandType = "manual"             // manual result: Pass, Text as note
	CmdEndMonitor  CommandType = "end_monitor"        // end a monitor early; Text: reason
	CmdCancel      CommandType = "cancel"             // cancel the running statement / exec
	CmdRetry       CommandType = "retry"              // retry the failed step (lock timeout)
	CmdSkipStep    CommandType = "skip_step"          // skip a failed or pending non-write step; Text: reason
	CmdMark        CommandType = "mark"               // resolve outcome-unknown: Pass = applied; Text: reason
	CmdRollback    CommandType = "rollback"           // run [rollback]; Text: reason
	CmdAcknowledge CommandType = "acknowledge"        // acknowledge a high-severity lock finding; Text: its rule id, typed
	CmdDropInvalid CommandType = "drop_invalid_index" // drop the INVALID index a failed CONCURRENTLY statement left
	CmdQuit        CommandType = "quit"               // end the session (journal stays resumable)

	// A pair partner's commands (approvers, from their own screen over
	// SSH; Command.By says who). A partner can send nothing else.
	CmdApprove     CommandType = "approve"      // approve the write of Step; Text: the typed project id
	CmdHold        CommandType = "hold"         // no write starts until released (or the holder leaves)
	CmdRelease     CommandType = "release"      // release the partner's own hold
	CmdAskRollback CommandType = "ask_rollback" // open the rollback dialog on the operator's screen
)

// Commands is every command type, in the order help lists them.
var Commands = []CommandType{
	CmdNext, CmdTick, CmdSkipItem, CmdConfirm, CmdConsent, CmdOverride, CmdManual, CmdEndMonitor,
	CmdCancel, CmdRetry, CmdSkipStep, CmdMark, CmdRollback, CmdAcknowledge, CmdDropInvalid, CmdQuit,
	CmdApprove, CmdHold, CmdRelease, CmdAskRollback,
}

// PartnerCommands are the commands a pair partner may send, and only a
// partner: the rest of Commands are the operator's.
var PartnerCommands = []CommandType{CmdApprove, CmdHold, CmdRelease, CmdAskRollback}

// Partner reports whether t is one of PartnerCommands.
func (t CommandType) Partner() bool {
	switch t {
	case CmdApprove, CmdHold, CmdRelease, CmdAskRollback:
		return true
	}
	return false
}

// Command is what the operator asks the engine to do.
type Command struct {
	Type CommandType
	// Step is the step the operator was looking at as the current one when
	// giving the command. A step command whose Step is no longer current
	// is refused (the screen was behind the engine), so a key pressed for
	// one step never acts on the next. Empty: whichever step is current
	// (scripted operators).
	Step string
	Item int
	Text string
	Pass bool
	// Secret: Text must not be journaled (typed masked input).
	Secret bool
	// By is the pair partner who sent the command (Engine.PartnerSend);
	// nil for the operator.
	By *Partner
}

// stepScoped reports whether the command acts on the current step (and so
// is refused when it names another one).
func (t CommandType) stepScoped() bool {
	switch t {
	case CmdRollback, CmdQuit, CmdConsent, CmdOverride, CmdHold, CmdRelease, CmdAskRollback:
		return false
	}
	return true
}

// Affordance is the engine's answer, in a given state, to one command
// type: accepted now, or refused and why. The screen's keys, footer and
// help are drawn from these, never from rules of its own.
type Affordance struct {
	Cmd    CommandType `json:"cmd"`
	OK     bool        `json:"ok"`
	Reason string      `json:"reason,omitempty"` // why not (when !OK)
}

// Affordances answers every command type for the state s.
func (s *State) Affordances() []Affordance {
	out := make([]Affordance, len(Commands))
	for i, c := range Commands {
		out[i] = s.Accepts(c)
	}
	return out
}

// Accepts says whether the engine, in state s, takes a command of type t
// from the operator (its arguments aside: see Admit).
func (s *State) Accepts(t CommandType) Affordance { return s.AcceptsFrom(nil, t) }

// AcceptsFrom says whether the engine, in state s, takes a command of
// type t from the pair partner by (nil: the operator). A partner's screen
// draws its keys from this, as the operator's does from Accepts.
func (s *State) AcceptsFrom(by *Partner, t CommandType) Affordance {
	ok, why := s.acceptsFrom(by, t)
	if ok {
		why = ""
	}
	return Affordance{Cmd: t, OK: ok, Reason: why}
}

// Admit decides a command: nil when the engine acts on it, otherwise the
// reason it is refused. The engine admits every command it takes through
// this one function, so what the screen shows as accepted (Accepts) is
// what the engine does.
func (s *State) Admit(c Command) (reason string, ok bool) {
	if ok, why := s.acceptsFrom(c.By, c.Type); !ok {
		return why, false
	}
	st := s.CurrentStep()
	if c.Type.stepScoped() && c.Step != "" && st != nil && c.Step != st.ID {
		return fmt.Sprintf("it was meant for step %q, but step %q is current now: look at it, then ask again", c.Step, st.ID), false
	}
	if c.Type == CmdConsent && c.Step != "" && c.Step != s.ConsentAt {
		return fmt.Sprintf("it was meant for step %q; the consent asked now is for step %q", c.Step, s.ConsentAt), false
	}
	if c.Type == CmdOverride && c.Step != "" && c.Step != s.PromotionAt {
		return fmt.Sprintf("it was meant for step %q; the promotion gate holds step %q now", c.Step, s.PromotionAt), false
	}
	if c.Type == CmdOverride && strings.TrimSpace(c.Text) == "" {
		return "an override of the promotion gate needs a reason: say why this runs without staging proof", false
	}
	if c.Type == CmdOverride && s.Session.ProjectID != "" && strings.TrimSpace(c.Text) == s.Session.ProjectID {
		// The typed consent that follows the gate asks for the project id;
		// typed here, it would pass the gate with no reason on the record.
		return "the project id is not a reason: the promotion gate asks why this runs without staging proof (the project id is asked next, for the consent)", false
	}
	return s.admitArgs(c, st)
}

// admitArgs checks a command's arguments once its type is accepted.
func (s *State) admitArgs(c Command, st *StepState) (string, bool) {
	switch c.Type {
	case CmdTick, CmdSkipItem:
		if st == nil || c.Item < 0 || c.Item >= len(st.ItemStates) {
			return fmt.Sprintf("there is no checklist item %d", c.Item+1), false
		}
		if c.Type == CmdSkipItem && c.Text == "" {
			return "skipping an item needs a reason", false
		}
	case CmdSkipStep, CmdEndMonitor, CmdMark:
		if c.Text == "" {
			return "a reason is required", false
		}
	case CmdManual:
		if !c.Pass && c.Text == "" {
			return "a failed manual step needs a note saying what went wrong", false
		}
	case CmdApprove:
		if c.Text != s.Session.ProjectID {
			return "the project id typed is not this target's: type the project id shown beside the target to approve", false
		}
	case CmdAcknowledge:
		if pending := st.PendingAcks(); !slices.Contains(pending, strings.TrimSpace(c.Text)) {
			return fmt.Sprintf("type the rule id of the finding you acknowledge (%s)", strings.Join(pending, ", ")), false
		}
	}
	return "", true
}

// While a write waits for its approvals, the engine refuses the
// operator's other commands with what they may do meanwhile, at the end
// of the reason. It answers the operator, who sent the command; a screen
// that watches says it of the operator (ui/hints.go).
const (
	MeanwhileQuit           = "you may quit meanwhile"
	MeanwhileQuitOrRollBack = "you may quit or roll back meanwhile"
)

// accepts is the engine's rule for each of the operator's commands.
func (s *State) accepts(t CommandType) (bool, string) { return s.acceptsFrom(nil, t) }

// acceptsFrom is the engine's rule for each command type in state s,
// from the operator (by == nil) or from a pair partner.
func (s *State) acceptsFrom(by *Partner, t CommandType) (bool, string) {
	switch {
	case by != nil && !t.Partner():
		return false, "a pair partner may only approve, hold, release a hold, or ask for the rollback"
	case by != nil:
		return s.partnerAccepts(*by, t)
	case t.Partner():
		return false, "only a pair partner with the approver role can " + partnerVerb(t) + ", from their own screen"
	}
	if t == CmdQuit {
		return true, ""
	}
	if why, ok := s.ready(); !ok {
		return false, why
	}
	if t == CmdRollback {
		return s.rollbackAllowed()
	}
	if s.PromotionAt != "" {
		if t == CmdOverride {
			return true, ""
		}
		return false, "the promotion gate holds the first write: no staging proof (" + s.Promotion.Summary() + "); override it with a reason, or quit"
	}
	if t == CmdOverride {
		return false, "the promotion gate is not holding anything now"
	}
	if s.ConsentAt != "" {
		if t == CmdConsent {
			return true, ""
		}
		return false, "the production consent is asked first: type the project id"
	}
	if t == CmdConsent {
		return false, "no consent is asked now"
	}
	if s.ApprovalAt != "" {
		meanwhile := MeanwhileQuit
		if ok, _ := s.rollbackAllowed(); ok {
			meanwhile = MeanwhileQuitOrRollBack
		}
		return false, "the write of step " + s.ApprovalAt + " waits: " + s.WriteWait() + "; " + meanwhile
	}
	st := s.CurrentStep()
	if st == nil {
		return false, "no step is current yet"
	}
	if ok, why, decided := st.lockGate(t, s.TakesLocks()); decided {
		return ok, why
	}
	return st.accepts(t, s.Session.Apply)
}

// TakesLocks: the session's sql steps take their locks on the target
// (it applies, or rehearses), so a high lock finding waits for its
// acknowledgement before the step runs.
func (s *State) TakesLocks() bool { return s.Session.Apply || s.Session.Rehearse }

// lockGate is the rule of the typed acknowledgement of high-severity lock
// findings, in a session that takes the step's locks (one that applies,
// or rehearses): the step does not run while one waits for it, and an
// acknowledgement is taken only then. decided is false for the commands
// it has nothing to say about.
func (st *StepState) lockGate(t CommandType, takesLocks bool) (ok bool, why string, decided bool) {
	pending := st.PendingAcks()
	waiting := st.Status == StatusActive && takesLocks && len(pending) > 0
	switch {
	case t == CmdNext && waiting:
		return false, fmt.Sprintf("acknowledge the lock finding %s first: type its rule id", pending[0]), true
	case t != CmdAcknowledge:
		return false, "", false
	case waiting:
		return true, "", true
	case !takesLocks:
		return false, "a dry run sends nothing: there is no lock finding to acknowledge", true
	}
	return false, fmt.Sprintf("no lock finding of step %q waits for an acknowledgement", st.ID), true
}

// ready says why no command but quit can act: before the target is
// proven and locked, while reconnecting, after the end.
func (s *State) ready() (string, bool) {
	switch {
	case s.Ended:
		return fmt.Sprintf("the session has ended (%s); only quit is left", s.Outcome), false
	case s.HardStop:
		return "identity hard stop: nothing continues; only quit", false
	case s.LockHeld:
		return "the deploy lock is held by another session; only quit", false
	case s.Connection != "":
		return "not ready: " + s.Connection, false
	case s.Offline != "":
		// The target is out of reach: the step's own rules apply, and
		// the engine reconnects and proves the target before it acts.
		return "", true
	case s.Identity == nil || !s.Identity.OK:
		return "not ready: the target's identity is not verified yet", false
	case s.Lock == nil:
		return "not ready: the deploy lock is not taken yet", false
	}
	return "", true
}

// rollbackAllowed: the rollback dialog may open once something was written,
// in an applying session whose runbook has rollback steps, once.
func (s *State) rollbackAllowed() (bool, string) {
	switch {
	case !s.Session.HasRollback:
		return false, "the runbook has no [rollback] section"
	case s.Rollback.Started:
		return false, "the rollback is already running"
	case s.Rollback.Requested != "":
		return false, "the rollback was requested; it starts once the running statement has stopped"
	case !s.Wrote:
		return false, "nothing has been written yet: there is nothing to roll back"
	case !s.Session.Apply:
		return false, "this session is a dry run: rolling back needs --apply (resume with --apply)"
	}
	return true, ""
}

// CanRollback reports whether the rollback dialog may open.
func (s *State) CanRollback() bool {
	ok, _ := s.accepts(CmdRollback)
	return ok
}

// Running reports whether a statement, check query or command of the
// current step is in flight: a cancel request can stop it.
func (s *State) Running() bool {
	ok, _ := s.accepts(CmdCancel)
	return ok
}

// accepts is the rule of the current step for the step commands.
func (st *StepState) accepts(t CommandType, apply bool) (bool, string) {
	switch st.Status {
	case StatusRunning:
		return st.acceptsRunning(t)
	case StatusActive:
		return st.acceptsActive(t, apply)
	case StatusFailed, StatusCancelled:
		return st.acceptsFailed(t)
	case StatusUnknown:
		switch t {
		case CmdMark, CmdRetry:
			return true, ""
		}
		return false, fmt.Sprintf("step %q has an unknown outcome: check the database, then mark it applied or not applied, or retry it", st.ID)
	}
	return false, fmt.Sprintf("step %q is %s; the next step is starting", st.ID, st.Status)
}

// acceptsRunning: the step's kind decides (cancel it, or end a window
// early).
func (st *StepState) acceptsRunning(t CommandType) (bool, string) {
	if u := unitOf(st.Kind); u != nil {
		return u.acceptsRunning(st, t)
	}
	return cancelWhileRunning(t, "the step") // a kind this handrail does not know
}

func (st *StepState) acceptsFailed(t CommandType) (bool, string) {
	switch t {
	case CmdRetry:
		if len(st.Invalid) > 0 {
			// The build's INVALID index keeps its name: a retry fails on
			// it, or with IF NOT EXISTS does nothing and leaves it INVALID.
			return false, fmt.Sprintf("the INVALID index %s that the failed build left is still there: a retry would fail on it (or, with IF NOT EXISTS, keep it INVALID); drop it first (d)", invalidNames(st))
		}
		return true, ""
	case CmdDropInvalid:
		if len(st.Invalid) > 0 {
			return true, ""
		}
		return false, noInvalid(st)
	case CmdSkipStep:
		if len(st.Invalid) > 0 {
			// Skipped, the INVALID index would stay: updated on every
			// write, used by no query.
			return false, fmt.Sprintf("the INVALID index %s that the failed build left is still there, slowing every write to its table: drop it first (d), then skip", invalidNames(st))
		}
		if !st.Kind.Writes() || (st.Error != nil && st.Error.RolledBack) {
			return true, ""
		}
		return false, fmt.Sprintf("step %q may have left part of its work in the database: retry it or roll back", st.ID)
	}
	return false, fmt.Sprintf("step %q %s: retry it, skip it with a reason, roll back, or quit", st.ID, st.Status)
}

// acceptsActive: the current step waits for the operator; its kind says
// what it takes.
func (st *StepState) acceptsActive(t CommandType, apply bool) (bool, string) {
	if t == CmdRetry {
		return false, fmt.Sprintf("step %q has not failed: there is nothing to retry", st.ID)
	}
	if t == CmdCancel {
		return false, "nothing is running: there is nothing to cancel"
	}
	if t == CmdDropInvalid {
		return false, noInvalid(st)
	}
	if u := unitOf(st.Kind); u != nil {
		return u.acceptsActive(st, t, apply)
	}
	return st.acceptsReadOnly(t) // a kind this handrail does not know
}

// acceptsReadOnly: a step that writes nothing (a check, monitor or
// message) before it runs: enter runs it, or it is skipped with a reason.
func (st *StepState) acceptsReadOnly(t CommandType) (bool, string) {
	switch t {
	case CmdNext, CmdSkipStep:
		return true, ""
	}
	return false, fmt.Sprintf("step %q waits for enter", st.ID)
}

// invalidNames lists the INVALID indexes a failed build of st left.
func invalidNames(st *StepState) string {
	names := make([]string, len(st.Invalid))
	for i, ix := range st.Invalid {
		names[i] = ix.Index.String()
	}
	return strings.Join(names, ", ")
}

func noInvalid(st *StepState) string {
	return fmt.Sprintf("step %q left no INVALID index to drop", st.ID)
}
