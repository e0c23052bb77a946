//go:build unix

package main

// The crash test of the journal (issue 4): a real handrail process (this
// test binary re-executed, running the real `handrail run` command with a
// scripted operator in place of the screen) is killed with SIGKILL at
// several points of an apply run against the sandbox PostgreSQL. After each
// kill the journal must verify (a torn last line reported, not fatal), the
// database must agree with the fold of the journal, and `handrail run
// --resume` must re-prove identity, re-take the deploy lock, mark the
// in-flight step outcome-unknown without re-running it, and finish the run
// once the operator has resolved that step.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/ui"
)

// Environment of the helper process.
const (
	crashHelperEnv = "HANDRAIL_CRASH_HELPER" // set: run as the helper
	crashArgsEnv   = "HANDRAIL_CRASH_ARGS"   // JSON list: the handrail command line
	crashHoldEnv   = "HANDRAIL_CRASH_HOLD"   // step id: stop operating at its gate
)

// crashWait bounds every wait of the crash test; it waits for observable
// conditions (journal events, pg_stat_activity, pg_locks), never for time.
const crashWait = 30 * time.Second

const crashProjectID = "crash-test-prod"

// crashRunbook writes the runbook every scenario runs: a checklist, a
// quick transactional write, a transactional write that sleeps (as long as
// crash_knob says) after creating its table, a later write, and a check.
const crashRunbook = `
[runbook]
id = "crash-test"
title = "Crash test"
version = "1"

[target]
name = "Crash-Prod"
project_id = "` + crashProjectID + `"
production = true
identity = ["stamp"]

[settings]
lock_timeout = "5s"
statement_timeout = "1m"

[[phase]]
title = "Preparation"

  [[phase.step]]
  kind = "checklist"
  id = "ready"
  title = "Ready"

    [[phase.step.items]]
    text = "The change ticket is approved"

[[phase]]
title = "Execution"

  [[phase.step]]
  kind = "sql"
  id = "audit"
  title = "Create and fill crash_audit"
  statements = ["create table crash_audit (x int)", "insert into crash_audit values (1)"]

  [[phase.step]]
  kind = "sql"
  id = "slow"
  title = "Create crash_slow, then wait"
  statements = ["create table crash_slow (x int)", "select pg_sleep(seconds) from crash_knob"]

  [[phase.step]]
  kind = "sql"
  id = "after"
  title = "Create crash_after"
  statements = ["create table crash_after (x int)"]

  [[phase.step]]
  kind = "check"
  id = "verify"
  title = "Every change is there, once"
  sql = "select (select count(*) from crash_audit)::int as audit_rows, to_regclass('crash_slow') is not null as slow, to_regclass('crash_after') is not null as after"
  expect = [{ audit_rows = 1, slow = true, after = true }]
`

// crashTables maps each writing step to the table it creates.
var crashTables = map[string]string{"audit": "crash_audit", "slow": "crash_slow", "after": "crash_after"}

// TestCrashHelperProcess is the handrail process that TestCrashResume
// starts and kills. It runs the real CLI (`handrail run ...`) with the
// scripted operator in place of the screen.
func TestCrashHelperProcess(t *testing.T) {
	if os.Getenv(crashHelperEnv) == "" {
		t.Skip("helper process of TestCrashResume; runs only when re-executed by it")
	}
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv(crashArgsEnv)), &args); err != nil {
		fmt.Fprintf(os.Stderr, "crash helper: bad %s: %v\n", crashArgsEnv, err)
		os.Exit(100)
	}
	dsn := ""
	for i, a := range args {
		if a == "--db" && i+1 < len(args) {
			dsn = args[i+1]
		}
	}
	c := &cli{stdout: os.Stdout, stderr: os.Stderr, environ: os.Environ(),
		frontend: scriptedOperator(os.Getenv(crashHoldEnv), dsn)}
	os.Exit(c.main(args))
}

