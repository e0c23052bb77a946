package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/handrail-dev/handrail/steps"
)

// newWatch is a watcher that has folded f's events at an 80x24 terminal,
// its clock at the last event.
func newWatch(f *fake) Model {
	last := t0.Add(f.mono)
	m := New(Options{Mode: Watch, Initial: f.evs, NoColor: true, Now: func() time.Time { return last }})
	return update(m, tea.WindowSizeMsg{Width: 80, Height: 24})
}

// TestWatchErrorScreens: each way the journal can fail is its own screen,
// with what happened, the detail and what to do; never a session that
// ended ("ABORTED", an exit code); only q and ctrl+c do anything, and
// they leave.
func TestWatchErrorScreens(t *testing.T) {
	for _, p := range []WatchProblem{
		{Title: "JOURNAL TAMPERED at line 41", Detail: "altered: its hash no longer matches the prev recorded by line 42.", Advice: "Run handrail verify LOG."},
		{Title: "JOURNAL NOT FOUND", Detail: "/var/log/x.jsonl does not exist.", Advice: "Check the path."},
		{Title: "CANNOT READ JOURNAL: permission denied", Detail: "open x.jsonl: permission denied", Advice: "Watch as that user."},
		{Title: "JOURNAL FROM A NEWER HANDRAIL", Detail: "journal format 2 (written by handrail 0.9.0)", Advice: "Use handrail 0.9.0 or newer."},
	} {
		t.Run(p.Title, func(t *testing.T) {
			for name, m := range map[string]Model{"before any event": newWatch(new(fake)), "mid-session": newWatch(connectStart(true))} {
				m = update(m, WatchStatus{Problem: &p})
				if m.screen() != screenWatchError {
					t.Fatalf("%s: screen %v, want the watch error screen", name, m.screen())
				}
				s := plain(m)
				mustContain(t, s, p.Title, p.Detail, "What to do: "+p.Advice, "press q to quit", "WATCHING — stopped")
				mustNotContain(t, s, "ABORTED", "exit code", "starting: connecting")
				// The follower closing its events afterwards changes nothing.
				m = update(m, eventsClosedMsg{})
				mustNotContain(t, plain(m), "ABORTED", "exit code")
				for _, k := range []string{"enter", "tab", "R", "down", "space"} {
					if next, cmd := updateCmd(m, keyMsg(k)); cmd != nil || next.screen() != screenWatchError {
						t.Errorf("%s: key %s did something on the error screen", name, k)
					}
				}
				for _, k := range []string{"q", "ctrl+c"} {
					if _, cmd := updateCmd(m, keyMsg(k)); !isQuit(cmd) {
						t.Errorf("%s: %s does not leave the error screen", name, k)
					}
				}
			}
		})
	}
}

// TestWatchErrorScreenEscapes: the path and the reasons on the error
// screen come from outside (a file name, a journal's bytes): a control in
// them is shown escaped, never sent to the terminal.
func TestWatchErrorScreenEscapes(t *testing.T) {
	p := WatchProblem{Title: "JOURNAL NOT FOUND", Detail: "/tmp/\x1b]2;owned\x07.jsonl does not exist.", Advice: "Check \x9b2J the path."}
	m := update(newWatch(new(fake)), WatchStatus{Problem: &p})
	if out := m.View().Content; strings.Contains(out, "\x1b]2;owned") || strings.Contains(out, "\x9b") {
		t.Fatalf("a control from the journal's path reaches the terminal: %q", out)
	}
	mustContain(t, plain(m), "JOURNAL NOT FOUND", "owned", "does not exist")
}

