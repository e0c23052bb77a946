package ui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/handrail-dev/handrail/steps"
)

// longTitle is the Connect runbook's real title: with it, at 80 columns,
// the header's right-hand badges used to be dropped whole.
const longTitle = "Connect-Prod RLS hardening (migration 001)"

func longTitled(f *fake) *fake {
	s := *f.evs[0].Session
	s.RunbookTitle = longTitle
	f.evs[0].Session = &s
	return f
}

func TestHeaderKeepsReplayPausedAt80Columns(t *testing.T) {
	f := longTitled(toApply())
	m := newReplay(f.evs, nil)
	for m.replay.next < len(m.replay.queue)/2 {
		m, _ = tick(m)
	}
	m = update(m, press("-", "-", "-", "space")...)
	head := strings.Split(plain(m), "\n")[0]
	for _, want := range []string{"APPLY", "Connect-Prod RLS", "REPLAY x0.25", "PAUSED", "/"} {
		if !strings.Contains(head, want) {
			t.Errorf("header %q lacks %q", head, want)
		}
	}
}

func TestHeaderKeepsWatchingAndRollbackBadges(t *testing.T) {
	f := longTitled(toApply())
	f.add(steps.Event{Type: steps.EvRollbackStarted, Text: "operator chose rollback (R)"})
	m := update(New(Options{Mode: Watch, Initial: f.evs}), tea.WindowSizeMsg{Width: 80, Height: 24})
	m = update(m, engineDoneMsg{})
	head := strings.Split(plain(m), "\n")[0]
	for _, want := range []string{"APPLY", "ROLLING BACK", "WATCHING — read-only, ended"} {
		if !strings.Contains(head, want) {
			t.Errorf("header %q lacks %q", head, want)
		}
	}
}
