package ui

import (
	"image/color"
	"reflect"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/handrail-dev/handrail/steps"
)

// wantCmds: the screen sent exactly want. A wanted command with no Step
// matches any Step, but a step command must name the step it was meant
// for (the engine refuses it if another one is current by then).
func wantCmds(t *testing.T, rec *recorder, want ...steps.Command) {
	t.Helper()
	if len(want) == 0 && len(rec.cmds) == 0 {
		return
	}
	got := make([]steps.Command, len(rec.cmds))
	for i, c := range rec.cmds {
		if c.Step == "" && c.Type != steps.CmdQuit && c.Type != steps.CmdRollback {
			t.Errorf("command %d (%s) names no step", i, c.Type)
		}
		if i < len(want) && want[i].Step == "" {
			c.Step = ""
		}
		got[i] = c
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("commands sent:\n got %+v\nwant %+v", rec.cmds, want)
	}
}

func TestChecklistTickSkipNext(t *testing.T) {
	m, rec := newLive(connectStart(false))
	if got := m.screen(); got != screenRun {
		t.Fatalf("screen = %v, want run", got)
	}
	mustContain(t, plain(m), "[ ] Change ticket approved", "[x] Connected as the migration role (auto)", "DRY RUN")

	m = update(m, press("space")...) // ticks item 0, cursor moves to 1
	m = update(m, press("s")...)
	if m.screen() != screenInput {
		t.Fatalf("s should ask for a reason, screen = %v", m.screen())
	}
	m = update(m, press("enter")...) // empty reason is refused
	mustContain(t, plain(m), "an answer is required")
	m = typeText(m, "handled by the on-call lead")
	m = update(m, press("enter")...)
	m = update(m, press("down", "up", "k", "j", "enter")...)
	wantCmds(t, rec,
		steps.Command{Type: steps.CmdTick, Item: 0},
		steps.Command{Type: steps.CmdSkipItem, Item: 1, Text: "handled by the on-call lead"},
		steps.Command{Type: steps.CmdNext},
	)
	if m.cursor != 2 {
		t.Errorf("cursor = %d after down,up,k,j from 1; want 2", m.cursor)
	}
}

func TestChecklistRendersSkippedAndFailedItems(t *testing.T) {
	f := connectStart(false).item(steps.EvItemSkipped, "pre-checklist", 1, false, "not needed")
	i := 2
	f.add(steps.Event{Type: steps.EvItemCheckFailed, Step: "pre-checklist", Item: &i, Check: &steps.CheckReport{Summary: "deploy_freeze is true"}})
	m, _ := newLive(f)
	mustContain(t, plain(m), "[-] Team notified in #deploys", "[!] No deploy freeze", "check: deploy_freeze is true")
	mustNotContain(t, plain(m), "#deploys skipped")
}

// At 80 columns a skip reason stands on its own line under the item's
// text, and a check's reason wraps under it as the text does, not cut.
func TestChecklistReasonsWrapOnTheirOwnLines(t *testing.T) {
	long := "no journal in /tmp/qa2/state/handrail/demo-sessions of runbook connect-rls-hardening on staging"
	f := connectStart(false).item(steps.EvItemSkipped, "pre-checklist", 1, false, "demo, no staging")
	i := 2
	f.add(steps.Event{Type: steps.EvItemCheckFailed, Step: "pre-checklist", Item: &i, Check: &steps.CheckReport{Summary: long}})
	m, _ := newLive(f)
	var pane []string
	for _, l := range strings.Split(plain(m), "\n") {
		if _, p, ok := strings.Cut(l, "│"); ok {
			pane = append(pane, strings.TrimSpace(p))
		}
	}
	s := strings.Join(pane, "\n")
	mustContain(t, s, "[-] Team notified in #deploys\nskipped: demo, no staging")
	mustNotContain(t, s, "…")
	mustContain(t, strings.Join(strings.Fields(s), " "), "check: "+long)
}

func TestConfirmWithoutTypedText(t *testing.T) {
	f := connectStart(false).on(steps.EvStepSucceeded, "pre-checklist").stepStarted("verify-env")
	m, rec := newLive(f)
	mustContain(t, plain(m), "The header shows Connect-Prod", "press enter to confirm")
	update(m, press("enter")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdConfirm})
}

func TestConfirmTypedTextAndRejection(t *testing.T) {
	f := connectStart(false).on(steps.EvStepSucceeded, "pre-checklist").stepStarted("backup")
	m, rec := newLive(f)
	mustContain(t, plain(m), "BACKUP DONE")
	m = update(m, press("enter")...)
	if m.screen() != screenInput {
		t.Fatalf("enter on a typed confirm opens the input; screen = %v", m.screen())
	}
	m = typeText(m, "BACKUP DON")
	m = update(m, press("enter")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdConfirm, Text: "BACKUP DON"})
	m = feed(m, steps.Event{Type: steps.EvConfirmRejected, Step: "backup", Text: "BACKUP DON"})
	mustContain(t, plain(m), `REJECTED: you typed "BACKUP DON"`)
}

