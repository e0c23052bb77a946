package apply

import (
	"fmt"
	"io"
	"strings"

	"github.com/handrail-dev/handrail/internal/termsafe"
	"github.com/handrail-dev/handrail/steps"
)

// answerer is the unattended operator: whenever the engine waits, it
// answers from the answers file and the runbook only, never inventing an
// answer. What it cannot answer ends the session (exit 1; the journal
// stays resumable); a failure rolls back when [apply] on_failure says so.
type answerer struct {
	rb      *steps.Runbook
	answers *Answers
	confirm string
	stderr  io.Writer
	// alerted: a monitor's alert failed the apply (it is acted on once).
	alerted bool
	stopped bool
	// unanswered says which question the answers file leaves open (set
	// by Answer, read by operate).
	unanswered string
}

// next is the command for state s; false when the engine is working.
func (a *answerer) next(s *steps.State) (steps.Command, bool) {
	switch {
	case s.Ended:
		return steps.Command{Type: steps.CmdQuit}, true
	case a.stopped:
		return steps.Command{}, false
	case s.PromotionAt != "":
		return a.promotion(s)
	case s.ConsentAt != "":
		// --confirm was compared with the proven project id before the
		// journal was created: this is the same typed consent.
		return steps.Command{Type: steps.CmdConsent, Step: s.ConsentAt, Text: a.confirm}, true
	}
	st := s.CurrentStep()
	if st == nil {
		return steps.Command{}, false
	}
	var c steps.Command
	ok := false
	switch st.Status {
	case steps.StatusActive:
		if p := st.PendingAcks(); len(p) > 0 {
			// Only a person acknowledges a high-severity lock finding.
			return a.stop(fmt.Sprintf("step %s has a high-severity lock finding (%s) that an unattended apply does not acknowledge: "+
				"run it with handrail run, or accept it in the SQL with a comment above the statement: -- handrail:allow %s REASON", st.ID, strings.Join(p, ", "), p[0]))
		}
		c, ok = a.operate(st)
	case steps.StatusRunning:
		if st.Kind == steps.KindMonitor && len(st.Alerts) > 0 {
			// Acted on while the window is open: ended early, the window
			// would succeed, and when it is the last step the session
			// would end "succeeded" before any next step could fail it.
			if a.alerted {
				return steps.Command{}, false
			}
			a.alerted = true
			return a.failed(s, st, fmt.Sprintf("monitor %s raised an alert: %s", st.ID, st.Alerts[0]))
		}
		c, ok = a.operate(st)
	case steps.StatusFailed, steps.StatusCancelled, steps.StatusUnknown:
		c, ok = a.failed(s, st, describe(st))
	}
	if ok && c.Type != steps.CmdQuit && c.Type != steps.CmdRollback {
		c.Step = st.ID
	}
	return c, ok
}

func describe(st *steps.StepState) string {
	msg := fmt.Sprintf("step %s %s", st.ID, st.Status)
	if st.Error != nil {
		msg += ": " + st.Error.Message
	}
	return msg
}

// stop ends the session: the apply cannot answer what the engine waits for.
func (a *answerer) stop(why string) (steps.Command, bool) {
	a.stopped = true
	fmt.Fprintf(a.stderr, "handrail apply: stopping: %s\n", termsafe.Line(why))
	return steps.Command{Type: steps.CmdQuit}, true
}

func (a *answerer) promotion(s *steps.State) (steps.Command, bool) {
	p := a.answers.Promotion
	if p == nil {
		return a.stop("the promotion gate holds the first write: " + s.Promotion.Summary() +
			"; run the runbook on staging first, give --staging-journal, or override in the answers file ([promotion] override, by, at)")
	}
	return steps.Command{Type: steps.CmdOverride, Step: s.PromotionAt, Text: withNote(p.Override, p.By, p.At, a.answers.Path)}, true
}

// operate answers what the current step asks, from the answers file
// only (steps.Operate makes the command of it); what the file leaves
// open ends the apply.
func (a *answerer) operate(st *steps.StepState) (steps.Command, bool) {
	a.unanswered = ""
	c, ok := steps.Operate(st, a.rb, a)
	if !ok && a.unanswered != "" {
		return a.stop(a.unanswered)
	}
	return c, ok
}

// Answer answers a step's question from the answers file. A self-ticking
// item that did not tick itself is its query's (or the staging proof's)
// to decide, not the apply's, but for the staging proof item when the
// answers file overrides the promotion gate. A monitor runs its window to
// the end; an alert fails the apply at once (next: stop, or roll back).
func (a *answerer) Answer(q steps.Question) (steps.Answer, bool) {
	switch q.Form {
	case steps.FormTick:
		if ans := a.answers.item(q.Step, q.Text); ans != nil {
			return steps.Answer{Pass: true, Text: withNote(ans.Note, ans.By, ans.At, a.answers.Path)}, true
		}
		a.unanswered = fmt.Sprintf("step %s: checklist item %q is not answered in the answers file", q.Step, q.Text)
	case steps.FormUnticked:
		if p := a.answers.Promotion; q.StagingProof && p != nil {
			return steps.Answer{Skip: true, Text: "no staging proof; the promotion gate is overridden: " + withNote(p.Override, p.By, p.At, a.answers.Path)}, true
		}
		a.unanswered = fmt.Sprintf("step %s: checklist item %q did not tick itself: %s", q.Step, q.Text, q.Evidence)
	case steps.FormConfirm:
		if q.Rejected != nil {
			a.unanswered = fmt.Sprintf("step %s refused the answers file's confirm text", q.Step)
			break
		}
		if c := a.answers.confirm(q.Step); c != nil {
			return steps.Answer{Pass: true, Text: c.Text}, true
		}
		a.unanswered = fmt.Sprintf("step %s (%s) is not answered in the answers file", q.Step, q.Kind)
	case steps.FormVerdict:
		if m := a.answers.manual(q.Step); m != nil && m.Pass != nil {
			return steps.Answer{Pass: *m.Pass, Text: withNote(m.Note, m.By, m.At, a.answers.Path)}, true
		}
		a.unanswered = fmt.Sprintf("step %s (%s) is not answered in the answers file", q.Step, q.Kind)
	case steps.FormEndEarly:
		return steps.Answer{}, false // the window runs to its end; an alert is next's to act on
	default:
		a.unanswered = fmt.Sprintf("step %s (%s) asks a question an unattended apply cannot answer (%s)", q.Step, q.Kind, q.Form)
	}
	return steps.Answer{}, false
}