// scriptedOperator is a frontend for runSession without a screen: it
// drives the engine with steps.Drive (the autopilot) through the same
// Command API the screen uses. When hold is a step id it stops operating
// at that step's gate (an operator who walked away) until it is killed.
// An outcome-unknown step is resolved as an operator would: look in the
// database whether its table exists, mark it accordingly with that reason,
// and retry it explicitly when it was not applied. Anything else that
// needs a human (a failure) makes it quit, so the test sees it.
func scriptedOperator(hold, dsn string) func(*steps.Engine, *steps.Runbook, ui.Options) (steps.Outcome, error) {
	return func(eng *steps.Engine, rb *steps.Runbook, opts ui.Options) (steps.Outcome, error) {
		drained := make(chan struct{})
		go func() {
			for range opts.Events {
			}
			close(drained)
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		marked := map[string]bool{}
		intercept := func(s *steps.State) (steps.Command, bool) {
			st := s.CurrentStep()
			if st == nil || s.Ended {
				return steps.Command{}, false
			}
			switch {
			case st.ID == hold && st.Status == steps.StatusActive && st.WouldRun.Len() > 0:
				fmt.Fprintf(os.Stderr, "crash helper: holding at the gate of %s (seq %d)\n", st.ID, s.Seq)
				select { // until killed, or the session ends without us (a hangup)
				case <-ctx.Done():
				case <-eng.Done():
				}
				return steps.Command{}, false
			case st.Status == steps.StatusUnknown:
				table := crashTables[st.ID]
				exists, err := tableExists(ctx, dsn, table)
				if err != nil {
					fmt.Fprintf(os.Stderr, "crash helper: %v\n", err)
					return steps.Command{Type: steps.CmdQuit}, true
				}
				marked[st.ID] = true
				verdict := map[bool]string{true: "exists: applied", false: "does not exist: not applied"}[exists]
				return steps.Command{Type: steps.CmdMark, Pass: exists,
					Text: fmt.Sprintf("checked the database: table %s %s", table, verdict)}, true
			case st.Status == steps.StatusFailed && marked[st.ID]:
				delete(marked, st.ID)
				return steps.Command{Type: steps.CmdRetry}, true
			case st.Status == steps.StatusFailed || st.Status == steps.StatusCancelled:
				fmt.Fprintf(os.Stderr, "crash helper: step %s is %s; quitting\n", st.ID, st.Status)
				return steps.Command{Type: steps.CmdQuit}, true
			}
			return steps.Command{}, false
		}
		err := steps.Drive(ctx, eng, rb, intercept)
		if err != nil {
			eng.Send(steps.Command{Type: steps.CmdQuit})
		}
		<-drained // the engine's Run has returned: Done does not block
		res := opts.Done()
		if err == nil {
			err = res.Err
		}
		return res.Outcome, err
	}
}

func tableExists(ctx context.Context, dsn, table string) (bool, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	var ok bool
	err = conn.QueryRow(ctx, "select to_regclass($1) is not null", table).Scan(&ok)
	return ok, err
}

// crashScenario is one kill point.
type crashScenario struct {
	name string
	// hold: the helper stops at this step's gate; the kill comes once
	// the step's would-run event is in the journal.
	hold string
	// inFlight: kill while this step's last statement (pg_sleep) runs
	// on the server, between the step's intent and its result.
	inFlight string
	// torn: after the kill, cut the journal's last line short, as if the
	// process had died in the middle of writing it.
	torn bool
	// done: the writing steps that succeeded before the kill.
	done []string
}

func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL sandbox and handrail processes")
	}
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	rbDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(rbDir, steps.RunbookFile), []byte(crashRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, sc := range []crashScenario{
		{name: "before_any_write", hold: "audit"},
		{name: "between_intent_and_result", inFlight: "slow", done: []string{"audit"}},
		{name: "after_a_write_succeeded", hold: "slow", done: []string{"audit"}},
		{name: "torn_tail_in_flight", inFlight: "slow", torn: true, done: []string{"audit"}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			runCrashScenario(t, sb, rbDir, sc)
		})
	}
}