func TestSQLStepRunningRowsLockWaitAndCancel(t *testing.T) {
	f := toApply().statement("apply-001", 2, 12, "alter table public.rate_limits disable row level security;").
		rows("apply-001", []string{"id", "name", "active"}, 0, 30)
	f.add(steps.Event{Type: steps.EvLockWait, Step: "apply-001", Blockers: []steps.Blocker{{
		PID: 4242, State: "idle in transaction", Query: "select * from rate_limits for update", ApplicationName: "connect-api", Waited: 3200 * time.Millisecond}}})
	m, rec := newLive(f)
	s := plain(m)
	mustContain(t, s, "statement 3 of 12", "migrations/001_rls_hardening.sql:16", "alter table public.rate_limits",
		"waiting for lock held by pid 4242 (connect-api,", "idle in transaction", "for update) for 3.2s", "30 row(s) received", "user-0003")

	m = update(m, press("ctrl+c")...)
	if m.screen() != screenConfirmCancel {
		t.Fatalf("ctrl+c while running asks to cancel; screen = %v", m.screen())
	}
	mustContain(t, plain(m), "Cancel the running statement? The transaction will roll")
	m = update(m, press("y")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdCancel})
	if m.overlay != screenNone {
		t.Errorf("dialog still open")
	}
}

func TestSQLScrollShowsOnlyVisibleRows(t *testing.T) {
	f := toApply().statement("apply-001", 0, 12, "select 1").rows("apply-001", []string{"id", "name", "active"}, 0, 400)
	m, _ := newLive(f)
	mustNotContain(t, plain(m), "user-0100")
	m = update(m, press("pgdown", "pgdown", "pgdown", "pgdown", "pgdown", "pgdown")...)
	mustNotContain(t, plain(m), "user-0000")
	m = update(m, press("pgup", "pgup", "pgup", "pgup", "pgup", "pgup", "pgup", "pgup", "pgup")...)
	mustContain(t, plain(m), "user-0000")
}

func TestSQLDryRunShowsWouldRun(t *testing.T) {
	f := connectStart(false).stepStarted("apply-001")
	f.add(steps.Event{Type: steps.EvStepWouldRun, Step: "apply-001", Statements: steps.ListOf([]steps.StatementInfo{
		{Index: 0, Count: 2, SQL: "alter table public.rate_limits disable row level security;", File: "migrations/001.sql", Line: 3},
		{Index: 1, Count: 2, SQL: "alter table public.business_accounts add column is_public boolean default true;", File: "migrations/001.sql", Line: 5},
	})}).add(steps.Event{Type: steps.EvStepSkipped, Step: "apply-001", Text: "dry run"})
	m, _ := newLive(f)
	mustContain(t, plain(m), "nothing is sent; would run 2 statement(s)", "-- 1/2 migrations/001.sql:3", "add column", "is_public boolean default true;")
}

func TestSQLFailureOffersRetry(t *testing.T) {
	f := toApply().statement("apply-001", 0, 12, "alter table public.rate_limits disable row level security;")
	f.add(steps.Event{Type: steps.EvStepFailed, Step: "apply-001", Error: &steps.ErrorInfo{
		Message: "canceling statement due to lock timeout", SQLState: "55P03", Where: "migrations/001_rls_hardening.sql:10",
		RolledBack: true, Retryable: true}})
	m, rec := newLive(f)
	mustContain(t, plain(m), "ERROR: canceling statement due to lock timeout", "sqlstate 55P03",
		"rolled back: the database is as it was", "press r to retry", "r retry")
	update(m, press("r")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdRetry})
}

func TestOutcomeUnknownIsMarkedWithReason(t *testing.T) {
	f := toApply().add(steps.Event{Type: steps.EvStepOutcomeUnknown, Step: "apply-001", Error: &steps.ErrorInfo{Message: "connection lost during COMMIT"}})
	m, rec := newLive(f)
	m = update(m, press("a")...)
	m = typeText(m, "column is_public exists")
	update(m, press("enter")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdMark, Pass: true, Text: "column is_public exists"})
}

// Once the operator settled an outcome-unknown step, its pane says how
// and why, and no longer asks for the verdict already given; a retry
// clears it.
func TestSettledOutcomeShownOnThePane(t *testing.T) {
	const hint = "mark it applied or not applied"
	f := toApply().add(steps.Event{Type: steps.EvStepOutcomeUnknown, Step: "apply-001",
		Error: &steps.ErrorInfo{Message: "handrail stopped after sending this step", Hint: "look in the database, then " + hint}})
	m, _ := newLive(f)
	mustContain(t, flat(m), hint)
	no := false
	f.add(steps.Event{Type: steps.EvStepMarked, Step: "apply-001", Pass: &no, Text: "checked pg: no rows"})
	m, _ = newLive(f)
	mustContain(t, flat(m), "NOT applied", "checked pg: no rows")
	mustNotContain(t, flat(m), hint)
	f.stepStarted("apply-001").add(steps.Event{Type: steps.EvStepFailed, Step: "apply-001", Error: &steps.ErrorInfo{Message: "deadlock detected"}})
	m, _ = newLive(f)
	mustNotContain(t, flat(m), "checked pg: no rows")
}

func TestCheckFailedShowsExpectedBesideActual(t *testing.T) {
	f := toApply().on(steps.EvStepSucceeded, "apply-001").stepStarted("rate-limits-rls").checkFailed("rate-limits-rls").
		add(steps.Event{Type: steps.EvStepFailed, Step: "rate-limits-rls", Error: &steps.ErrorInfo{Message: "check failed"}})
	m, _ := newLive(f)
	mustContain(t, plain(m), "FAIL", "1 row differs", "as role: authenticated", "EXPECTED", "ACTUAL",
		"rate_limits  false", "rate_limits  true", "missing (expected, not found):", "- (rate_limits, true)")
}

