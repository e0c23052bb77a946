package steps

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/db"
)

// rollbackRunbook: a first step that writes (table a), then the step
// under test (body, kind and keys of the second step), and a rollback
// that removes everything the phases could have made.
func rollbackRunbook(t testing.TB, second string, settings string) *Runbook {
	t.Helper()
	return writeTestRunbook(t, settings+`
[[phase]]
title = "Main"

  [[phase.step]]
  kind = "sql"
  id = "make-a"
  statements = ["create table a (x int)"]

`+second+`

[rollback]
  [[rollback.step]]
  kind = "sql"
  id = "undo"
  statements = ["drop table if exists b", "drop table if exists a"]
`, nil)
}

// startRollbackCase runs make-a, then starts the second step and returns
// once it is running (the caller says what "running" looks like).
func startRollbackCase(t *testing.T, rb *Runbook, dsn string) *engineRun {
	t.Helper()
	r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsn), Apply: true}, nil)
	r.rec.waitStep(t, EvStepWouldRun, "make-a")
	r.e.Send(Command{Type: CmdNext, Step: "make-a"})
	r.rec.waitStep(t, EvStepSucceeded, "make-a")
	r.rec.waitStep(t, EvStepStarted, "second")
	r.e.Send(Command{Type: CmdNext, Step: "second"})
	return r
}

// assertRolledBackWhileRunning: the request was recorded while the step
// ran, the step was stopped (cancelled, nothing of it left), then the
// rollback ran, and the session ended rolled back (exit 5) with the
// database as before the session.
func assertRolledBackWhileRunning(t *testing.T, r *engineRun, sb *db.Sandbox, before string, release func()) {
	t.Helper()
	r.e.Send(Command{Type: CmdRollback, Text: "bad idea, roll back now"})
	end := r.rec.waitType(t, EvSessionEnded)
	if release != nil {
		release() // so that pg_dump is not blocked
	}
	if end.Outcome != OutcomeRolledBack || end.ExitCode == nil || *end.ExitCode != 5 {
		t.Fatalf("session ended %s (exit %v), want rolled_back with exit 5:\n%s", end.Outcome, end.ExitCode, r.rec.dump())
	}
	order := []EventType{EvRollbackRequested, EvStepCancelled, EvRollbackStarted, EvRollbackFinished}
	at := 0
	for _, ev := range r.rec.all() {
		if at < len(order) && ev.Type == order[at] {
			if ev.Type == EvStepCancelled && ev.Step != "second" {
				t.Fatalf("cancelled %s, want the running step", ev.Step)
			}
			at++
		}
	}
	if at != len(order) {
		t.Fatalf("want %v in this order; events:\n%s", order, r.rec.dump())
	}
	if req := r.rec.ofType(EvRollbackRequested); req[0].Text != "bad idea, roll back now" {
		t.Errorf("rollback_requested text %q", req[0].Text)
	}
	if after := schemaDump(t, sb, "work"); after != before {
		t.Fatalf("the database differs from before the session:\n%s", diffLines(before, after))
	}
	for _, ev := range r.rec.ofType(EvCommandRefused) {
		t.Errorf("a command was refused on the way: %+v %q", ev.Command, ev.Text)
	}
	r.quit(t)
	assertFoldMatches(t, r)
}

// R + y while a statement runs: the cancel request stops it, its
// transaction rolls back, then the rollback section runs.
func TestRollbackWhileStatementRuns(t *testing.T) {
	t.Parallel()
	sb, dsn := atomicSetup(t)
	before := schemaDump(t, sb, "work")
	rb := rollbackRunbook(t, `
  [[phase.step]]
  kind = "sql"
  id = "second"
  statements = ["create table b (x int)", "insert into b values (1)", "select pg_sleep(120)"]
`, "")
	r := startRollbackCase(t, rb, dsn)
	waitActive(t, dsn, "%pg_sleep%")
	assertRolledBackWhileRunning(t, r, sb, before, nil)
}

