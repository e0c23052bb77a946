package steps

import (
	"strings"
	"testing"
)

// A journal that ends with an intent and no result (handrail stopped
// after sending the step): on resume the step's outcome is unknown, it is
// not re-run by itself, and the operator resolves it.
func TestResumeInFlightStepIsNotRerun(t *testing.T) {
	t.Parallel()
	_, dsn := atomicSetup(t)
	rb := sqlRunbook(t, `statements = ["create table resumed_t (x int)"]`, nil)

	// The first session's journal fails right after the intent: the
	// engine must stop without sending the statement.
	rec := newEvRecorder()
	rec.failOn = func(e Event) bool { return e.Type == EvStatementStarted }
	first := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsn), Apply: true}, rec)
	first.rec.waitStep(t, EvStepWouldRun, "change")
	first.e.Send(Command{Type: CmdNext})
	res := first.finish(t)
	if res.err == nil || !strings.Contains(res.err.Error(), "recording event") {
		t.Fatalf("first session: %+v, want the sink's error", res)
	}
	if tableExists(t, dsn, "resumed_t") {
		t.Fatal("the statement ran although its events could not be recorded")
	}
	prior := first.rec.all()
	if last := prior[len(prior)-1]; last.Type != EvIntent {
		t.Fatalf("the prior journal ends with %s, want intent", last.Type)
	}

	second := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsn), Apply: true, Prior: prior}, nil)
	resumed := second.rec.waitType(t, EvSessionResumed)
	if resumed.Seq != prior[len(prior)-1].Seq+1 {
		t.Errorf("resumed at seq %d, want %d", resumed.Seq, prior[len(prior)-1].Seq+1)
	}
	second.rec.waitType(t, EvIdentityVerified)
	second.rec.waitType(t, EvLockAcquired)
	unknown := second.rec.waitStep(t, EvStepOutcomeUnknown, "change")
	if !strings.Contains(unknown.Error.Message, "never re-run automatically") {
		t.Errorf("message %q", unknown.Error.Message)
	}
	second.awaitIdle(t)
	for _, ev := range second.rec.all() {
		if ev.Type == EvIntent || ev.Type == EvStatementStarted {
			t.Fatal("the in-flight step was re-run without the operator")
		}
	}
	if st := second.e.State(); st.Steps[0].Status != StatusUnknown || st.Resumed != 1 {
		t.Fatalf("state: %s, resumed %d", st.Steps[0].Status, st.Resumed)
	}

	second.e.Send(Command{Type: CmdMark, Pass: false, Text: "checked: resumed_t is not there"})
	second.rec.waitStep(t, EvStepMarked, "change")
	second.e.Send(Command{Type: CmdRetry})
	second.rec.waitStep(t, EvStepSucceeded, "change")
	if end := second.rec.waitType(t, EvSessionEnded); end.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s", end.Outcome)
	}
	if !tableExists(t, dsn, "resumed_t") {
		t.Fatal("the explicit retry did not run the step")
	}
	second.quit(t)

	// The whole journal (both sessions) folds to the resumed engine's state.
	whole := &evRecorder{events: append(prior, second.rec.all()...), changed: make(chan struct{})}
	assertFoldMatches(t, &engineRun{e: second.e, rec: whole})
}