func runCrashScenario(t *testing.T, sb *db.Sandbox, rbDir string, sc crashScenario) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dbname := "crash_" + sc.name
	sleep := 0
	if sc.inFlight != "" {
		sleep = 120 // the kill lands long before it ends; longer than crashWait
	}
	// The server notices the killed client while pg_sleep runs only
	// because handrail sets client_connection_check_interval on its work
	// connection (db.DeadClientCheckInterval); without it the killed
	// transaction would live on past crashWait and the test fails.
	if err := sb.CreateDatabase(ctx, dbname,
		fmt.Sprintf("create table crash_knob (seconds float8 not null); insert into crash_knob values (%d)", sleep)); err != nil {
		t.Fatal(err)
	}
	dsn := sb.DSN(dbname)
	admin := crashConn(t, ctx, dsn)
	if _, err := db.Stamp(ctx, admin, crashProjectID, false); err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()

	// 1. The first session, killed.
	first := startHelper(t, sc.hold, "run", rbDir, "--db", dsn, "--apply", "--log-dir", logDir, "--operator", "crash-test")
	path := waitForJournal(t, ctx, logDir, first)
	fl, err := journal.OpenFollower(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	seen := []steps.Event{}
	waitEvent := func(what string, match func(steps.Event) bool) steps.Event {
		t.Helper()
		wctx, wcancel := context.WithTimeout(ctx, crashWait)
		defer wcancel()
		for {
			e, err := fl.Next(wctx)
			if err != nil {
				t.Fatalf("waiting for %s in the journal: %v\nhelper output:\n%s", what, err, first.output())
			}
			seen = append(seen, e)
			if match(e) {
				return e
			}
		}
	}
	lockEv := waitEvent("lock_acquired", func(e steps.Event) bool { return e.Type == steps.EvLockAcquired })
	if lockEv.Lock == nil || lockEv.Lock.PID == 0 {
		t.Fatalf("lock_acquired without the holder's pid: %+v", lockEv.Lock)
	}
	key := lockEv.Lock.Key
	if n := advisoryHolders(t, ctx, admin, key); len(n) != 1 || n[0] != lockEv.Lock.PID {
		t.Fatalf("deploy lock holders %v, want the helper's lock connection %d", n, lockEv.Lock.PID)
	}

	var workPID int
	switch {
	case sc.hold != "":
		waitEvent("would_run of "+sc.hold, func(e steps.Event) bool { return e.Type == steps.EvStepWouldRun && e.Step == sc.hold })
	case sc.inFlight != "":
		waitEvent("statement_started of the pg_sleep of "+sc.inFlight, func(e steps.Event) bool {
			return e.Type == steps.EvStatementStarted && e.Step == sc.inFlight && e.Statement != nil &&
				strings.Contains(e.Statement.SQL, "pg_sleep")
		})
		// The event is recorded before the statement is sent: wait until
		// the server runs it inside the step's open transaction.
		workPID = waitFor(t, ctx, "the pg_sleep statement running on the server", func() (int, bool) {
			var pid int
			err := admin.QueryRow(ctx, `select pid from pg_stat_activity
				where datname = current_database() and state = 'active' and xact_start is not null
				  and query like '%pg_sleep%' and pid <> pg_backend_pid()`).Scan(&pid)
			return pid, err == nil
		})
		if tableVisible(t, ctx, admin, "crash_slow") {
			t.Fatal("crash_slow is visible before its transaction committed")
		}
	}
	first.kill(t)

	// 2. The killed process's server sessions go away: the deploy lock is
	// released, and the in-flight transaction is aborted with its backend.
	waitFor(t, ctx, "the deploy lock of the killed process to be released", func() (int, bool) {
		return 0, len(advisoryHolders(t, ctx, admin, key)) == 0
	})
	if workPID != 0 {
		waitFor(t, ctx, fmt.Sprintf("backend %d of the killed transaction to end", workPID), func() (int, bool) {
			var n int
			if err := admin.QueryRow(ctx, "select count(*) from pg_stat_activity where pid = $1", workPID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return 0, n == 0
		})
	}

	var tornBytes int
	if sc.torn {
		tornBytes = tearLastLine(t, path, 7)
	}

	// 3. The journal verifies; a torn tail is reported, never fatal.
	rep := journal.Verify(path)
	if !rep.OK || rep.Ended || rep.TornTail != sc.torn {
		t.Fatalf("verify after the kill: %+v", rep)
	}
	var vout bytes.Buffer
	if code := (&cli{stdout: &vout, stderr: &vout}).main([]string{"verify", path}); code != journal.ExitIncomplete {
		t.Fatalf("handrail verify exit %d, want %d (intact, incomplete):\n%s", code, journal.ExitIncomplete, vout.String())
	}
	wantVerdict := "the session did not end"
	if sc.torn {
		wantVerdict = "torn last line"
	}
	if !strings.Contains(vout.String(), wantVerdict) {
		t.Errorf("handrail verify says:\n%s\nwant it to mention %q", vout.String(), wantVerdict)
	}
	log, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	prior := log.Events
	if !sc.torn && len(prior) != len(seen) {
		// The follower saw every line the helper wrote before it died.
		t.Errorf("the journal holds %d events after the kill, the follower saw %d", len(prior), len(seen))
	}
	if sc.torn && len(prior) != len(seen)-1 {
		t.Errorf("the torn journal holds %d events, want the %d seen minus the torn one", len(prior), len(seen))
	}

	// 4. The fold of the journal matches the database.
	state := steps.Fold(prior)
	pending := journal.PendingIntents(prior)
	if sc.inFlight != "" {
		if len(pending) != 1 || pending[0] != sc.inFlight {
			t.Fatalf("pending intents %v, want [%s]", pending, sc.inFlight)
		}
		if st := state.Steps[state.StepIndex(sc.inFlight)]; !st.InFlight || st.Status != steps.StatusRunning {
			t.Fatalf("the fold has %s %s (in flight %v), want running and in flight", st.ID, st.Status, st.InFlight)
		}
	} else if len(pending) != 0 {
		t.Fatalf("pending intents %v, want none", pending)
	}
	assertFoldMatchesDB(t, ctx, admin, state, "after the kill")
	if got := auditRows(t, ctx, admin); got != len(sc.done) { // 1 when audit ran, else no table
		t.Fatalf("crash_audit rows %d after the kill", got)
	}

	// 5. Resume: the rest of the run, with the in-flight step resolved by
	// the operator (it is never re-run automatically).
	if _, err := admin.Exec(ctx, "update crash_knob set seconds = 0"); err != nil {
		t.Fatal(err)
	}
	second := startHelper(t, "", "run", "--resume", path, "--db", dsn, "--apply")
	code, out := second.wait(t)
	if code != steps.ExitOK {
		t.Fatalf("resume exit %d, want %d:\n%s", code, steps.ExitOK, out)
	}
	if sc.torn != strings.Contains(out, "torn by a crash") {
		t.Errorf("resume output (torn tail %v):\n%s", sc.torn, out)
	}
	tornNote := fmt.Sprintf("last line %d (%d bytes) was torn by the crash and dropped", len(prior)+2, tornBytes)
	if strings.Contains(out, "crash helper: holding") {
		t.Fatalf("the resumed helper held:\n%s", out)
	}

	whole, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	rep = journal.Verify(path)
	if !rep.OK || !rep.Ended || rep.Outcome != steps.OutcomeSucceeded || rep.TornTail {
		t.Fatalf("verify after the resume: %+v", rep)
	}
	for i, e := range prior { // the resume appended; it rewrote nothing
		if w := whole.Events[i]; w.Seq != e.Seq || w.Type != e.Type || w.Step != e.Step {
			t.Fatalf("event %d changed on resume: %d %s %s -> %d %s %s", i, e.Seq, e.Type, e.Step, w.Seq, w.Type, w.Step)
		}
	}
	after := whole.Events[len(prior):]
	assertResumed(t, sc, prior, after, lockEv.Lock.PID)
	if sc.torn != strings.Contains(after[0].Text, tornNote) {
		// The record itself keeps saying that a torn line was dropped.
		t.Errorf("session_resumed says %q; torn tail %v, want %q", after[0].Text, sc.torn, tornNote)
	}

	final := steps.Fold(whole.Events)
	if final.Resumed != 1 || final.Outcome != steps.OutcomeSucceeded {
		t.Fatalf("final state: resumed %d, outcome %s", final.Resumed, final.Outcome)
	}
	for _, st := range final.Steps {
		if !st.Rollback && st.Status != steps.StatusSucceeded {
			t.Errorf("step %s is %s at the end", st.ID, st.Status)
		}
	}
	assertFoldMatchesDB(t, ctx, admin, final, "after the resume")
	if got := auditRows(t, ctx, admin); got != 1 {
		t.Errorf("crash_audit has %d rows: a step ran twice", got)
	}
	if n := advisoryHolders(t, ctx, admin, key); len(n) != 0 {
		t.Errorf("deploy lock still held by %v after the resumed session ended", n)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(sb.Password())) {
		t.Error("the sandbox password is in the journal")
	}
}

// TestRunScreenGoneEarly: when the screen goes away before the engine has
// finished (it failed, or the operator closed it at once), `run` stops the
// engine, reports the outcome the engine returned (read only once its Run
// has returned: the race detector checks that), and leaves a verifiable,
// resumable journal.
func TestRunScreenGoneEarly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL sandbox")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	if err := sb.CreateDatabase(ctx, "gone", "create table crash_knob (seconds float8 not null)"); err != nil {
		t.Fatal(err)
	}
	dsn := sb.DSN("gone")
	if _, err := db.Stamp(ctx, crashConn(t, ctx, dsn), crashProjectID, false); err != nil {
		t.Fatal(err)
	}
	rbDir, logDir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(rbDir, steps.RunbookFile), []byte(crashRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	c := &cli{stdout: &stdout, stderr: &stderr, environ: []string{"USER=tester"},
		frontend: func(_ *steps.Engine, _ *steps.Runbook, opts ui.Options) (steps.Outcome, error) {
			opts.Send(steps.Command{Type: steps.CmdQuit})
			return "", errors.New("no terminal")
		}}
	code := c.main([]string{"run", rbDir, "--db", dsn, "--log-dir", logDir})
	if code != steps.ExitFailed {
		t.Errorf("exit %d, want %d", code, steps.ExitFailed)
	}
	if !strings.Contains(stderr.String(), "the screen failed: no terminal") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	// Nothing was written: starting over is the way on, not a resume.
	if !strings.Contains(stdout.String(), "aborted") || strings.Contains(stdout.String(), "resume:") ||
		!strings.Contains(stdout.String(), "nothing was written") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	m, _ := filepath.Glob(filepath.Join(logDir, "*.jsonl"))
	if len(m) != 1 {
		t.Fatalf("journals: %v", m)
	}
	if rep := journal.Verify(m[0]); !rep.OK || !rep.Ended || rep.Outcome != steps.OutcomeAborted {
		t.Fatalf("verify: %+v", rep)
	}
}