// TestWatchOperatorGone: the follower says the operator's handrail is
// gone: a banner says so and what can be done, the clock stops instead of
// running on, and a resumed session (the writer back) clears both.
func TestWatchOperatorGone(t *testing.T) {
	m := newWatch(connectStart(true))
	later := t0.Add(10 * time.Minute)
	m.now = func() time.Time { return later }
	m = update(m, clockMsg{})
	mustContain(t, plain(m), "WATCHING — read-only", clockText(m.sessionNow()))
	if m.sessionNow() < 9*time.Minute {
		t.Fatalf("the watcher's clock does not run: %v", m.sessionNow())
	}

	m = update(m, WatchStatus{WriterGone: true})
	s := plain(m)
	mustContain(t, s, "OPERATOR'S HANDRAIL IS GONE", "WATCHING — operator gone")
	mustNotContain(t, s, "ABORTED")
	frozen := m.sessionNow()
	m.now = func() time.Time { return later.Add(time.Hour) }
	m = update(m, clockMsg{})
	if m.sessionNow() != frozen {
		t.Errorf("the clock runs on after the operator is gone: %v, then %v", frozen, m.sessionNow())
	}
	if got := len(m.render()); got == 0 {
		t.Fatal("empty screen")
	}
	if lines := len(strings.Split(m.render(), "\n")); lines != 24 {
		t.Errorf("the screen has %d lines with the banner, want 24", lines)
	}

	m = update(m, WatchStatus{WriterGone: false})
	mustNotContain(t, plain(m), "OPERATOR'S HANDRAIL IS GONE", "operator gone")
	if m.sessionNow() == frozen {
		t.Error("the clock does not run again once the session is resumed")
	}
}

// TestWatchGoneAfterTheEndIsNotShown: a session that ended is not an
// operator gone, whatever the follower says.
func TestWatchGoneAfterTheEndIsNotShown(t *testing.T) {
	f := connectStart(true)
	f.add(steps.Event{Type: steps.EvSessionEnded, Outcome: steps.OutcomeSucceeded})
	m := update(newWatch(f), WatchStatus{WriterGone: true})
	mustNotContain(t, plain(m), "OPERATOR'S HANDRAIL IS GONE")
	mustContain(t, plain(m), "WATCHING — read-only, ended")
}

// TestWatchEventsClosedIsNotAnEnd: a watcher's events stop when it is told
// to stop (or with a problem): the screen never makes up a result.
func TestWatchEventsClosedIsNotAnEnd(t *testing.T) {
	m, cmd := updateCmd(newWatch(connectStart(true)), eventsClosedMsg{})
	if cmd != nil || m.result != nil || m.screen() == screenEnded {
		t.Fatalf("events closed turned the watch into an ended session (cmd %v, result %v)", cmd != nil, m.result)
	}
	mustNotContain(t, plain(m), "ABORTED")
}

// TestWatchStatusIsRead: the status channel is listened to from Init and
// after each status, and a closed channel stops the listening.
func TestWatchStatusIsRead(t *testing.T) {
	ch := make(chan WatchStatus, 2)
	m := New(Options{Mode: Watch, Watch: ch})
	ch <- WatchStatus{WriterGone: true}
	msg := m.waitForWatch()()
	if s, ok := msg.(WatchStatus); !ok || !s.WriterGone {
		t.Fatalf("got %#v", msg)
	}
	m, cmd := updateCmd(m, msg)
	if cmd == nil {
		t.Fatal("the screen stops listening after a status")
	}
	if !m.writerGone {
		t.Error("the status was not kept")
	}
	close(ch)
	if _, ok := cmd().(watchClosedMsg); !ok {
		t.Error("a closed status channel is not noticed")
	}
	if New(Options{Mode: Watch}).waitForWatch() != nil {
		t.Error("without a channel nothing waits")
	}
}

// TestWatchGoneClockStopsWhereItWas: the clock of a watcher that saw the
// operator's handrail alive stops when it notices it gone, where it was:
// it does not jump back to the last journaled event (minutes earlier when
// the operator sat on a step). A watcher that never saw it alive only
// knows the last event.
func TestWatchGoneClockStopsWhereItWas(t *testing.T) {
	m := newWatch(connectStart(true))
	m = update(m, WatchStatus{WriterGone: false}) // the follower's first probe: alive
	later := t0.Add(10 * time.Minute)
	m.now = func() time.Time { return later }
	m = update(m, clockMsg{})
	running := m.sessionNow()
	m = update(m, WatchStatus{WriterGone: true})
	if got := m.sessionNow(); got < running {
		t.Errorf("the clock went back from %v to %v when the operator was noticed gone", running, got)
	}
	mustContain(t, plain(m), clockText(running))

	late := newWatch(connectStart(true)) // started after the crash
	late.now = func() time.Time { return later }
	late = update(late, WatchStatus{WriterGone: true})
	if got := late.sessionNow(); got != late.state.Now {
		t.Errorf("a watcher that never saw the operator shows %v, want the last event's %v", got, late.state.Now)
	}
}