// failed: roll back when the runbook says so and something was written;
// otherwise stop (exit 1, the journal resumable).
func (a *answerer) failed(s *steps.State, st *steps.StepState, why string) (steps.Command, bool) {
	if a.rb.Unattended.OnFailure == "rollback" && s.CanRollback() {
		fmt.Fprintf(a.stderr, "handrail apply: %s; [apply] on_failure = \"rollback\": rolling back\n", termsafe.Line(why))
		return steps.Command{Type: steps.CmdRollback, Text: "unattended apply, [apply] on_failure = rollback: " + why}, true
	}
	if s.Rollback.Started {
		return a.stop("the rollback failed: " + why)
	}
	hint := ""
	if a.rb.Unattended.OnFailure != "rollback" {
		hint = " ([apply] on_failure is \"stop\"; resume at a terminal with handrail run --resume JOURNAL --db DSN --apply)"
	}
	return a.stop(why + hint)
}

// progress prints one plain line per event that matters to a CI log, or
// (json) every event as journaled, one JSON object a line. Data is
// escaped.
type progress struct {
	w    io.Writer
	json bool
}

func (p *progress) event(e steps.Event) {
	if p.json {
		b, err := jsonLine(e)
		if err == nil {
			_, _ = p.w.Write(b)
		}
		return
	}
	line := progressLine(e)
	if line == "" {
		return
	}
	step := ""
	if e.Step != "" {
		step = "[" + e.Step + "] "
	}
	fmt.Fprintf(p.w, "%s %s%s\n", e.Time.UTC().Format("15:04:05"), termsafe.Line(step), termsafe.Line(line))
}

func progressLine(e steps.Event) string {
	switch e.Type {
	case steps.EvSessionStarted:
		s := e.Session
		return fmt.Sprintf("session %s: %s on %s (%s), apply, operator %s", s.SessionID, s.RunbookID, s.TargetName, s.ProjectID, s.Operator)
	case steps.EvIdentityVerified:
		return "identity verified: " + e.Identity.Expected
	case steps.EvIdentityMismatch:
		return "IDENTITY MISMATCH: " + e.Identity.Reason
	case steps.EvLockAcquired:
		return "deploy lock acquired"
	case steps.EvLockHeld:
		return "DEPLOY LOCK HELD by another session"
	case steps.EvStepStarted:
		return "started (" + e.Text + ")"
	case steps.EvIntent:
		return fmt.Sprintf("intent recorded: %d statement(s)", e.Statements.Len())
	case steps.EvStatementStarted:
		return fmt.Sprintf("statement %d/%d: %s", e.Statement.Index+1, e.Statement.Count, oneLine(e.Statement.SQL, 100))
	case steps.EvCheckPassed, steps.EvCheckFailed:
		return strings.ToUpper(strings.TrimPrefix(string(e.Type), "check_")) + ": " + e.Check.Summary
	case steps.EvItemTicked:
		msg := "item ticked by " + e.TickedBy() + textOf(e)
		if e.Auto && e.Check != nil {
			msg += ": " + oneLine(e.Check.Summary, 200)
		}
		return msg
	case steps.EvItemSkipped, steps.EvItemCheckFailed, steps.EvConfirmed, steps.EvManualResult,
		steps.EvStepSucceeded, steps.EvStepSkipped, steps.EvConsentGiven, steps.EvMonitorEnded, steps.EvMonitorAlert,
		steps.EvRollbackStarted, steps.EvRollbackOffered, steps.EvCommandRefused, steps.EvPromotionRequired, steps.EvPromotionOverridden:
		return strings.ReplaceAll(string(e.Type), "_", " ") + textOf(e)
	case steps.EvPromotionChecked:
		return "promotion: " + e.Promotion.Summary()
	case steps.EvStepFailed, steps.EvStepCancelled, steps.EvStepOutcomeUnknown:
		msg := strings.ToUpper(strings.ReplaceAll(string(e.Type), "_", " "))
		if e.Error != nil {
			msg += ": " + e.Error.Message
		}
		return msg
	case steps.EvRollbackFinished:
		return fmt.Sprintf("rollback finished (all steps succeeded: %v)", e.Pass != nil && *e.Pass)
	case steps.EvSessionEnded:
		return fmt.Sprintf("session ended: %s%s", e.Outcome, textOf(e))
	}
	return ""
}

func textOf(e steps.Event) string {
	if e.Text == "" || e.Secret {
		return ""
	}
	return ": " + oneLine(e.Text, 200)
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