func TestCheckPassedShowsRows(t *testing.T) {
	f := toApply().on(steps.EvStepSucceeded, "apply-001").stepStarted("policy-count")
	f.add(steps.Event{Type: steps.EvCheckPassed, Step: "policy-count", Check: &steps.CheckReport{
		Summary: "1 row as expected", Expect: "1 row: 6", Columns: []string{"count"}, Actual: [][]string{{"6"}}}})
	m, _ := newLive(f)
	mustContain(t, plain(m), "PASS", "1 row as expected", "count")
}

func TestManualPassAndFail(t *testing.T) {
	f := toApply().on(steps.EvStepSucceeded, "apply-001").stepStarted("upload-avatar")
	m, rec := newLive(f)
	mustContain(t, plain(m), "upload a JPEG", "p pass", "f fail")
	m = update(m, press("enter")...) // no verdict yet: the engine says why not
	wantCmds(t, rec, steps.Command{Type: steps.CmdNext})
	m = answer(m, rec)
	mustContain(t, plain(m), "next refused: record the result first: passed or failed")
	rec.cmds = nil
	m = update(m, press("f")...) // f is fail here, not full screen
	if m.full || m.screen() != screenInput {
		t.Fatalf("f on a manual step asks for a note; full=%v screen=%v", m.full, m.screen())
	}
	m = update(m, press("enter")...) // a failing note is required
	m = typeText(m, "upload spins forever")
	m = update(m, press("enter")...)
	m = update(m, press("p", "enter")...) // a passing note is optional
	wantCmds(t, rec,
		steps.Command{Type: steps.CmdManual, Pass: false, Text: "upload spins forever"},
		steps.Command{Type: steps.CmdManual, Pass: true},
	)
	m = feed(m, steps.Event{Type: steps.EvManualResult, Step: "upload-avatar", Pass: ptr(true), Text: "works"})
	mustContain(t, plain(m), "PASS   works")
}

func TestMonitorCountdownSamplesAndEndEarly(t *testing.T) {
	f := toApply().on(steps.EvStepSucceeded, "apply-001").stepStarted("monitor")
	f.add(steps.Event{Type: steps.EvMonitorTick, Step: "monitor", Monitor: &steps.MonitorSample{
		Query: 0, Title: "waiting locks", Columns: []string{"waiting"}, Rows: [][]string{{"0"}}, Remaining: 15 * time.Minute}})
	f.add(steps.Event{Type: steps.EvMonitorAlert, Step: "monitor", Text: "errors > 0", Monitor: &steps.MonitorSample{
		Query: 1, Title: "errors", Alerting: true}})
	f.wait(90 * time.Second)
	m, rec := newLive(f)
	mustContain(t, plain(m), "0:13:30 left of 0:15:00", "waiting locks", "ALERTS: 1", "errors > 0",
		"Error rate in the app dashboard")
	m = update(m, press("e")...)
	m = typeText(m, "all quiet, closing window")
	update(m, press("enter")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdEndMonitor, Text: "all quiet, closing window"})
}

// The end summary says a monitor raised alerts: its window ending (on
// time or early) does not make them go away.
func TestEndSummaryNamesMonitorAlerts(t *testing.T) {
	f := toApply().on(steps.EvStepSucceeded, "apply-001").stepStarted("monitor")
	f.add(steps.Event{Type: steps.EvMonitorAlert, Step: "monitor", Text: "errors: errors > 0 (now 3)", Monitor: &steps.MonitorSample{
		Query: 1, Title: "errors", Alerting: true}})
	f.add(steps.Event{Type: steps.EvMonitorEnded, Step: "monitor", Text: "enough"}).on(steps.EvStepSucceeded, "monitor")
	f.add(steps.Event{Type: steps.EvSessionEnded, Outcome: steps.OutcomeSucceeded})
	m, _ := newLive(f)
	mustContain(t, flat(m), "Monitor for 15 minutes", "1 alert", "errors > 0 (now 3)")
}

func TestExecStreamsOutput(t *testing.T) {
	f := connectStart(true).on(steps.EvStepSucceeded, "pre-checklist").stepStarted("pg-dump")
	for i := range 60 {
		f.add(steps.Event{Type: steps.EvExecOutput, Step: "pg-dump", Text: "pg_dump: dumping table " + strings.Repeat("x", i%5) + "\n"})
	}
	f.add(steps.Event{Type: steps.EvExecOutput, Step: "pg-dump", Text: "pg_dump: last line\n"})
	m, _ := newLive(f)
	s := plain(m)
	mustContain(t, s, "$ pg_dump --schema-only", "running", "pg_dump: last line")
	m = feed(m, steps.Event{Type: steps.EvExecExited, Step: "pg-dump", ExitCode: ptr(0)})
	mustContain(t, plain(m), "exit code 0")
}

