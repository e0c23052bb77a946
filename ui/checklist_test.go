package ui

import (
	"testing"

	"github.com/handrail-dev/handrail/steps"
)

// TestChecklistEnterWithOpenItemsSaysWhy: the engine ignores enter while
// items are open, so the screen says what is missing instead of doing
// nothing (and still sends it: the screen may lag the engine).
func TestChecklistEnterWithOpenItemsSaysWhy(t *testing.T) {
	f := connectStart(false)
	m, rec := newLive(f)
	m = update(m, press("enter")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdNext})
	mustContain(t, plain(m), "3 items are still open: tick them (space) or skip")

	// A tick changes the count: the note goes until enter asks again.
	zero, one := 0, 1
	m = feed(m, steps.Event{Type: steps.EvItemTicked, Step: "pre-checklist", Item: &zero})
	mustNotContain(t, plain(m), "still open")
	m = feed(m, steps.Event{Type: steps.EvItemTicked, Step: "pre-checklist", Item: &one})
	m = update(m, press("enter")...)
	mustContain(t, plain(m), "1 item is still open: tick it (space) or skip it")

	f.item(steps.EvItemSkipped, "pre-checklist", 2, false, "no freeze this week")
	m = feed(m, f.evs[len(f.evs)-1])
	m = update(m, press("enter")...)
	mustNotContain(t, plain(m), "still open")
}

// TestChecklistNoteGoesWithTheStep: a note about open items does not
// follow the operator to the next step.
func TestChecklistNoteGoesWithTheStep(t *testing.T) {
	f := connectStart(false)
	m, _ := newLive(f)
	m = update(m, press("enter")...)
	mustContain(t, plain(m), "still open")
	n := len(f.evs)
	f.on(steps.EvStepSucceeded, "pre-checklist").stepStarted("verify-env")
	m = feed(m, f.evs[n:]...)
	mustContain(t, plain(m), "[confirm] Environment verification")
	mustNotContain(t, plain(m), "still open")
}
