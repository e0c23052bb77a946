package steps

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/steps/lockcheck"
)

// `handrail check` runs on one connection, every check in a READ ONLY
// transaction sent as one round trip: a check whose query writes (through
// a function the lint cannot see into) fails with the server's read-only
// error and writes nothing; the checks around it pass, each in its own
// transaction with its role and settings, and nothing outlives them.
func TestRunChecksReadOnlyOneConnection(t *testing.T) {
	t.Parallel()
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	dsn := testDatabase(t, sb, "checkro", "test-project", `
create table hits(n int);
create function bump() returns int language sql as $$ insert into hits values (1) returning 1 $$;
create role check_reader nologin;
grant select on hits to check_reader;`)
	rb := writeTestRunbook(t, `
[[phase]]
title = "Checks"

  [[phase.step]]
  kind = "check"
  id = "before"
  title = "no hits yet"
  sql = "select count(*) from hits"
  expect = [{count = 0}]

  [[phase.step]]
  kind = "check"
  id = "writes"
  title = "a check that writes"
  sql = "select bump()"
  expect = [{bump = 1}]

  [[phase.step]]
  kind = "check"
  id = "as-role"
  title = "as a role, with a setting"
  sql = "select current_user::text as who, current_setting('app.tenant') as tenant, (select count(*) from pg_stat_activity where application_name like 'handrail-check/%') as conns"
  as_role = "check_reader"
  settings = {"app.tenant" = "t1"}
  expect = [{who = "check_reader", tenant = "t1", conns = 1}]

  [[phase.step]]
  kind = "check"
  id = "after"
  title = "still no hits, the login role again"
  sql = "select count(*) as n, current_user = session_user as same, current_setting('transaction_read_only') as ro from hits"
  expect = [{n = 0, same = true, ro = "on"}]
`, nil)
	var out bytes.Buffer
	code := RunChecks(engineCtx(t), rb, testTarget(t, dsn), &out, true)
	var rep ChecksReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("RunChecks --json: %v\n%s", err, out.String())
	}
	if code != ExitFailed || len(rep.Results) != 4 {
		t.Fatalf("RunChecks = %d with %d results, want 1 with 4:\n%s", code, len(rep.Results), out.String())
	}
	for _, r := range rep.Results {
		wantPass := r.Step != "writes"
		if r.Pass != wantPass {
			t.Errorf("%s: pass %v, want %v: %s", r.Step, r.Pass, wantPass, r.Summary)
		}
	}
	if s := rep.Results[1].Summary; !strings.Contains(s, "read-only transaction") || !strings.Contains(s, "25006") {
		t.Errorf("the writing check: %q, want the server's read-only error (25006)", s)
	}
	if n := queryValue[int64](t, dsn, "select count(*) from hits"); n != 0 {
		t.Errorf("hits has %d rows after check, want 0", n)
	}
}

// A check's connection is dialled while the runbook loads; when the checks
// will not run, Close stops the dial and closes what it connected, even
// against a server that never answers the startup message.
func TestCheckDialClose(t *testing.T) {
	t.Parallel()
	d, c := dialSilentServer(t, engineCtx(t))
	d.Close()
	if err := c.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("the dial's connection was left open: %v", err)
	}
}

// ctrl+c (or SIGTERM) while handrail check connects says so, not a
// driver's "context canceled" as if the server had failed.
func TestCheckInterruptedWhileConnecting(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(engineCtx(t))
	d, _ := dialSilentServer(t, ctx)
	cancel() // the operator's ctrl+c, while the server has not answered
	rb := &Runbook{Meta: Meta{ID: "r"}, Target: Target{Name: "Prod", ProjectID: "p"}}
	var out bytes.Buffer
	code := RunChecksDialed(ctx, rb, d, &out, false)
	if code != ExitFailed || !strings.Contains(out.String(), "interrupted while connecting to") || strings.Contains(out.String(), "context canceled") {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
}

// dialSilentServer starts DialChecks against a local listener that
// accepts the connection and never answers the startup message, and
// returns the dial and the server's side of the connection (both closed
// when the test ends).
func dialSilentServer(t *testing.T, ctx context.Context) (*CheckDial, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	target, _, err := db.Resolve(db.DSNSource{Flag: "postgres://u:pw@" + ln.Addr().String() + "/db?connect_timeout=600&sslmode=disable"})
	if err != nil {
		t.Fatal(err)
	}
	d := DialChecks(ctx, target)
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return d, c
}

// The text report keeps one line per check, its summary cut to fit; a
// failed check's whole summary (the server's error, what did not match)
// follows the table, so a cron mail says what failed and where.
func TestCheckTextShowsAFailureWhole(t *testing.T) {
	long := `query failed: permission denied for table business_accounts: the role "cron" needs SELECT on it (SQLSTATE 42501) at check rls-forced`
	rep := &ChecksReport{Results: []CheckResult{
		{Step: "rls-forced", Title: "RLS forced", Summary: long},
		{Step: "report", Title: "Report", Pass: true, Summary: strings.Repeat("passed ", 30)},
	}}
	var out bytes.Buffer
	finishChecks(&out, false, rep, ExitFailed)
	if !strings.Contains(out.String(), long) {
		t.Errorf("the failure is not printed whole:\n%s", out.String())
	}
	if strings.Contains(out.String(), strings.TrimSpace(strings.Repeat("passed ", 30))) {
		t.Errorf("a passed check's summary is printed twice:\n%s", out.String())
	}
}

// A step whose statements take no lock on an existing relation says so in
// the text report (as the screen does), instead of a heading with nothing
// under it.
func TestPrintLocksSaysNoLock(t *testing.T) {
	var out bytes.Buffer
	printLocks(&out, &LocksReport{Steps: []StepLocksReport{{Step: "w", Analysis: &lockcheck.Analysis{Transactional: true}}}})
	if !strings.Contains(out.String(), "step w (one transaction):\n  no lock on an existing relation, no finding\n") {
		t.Errorf("report:\n%s", out.String())
	}
}
