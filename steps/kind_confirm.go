package steps

import (
	"context"
	"strings"
	"unicode"

	"github.com/handrail-dev/handrail/internal/termsafe"
)

// KindConfirm: a gate with a prompt; optionally a text the operator must
// type exactly.
const KindConfirm Kind = "confirm"

func init() { registerKind(confirmKind{}) }

type confirmKind struct{}

func (confirmKind) spec() kindSpec {
	return kindSpec{
		kind: KindConfirm, order: 20,
		keys: []string{"prompt", "type"},
		doc: KindDoc{
			Summary:  "a gate: the operator confirms, or types a text exactly",
			Doc:      "Shows the prompt; `enter` confirms. With `type`, the operator must type that text exactly (visible text: lint refuses a control or format character, which no one can type).",
			Required: []string{"prompt"},
			Example: `[[phase.step]]
kind = "confirm"
id = "confirm-backup"
title = "Backup verified"
prompt = "The latest backup is less than 24 hours old. Type \"backup verified\" to continue."
type = "backup verified"`,
		},
	}
}

func (confirmKind) validate(v *validator, ref stepRef) {
	v.require(ref, "prompt", strings.TrimSpace(ref.s.Prompt) != "", `prompt = "Backup taken and verified?"`)
	if r, ok := untypable(ref.s.Type); ok {
		what := "a control character"
		if !unicode.IsControl(r) {
			what = "an invisible format character"
		}
		v.at(addPath(ref.p, "type"), Error, `the operator types it exactly at the prompt: use visible text, e.g. type = "backup verified"`,
			"confirm step %q: type holds %U (%s), which cannot be typed at the prompt", ref.s.ID, r, what)
	}
}

// untypable is the first rune of s that no one can type at a prompt: a
// control (newline and tab too: enter answers, tab moves) or what the
// screen shows escaped (termsafe: C1 controls, bidi and format
// characters).
func untypable(s string) (rune, bool) {
	for _, r := range s {
		if r == '\n' || r == '\t' || termsafe.Unsafe(r) {
			return r, true
		}
	}
	return 0, false
}

func (confirmKind) plan(_ *Runbook, s Step, _ bool, p *PlannedStep) {
	p.Prompt, p.TypeText = s.Prompt, s.Type
}

func (confirmKind) run(e *Engine, ctx context.Context, i int, _ bool) (flow, error) {
	return e.runConfirm(ctx, i)
}

// runConfirm waits for CmdConfirm, with the exact text when the step
// requires one.
func (e *Engine) runConfirm(ctx context.Context, i int) (flow, error) {
	id := e.plan[i].info.ID
	want := e.plan[i].step.Type
	return e.await(ctx, "at the confirmation", handlers{
		CmdConfirm: func(c Command) (flow, bool, error) {
			if want != "" && c.Text != want {
				return flowNext, false, e.emit(Event{Type: EvConfirmRejected, Step: id, Text: c.Text, Secret: c.Secret})
			}
			if err := e.emit(Event{Type: EvConfirmed, Step: id}); err != nil {
				return flowQuit, true, err
			}
			f, err := e.succeed(i)
			return f, true, err
		},
	})
}

func (confirmKind) acceptsActive(_ *StepState, t CommandType, _ bool) (bool, string) {
	return t == CmdConfirm, "this step waits for the confirmation"
}

func (confirmKind) acceptsRunning(_ *StepState, t CommandType) (bool, string) {
	return cancelWhileRunning(t, "the step")
}

func (confirmKind) operate(st *StepState, _ Step, op Operator) (Command, bool) {
	if st.Status != StatusActive {
		return Command{}, false
	}
	a, ok := op.Answer(Question{Step: st.ID, Kind: KindConfirm, Form: FormConfirm, Text: st.TypeText, Rejected: st.Rejected})
	if !ok {
		return Command{}, false
	}
	return Command{Type: CmdConfirm, Text: a.Text}, true
}

func (confirmKind) questions(s Step) []Question {
	return []Question{{Step: s.ID, Kind: KindConfirm, Form: FormConfirm, Text: s.Type}}
}

func (confirmKind) checks(Step) []checkQuery { return nil }
