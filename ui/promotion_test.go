package ui

import (
	tea "charm.land/bubbletea/v2"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/steps"
)

// The promotion gate on the screen: what is missing, a typed reason to
// override it (an empty one is the engine's to refuse), then the consent.
func TestPromotionGate(t *testing.T) {
	f := connectStart(true).on(steps.EvStepSucceeded, "pre-checklist").stepStarted("apply-001").
		add(steps.Event{Type: steps.EvPromotionChecked, Promotion: &steps.PromotionProof{Searched: "log directory /srv/journals",
			Problems: []string{"line 1: header field runbook_hash is 4c2d9e0a1b3f, this runbook's is 9b1f6f0c2d7a"}}}).
		add(steps.Event{Type: steps.EvPromotionRequired, Step: "apply-001", Text: "no proof"})
	m, rec := newLive(f)
	if m.screen() != screenPromotion {
		t.Fatalf("screen = %v, want the promotion gate", m.screen())
	}
	mustContain(t, plain(m), "PROMOTION GATE: NO STAGING PROOF", "looked in: log directory /srv/journals",
		"missing: line 1: header field runbook_hash is", "enter override with this reason")
	m = update(m, press("enter")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdOverride, Step: "apply-001"})
	rec.cmds = nil
	m = typeText(m, "q R hotfix INC-42") // every key is text here
	m = update(m, press("enter")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdOverride, Step: "apply-001", Text: "q R hotfix INC-42"})
	m = feed(m, steps.Event{Type: steps.EvPromotionOverridden, Step: "apply-001", Text: "q R hotfix INC-42"},
		steps.Event{Type: steps.EvConsentRequired, Step: "apply-001"})
	if m.screen() != screenConsent {
		t.Fatalf("after the override the consent is asked; screen = %v", m.screen())
	}
}

// A staging proof item that ticked itself shows the proof.
func TestStagingProofItemShowsTheProof(t *testing.T) {
	i := 1
	f := connectStart(true).add(steps.Event{Type: steps.EvItemTicked, Step: "pre-checklist", Item: &i, Auto: true,
		Check: &steps.CheckReport{Summary: (&steps.PromotionProof{OK: true, Journal: "/srv/journals/staging.jsonl",
			Head: "0123456789abcdef0123", Operator: "bob", Ended: time.Date(2025, 3, 13, 17, 0, 0, 0, time.UTC)}).Summary()}})
	m, _ := newLive(f)
	mustContain(t, plain(m), "proof: staging journal", "/srv/journals/staging.jsonl", "0123456789abcdef", "2025-03-13T17:00:00Z", "operator bob")
}

// At 80x24 the gate's explanation fills the pane: the reason being typed
// stays on screen (it was drawn below the last row, so the operator typed
// blind), and so does the consent's answer.
func TestPromotionGateInputVisibleAt80x24(t *testing.T) {
	f := connectStart(true).on(steps.EvStepSucceeded, "pre-checklist").stepStarted("apply-001").
		add(steps.Event{Type: steps.EvPromotionChecked, Promotion: &steps.PromotionProof{Searched: "log directory /tmp/qa2/state/handrail/demo-sessions",
			Problems: []string{"no journal in /tmp/qa2/state/handrail/demo-sessions of runbook connect-rls-hardening (sha256 3bbb32b76b26) on staging Connect-Staging (mohctrsopquwoyfweadl): run it there first (handrail run connect-rls-hardening --env staging --apply), or give --staging-journal"}}}).
		add(steps.Event{Type: steps.EvPromotionRequired, Step: "apply-001", Text: "no proof"})
	m, _ := newLive(f)
	m = update(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	m = update(m, press("enter")...)
	m = typeText(m, "hotfix INC-42")
	mustContain(t, plain(m), "> hotfix INC-42", "enter override with this reason")
}