func TestMessageCopy(t *testing.T) {
	f := toApply().on(steps.EvStepSucceeded, "apply-001").stepStarted("announce-success")
	f.add(steps.Event{Type: steps.EvMessageRendered, Step: "announce-success", Message: &steps.RenderedMsg{
		ID: "success", To: "Development team", When: "success", Body: "RLS hardening deployed to Connect-Prod."}})
	m, _ := newLive(f)
	mustContain(t, plain(m), "to: Development team", "RLS hardening deployed to Connect-Prod.", "c copy")
	m, cmd := updateCmd(m, keyMsg("c"))
	if cmd == nil || m.flash == "" {
		t.Fatalf("c should copy (OSC 52) and say so")
	}
	mustContain(t, plain(m), "copied to the clipboard")
}

func TestHardStopIgnoresEveryKeyButQ(t *testing.T) {
	m, rec := newLive(new(fake).start(true).mismatch())
	s := plain(m)
	mustContain(t, s, "HARD STOP: IDENTITY MISMATCH", "expected: "+prodID, "stamp", stagingID,
		"FORBIDDEN id matched: "+stagingID, "Nothing was written.", "MISMATCH")
	for _, k := range []string{"enter", "space", "y", "R", "r", "s", "p", "f", "e", "c", "?", "esc", "j", "pgdown", "tab", "n", "a"} {
		var cmd tea.Cmd
		m, cmd = updateCmd(m, keyMsg(k))
		if m.screen() != screenHardStop || cmd != nil || len(rec.cmds) != 0 || m.full || m.showHelp {
			t.Fatalf("key %q did something on the hard stop: screen=%v cmd=%v sent=%v", k, m.screen(), cmd != nil, rec.cmds)
		}
	}
	// Even an event that would open a dialog cannot cover it.
	m = feed(m, steps.Event{Type: steps.EvRollbackOffered, Text: "x"})
	if m.screen() != screenHardStop {
		t.Fatalf("the hard stop was covered by %v", m.screen())
	}
	m = update(m, press("q")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdQuit})
	_, cmd := updateCmd(m, engineDoneMsg{Result{Outcome: steps.OutcomeHardStop}})
	if !isQuit(cmd) {
		t.Fatalf("the program should end when the engine is done")
	}
}

func TestLockHeldScreen(t *testing.T) {
	f := new(fake).start(true).add(steps.Event{Type: steps.EvIdentityVerified, Identity: &steps.IdentityReport{Expected: prodID, OK: true}})
	f.add(steps.Event{Type: steps.EvLockHeld, Lock: &steps.LockInfo{PID: 777, ApplicationName: "handrail/connect-rls-hardening/bob", Client: "10.0.0.5", Since: t0}})
	m, rec := newLive(f)
	mustContain(t, plain(m), "DEPLOY LOCK HELD", "server pid: 777", "application: handrail/connect-rls-hardening/bob", "10.0.0.5", "Nothing was written.")
	m = update(m, press("enter", "R", "space")...)
	wantCmds(t, rec)
	update(m, press("q")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdQuit})
}

func TestRollbackOnlyAfterWrite(t *testing.T) {
	f := connectStart(true).on(steps.EvStepSucceeded, "pre-checklist").stepStarted("apply-001")
	m, rec := newLive(f)
	m = update(m, press("R")...)
	if m.screen() == screenRollbackDialog {
		t.Fatalf("R opened the rollback dialog before anything was written")
	}
	// Asked anyway, it is sent and answered: refused, and why.
	wantCmds(t, rec, steps.Command{Type: steps.CmdRollback, Text: "operator chose rollback (R)"})
	m = answer(m, rec)
	mustContain(t, plain(m), "rollback refused: nothing has been written yet")
	mustNotContain(t, plain(m), "R ROLLBACK")
	rec.cmds = nil

	m = feed(m, steps.Event{Seq: 900, Type: steps.EvIntent, Step: "apply-001"},
		steps.Event{Seq: 901, Type: steps.EvStepFailed, Step: "apply-001", Error: &steps.ErrorInfo{Message: "boom", RolledBack: true}})
	mustContain(t, plain(m), "R ROLLBACK")
	m = update(m, press("R")...)
	if m.screen() != screenRollbackDialog {
		t.Fatalf("R after a write should open the rollback dialog; screen = %v", m.screen())
	}
	mustContain(t, plain(m), "ROLL BACK?", "Migration execution failed", "1. Roll back migration 001 (sql)", "2. RLS restored on rate_limits (check)")
	m = update(m, press("esc")...)
	if m.screen() != screenRun {
		t.Fatalf("esc should close the dialog")
	}
	m = update(m, press("R", "y")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdRollback, Text: "operator chose rollback (R)"})

	m = feed(m, steps.Event{Seq: 902, Type: steps.EvRollbackStarted, Text: "operator chose rollback (R)"})
	m = update(m, press("R")...)
	if m.screen() == screenRollbackDialog {
		t.Fatalf("R reopened the dialog after the rollback started")
	}
	m = answer(m, rec)
	mustContain(t, plain(m), "rollback refused: the rollback is already running")
}