// assertResumed checks the events the resumed session appended.
func assertResumed(t *testing.T, sc crashScenario, prior, after []steps.Event, oldLockPID int) {
	t.Helper()
	if len(after) == 0 || after[0].Type != steps.EvSessionResumed {
		t.Fatalf("the resumed session does not start with session_resumed: %s", dumpEvents(after))
	}
	if want := prior[len(prior)-1].Seq + 1; after[0].Seq != want {
		t.Errorf("session_resumed has seq %d, want %d", after[0].Seq, want)
	}
	at := func(typ steps.EventType, step string) int {
		for i, e := range after {
			if e.Type == typ && e.Step == step {
				return i
			}
		}
		return -1
	}
	ident, lock := at(steps.EvIdentityVerified, ""), at(steps.EvLockAcquired, "")
	if ident < 0 || lock < 0 || lock < ident {
		t.Fatalf("the resumed session did not verify identity, then take the deploy lock: %s", dumpEvents(after))
	}
	if l := after[lock].Lock; l == nil || l.PID == 0 || l.PID == oldLockPID {
		t.Errorf("the deploy lock was re-taken by %+v; the killed session's lock connection was %d", l, oldLockPID)
	}
	firstStep := len(after)
	for i, e := range after {
		if e.Type == steps.EvStepStarted {
			firstStep = i
			break
		}
	}
	if firstStep < lock {
		t.Errorf("a step started before the deploy lock was re-taken: %s", dumpEvents(after))
	}
	// A step that succeeded before the kill is not run again.
	for _, id := range sc.done {
		if i := at(steps.EvIntent, id); i >= 0 {
			t.Errorf("step %s succeeded before the kill and was run again on resume (event %d)", id, after[i].Seq)
		}
	}
	if sc.inFlight == "" {
		for _, e := range after {
			if e.Type == steps.EvStepOutcomeUnknown || e.Type == steps.EvStepMarked {
				t.Errorf("unexpected %s of %s on resume: nothing was in flight", e.Type, e.Step)
			}
		}
		return
	}
	id := sc.inFlight
	unknown, marked, intent := at(steps.EvStepOutcomeUnknown, id), at(steps.EvStepMarked, id), at(steps.EvIntent, id)
	if unknown < 0 || unknown > firstStep || unknown < lock {
		t.Fatalf("the in-flight step %s was not marked outcome-unknown right after identity and lock: %s", id, dumpEvents(after))
	}
	if !strings.Contains(after[unknown].Error.Message, "never re-run automatically") {
		t.Errorf("outcome-unknown message: %q", after[unknown].Error.Message)
	}
	if marked < 0 || intent < 0 || !(unknown < marked && marked < intent) {
		t.Fatalf("want outcome-unknown, then the operator's mark, then the explicit retry's intent for %s: %s", id, dumpEvents(after))
	}
	for _, e := range after[:marked] {
		if e.Step == id && (e.Type == steps.EvIntent || e.Type == steps.EvStatementStarted) {
			t.Fatalf("the in-flight step %s was re-run before the operator resolved it: %s", id, dumpEvents(after))
		}
	}
	m := after[marked]
	if m.Pass == nil || *m.Pass || !strings.Contains(m.Text, "does not exist") {
		t.Errorf("the operator's mark: pass %v, %q; want not applied (its table is absent)", m.Pass, m.Text)
	}
	if at(steps.EvStepSucceeded, id) < intent {
		t.Errorf("the explicit retry of %s did not succeed: %s", id, dumpEvents(after))
	}
}

