package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/handrail-dev/handrail/steps"
)

// R works from any screen once something was written: while a statement
// runs, and while browsing another step's pane.
func TestRollbackWhileRunningAndBrowsing(t *testing.T) {
	f := toApply().statement("apply-001", 2, 12, "select pg_sleep(60)")
	m, rec := newLive(f)
	mustContain(t, plain(m), "ctrl+c cancel", "R ROLLBACK")
	m = update(m, press("R")...)
	if m.screen() != screenRollbackDialog {
		t.Fatalf("R during a running statement: screen %v, want the rollback dialog", m.screen())
	}
	m = update(m, press("y")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdRollback, Text: "operator chose rollback (R)"})
	m = feed(m, steps.Event{Seq: 500, Type: steps.EvRollbackRequested, Text: "operator chose rollback (R)"})
	mustContain(t, plain(m), "ROLLBACK REQUESTED")

	// Browsing an earlier step's pane does not hide R.
	rec.cmds = nil
	m2, _ := newLive(toApply().statement("apply-001", 0, 12, "select 1"))
	m2.send = rec.send
	m2 = update(m2, press("shift+tab")...)
	if !m2.browsing() {
		t.Fatal("shift+tab should show the previous step's pane")
	}
	m2 = update(m2, press("R")...)
	if m2.screen() != screenRollbackDialog {
		t.Fatalf("R while browsing: screen %v, want the rollback dialog", m2.screen())
	}
}

// A refused command shows the engine's reason, wrapped, not cut.
func TestRefusalIsShownWithItsReason(t *testing.T) {
	f := connectStart(true)
	m, rec := newLive(f)
	m = update(m, press("r")...) // nothing failed
	wantCmds(t, rec, steps.Command{Type: steps.CmdRetry})
	m = answer(m, rec)
	s := plain(m)
	mustContain(t, strings.ReplaceAll(s, "\n", " "), `retry refused: step "pre-checklist" has not failed: there is nothing to retry`)
	// It goes after a while (the clock), not at once.
	m = update(m, clockMsg{})
	mustContain(t, plain(m), "retry refused")
	m.now = func() time.Time { return t0.Add(time.Hour) }
	m = update(m, clockMsg{})
	mustNotContain(t, plain(m), "retry refused")
}

// Keys typed before the session is ready are answered, not lost.
func TestKeysBeforeReadyAreAnswered(t *testing.T) {
	f := new(fake).start(true).add(steps.Event{Type: steps.EvConnecting, Text: "connecting to db.example.com:5432"})
	m, rec := newLive(f)
	mustContain(t, plain(m), "connecting to db.example.com:5432...", "so far", "q quits")
	m = update(m, press("enter")...)
	if len(rec.cmds) != 1 || rec.cmds[0].Type != steps.CmdNext {
		t.Fatalf("enter before the first step sent %+v, want next (for the engine to answer)", rec.cmds)
	}
	m = answer(m, rec)
	mustContain(t, strings.ReplaceAll(plain(m), "\n", " "), "next refused: not ready: connecting to db.example.com:5432")
}

// A lock timeout keeps the sessions it waited for in the failed pane.
func TestLockTimeoutKeepsBlockers(t *testing.T) {
	f := toApply().statement("apply-001", 0, 12, "alter table public.rate_limits disable row level security;")
	f.add(steps.Event{Type: steps.EvStepFailed, Step: "apply-001", Error: &steps.ErrorInfo{
		Message: "lock timeout (5s) during statement 1 of 12", SQLState: "55P03", RolledBack: true, Retryable: true,
		Hint:     "another session holds a lock this statement needs (the sessions it waited for are listed below)",
		Blockers: []steps.Blocker{{PID: 4242, State: "idle in transaction", Query: "select * from rate_limits for update", ApplicationName: "connect-api", Waited: 5 * time.Second}}}})
	m, _ := newLive(f)
	mustContain(t, plain(m), "listed below", "blocked by: server pid 4242 (connect-api, idle in", "select * from rate_limits for update")
}

// A report check shows its rows and waits for enter.
func TestReportCheckWaitsForEnter(t *testing.T) {
	f := toApply().on(steps.EvStepSucceeded, "apply-001").stepStarted("policy-count")
	f.add(steps.Event{Type: steps.EvStatementStarted, Step: "policy-count", Statement: &steps.StatementInfo{Count: 1, SQL: "select 1"}})
	f.add(steps.Event{Type: steps.EvCheckPassed, Step: "policy-count", Check: &steps.CheckReport{
		Summary: "report: 2 rows", Expect: "report", Columns: []string{"policy"}, Actual: [][]string{{"a"}, {"b"}}}})
	m, rec := newLive(f)
	mustContain(t, plain(m), "PASS", "report: read it, then press enter to go on", "enter next")
	update(m, press("enter")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdNext})
}

