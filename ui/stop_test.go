package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/handrail-dev/handrail/steps"
)

// A dropped SSH connection sends SIGHUP and no key ever comes again: the
// screen must leave by itself (telling the engine to quit), or the process
// lingers with the terminal gone (and `handrail demo` never removes its
// sandbox).

func TestStopLeavesAndTellsTheEngine(t *testing.T) {
	m, rec := newLive(connectStart(true))
	m, cmd := updateCmd(m, stopMsg{})
	if !isQuit(cmd) {
		t.Fatal("the screen must quit when its context ends")
	}
	wantCmds(t, rec, steps.Command{Type: steps.CmdQuit})
	if !m.quitting {
		t.Error("the model should know it is leaving")
	}
}

func TestStopWaitsForTheContext(t *testing.T) {
	if New(Options{Mode: Live}).waitForStop() != nil {
		t.Fatal("without a Context nothing waits")
	}
	ctx, cancel := context.WithCancel(context.Background())
	wait := New(Options{Mode: Live, Context: ctx}).waitForStop()
	got := make(chan any, 1)
	go func() { got <- wait() }()
	select {
	case msg := <-got:
		t.Fatalf("delivered %T before the context ended", msg)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	select {
	case msg := <-got:
		if _, ok := msg.(stopMsg); !ok {
			t.Fatalf("got %T, want stopMsg", msg)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no stopMsg after the context ended")
	}
}

// TestStopEndsTheProgram: a real program with no input coming leaves once
// the context ends.
func TestStopEndsTheProgram(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := connectStart(true)
	rec := &recorder{}
	ch := make(chan steps.Event, len(f.evs))
	for _, e := range f.evs {
		ch <- e
	}
	m := New(Options{Mode: Live, Send: rec.send, Events: ch, Context: ctx, NoColor: true,
		Now: func() time.Time { return t0 }})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	cancel()
	final, ok := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
	if !ok || !final.quitting {
		t.Fatalf("final model %T did not leave", final)
	}
}

// handrail demo has no --db: its identity hard stop says what to do in
// the demo (Options.IdentityFix), not to check a flag it does not have.
func TestDemoHardStopSaysWhatToDoInTheDemo(t *testing.T) {
	f := new(fake).start(false).mismatch()
	fix := "handrail demo has no --db: it runs on its own sandbox, and --target staging points it at the " +
		"sandbox's staging database to show this stop. Run handrail demo without --target staging to go on."
	m := update(New(Options{Mode: Live, Send: func(steps.Command) {}, Initial: f.evs, IdentityFix: fix,
		Now: func() time.Time { return t0.Add(f.mono) }}), tea.WindowSizeMsg{Width: 80, Height: 24})
	s := strings.Join(strings.Fields(plain(m)), " ")
	mustContain(t, s, "HARD STOP", fix)
	mustNotContain(t, s, "Check the --db connection string")

	run, _ := newLive(f)
	mustContain(t, plain(run), "Check the --db connection string")
}
