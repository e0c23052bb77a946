package ui

import (
	"testing"

	"github.com/handrail-dev/handrail/steps"
)

// TestChecklistEnterWithOpenItemsSaysWhy: enter while items are open is
// sent, and the engine's refusal says what is missing.
func TestChecklistEnterWithOpenItemsSaysWhy(t *testing.T) {
	f := connectStart(false)
	m, rec := newLive(f)
	m = update(m, press("enter")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdNext})
	m = answer(m, rec)
	mustContain(t, plain(m), "3 items are still open: tick them, or skip them")

	// A tick changes the count: the note goes until enter asks again.
	zero, one := 0, 1
	m = feed(m, steps.Event{Type: steps.EvItemTicked, Step: "pre-checklist", Item: &zero})
	mustNotContain(t, plain(m), "still open")
	m = feed(m, steps.Event{Type: steps.EvItemTicked, Step: "pre-checklist", Item: &one})
	m = update(m, press("enter")...)
	m = answer(m, rec)
	mustContain(t, plain(m), "1 item is still open: tick it, or skip it")

	f.item(steps.EvItemSkipped, "pre-checklist", 2, false, "no freeze this week")
	m = feed(m, f.evs[len(f.evs)-1])
	m = update(m, press("enter")...)
	m = answer(m, rec)
	mustNotContain(t, plain(m), "still open")
}

// TestChecklistNoteGoesWithTheStep: a note about open items does not
// follow the operator to the next step.
func TestChecklistNoteGoesWithTheStep(t *testing.T) {
	f := connectStart(false)
	m, rec := newLive(f)
	m = update(m, press("enter")...)
	m = answer(m, rec)
	mustContain(t, plain(m), "still open")
	n := len(f.evs)
	f.on(steps.EvStepSucceeded, "pre-checklist").stepStarted("verify-env")
	m = feed(m, f.evs[n:]...)
	mustContain(t, plain(m), "[confirm] Environment verification")
	mustNotContain(t, plain(m), "still open")
}

// Resumed at a checklist with items ticked before the crash, the cursor
// is on the first open item: it was on the first item, ticked, so the
// operator's first space unticked it.
func TestChecklistResumedCursorOnFirstOpenItem(t *testing.T) {
	f := connectStart(false)
	f.item(steps.EvItemTicked, "pre-checklist", 0, false, "")
	f.item(steps.EvItemTicked, "pre-checklist", 1, false, "")
	f.stepStarted("pre-checklist") // the resumed session starts the step again
	m, rec := newLive(f)
	update(m, press("space")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdTick, Step: "pre-checklist", Item: 2})
}
