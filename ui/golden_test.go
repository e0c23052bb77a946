package ui

import (
	"bytes"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/handrail-dev/handrail/steps"
)

// Golden screens: a few key screens at 80x24, run through a real
// tea.Program by teatest, with a fixed clock and the ASCII color profile
// (no color, bold and reverse kept) so the files match on every machine.
// Regenerate with: go test ./ui -run Golden -update

// goldenScreen runs the screen fed by the fake session until marker shows,
// then compares the final frame with testdata/<test>.golden.
func goldenScreen(t *testing.T, f *fake, closeEvents bool, done func() Result, marker string) {
	t.Helper()
	ch := make(chan steps.Event, len(f.evs))
	for _, e := range f.evs {
		ch <- e
	}
	if closeEvents {
		close(ch)
	}
	now := t0.Add(f.mono)
	m := New(Options{Mode: Live, Send: func(steps.Command) {}, Events: ch, Done: done, NoColor: true,
		Now: func() time.Time { return now }})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.ASCII)))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(marker)) },
		teatest.WithDuration(5*time.Second))
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second))
	golden.RequireEqual(t, asciiScreen(final))
}

func TestGoldenConnectStart(t *testing.T) {
	goldenScreen(t, connectStart(false), false, nil, "Change ticket approved")
}

func TestGoldenHardStop(t *testing.T) {
	goldenScreen(t, new(fake).start(true).mismatch(), false, nil, "press q to quit")
}

func TestGoldenSQLLiveRows(t *testing.T) {
	f := toApply().statement("apply-001", 4, 12, "select id, name, active\n  from public.business_accounts\n where is_public")
	for i := 0; i < 200; i += 50 {
		var cols []string
		if i == 0 {
			cols = []string{"id", "name", "active"}
		}
		f.rows("apply-001", cols, i, 50)
	}
	f.wait(1234 * time.Millisecond)
	goldenScreen(t, f, false, nil, "200 row(s) received")
}

func failedCheck() *fake {
	f := toApply().on(steps.EvStepSucceeded, "apply-001").stepStarted("vacuum").on(steps.EvStepSucceeded, "vacuum").
		stepStarted("rate-limits-rls").checkFailed("rate-limits-rls")
	return f.add(steps.Event{Type: steps.EvStepFailed, Step: "rate-limits-rls", Error: &steps.ErrorInfo{Message: "check failed: 1 row differs"}})
}

func TestGoldenFailedCheck(t *testing.T) {
	goldenScreen(t, failedCheck(), false, nil, "unexpected (found")
}

func TestGoldenRollbackDialog(t *testing.T) {
	f := failedCheck().add(steps.Event{Type: steps.EvRollbackOffered, Text: "check rate_limits RLS is off failed (on_fail = rollback)"})
	goldenScreen(t, f, false, nil, "not now")
}

func TestGoldenEndSummary(t *testing.T) {
	f := failedCheck().add(steps.Event{Type: steps.EvRollbackStarted, Text: "check rate_limits RLS is off failed"}).
		stepStarted("rollback-001").on(steps.EvStepSucceeded, "rollback-001").
		stepStarted("rollback-verify").on(steps.EvStepSucceeded, "rollback-verify").
		add(steps.Event{Type: steps.EvRollbackFinished, Pass: ptr(true)}).
		add(steps.Event{Type: steps.EvSessionEnded, Outcome: steps.OutcomeRolledBack})
	done := func() Result {
		return Result{Outcome: steps.OutcomeRolledBack, Journal: "/var/log/handrail/2025-03-14-connect-rls-hardening.jsonl",
			Head: "9f2c4e1a7b3d5f60c8e2a4b6d8f0a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5"}
	}
	goldenScreen(t, f, true, done, "change ticket")
}