// A monitor window ended early says so, and how long it ran.
func TestMonitorEndedEarlyIsShown(t *testing.T) {
	f := toApply().on(steps.EvStepSucceeded, "apply-001").stepStarted("monitor")
	f.add(steps.Event{Type: steps.EvMonitorTick, Step: "monitor", Monitor: &steps.MonitorSample{Query: 0, Title: "q", Remaining: 15 * time.Minute}})
	f.wait(150 * time.Second)
	f.add(steps.Event{Type: steps.EvMonitorEnded, Step: "monitor", Text: "all quiet"})
	f.add(steps.Event{Type: steps.EvStepSucceeded, Step: "monitor", Text: "ended early"})
	f.stepStarted("announce-success")
	m, _ := newLive(f)
	m = update(m, press("shift+tab")...)
	mustContain(t, plain(m), "ENDED EARLY after 0:02:30 of 0:15:00: all quiet")
	f.add(steps.Event{Type: steps.EvSessionEnded, Outcome: steps.OutcomeSucceeded, Text: ""})
	m, _ = newLive(f)
	mustContain(t, plain(m), "ENDED EARLY after 0:02:30")
}

// The SSH warning is read whole at 80 columns, with how to dismiss it.
func TestSSHBannerWrapsAt80(t *testing.T) {
	warning := "You are on SSH outside tmux/screen: if the connection drops, this session stops (the journal stays resumable with --resume). Consider running inside tmux."
	m := New(Options{Mode: Live, Send: func(steps.Command) {}, Initial: connectStart(false).evs, SSHWarning: warning, Now: func() time.Time { return t0 }})
	m = update(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	s := strings.ReplaceAll(plain(m), "\n", " ")
	for _, w := range strings.Fields(warning + " (esc dismisses this)") {
		if !strings.Contains(s, w) {
			t.Fatalf("the banner lost %q at 80 columns:\n%s", w, plain(m))
		}
	}
	if lines := strings.Split(plain(m), "\n"); len(lines) != 24 {
		t.Fatalf("%d lines, want 24", len(lines))
	}
	m = update(m, press("esc")...)
	mustNotContain(t, plain(m), "outside tmux")
}

// The end summary says why the session ended (a connection failure is
// not "the operator quit").
func TestSummarySaysWhy(t *testing.T) {
	f := new(fake).start(true).add(steps.Event{Type: steps.EvConnecting, Text: "connecting to 127.0.0.1:1"})
	f.add(steps.Event{Type: steps.EvSessionEnded, Outcome: steps.OutcomeFailed, Text: "cannot connect to postgres://u@127.0.0.1:1/x: connection refused"})
	m, _ := newLive(f)
	mustContain(t, plain(m), "FAILED", "why: cannot connect to", "connection refused")
}

// A monitor window that was open when handrail was killed is not running
// after --resume (the engine waits for enter to open it again): the pane
// said "1:42 left · e ends early", counting down while nothing sampled,
// and e was refused.
func TestMonitorResumedIsNotCountingDown(t *testing.T) {
	f := toApply().on(steps.EvStepSucceeded, "apply-001").stepStarted("monitor")
	f.add(steps.Event{Type: steps.EvMonitorTick, Step: "monitor", Monitor: &steps.MonitorSample{Query: 0, Title: "q", Remaining: 15 * time.Minute}})
	f.wait(20 * time.Second)
	f.stepStarted("monitor") // what a resumed session emits
	m, _ := newLive(f)
	s := plain(m)
	mustContain(t, s, "window of 0:15:00", "enter opens it")
	if strings.Contains(s, "left of") || strings.Contains(s, "e ends early") {
		t.Fatalf("a window that is not open counts down:\n%s", s)
	}
}

// The end summary does not mark a step left unfinished (the operator
// rolled back from it) with ">", the mark of the step being worked on.
func TestEndSummaryUnfinishedStep(t *testing.T) {
	f := toApply().on(steps.EvStepSucceeded, "apply-001").stepStarted("monitor").
		add(steps.Event{Type: steps.EvRollbackStarted, Text: "operator chose rollback (R)"}).
		add(steps.Event{Type: steps.EvRollbackFinished, Pass: ptr(true)}).
		add(steps.Event{Type: steps.EvSessionEnded, Outcome: steps.OutcomeRolledBack})
	m, _ := newLive(f)
	var line string
	for l := range strings.SplitSeq(plain(m), "\n") {
		if strings.Contains(l, "Monitor for") && !strings.Contains(l, "│") {
			line = l
		}
	}
	if strings.Contains(line, ">") || !strings.Contains(line, "not finished") {
		t.Fatalf("summary line of the unfinished step: %q", line)
	}
}
