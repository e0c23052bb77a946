package ui

import (
	"slices"
	"strings"
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

// A check whose query failed shows the server's whole message at 80
// columns, wrapped, not cut at the pane's edge: it is what the operator
// reads to decide between retry, skip and rollback.
func TestCheckFailureSummaryWrapsAt80(t *testing.T) {
	summary := `query failed: invalid byte sequence for encoding "UTF8": 0xff (SQLSTATE 22021) at check policy-count`
	f := toApply().on(steps.EvStepSucceeded, "apply-001").stepStarted("policy-count").
		add(steps.Event{Type: steps.EvCheckFailed, Step: "policy-count", Check: &steps.CheckReport{
			SQL: "select count(*) from pg_policies", Expect: "1 row: 6", Summary: summary}})
	for _, full := range []bool{false, true} {
		m, _ := newLive(f)
		if full {
			m = update(m, press("f")...)
		}
		if got := strings.Join(strings.Fields(flat(m)), " "); !strings.Contains(got, summary) {
			t.Errorf("full screen %v: the failure is not shown whole:\n%s", full, plain(m))
		}
	}
}
