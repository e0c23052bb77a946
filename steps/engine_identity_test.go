package steps

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/db"
)

// The production runbook against the staging database: a hard stop that
// names expected and found, and nothing but the identity probes reaches
// the server.
func TestIdentityMismatchHardStop(t *testing.T) {
	t.Parallel()
	sb, dsns := demoDatabases(t, db.SandboxOptions{LogStatements: true})
	rb := exampleRunbook(t, "connect-rls-hardening")
	logStart := fileSize(t, sb.LogFile())

	r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsns["connect_staging"]), Apply: true}, nil)
	mm := r.rec.waitType(t, EvIdentityMismatch)
	end := r.rec.waitType(t, EvSessionEnded)
	if end.Outcome != OutcomeHardStop || end.ExitCode == nil || *end.ExitCode != 3 {
		t.Fatalf("session_ended = %+v, want identity_hard_stop with exit 3", end)
	}
	id := mm.Identity
	if id == nil || id.OK || id.Forbidden != db.DemoStagingProjectID || id.Expected != db.DemoProdProjectID {
		t.Fatalf("identity report = %+v", id)
	}
	if !strings.Contains(id.Reason, db.DemoStagingProjectID) {
		t.Errorf("reason %q does not name what was found", id.Reason)
	}
	assertOnlyCommandsQuitAfterEnd(t, r)

	// Only the identity probes were sent to the staging database.
	stmts := loggedStatements(t, sb.LogFile(), logStart, "connect_staging")
	if len(stmts) == 0 {
		t.Fatal("the server logged no statement at all: is log_statement on?")
	}
	for _, s := range stmts {
		if !isIdentityProbe(s) {
			t.Errorf("a statement other than an identity probe reached the server: %q", s)
		}
	}
	for _, ev := range r.rec.all() {
		switch ev.Type {
		case EvLockAcquired, EvLockHeld, EvStepStarted, EvIntent:
			t.Errorf("after a hard stop the engine emitted %s", ev.Type)
		}
	}
	assertFoldMatches(t, r)

	var out bytes.Buffer
	if code := RunChecks(engineCtx(t), rb, testTarget(t, dsns["connect_staging"]), &out, false); code != ExitIdentity {
		t.Fatalf("RunChecks on staging = %d, want %d:\n%s", code, ExitIdentity, out.String())
	}
	if !strings.Contains(out.String(), "MISMATCH") {
		t.Errorf("RunChecks output does not say mismatch:\n%s", out.String())
	}
}

func isIdentityProbe(stmt string) bool {
	s := strings.TrimSpace(stmt)
	return strings.Contains(s, "shobj_description") || // the stamp
		strings.Contains(s, "pg_control_system") ||
		s == "BEGIN READ ONLY" || s == "ROLLBACK"
}

// assertOnlyCommandsQuitAfterEnd: after the session ended, every command
// but quit is ignored (no event), and quit ends Run.
func assertOnlyCommandsQuitAfterEnd(t *testing.T, r *engineRun) {
	t.Helper()
	r.awaitIdle(t)
	n := r.rec.count()
	for _, c := range []Command{
		{Type: CmdNext}, {Type: CmdConfirm}, {Type: CmdConsent, Text: db.DemoProdProjectID},
		{Type: CmdRollback, Text: "x"}, {Type: CmdRetry}, {Type: CmdTick}, {Type: CmdMark, Pass: true, Text: "x"},
	} {
		r.e.Send(c)
	}
	// Each one is answered, on the record, with a refusal; nothing else.
	// Wait for the seventh answer, then for the engine to wait again: an
	// idle signal alone may date from between two of the sends.
	r.rec.wait(t, n+6, "the seventh answer", func(Event) bool { return true })
	r.awaitIdle(t)
	after := r.rec.all()[n:]
	if len(after) != 7 {
		t.Fatalf("7 commands after the end gave %d events, want 7 refusals:\n%s", len(after), r.rec.dump())
	}
	for _, ev := range after {
		if ev.Type != EvCommandRefused || !strings.Contains(ev.Text, "ended") {
			t.Fatalf("after the end: %s %q, want command_refused saying the session ended", ev.Type, ev.Text)
		}
	}
	n = r.rec.count()
	select {
	case <-r.e.Done():
		t.Fatal("Run returned before quit")
	default:
	}
	res := r.quit(t)
	if res.err != nil {
		t.Fatalf("Run error: %v", res.err)
	}
	if got := r.rec.count(); got != n {
		t.Fatalf("quit after the end emitted events:\n%s", r.rec.dump())
	}
}

// A database no source can identify (no stamp, not a Supabase host) is a
// hard stop too: at least one source must resolve.
func TestIdentityUnresolvableHardStop(t *testing.T) {
	t.Parallel()
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	if err := sb.CreateDatabase(engineCtx(t), "unstamped"); err != nil {
		t.Fatal(err)
	}
	rb := exampleRunbook(t, "connect-rls-hardening")
	r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, sb.DSN("unstamped"))}, nil)
	mm := r.rec.waitType(t, EvIdentityMismatch)
	for _, s := range mm.Identity.Sources {
		if s.Resolved {
			t.Errorf("source %s resolved on an unstamped local database: %+v", s.Source, s)
		}
	}
	if mm.Identity.Reason == "" {
		t.Error("the mismatch has no reason")
	}
	if end := r.rec.waitType(t, EvSessionEnded); end.Outcome != OutcomeHardStop {
		t.Fatalf("outcome %s", end.Outcome)
	}
	assertOnlyCommandsQuitAfterEnd(t, r)

	var out bytes.Buffer
	if code := RunChecks(engineCtx(t), rb, testTarget(t, sb.DSN("unstamped")), &out, true); code != ExitIdentity {
		t.Fatalf("RunChecks = %d, want 3:\n%s", code, out.String())
	}
	var rep ChecksReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("RunChecks --json output: %v\n%s", err, out.String())
	}
	if rep.Passed || rep.ExitCode != 3 || rep.Identity == nil || rep.Identity.OK {
		t.Errorf("report = %+v", rep)
	}
}

// RunChecks on the right database, before the migration: identity passes,
// the validation checks fail (exit 1); without a runbook: exit 2.
func TestRunChecksBeforeMigration(t *testing.T) {
	t.Parallel()
	_, dsns := demoDatabases(t, db.SandboxOptions{})
	rb := exampleRunbook(t, "connect-rls-hardening")
	var out bytes.Buffer
	code := RunChecks(engineCtx(t), rb, testTarget(t, dsns["connect_prod"]), &out, false)
	if code != ExitFailed {
		t.Fatalf("RunChecks = %d, want 1:\n%s", code, out.String())
	}
	text := out.String()
	for _, want := range []string{"VERIFIED", "supabase-schemas", "PASS", "check-rate-limits-rls", "FAIL", "app-readiness#1"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if code := RunChecks(engineCtx(t), nil, testTarget(t, dsns["connect_prod"]), &out, false); code != ExitUsage {
		t.Errorf("RunChecks without runbook = %d, want 2", code)
	}
}
