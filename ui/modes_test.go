package ui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/handrail-dev/handrail/steps"
)

// TestChecklistCursorIsLiveOnly: the operator's checklist cursor is not
// journaled, so a watcher or a replay must not draw one: it would sit on
// the first item while the operator ticks the others.
func TestChecklistCursorIsLiveOnly(t *testing.T) {
	f := connectStart(true).item(steps.EvItemTicked, "pre-checklist", 0, false, "")
	live, _ := newLive(f)
	live = update(live, press("down")...)
	mustContain(t, plain(live), "> [ ] Team notified in #deploys")

	watch := update(New(Options{Mode: Watch, Initial: f.evs}), tea.WindowSizeMsg{Width: 80, Height: 24})
	replay := newReplay(f.evs, nil)
	for replay.replay.next < len(replay.replay.queue) {
		replay, _ = tick(replay)
	}
	for name, m := range map[string]Model{"watch": watch, "replay": replay} {
		s := plain(m)
		mustContain(t, s, "[x] Change ticket approved", "[ ] Team notified")
		if strings.Contains(s, "> [") {
			t.Errorf("%s draws a checklist cursor:\n%s", name, s)
		}
	}
}