func TestRollbackOfferedOpensAtOnce(t *testing.T) {
	f := toApply().on(steps.EvStepSucceeded, "apply-001").stepStarted("rate-limits-rls").checkFailed("rate-limits-rls")
	m, rec := newLive(f)
	m = feed(m, steps.Event{Type: steps.EvRollbackOffered, Text: "rate_limits RLS is off failed"})
	if m.screen() != screenRollbackDialog {
		t.Fatalf("rollback_offered should open the dialog; screen = %v", m.screen())
	}
	mustContain(t, plain(m), "offered: rate_limits RLS is off failed")
	m = update(m, press("enter")...) // a second enter meant for the failed check
	if len(rec.cmds) != 0 {
		t.Fatalf("enter on an offered rollback sent %+v; only y confirms a dialog that opened by itself", rec.cmds)
	}
	update(m, press("y")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdRollback, Text: "rate_limits RLS is off failed"})
}

// The project id to type is shown whole on one line at 80 columns: a
// wrap at its hyphens ("replace-with-" / "project-id") leaves the operator
// guessing what exactly to type.
func TestConsentShowsTheProjectIDOnOneLine(t *testing.T) {
	id := "acme-payments-eu-west-production"
	f := new(fake).add(steps.Event{Type: steps.EvSessionStarted, Session: &steps.SessionInfo{
		RunbookID: "r", TargetName: "Acme Payments EU West production cluster", ProjectID: id, Production: true, Apply: true,
		Plan: connectPlan()}}).verified().stepStarted("apply-001").on(steps.EvConsentRequired, "apply-001")
	m, _ := newLive(f)
	var whole bool
	for _, l := range strings.Split(plain(m), "\n") {
		_, pane, _ := strings.Cut(l, "│") // the header shows the id too
		whole = whole || strings.Contains(pane, id)
	}
	if !whole {
		t.Errorf("the project id %q is not on one line:\n%s", id, plain(m))
	}
}

func TestTypedConsent(t *testing.T) {
	f := connectStart(true).on(steps.EvStepSucceeded, "pre-checklist").stepStarted("apply-001").on(steps.EvConsentRequired, "apply-001")
	m, rec := newLive(f)
	if m.screen() != screenConsent {
		t.Fatalf("screen = %v, want consent", m.screen())
	}
	mustContain(t, plain(m), "PRODUCTION: TYPED CONSENT", "Type the project id to continue:", prodID)
	m = typeText(m, "q?Rf"+stagingID) // every key is text here
	m = update(m, press("enter")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdConsent, Text: "q?Rf" + stagingID})
	m = feed(m, steps.Event{Type: steps.EvConsentRejected, Step: "apply-001", Text: "q?Rf" + stagingID})
	if m.screen() != screenConsent {
		t.Fatalf("a wrong id must keep the gate; screen = %v", m.screen())
	}
	mustContain(t, plain(m), "REJECTED", "is not the", "project id. Nothing was written.")
	rec.cmds = nil
	m = typeText(m, prodID)
	m = update(m, press("enter")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdConsent, Text: prodID})
	m = feed(m, steps.Event{Type: steps.EvConsentGiven, Step: "apply-001"})
	if m.screen() != screenRun {
		t.Fatalf("consent given should return to the run screen; screen = %v", m.screen())
	}
}

func TestCtrlCWhenIdleAsksThenQuits(t *testing.T) {
	m, rec := newLive(connectStart(false))
	m = update(m, press("ctrl+c")...)
	if m.screen() != screenConfirmQuit {
		t.Fatalf("ctrl+c when idle asks before quitting; screen = %v", m.screen())
	}
	m = update(m, press("n")...)
	wantCmds(t, rec)
	m = update(m, press("q")...)
	if m.screen() != screenConfirmQuit {
		t.Fatalf("q asks too; screen = %v", m.screen())
	}
	m, cmd := updateCmd(m, keyMsg("y"))
	wantCmds(t, rec, steps.Command{Type: steps.CmdQuit})
	if isQuit(cmd) {
		t.Fatalf("the program must wait for the engine to finish")
	}
	_, cmd = updateCmd(m, engineDoneMsg{Result{Outcome: steps.OutcomeAborted}})
	if !isQuit(cmd) {
		t.Fatalf("engine done after quit should end the program")
	}
}

func TestSecondCtrlCConfirms(t *testing.T) {
	m, rec := newLive(connectStart(false))
	m = update(m, press("ctrl+c", "ctrl+c")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdQuit})
	_, cmd := updateCmd(m, keyMsg("ctrl+c"))
	if !isQuit(cmd) {
		t.Fatalf("ctrl+c while quitting leaves at once")
	}
}

func TestCancelDialogClosesWhenStatementEnds(t *testing.T) {
	f := toApply().statement("apply-001", 0, 12, "select pg_sleep(10)")
	m, rec := newLive(f)
	m = update(m, press("ctrl+c")...)
	m = feed(m, steps.Event{Type: steps.EvStepSucceeded, Step: "apply-001"})
	if m.screen() == screenConfirmCancel {
		t.Fatalf("the cancel question outlived the statement")
	}
	wantCmds(t, rec)
}

// allKeys is every key the screens know, and then some.
var allKeys = []string{"enter", "space", "y", "n", "R", "r", "s", "p", "f", "e", "c", "a", "j", "k", "up", "down",
	"pgup", "pgdown", "?", "esc", "+", "-", ".", "]", "tab", "x", "ctrl+c"}

