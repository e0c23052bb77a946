package steps

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// The terminal hanging up (SIGHUP: a dropped SSH connection) while a
// statement runs ends the session's context. The statement is cancelled
// and the session ends aborted, resumable; the journal says why. It said
// "cancelled by the operator" and "the operator quit", which a
// post-mortem would read as the operator's doing.
func TestHangupDuringStatementIsNotTheOperator(t *testing.T) {
	t.Parallel()
	_, dsn := atomicSetup(t)
	rb := rollbackRunbook(t, `
  [[phase.step]]
  kind = "sql"
  id = "second"
  statements = ["create table b (x int)", "select pg_sleep(120)"]
`, "")
	rec := newEvRecorder()
	e := NewEngine(Config{Runbook: rb, Target: testTarget(t, dsn), Apply: true, Sink: rec.sink, Operator: "tester", SessionID: "hup"})
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() { _, _ = e.Run(ctx) }()
	rec.waitStep(t, EvStepWouldRun, "make-a")
	e.Send(Command{Type: CmdNext, Step: "make-a"})
	rec.waitStep(t, EvStepStarted, "second")
	e.Send(Command{Type: CmdNext, Step: "second"})
	waitActive(t, dsn, "%pg_sleep%")
	cancel(errors.New("the terminal hung up (SIGHUP)"))
	e.Send(Command{Type: CmdQuit}) // what the screen sends as it leaves (ui handleStop)
	select {
	case <-e.Done():
	case <-time.After(waitLimit):
		t.Fatalf("engine still running after the hangup; events:\n%s", rec.dump())
	}
	stopped := rec.waitStep(t, EvStepCancelled, "second")
	if msg := stopped.Error.Message; strings.Contains(msg, "by the operator") || !strings.Contains(msg, "the terminal hung up") {
		t.Errorf("step_cancelled says %q, want the hangup, not the operator", msg)
	}
	end := rec.waitType(t, EvSessionEnded)
	if end.Outcome != OutcomeAborted || strings.Contains(end.Text, "operator quit") || !strings.Contains(end.Text, "the terminal hung up") {
		t.Errorf("session_ended: %s %q, want aborted by the hangup", end.Outcome, end.Text)
	}
}