// The same during a lock wait: the waiting statement is cancelled.
func TestRollbackDuringLockWait(t *testing.T) {
	t.Parallel()
	sb, dsn := atomicSetup(t, "create table locked_t (x int)")
	before := schemaDump(t, sb, "work")
	blocker := adminConn(t, dsn)
	ctx := engineCtx(t)
	for _, q := range []string{"begin", "lock table locked_t in access exclusive mode"} {
		if _, err := blocker.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	rb := rollbackRunbook(t, `
  [[phase.step]]
  kind = "sql"
  id = "second"
  statements = ["create table b (x int)", "insert into locked_t values (1)"]
`, "")
	rb.Settings.LockTimeout.Duration = 2 * time.Minute // wait until the rollback stops it
	r := startRollbackCase(t, rb, dsn)
	r.rec.wait(t, 0, "lock_wait with the blocker", func(e Event) bool { return e.Type == EvLockWait && len(e.Blockers) > 0 })
	assertRolledBackWhileRunning(t, r, sb, before, func() {
		if _, err := blocker.Exec(ctx, "rollback"); err != nil {
			t.Fatal(err)
		}
	})
}

// The same during an exec step: the command is stopped.
func TestRollbackDuringExec(t *testing.T) {
	t.Parallel()
	sb, dsn := atomicSetup(t)
	before := schemaDump(t, sb, "work")
	rb := rollbackRunbook(t, `
  [[phase.step]]
  kind = "exec"
  id = "second"
  command = "echo started; exec sleep 120"
`, "")
	r := startRollbackCase(t, rb, dsn)
	r.rec.wait(t, 0, "the command's output", func(e Event) bool { return e.Type == EvExecOutput && strings.Contains(e.Text, "started") })
	assertRolledBackWhileRunning(t, r, sb, before, nil)
}

// Two runbooks with different ids against one database: the second is
// refused with the first one's runbook, operator and server pid, exit 4,
// and nothing of it is written.
func TestDeployLockIsPerDatabase(t *testing.T) {
	t.Parallel()
	_, dsn := atomicSetup(t)
	first := sqlRunbook(t, `statements = ["create table first_t (x int)"]`, nil)
	r1 := startEngine(t, Config{Runbook: first, Target: testTarget(t, dsn), Apply: true, Operator: "alice"}, nil)
	got := r1.rec.waitType(t, EvLockAcquired)

	second := writeTestRunbook(t, `
[[phase]]
title = "Other"
  [[phase.step]]
  kind = "sql"
  id = "other"
  statements = ["create table second_t (x int)"]
`, nil)
	second.Meta.ID = "another-runbook"
	r2 := startEngine(t, Config{Runbook: second, Target: testTarget(t, dsn), Apply: true, Operator: "bob"}, nil)
	held := r2.rec.waitType(t, EvLockHeld)
	end := r2.rec.waitType(t, EvSessionEnded)
	if end.Outcome != OutcomeLockHeld || *end.ExitCode != 4 {
		t.Fatalf("second runbook ended %s, want lock_held (exit 4)", end.Outcome)
	}
	h := held.Lock
	if h.Key != got.Lock.Key || h.Runbook != "engine-test" || h.Operator != "alice" || h.PID == 0 {
		t.Fatalf("holder = %+v, want runbook engine-test, operator alice and its server pid", h)
	}
	for _, want := range []string{"engine-test", "alice", fmt.Sprintf("server pid %d", h.PID)} {
		if !strings.Contains(end.Text, want) {
			t.Errorf("end text %q lacks %q", end.Text, want)
		}
	}
	for _, ev := range r2.rec.all() {
		if ev.Type == EvIntent || ev.Type == EvStepStarted {
			t.Fatalf("the refused session emitted %s", ev.Type)
		}
	}
	if tableExists(t, dsn, "second_t") {
		t.Fatal("the refused runbook wrote")
	}
	r2.quit(t)
	r1.quit(t)
}

// A command for a step that is no longer current is refused, so a key
// pressed for one step never acts on the next.
func TestStaleCommandIsRefused(t *testing.T) {
	t.Parallel()
	_, dsn := atomicSetup(t)
	rb := sqlRunbook(t, `statements = ["create table stale_t (x int)"]`, nil)
	r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsn), Apply: true}, nil)
	r.rec.waitStep(t, EvStepWouldRun, "change")
	r.e.Send(Command{Type: CmdNext, Step: "some-earlier-step"})
	ref := r.rec.waitType(t, EvCommandRefused)
	if ref.Command == nil || ref.Command.Type != CmdNext || !strings.Contains(ref.Text, `"some-earlier-step"`) {
		t.Fatalf("refusal = %+v %q", ref.Command, ref.Text)
	}
	r.awaitIdle(t)
	if tableExists(t, dsn, "stale_t") || len(r.rec.ofType(EvIntent)) != 0 {
		t.Fatal("a stale enter ran the step")
	}
	r.quit(t)
	assertFoldMatches(t, r)
}