func TestWatchSendsNothingEver(t *testing.T) {
	rec := &recorder{}
	f := toApply().statement("apply-001", 0, 12, "select 1").rows("apply-001", []string{"id", "name", "active"}, 0, 100)
	m := New(Options{Mode: Watch, Send: rec.send, Now: func() time.Time { return t0 }})
	m = update(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	m = feed(m, f.evs...)
	mustContain(t, plain(m), "WATCHING — read-only", "statement 1 of 12")
	mustNotContain(t, plain(m), "R ROLLBACK")
	m = feed(m, steps.Event{Type: steps.EvRollbackOffered, Text: "x"})
	for _, k := range allKeys {
		var cmd tea.Cmd
		m, cmd = updateCmd(m, keyMsg(k))
		if k == "ctrl+c" {
			if !isQuit(cmd) {
				t.Errorf("ctrl+c should leave a watch")
			}
			continue
		}
		if m.overlay != screenNone {
			t.Fatalf("key %q opened %v while watching", k, m.overlay)
		}
	}
	for _, k := range []string{"R", "y", "enter", "q"} {
		m = update(m, keyMsg(k))
	}
	wantCmds(t, rec)
	_, cmd := updateCmd(m, keyMsg("q"))
	if !isQuit(cmd) {
		t.Errorf("q should leave a watch at once")
	}
}

func TestResumedEventsAreFoldedAtStart(t *testing.T) {
	m, _ := newLive(toApply())
	if st := m.state.CurrentStep(); st == nil || st.ID != "apply-001" || !m.state.Wrote {
		t.Fatalf("Initial events were not folded: %+v", m.state.CurrentStep())
	}
}

func TestEngineErrorBeforeSessionEnds(t *testing.T) {
	m, _ := newLive(new(fake))
	m = update(m, engineDoneMsg{Result{Outcome: steps.OutcomeFailed, Err: errString("connect: connection refused")}})
	if m.screen() != screenEnded {
		t.Fatalf("screen = %v", m.screen())
	}
	mustContain(t, plain(m), "FAILED", "error: connect: connection refused")
	if m.Outcome() != steps.OutcomeFailed || m.Err() == nil {
		t.Fatalf("outcome %v err %v", m.Outcome(), m.Err())
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestEndSummary(t *testing.T) {
	f := toApply().on(steps.EvStepSucceeded, "apply-001")
	f.add(steps.Event{Type: steps.EvSessionEnded, Outcome: steps.OutcomeSucceeded})
	m, _ := newLive(f)
	m = update(m, JournalMsg{Path: "/var/log/handrail/s-1.jsonl", Head: "sha256:abc123"})
	mustContain(t, plain(m), "SUCCEEDED", "exit code 0", "ok   Apply migration 001", "Success criteria",
		"All validation checks pass", "journal: /var/log/handrail/s-1.jsonl", "head:    sha256:abc123")
}

// A terminal made too small mid-statement (a tmux split) is no reason to
// drop the session on one key: ctrl+c asks to cancel the statement and q
// asks to quit, as on the full screen, the question said in the small one.
func TestTooSmallStillAsks(t *testing.T) {
	f := toApply().statement("apply-001", 0, 12, "alter table rate_limits disable row level security")
	m, rec := newLive(f)
	m = update(m, tea.WindowSizeMsg{Width: 50, Height: 12})
	m = update(m, press("ctrl+c")...)
	if len(rec.cmds) != 0 || m.quitting {
		t.Fatalf("one ctrl+c on the too-small screen sent %+v (quitting %v)", rec.cmds, m.quitting)
	}
	mustContain(t, strings.ReplaceAll(plain(m), "\n", " "), "too small", "Cancel the running statement?", "y ")
	m = update(m, press("n")...)
	mustNotContain(t, plain(m), "Cancel the running")
	m = update(m, press("q")...)
	if len(rec.cmds) != 0 || m.quitting {
		t.Fatalf("q on the too-small screen sent %+v (quitting %v)", rec.cmds, m.quitting)
	}
	mustContain(t, strings.ReplaceAll(plain(m), "\n", " "), "Leave handrail?")
	m = update(m, press("ctrl+c")...) // a second ctrl+c answers yes
	wantCmds(t, rec, steps.Command{Type: steps.CmdQuit})
}

// The cancel question says what cancelling leaves: a killed command's
// work stays (nothing rolls it back), unlike a transactional step's.
func TestCancelQuestionSaysWhatStays(t *testing.T) {
	f := connectStart(true).on(steps.EvStepSucceeded, "pre-checklist").stepStarted("pg-dump") // an exec step
	f.add(steps.Event{Type: steps.EvIntent, Step: "pg-dump"})
	m, _ := newLive(f)
	m = update(m, press("ctrl+c")...)
	screen := flat(m)
	mustContain(t, screen, "Stop the running command?", "stays")
	mustNotContain(t, screen, "nothing of this step stays written", "roll back")
}

func TestTooSmallAndResize(t *testing.T) {
	m, _ := newLive(connectStart(false))
	m = update(m, tea.WindowSizeMsg{Width: 50, Height: 12})
	if got := plain(m); got != "terminal too small: need 60x16, have 50x12;\nenlarge the window (q quits)" {
		t.Fatalf("got %q", got)
	}
	// Narrower than the message: it wraps, nothing is cut.
	m = update(m, tea.WindowSizeMsg{Width: 30, Height: 10})
	for _, l := range strings.Split(plain(m), "\n") {
		if len(l) > 30 {
			t.Errorf("line wider than the terminal: %q", l)
		}
	}
	mustContain(t, strings.ReplaceAll(plain(m), "\n", " "), "need 60x16, have 30x10", "enlarge the window")
	for _, sz := range [][2]int{{60, 16}, {80, 24}, {132, 43}, {200, 60}} {
		m = update(m, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		lines := strings.Split(plain(m), "\n")
		if !strings.Contains(lines[1], "VERIFIED") || !strings.Contains(lines[1], "0:00:00") {
			t.Errorf("%dx%d: the target line lost a fact: %q", sz[0], sz[1], lines[1])
		}
		if len(lines) != sz[1] {
			t.Errorf("%dx%d: %d lines", sz[0], sz[1], len(lines))
		}
		for i, l := range lines {
			if w := len([]rune(l)); w > sz[0] {
				t.Errorf("%dx%d: line %d is %d wide", sz[0], sz[1], i, w)
			}
		}
	}
}

func TestFullScreenToggle(t *testing.T) {
	m, _ := newLive(toApply().statement("apply-001", 0, 12, "select 1"))
	mustContain(t, plain(m), "Pre-deployment")
	m = update(m, press("f")...)
	if !m.full {
		t.Fatal("f should toggle full screen")
	}
	mustNotContain(t, plain(m), "│")
	m = update(m, press("f")...)
	mustContain(t, plain(m), "│")
}

func TestSSHBannerDismiss(t *testing.T) {
	rec := &recorder{}
	m := New(Options{Mode: Live, Send: rec.send, Initial: connectStart(false).evs, SSHWarning: "over SSH without tmux: a dropped connection pauses the session"})
	m = update(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	mustContain(t, plain(m), "over SSH without tmux")
	m = update(m, press("esc")...)
	mustNotContain(t, plain(m), "over SSH without tmux")
	wantCmds(t, rec)
}

func TestNoColorKeepsStatusReadable(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	m, _ := newLive(toApply())
	raw := m.View().Content
	if strings.Contains(raw, "38;2") || strings.Contains(raw, "48;2") {
		t.Fatalf("NO_COLOR screen has colors:\n%q", raw)
	}
	if !strings.Contains(raw, "\x1b[1;7m") && !strings.Contains(raw, "\x1b[7;1m") && !strings.Contains(raw, ";7") {
		t.Errorf("the APPLY badge should be reverse video without color:\n%q", raw)
	}
	mustContain(t, plain(m), "APPLY", "VERIFIED", "ok   Pre-deployment")
}

func TestLightBackgroundRestyles(t *testing.T) {
	m, _ := newLive(connectStart(false))
	m = update(m, tea.BackgroundColorMsg{Color: color.White})
	if m.isDark {
		t.Errorf("a white background should select the light styles")
	}
	m = update(m, tea.BackgroundColorMsg{Color: color.Black})
	if !m.isDark {
		t.Errorf("a black background should select the dark styles")
	}
}

func TestReflowKeepsListsAndParagraphs(t *testing.T) {
	got := reflow("The header must show\nConnect-Prod as VERIFIED.\n\n- one\n- two\n  continued\n  2. nested\n1. first\nplain")
	want := []string{"The header must show Connect-Prod as VERIFIED.", "", "- one", "- two continued", "  2. nested", "1. first plain"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reflow:\n got %q\nwant %q", got, want)
	}
}

func TestBrowseShowsEarlierStepsAndDisablesStepKeys(t *testing.T) {
	f := toApply().on(steps.EvStepSucceeded, "apply-001").stepStarted("vacuum").on(steps.EvStepSucceeded, "vacuum").
		stepStarted("rate-limits-rls")
	f.add(steps.Event{Type: steps.EvCheckPassed, Step: "rate-limits-rls", Check: &steps.CheckReport{
		Summary: "1 row as expected", Columns: []string{"tablename", "rowsecurity"}, Actual: [][]string{{"rate_limits", "false"}}}}).
		on(steps.EvStepSucceeded, "rate-limits-rls").stepStarted("policy-count")
	m, rec := newLive(f)
	mustContain(t, plain(m), "previous: ok   rate_limits RLS is off - 1 row as")
	m = update(m, press("tab")...) // past the last step: stays... on the next one
	m = update(m, keyMsg("esc"))
	m = update(m, tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift})
	if !m.browsing() || m.shownStep().ID != "rate-limits-rls" {
		t.Fatalf("shift+tab should show the previous step, shows %v", m.shownStep().ID)
	}
	mustContain(t, plain(m), "[check] rate_limits RLS is off", "viewing another step", "rate_limits  false")
	m = update(m, press("enter")...) // no command while browsing
	wantCmds(t, rec)
	m = update(m, press("esc")...)
	if m.browsing() {
		t.Fatal("esc returns to the current step")
	}
	m = update(m, tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift})
	m = feed(m, steps.Event{Seq: 1000, Type: steps.EvStepSucceeded, Step: "policy-count"}, steps.Event{Seq: 1001, Type: steps.EvStepStarted, Step: "business-visibility"})
	if m.browsing() {
		t.Fatal("a new step ends browsing")
	}
}

func TestWrapKeepsHangingIndent(t *testing.T) {
	got := wrapAll([]string{"  2. As smoke-viewer, try to upload to a chat you are not a member of"}, 30)
	for _, l := range got[1:] {
		if !strings.HasPrefix(l, "     ") {
			t.Errorf("continuation %q lost the indent in %q", l, got)
		}
	}
}

func TestJournalHeadAskedWhenSessionEnds(t *testing.T) {
	rec := &recorder{}
	m := New(Options{Mode: Live, Send: rec.send, Initial: toApply().evs, JournalPath: "/j/s-1.jsonl",
		Head: func() string { return "sha256:feed" }})
	m = update(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	m, cmd := updateCmd(m, stepEventMsg{steps.Event{Seq: 500, Type: steps.EvSessionEnded, Outcome: steps.OutcomeAborted}})
	var got tea.Msg
	for _, msg := range collect(cmd) {
		if jm, ok := msg.(JournalMsg); ok {
			got = jm
		}
	}
	if got != (JournalMsg{Path: "/j/s-1.jsonl", Head: "sha256:feed"}) {
		t.Fatalf("got %#v", got)
	}
	m = update(m, got)
	mustContain(t, plain(m), "journal: /j/s-1.jsonl", "head:    sha256:feed")
}

// collect runs a command and the commands of a batch, returning their
// messages. Only for commands that do not block.
func collect(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	batch, ok := msg.(tea.BatchMsg)
	if !ok {
		return []tea.Msg{msg}
	}
	var out []tea.Msg
	for _, c := range batch {
		out = append(out, collect(c)...)
	}
	return out
}

func TestEndedScreenBrowsesToRollbackMessage(t *testing.T) {
	f := toApply().add(steps.Event{Type: steps.EvRollbackStarted, Text: "R"}).stepStarted("announce-success")
	f.add(steps.Event{Type: steps.EvMessageRendered, Step: "announce-success", Message: &steps.RenderedMsg{
		ID: "rollback", To: "Support", When: "rollback", Body: "Connect-Prod was rolled back."}})
	f.on(steps.EvStepSucceeded, "announce-success").add(steps.Event{Type: steps.EvSessionEnded, Outcome: steps.OutcomeRolledBack})
	m, rec := newLive(f)
	mustContain(t, plain(m), "Messages", "Announce success (rollback) to Support")
	m = update(m, press("tab")...)
	mustContain(t, plain(m), "[message] Announce success", "Connect-Prod was rolled back.")
	m, cmd := updateCmd(m, keyMsg("c"))
	if cmd == nil || m.flash == "" {
		t.Fatal("c copies the message from the ended screen")
	}
	m = update(m, press("esc")...)
	mustContain(t, plain(m), "ROLLED BACK")
	wantCmds(t, rec)
}

func TestSQLPreviewSkipsLeadingComments(t *testing.T) {
	m, _ := newLive(toApply().statement("apply-001", 0, 3, "-- Migration 001\n--\n-- notes\nalter table public.rate_limits disable row level security;"))
	mustContain(t, plain(m), "alter table public.rate_limits")
	mustNotContain(t, plain(m), "-- Migration 001")
}

func TestOutboxKeepsOrderAndNeverBlocks(t *testing.T) {
	got := make(chan steps.Command, 100)
	release := make(chan struct{})
	o := newOutbox(func(c steps.Command) { <-release; got <- c })
	defer o.stop()
	for i := range 50 {
		o.queue(steps.Command{Type: steps.CmdTick, Item: i}) // must not block on the stuck send
	}
	close(release)
	for i := range 50 {
		if c := <-got; c.Item != i {
			t.Fatalf("command %d arrived as %d", i, c.Item)
		}
	}
}

// TestEscClosesHelp: esc closes the help the way ? does (it is the key a
// person tries first), before it leaves browsing; the help says so.
func TestEscClosesHelp(t *testing.T) {
	m, rec := newLive(toApply())
	m = update(m, press("?")...)
	if !m.showHelp {
		t.Fatal("? opens the help")
	}
	mustContain(t, plain(m), "?/esc", "close help")
	m = update(m, press("esc")...)
	if m.showHelp {
		t.Fatal("esc leaves the help open")
	}
	m = update(m, press("tab", "?", "esc")...)
	if m.showHelp || !m.browsing() {
		t.Fatalf("esc while browsing with the help open: help %v, browsing %v (want the help closed, still browsing)", m.showHelp, m.browsing())
	}
	m = update(m, press("esc")...)
	if m.browsing() {
		t.Fatal("a second esc returns to the current step")
	}
	if len(rec.cmds) != 0 {
		t.Errorf("view keys sent commands: %+v", rec.cmds)
	}
}

// TestQuitWhileRunningSaysTheStepIsCancelled: q during a running statement
// asks to quit, and says what quitting does to the statement.
func TestQuitWhileRunningSaysTheStepIsCancelled(t *testing.T) {
	m, _ := newLive(connectStart(true))
	m = update(m, press("q")...)
	mustContain(t, plain(m), "QUIT?")
	mustNotContain(t, plain(m), "cancelled first")
	m, _ = newLive(toApply().statement("apply-001", 2, 12, "select pg_sleep(60);"))
	m = update(m, press("q")...)
	if m.screen() != screenConfirmQuit {
		t.Fatalf("q while running: screen %v", m.screen())
	}
	mustContain(t, plain(m), "running step is cancelled first", "rolls back")
}
