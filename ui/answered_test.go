package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/steps"
)

// walkKeys are the keys tried at every decision: every key the screens
// bind, and one they do not.
var walkKeys = []string{"enter", "space", "s", "p", "f", "e", "c", "r", "R", "a", "n", "y", "q", "A", "d",
	"ctrl+c", "j", "k", "tab", "shift+tab", "esc", "?", "pgdown", "x"}

// TestEveryKeyIsAnswered: at every point of a real session where the
// engine waits for the operator, every key is pressed on a copy of the
// live screen (dialogs it opens are answered). Each command the screen
// then sends is either one the engine acts on now (State.Admit: not
// sent here, so the scripted session goes on) or, sent to the real
// engine, comes back as a journaled command_refused with the engine's
// reason. No key is dropped without a trace.
func TestEveryKeyIsAnswered(t *testing.T) {
	es := startEquivSession(t)
	tried := map[steps.CommandType]int{}
	refused, acted := 0, 0
	es.op.atDecision = func(live Model) {
		for _, k := range walkKeys {
			for _, c := range commandsOf(live, k) {
				tried[c.Type]++
				st := es.eng.State()
				why, ok := st.Admit(c)
				if ok {
					acted++
					continue
				}
				es.eng.Send(c)
				got := awaitRefusal(t, es.eng, st.Seq)
				if got.Reason != why || got.Command.Type != c.Type {
					t.Fatalf("key %q sent %+v: the engine refused %s with %q; the state said %q", k, c, got.Command.Type, got.Reason, why)
				}
				refused++
			}
		}
	}
	es.op.drive(es.ran)
	<-es.ran
	if es.outcome != steps.OutcomeSucceeded {
		t.Fatalf("the session ended %s (%v)", es.outcome, es.runErr)
	}
	t.Logf("%d decisions, %d commands refused and journaled, %d would have acted; by type %v", es.op.decisions, refused, acted, tried)
	// Every command a key can ask was asked somewhere; but cancel, which
	// only a running statement takes (the engine is not waiting for the
	// operator then: TestRollbackWhileStatementRuns and
	// TestCancelDuringStatement in steps cover how it answers meanwhile),
	// and the pair partners' commands, which only a partner's screen
	// sends (approver_test.go presses those).
	for _, typ := range steps.Commands {
		if tried[typ] == 0 && typ != steps.CmdCancel && !typ.Partner() {
			t.Errorf("no key sent %s at any decision", typ)
		}
	}
	if refused < 100 {
		t.Errorf("only %d refusals: the walk did not reach the engine", refused)
	}
	// Each refusal is in the journal, and none says the engine's waits and
	// its published answers disagree.
	if err := es.w.Close(); err != nil {
		t.Fatal(err)
	}
	log, err := journal.Read(es.w.Path())
	if err != nil {
		t.Fatal(err)
	}
	inJournal := 0
	for _, e := range log.Events {
		if e.Type != steps.EvCommandRefused {
			continue
		}
		inJournal++
		if strings.HasPrefix(e.Text, "not taken") {
			t.Errorf("the state accepted %s but the engine's wait did not: %q", e.Command.Type, e.Text)
		}
	}
	if inJournal != refused {
		t.Errorf("%d refusals in the journal, %d seen", inJournal, refused)
	}
}

// commandsOf presses key on a copy of the live screen (answering a dialog
// it opens: typed text, or yes) and returns the commands it sent.
func commandsOf(live Model, key string) []steps.Command {
	var sent []steps.Command
	m := live
	m.send = func(c steps.Command) { sent = append(sent, c) }
	m = update(m, keyMsg(key))
	switch m.screen() {
	case screenInput:
		m = update(typeText(m, "walk"), keyMsg("enter"))
	case screenRollbackDialog, screenConfirmQuit, screenConfirmCancel:
		m = update(m, keyMsg("y"))
	}
	return sent
}

// awaitRefusal waits for the engine to record a refusal after seq.
func awaitRefusal(t *testing.T, eng *steps.Engine, seq int64) steps.Refusal {
	t.Helper()
	deadline := time.Now().Add(equivWait)
	for time.Now().Before(deadline) {
		if s := eng.State(); s.LastRefusal != nil && s.LastRefusal.Seq > seq {
			return *s.LastRefusal
		}
		select {
		case <-eng.Idle():
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("no command_refused after seq %d within %s", seq, equivWait)
	return steps.Refusal{}
}
