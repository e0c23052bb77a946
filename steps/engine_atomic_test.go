package steps

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/db"
)

const sqlStepBody = `
[[phase]]
title = "Main"

  [[phase.step]]
  kind = "sql"
  id = "change"
  title = "The change"
  %s
`

func sqlRunbook(t testing.TB, stepKeys string, files map[string]string) *Runbook {
	t.Helper()
	return writeTestRunbook(t, strings.Replace(sqlStepBody, "%s", stepKeys, 1), files)
}

// atomicSetup starts a sandbox with a stamped database "work" and returns
// its DSN.
func atomicSetup(t testing.TB, scripts ...string) (*db.Sandbox, string) {
	t.Helper()
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	return sb, testDatabase(t, sb, "work", "test-project", scripts...)
}

func tableExists(t testing.TB, dsn, name string) bool {
	t.Helper()
	return queryValue[bool](t, dsn, "select to_regclass($1) is not null", name)
}

// A statement failing in the middle of a file leaves no trace, and the
// error says what, where and what to do.
func TestFailingStatementLeavesNoTrace(t *testing.T) {
	t.Parallel()
	_, dsn := atomicSetup(t)
	rb := sqlRunbook(t, `file = "change.sql"`, map[string]string{"change.sql": `-- a change that fails halfway
create table made_by_step (x int);
insert into made_by_step values (1);
select 1/0;
create table never_made (x int);
`})
	r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsn), Apply: true}, nil)
	r.rec.waitStep(t, EvStepWouldRun, "change")
	r.e.Send(Command{Type: CmdNext})
	failed := r.rec.waitStep(t, EvStepFailed, "change")
	e := failed.Error
	if e == nil || !e.RolledBack || e.SQLState != "22012" || e.Where != "change.sql:4" {
		t.Fatalf("error = %+v", e)
	}
	for _, want := range []string{"statement 3 of 4", "change.sql:4", "division by zero", "rolled back"} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message %q lacks %q", e.Message, want)
		}
	}
	if e.Hint == "" {
		t.Error("no hint")
	}
	// The runbook has no [rollback]: the hint offers no rollback.
	if !strings.Contains(e.Hint, "retry the step or quit") || strings.Contains(e.Hint, "roll back") {
		t.Errorf("hint %q", e.Hint)
	}
	if tableExists(t, dsn, "made_by_step") || tableExists(t, dsn, "never_made") {
		t.Fatal("the failed step left a table behind")
	}
	// The intent came before the first statement.
	var sawIntent bool
	for _, ev := range r.rec.all() {
		if ev.Type == EvIntent {
			sawIntent = true
		}
		if ev.Type == EvStatementStarted && !sawIntent {
			t.Fatal("a statement started before the intent was recorded")
		}
	}
	if st := r.e.State(); st.Steps[0].Status != StatusFailed || !st.Wrote || !r.e.Wrote() {
		t.Fatalf("state: status %s wrote %v, Wrote() %v", st.Steps[0].Status, st.Wrote, r.e.Wrote())
	}
	r.quit(t)
	assertFoldMatches(t, r)
}

// CmdCancel during a long statement sends a cancel request: the step is
// cancelled and its transaction rolled back.
func TestCancelDuringStatement(t *testing.T) {
	t.Parallel()
	_, dsn := atomicSetup(t)
	rb := sqlRunbook(t, `statements = ["create table made_before_sleep (x int)", "select pg_sleep(120)"]`, nil)
	r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsn), Apply: true}, nil)
	r.rec.waitStep(t, EvStepWouldRun, "change")
	r.e.Send(Command{Type: CmdNext})
	r.rec.wait(t, 0, "statement 2 started", func(e Event) bool {
		return e.Type == EvStatementStarted && e.Statement.Index == 1
	})
	// statement_started comes just before the statement is sent: wait
	// until the server runs it, so the cancel request finds it there.
	waitActive(t, dsn, "%pg_sleep%")
	r.e.Send(Command{Type: CmdCancel})
	ev := r.rec.waitStep(t, EvStepCancelled, "change")
	if ev.Error == nil || !ev.Error.RolledBack || !strings.Contains(ev.Error.Message, "statement 2 of 2") {
		t.Fatalf("cancel error = %+v", ev.Error)
	}
	if tableExists(t, dsn, "made_before_sleep") {
		t.Fatal("the cancelled step left its table")
	}
	if st := r.e.State(); st.Steps[0].Status != StatusCancelled {
		t.Fatalf("status %s", st.Steps[0].Status)
	}
	r.quit(t)
	assertFoldMatches(t, r)
}

