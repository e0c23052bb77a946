package ui

import (
	"slices"
	"testing"

	"github.com/handrail-dev/handrail/steps"
)

// Every step kind has a pane, registered from its own file: it draws the
// step, labels enter, and its keys ask commands the engine answers. A
// kind without one fails here instead of falling back to a plain pane.
func TestEveryKindHasAPane(t *testing.T) {
	for k := range panes {
		if !slices.Contains(steps.Kinds, k) {
			t.Errorf("a pane is registered for %q, which is not a step kind", k)
		}
	}
	for _, k := range steps.Kinds {
		p := paneOf(k)
		if p == nil {
			t.Errorf("kind %q has no pane: add ui/pane_%s.go (see kindPane)", k, k)
			continue
		}
		plan := []steps.PlannedStep{{ID: "one", Title: "The only step", Kind: k, Notes: "What to know first.", Items: []string{"an item"}}}
		f := (&fake{}).add(steps.Event{Type: steps.EvSessionStarted, Session: &steps.SessionInfo{
			RunbookID: "kinds", TargetName: "db", ProjectID: "p", Apply: true, Plan: plan}}).verified().stepStarted("one")
		m, _ := newLive(f)
		st := m.state.CurrentStep()
		if pc := p.pane(m.drawn(), st, 60); len(pc.fixed) == 0 && pc.n == 0 && pc.view == "" {
			t.Errorf("kind %q: the pane draws nothing", k)
		}
		if p.nextLabel(m, st) == "" {
			t.Errorf("kind %q: enter has no label", k)
		}
		for _, in := range p.intents(m, st) {
			if h := in.key.Help(); h.Key == "" || h.Desc == "" || !slices.Contains(steps.Commands, in.cmd) {
				t.Errorf("kind %q: intent %+v is unlabelled or asks no command", k, h)
			}
		}
		mustContain(t, plain(m), "["+string(k)+"] The only step")
	}
}