// assertFoldMatchesDB: every writing step's table exists exactly when the
// fold says the step succeeded (a step in flight or not run left nothing).
func assertFoldMatchesDB(t *testing.T, ctx context.Context, conn *pgx.Conn, s steps.State, when string) {
	t.Helper()
	for id, table := range crashTables {
		st := s.Steps[s.StepIndex(id)]
		want := st.Status == steps.StatusSucceeded
		if got := tableVisible(t, ctx, conn, table); got != want {
			t.Errorf("%s: step %s is %s (in flight %v) in the journal, but table %s exists=%v", when, id, st.Status, st.InFlight, table, got)
		}
	}
}

func tableVisible(t *testing.T, ctx context.Context, conn *pgx.Conn, table string) bool {
	t.Helper()
	var ok bool
	if err := conn.QueryRow(ctx, "select to_regclass($1) is not null", table).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func auditRows(t *testing.T, ctx context.Context, conn *pgx.Conn) int {
	t.Helper()
	if !tableVisible(t, ctx, conn, "crash_audit") {
		return 0
	}
	var n int
	if err := conn.QueryRow(ctx, "select count(*) from crash_audit").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// advisoryHolders returns the pids holding the advisory lock key in the
// connection's database.
func advisoryHolders(t *testing.T, ctx context.Context, conn *pgx.Conn, key int64) []int {
	t.Helper()
	rows, err := conn.Query(ctx, `select pid from pg_locks
		where locktype = 'advisory' and granted and objsubid = 1
		  and database = (select oid from pg_database where datname = current_database())
		  and classid = $1 and objid = $2 order by pid`,
		int64(uint64(key)>>32), int64(uint32(uint64(key))))
	if err != nil {
		t.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

func crashConn(t *testing.T, ctx context.Context, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// waitFor polls cond (every 20 ms) until it holds, failing after crashWait.
func waitFor[T any](t *testing.T, ctx context.Context, what string, cond func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(crashWait)
	for {
		if v, ok := cond(); ok {
			return v
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("gave up waiting for %s after %s", what, crashWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tearLastLine cuts n bytes off the end of the journal (its last line's
// newline and more), as a crash in the middle of that line's write would
// leave it, and returns how many bytes of the torn line are left.
func tearLastLine(t *testing.T, path string, n int) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = b[:len(b)-n]
	if err := os.Truncate(path, int64(len(b))); err != nil {
		t.Fatal(err)
	}
	return len(b) - (bytes.LastIndexByte(b, '\n') + 1)
}

func waitForJournal(t *testing.T, ctx context.Context, dir string, h *helper) string {
	t.Helper()
	return waitFor(t, ctx, "the session journal in "+dir, func() (string, bool) {
		if h.exited() {
			t.Fatalf("the helper exited before creating its journal:\n%s", h.output())
		}
		m, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
		if len(m) == 1 {
			return m[0], true
		}
		return "", false
	})
}

func dumpEvents(events []steps.Event) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "\n  %d %s %s", e.Seq, e.Type, e.Step)
		if e.Text != "" {
			fmt.Fprintf(&b, " %q", e.Text)
		}
		if e.Error != nil {
			fmt.Fprintf(&b, " error=%q", e.Error.Message)
		}
	}
	return b.String()
}

// helper is a handrail process: this test binary re-executed as
// TestCrashHelperProcess.
type helper struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

func startHelper(t *testing.T, hold string, args ...string) *helper {
	t.Helper()
	argv, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	h := &helper{out: &syncBuffer{}, done: make(chan struct{})}
	h.cmd = exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$", "-test.count=1", "-test.timeout=3m")
	h.cmd.Env = append(os.Environ(), crashHelperEnv+"=1", crashArgsEnv+"="+string(argv), crashHoldEnv+"="+hold)
	h.cmd.Stdout, h.cmd.Stderr = h.out, h.out
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		h.err = h.cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() {
		if !h.exited() {
			_ = h.cmd.Process.Kill()
			<-h.done
		}
	})
	return h
}

func (h *helper) exited() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

func (h *helper) output() string { return h.out.String() }

// kill sends SIGKILL and makes sure that is what ended the process.
func (h *helper) kill(t *testing.T) {
	t.Helper()
	if h.exited() {
		t.Fatalf("the helper exited before the kill (%v):\n%s", h.err, h.output())
	}
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.done:
	case <-time.After(crashWait):
		t.Fatal("the helper survived SIGKILL")
	}
	var ee *exec.ExitError
	if !errors.As(h.err, &ee) {
		t.Fatalf("helper ended with %v, want killed:\n%s", h.err, h.output())
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper ended with %v, want killed by SIGKILL:\n%s", h.err, h.output())
	}
}

// wait waits for the process to exit and returns its exit code and output.
func (h *helper) wait(t *testing.T) (int, string) {
	t.Helper()
	select {
	case <-h.done:
	case <-time.After(90 * time.Second):
		t.Fatalf("the helper did not finish:\n%s", h.output())
	}
	if h.err == nil {
		return 0, h.output()
	}
	var ee *exec.ExitError
	if errors.As(h.err, &ee) && ee.Exited() {
		return ee.ExitCode(), h.output()
	}
	t.Fatalf("helper: %v:\n%s", h.err, h.output())
	return -1, ""
}

// syncBuffer is a bytes.Buffer safe for the process's writers and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