// The work connection killed mid-step: the step fails saying so, the
// server rolled it back, and the engine reconnects and proves the
// identity again before anything else.
func TestConnectionLostDuringStatement(t *testing.T) {
	t.Parallel()
	_, dsn := atomicSetup(t)
	rb := sqlRunbook(t, `statements = ["create table made_before_kill (x int)", "select pg_sleep(120)"]`, nil)
	r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsn), Apply: true, Operator: "killtest"}, nil)
	r.rec.waitStep(t, EvStepWouldRun, "change")
	r.e.Send(Command{Type: CmdNext})
	r.rec.wait(t, 0, "statement 2 started", func(e Event) bool {
		return e.Type == EvStatementStarted && e.Statement.Index == 1
	})
	waitActive(t, dsn, "%pg_sleep%")
	killed := queryValue[int](t, dsn, `select count(*) from (
		select pg_terminate_backend(pid) from pg_stat_activity
		where application_name = 'handrail/engine-test/killtest' and query like '%pg_sleep%' and state = 'active') k`)
	if killed != 1 {
		t.Fatalf("terminated %d backends, want 1", killed)
	}
	failed, at := r.rec.wait(t, 0, "step_failed", func(e Event) bool { return e.Type == EvStepFailed })
	msg := failed.Error.Message
	for _, want := range []string{"connection to 127.0.0.1", "lost during statement 2 of 2", "rolled back by the server"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if !failed.Error.RolledBack {
		t.Error("not marked rolled back")
	}
	_, rec := r.rec.wait(t, at, "reconnected", func(e Event) bool { return e.Type == EvReconnected })
	ver, _ := r.rec.wait(t, rec, "identity re-verified", func(e Event) bool {
		return e.Type == EvIdentityVerified || e.Type == EvIdentityMismatch
	})
	if ver.Type != EvIdentityVerified {
		t.Fatalf("identity after reconnect: %s", ver.Type)
	}
	if tableExists(t, dsn, "made_before_kill") {
		t.Fatal("the killed step left its table")
	}
	// The session goes on on the new connection: retry with a quick step
	// is not possible (same statements), so roll back is the operator's
	// choice here; quitting ends it cleanly.
	if res := r.quit(t); res.err != nil {
		t.Fatalf("Run error: %v", res.err)
	}
	assertFoldMatches(t, r)
}