// The database goes away: the step fails and the session goes on,
// offline (not ended), its target unverified; a retry while it is still
// down fails the step again without sending anything; once it is back, a
// retry reconnects, proves the identity again, and runs the step.
func TestRetryWhileDatabaseDown(t *testing.T) {
	t.Parallel()
	sb, dsn := atomicSetup(t)
	rb := sqlRunbook(t, `statements = ["create table after_outage (x int)"]`, nil)
	r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsn), Apply: true}, nil)
	r.rec.waitStep(t, EvStepWouldRun, "change")
	if err := sb.StopServer(); err != nil {
		t.Fatal(err)
	}
	r.e.Send(Command{Type: CmdNext, Step: "change"})
	r.rec.waitStep(t, EvStepFailed, "change")
	failed := r.rec.waitType(t, EvReconnectFailed)
	if failed.Error == nil || !strings.Contains(failed.Error.Hint, "retry") {
		t.Fatalf("reconnect_failed = %+v", failed.Error)
	}
	r.awaitIdle(t)
	st := r.e.State()
	if st.Ended || st.Offline == "" || st.Identity != nil {
		t.Fatalf("after the outage: ended %v, offline %q, identity %+v; want the session offline, unverified, going on", st.Ended, st.Offline, st.Identity)
	}
	if !st.Accepts(CmdRetry).OK || !st.Accepts(CmdQuit).OK {
		t.Fatalf("offline, retry and quit must be taken: %+v", st.Affordances())
	}

	// Retry while still down: the step fails again, nothing is sent.
	from := r.rec.count()
	r.e.Send(Command{Type: CmdRetry, Step: "change"})
	r.rec.wait(t, from, "a second reconnect_failed", func(e Event) bool { return e.Type == EvReconnectFailed })
	r.awaitIdle(t)
	if st := r.e.State(); st.Ended || st.Steps[0].Status != StatusFailed {
		t.Fatalf("a retry that cannot connect must fail the step, not the session: ended %v, status %s", st.Ended, st.Steps[0].Status)
	}

	if err := sb.StartServer(engineCtx(t)); err != nil {
		t.Fatal(err)
	}
	r.e.Send(Command{Type: CmdRetry, Step: "change"})
	end := r.rec.waitType(t, EvSessionEnded)
	if end.Outcome != OutcomeSucceeded {
		t.Fatalf("after the server came back: %s\n%s", end.Outcome, r.rec.dump())
	}
	// The intent that ran comes after the reconnect and a new identity proof.
	var reconnected, reverified bool
	for _, e := range r.rec.all() {
		switch {
		case e.Type == EvReconnected:
			reconnected = true
		case e.Type == EvIdentityVerified && reconnected:
			reverified = true
		case e.Type == EvStepSucceeded && !reverified:
			t.Fatal("the step ran before the target was proven again")
		}
	}
	if !reverified || !tableExists(t, dsn, "after_outage") {
		t.Fatalf("re-verified %v, table made %v", reverified, tableExists(t, dsn, "after_outage"))
	}
	r.quit(t)
	assertFoldMatches(t, r)
}
