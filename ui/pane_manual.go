package ui

import (
	"github.com/handrail-dev/handrail/steps"
)

// manualKind: the instructions; p passes, f fails (with a note).
type manualKind struct{}

func init() { registerPane(steps.KindManual, manualKind{}) }

func (manualKind) pane(m Model, st *steps.StepState, w int) paneContent { return m.manualPane(st, w) }

func (manualKind) intents(m Model, _ *steps.StepState) []intent {
	k := m.keys
	return []intent{
		{key: k.Pass, cmd: steps.CmdManual, pass: true, input: inputManualNote, question: "PASS: note (optional)"},
		{key: k.Fail, cmd: steps.CmdManual, input: inputManualNote, question: "FAIL: what went wrong?", sharedKey: true},
	}
}

func (manualKind) nextLabel(Model, *steps.StepState) string { return "next" }

func (m Model) manualPane(st *steps.StepState, w int) paneContent {
	s := m.styles
	lines := notesLines(st, w)
	switch {
	case st.Passed == nil:
		lines = append(lines, m.hint(hintManual))
	case *st.Passed:
		lines = append(lines, s.BigPass.Render("PASS")+" "+st.Note)
	default:
		lines = append(lines, s.BigFail.Render("FAIL")+" "+st.Note)
	}
	return textPane(nil, wrapAll(lines, w))
}