// A lock held by another transaction: lock_wait names the blocker, the
// step fails after lock_timeout as retryable, and a retry after the
// blocker ends succeeds.
func TestLockTimeoutThenRetry(t *testing.T) {
	t.Parallel()
	_, dsn := atomicSetup(t, "create table locked_t (x int)")
	blocker := adminConn(t, dsn)
	ctx := engineCtx(t)
	if _, err := blocker.Exec(ctx, "begin"); err != nil {
		t.Fatal(err)
	}
	if _, err := blocker.Exec(ctx, "lock table locked_t in access exclusive mode"); err != nil {
		t.Fatal(err)
	}
	blockerPID := int(blocker.PgConn().PID())

	rb := sqlRunbook(t, `statements = ["insert into locked_t values (1)"]`, nil)
	r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsn), Apply: true}, nil)
	r.rec.waitStep(t, EvStepWouldRun, "change")
	r.e.Send(Command{Type: CmdNext})
	wait, _ := r.rec.wait(t, 0, "lock_wait naming the blocker", func(e Event) bool {
		return e.Type == EvLockWait && len(e.Blockers) > 0
	})
	if wait.Blockers[0].PID != blockerPID {
		t.Errorf("blocker pid %d, want %d", wait.Blockers[0].PID, blockerPID)
	}
	failed := r.rec.waitStep(t, EvStepFailed, "change")
	if !failed.Error.Retryable || !failed.Error.RolledBack || failed.Error.SQLState != "55P03" {
		t.Fatalf("error = %+v", failed.Error)
	}
	if !strings.Contains(failed.Error.Message, "lock timeout") {
		t.Errorf("message %q", failed.Error.Message)
	}
	if _, err := blocker.Exec(ctx, "rollback"); err != nil {
		t.Fatal(err)
	}
	r.e.Send(Command{Type: CmdRetry})
	r.rec.waitStep(t, EvStepSucceeded, "change")
	if n := len(r.rec.ofType(EvIntent)); n != 2 {
		t.Errorf("%d intents, want 2 (the retry records its own)", n)
	}
	end := r.rec.waitType(t, EvSessionEnded)
	if end.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s", end.Outcome)
	}
	if n := queryValue[int64](t, dsn, "select count(*) from locked_t"); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
	r.quit(t)
	assertFoldMatches(t, r)
}

// waitActive waits until a backend runs a query like pattern.
func waitActive(t testing.TB, dsn, pattern string) {
	t.Helper()
	conn := adminConn(t, dsn)
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		var n int
		err := conn.QueryRow(engineCtx(t), `select count(*) from pg_stat_activity
			where state = 'active' and query like $1 and pid <> pg_backend_pid()`, pattern).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no backend ran %q within %s", pattern, waitLimit)
}

// A step of many statements is sent in chunks: a statement's end and the
// next one's start reach the sink together, in one batch (one write of the
// journal), and the record is the same sequence as one event at a time:
// each statement started, then finished, in order.
func TestPipelinedStatementsRecordedInPairs(t *testing.T) {
	t.Parallel()
	_, dsn := atomicSetup(t)
	var sql strings.Builder
	sql.WriteString("create table piped (id int);\n")
	const n = 200
	for i := 1; i < n; i++ {
		fmt.Fprintf(&sql, "insert into piped values (%d);\n", i)
	}
	rb := sqlRunbook(t, `file = "change.sql"`, map[string]string{"change.sql": sql.String()})
	r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsn), Apply: true}, nil)
	r.rec.waitStep(t, EvStepWouldRun, "change")
	r.e.Send(Command{Type: CmdNext})
	r.rec.waitStep(t, EvStepSucceeded, "change")
	var got []string
	for _, ev := range r.rec.all() {
		if ev.Type == EvStatementStarted || ev.Type == EvStatementFinished {
			got = append(got, fmt.Sprint(ev.Type, " ", ev.Statement.Index))
		}
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprint(EvStatementStarted, " ", i), fmt.Sprint(EvStatementFinished, " ", i))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("statement events %v, want %v", got, want)
	}
	r.rec.mu.Lock()
	pairs := len(r.rec.batches)
	r.rec.mu.Unlock()
	if pairs < n/2 {
		t.Errorf("%d batches for %d pipelined statements: the ends and starts were not recorded together", pairs, n)
	}
	r.quit(t)
	assertFoldMatches(t, r)
}

// What a failed transaction = false step left is said in words that read:
// one statement is "statement 1", not "statements 1 to 1".
func TestLeftBehindReads(t *testing.T) {
	for k, want := range map[int]string{0: "no statement of this step had completed", 1: "statement 1 had completed and stays",
		3: "statements 1 to 3 had completed and stay"} {
		if got := leftBehind(false, k); !strings.HasPrefix(got, want) {
			t.Errorf("leftBehind(false, %d) = %q, want %q...", k, got, want)
		}
	}
}
