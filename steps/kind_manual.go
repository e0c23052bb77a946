package steps

import "context"

// KindManual: instructions; the operator records pass or fail with a note.
const KindManual Kind = "manual"

func init() { registerKind(manualKind{}) }

type manualKind struct{}

func (manualKind) spec() kindSpec {
	return kindSpec{
		kind: KindManual, order: 50,
		keys: []string{"on_fail"},
		doc: KindDoc{
			Summary: "instructions; the operator records pass or fail with a note",
			Doc:     "Shows `notes`; the operator does the test and records it: `p` pass or `f` fail, each with a note that is journaled.",
			Example: "[[phase.step]]\nkind = \"manual\"\nid = \"smoke-upload\"\ntitle = \"Upload an avatar\"\nnotes = \"In the app, upload a JPEG under 10 MiB: it must succeed.\"",
		},
	}
}

func (manualKind) validate(v *validator, ref stepRef) { v.validateOnFail(ref) }

func (manualKind) plan(_ *Runbook, s Step, rollback bool, p *PlannedStep) {
	p.OnFail = onFail(s, rollback)
}

func (manualKind) run(e *Engine, ctx context.Context, i int, _ bool) (flow, error) {
	return e.runManual(ctx, i)
}

// runManual waits for the operator's verdict (a failure needs a note).
func (e *Engine) runManual(ctx context.Context, i int) (flow, error) {
	id := e.plan[i].info.ID
	return e.await(ctx, "for the manual result", handlers{
		CmdManual: func(c Command) (flow, bool, error) {
			pass := c.Pass
			if err := e.emit(Event{Type: EvManualResult, Step: id, Pass: &pass, Text: c.Text, Secret: c.Secret}); err != nil {
				return flowQuit, true, err
			}
			if pass {
				f, err := e.succeed(i)
				return f, true, err
			}
			note := c.Text
			if c.Secret {
				note = "see the operator's note"
			}
			f, err := e.failByPolicy(i, "manual check failed: "+note, note)
			return f, true, err
		},
		CmdSkipStep: func(c Command) (flow, bool, error) {
			return flowNext, true, e.skip(i, c)
		},
	})
}

func (manualKind) acceptsActive(_ *StepState, t CommandType, _ bool) (bool, string) {
	switch t {
	case CmdManual, CmdSkipStep:
		return true, ""
	case CmdNext:
		return false, "record the result first: passed or failed"
	}
	return false, "this step waits for its result: passed or failed"
}

func (manualKind) acceptsRunning(_ *StepState, t CommandType) (bool, string) {
	return cancelWhileRunning(t, "the step")
}

func (manualKind) operate(st *StepState, _ Step, op Operator) (Command, bool) {
	if st.Status != StatusActive {
		return Command{}, false
	}
	a, ok := op.Answer(Question{Step: st.ID, Kind: KindManual, Form: FormVerdict})
	if !ok {
		return Command{}, false
	}
	return Command{Type: CmdManual, Pass: a.Pass, Text: a.Text}, true
}

func (manualKind) questions(s Step) []Question {
	return []Question{{Step: s.ID, Kind: KindManual, Form: FormVerdict}}
}

func (manualKind) checks(Step) []checkQuery { return nil }
