package steps

import (
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/db"
)

// A second session on the same runbook and target finds the deploy lock
// held, names the first session's backend and application_name, and ends
// with lock_held; once the first session ends, the lock is free again.
func TestDeployLockHeld(t *testing.T) {
	t.Parallel()
	_, dsns := demoDatabases(t, db.SandboxOptions{})
	rb := exampleRunbook(t, "connect-rls-hardening")
	first := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsns["connect_prod"]), Operator: "alice"}, nil)
	mine := first.rec.waitType(t, EvLockAcquired).Lock
	if mine == nil || mine.PID == 0 {
		t.Fatalf("lock_acquired = %+v, want our lock connection's pid", mine)
	}
	first.rec.waitType(t, EvStepStarted)

	second := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsns["connect_prod"]), Operator: "bob"}, nil)
	held := second.rec.waitType(t, EvLockHeld).Lock
	if held == nil || held.PID != mine.PID || held.ApplicationName != "handrail/connect-rls-hardening/alice" {
		t.Fatalf("lock_held = %+v, want pid %d and alice's application_name", held, mine.PID)
	}
	end := second.rec.waitType(t, EvSessionEnded)
	if end.Outcome != OutcomeLockHeld || *end.ExitCode != 4 || !strings.Contains(end.Text, "alice") {
		t.Fatalf("second session ended %+v", end)
	}
	for _, ev := range second.rec.all() {
		if ev.Type == EvStepStarted {
			t.Fatal("the second session started a step without the lock")
		}
	}
	if res := second.quit(t); res.outcome != OutcomeLockHeld {
		t.Fatalf("second outcome %s", res.outcome)
	}

	if res := first.quit(t); res.outcome != OutcomeAborted || res.err != nil {
		t.Fatalf("first session: %+v", res)
	}
	third := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsns["connect_prod"]), Operator: "carol"}, nil)
	third.rec.waitType(t, EvLockAcquired)
	third.quit(t)
	assertFoldMatches(t, first)
	assertFoldMatches(t, second)
}
