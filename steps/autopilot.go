package steps

import (
	"context"
	"fmt"
)

// Autopilot notes, recorded in the journal like any operator's.
const (
	AutopilotNote       = "autopilot: verified"
	AutopilotEndReason  = "autopilot: window ended early"
	AutopilotDrySkipped = "autopilot: dry run, the writes this check verifies were not made"
	// AutopilotOverride passes the promotion gate of a scripted run that
	// has no staging journal: an override, on the record as one.
	AutopilotOverride = "autopilot: scripted run without a staging journal"
)

// Autopilot is the scripted happy-path operator used by tests, benchmarks
// and the demo: it ticks what is not self-ticking, types the confirm text
// and the production consent, overrides the promotion gate (and skips a
// staging_proof item it cannot tick) saying so, passes manual steps with a note, ends
// monitors early with a reason, and moves on. It returns false when it has
// nothing to say: the engine is working, or only a real operator can
// decide (a failure, an outcome-unknown step, a self-ticking item whose
// query did not match). In a dry run a failed check or manual step is
// expected (the writes it verifies were skipped): it skips it with a
// reason. After the end it quits.
func Autopilot(s *State, rb *Runbook) (Command, bool) {
	if s.Ended || s.HardStop {
		return Command{Type: CmdQuit}, true
	}
	if s.PromotionAt != "" {
		return Command{Type: CmdOverride, Step: s.PromotionAt, Text: AutopilotOverride}, true
	}
	if s.ConsentAt != "" {
		return Command{Type: CmdConsent, Step: s.ConsentAt, Text: s.Session.ProjectID}, true
	}
	if s.ApprovalAt != "" {
		return Command{}, false // only the approvers can move it
	}
	st := s.CurrentStep()
	if st == nil {
		return Command{}, false
	}
	var c Command
	ok := false
	if st.Status == StatusFailed {
		if !s.Session.Apply && !st.Writes {
			c, ok = Command{Type: CmdSkipStep, Text: AutopilotDrySkipped}, true
		}
	} else {
		c, ok = Operate(st, rb, autopilot{})
	}
	c.Step = st.ID // like an operator, it answers what it sees
	return c, ok
}

// autopilot answers every question the happy path way: it ticks, types
// the text asked for, passes with a note, ends a window early with a
// reason, and skips a staging_proof item it cannot tick (the gate at the
// first write asks for the override). A self-ticking item whose query did
// not match is not its to decide.
type autopilot struct{}

func (autopilot) Answer(q Question) (Answer, bool) {
	switch q.Form {
	case FormTick:
		return Answer{Pass: true}, true
	case FormUnticked:
		if q.StagingProof {
			return Answer{Skip: true, Text: AutopilotOverride}, true
		}
	case FormConfirm:
		return Answer{Pass: true, Text: q.Text}, true
	case FormVerdict:
		return Answer{Pass: true, Text: AutopilotNote}, true
	case FormEndEarly:
		return Answer{Text: AutopilotEndReason}, true
	}
	return Answer{}, false
}

// Drive runs the autopilot against e until Run returns: whenever the
// engine waits for the operator, it asks intercept first (when non-nil;
// a test uses it to roll back or fail on purpose), then Autopilot, and
// sends what they say. The state they get is valid until they return
// (Drive reuses its memory) and must not be modified. It returns an error
// when ctx ends or the engine waits with nothing left to say.
func Drive(ctx context.Context, e *Engine, rb *Runbook, intercept func(*State) (Command, bool)) error {
	var lastSeq int64 = -1
	var s State // reused: see snapshotInto
	for {
		select {
		case <-e.Done():
			return nil
		case <-ctx.Done():
			s := e.State()
			return fmt.Errorf("autopilot: %w at seq %d (%s)", ctx.Err(), s.Seq, describeWait(&s))
		case <-e.Idle():
		}
		e.snapshotInto(&s)
		if s.Seq == lastSeq && !s.Ended {
			continue // nothing happened since the last command: a stale signal
		}
		var c Command
		ok := false
		if intercept != nil {
			c, ok = intercept(&s)
		}
		if !ok {
			c, ok = Autopilot(&s, rb)
		}
		if ok {
			lastSeq = s.Seq
			e.Send(c)
		}
	}
}

// describeWait says what the engine seems to wait for, for error messages.
func describeWait(s *State) string {
	st := s.CurrentStep()
	if st == nil {
		return "no current step"
	}
	msg := fmt.Sprintf("step %s (%s) is %s", st.ID, st.Kind, st.Status)
	if st.Error != nil {
		msg += ": " + st.Error.Message
	}
	if st.Check != nil {
		msg += "; check: " + st.Check.Summary
	}
	return msg
}
