package ui

import (
	"github.com/handrail-dev/handrail/steps"
)

// confirmKind: the prompt; enter confirms, or opens the input for the
// text to type.
type confirmKind struct{}

func init() { registerPane(steps.KindConfirm, confirmKind{}) }

func (confirmKind) pane(m Model, st *steps.StepState, w int) paneContent { return m.confirmPane(st, w) }

func (confirmKind) intents(m Model, st *steps.StepState) []intent {
	in := intent{key: relabel(m.keys.Next, "enter", "confirm"), cmd: steps.CmdConfirm}
	if st.TypeText != "" {
		in.input, in.question = inputConfirmText, "type "+quote(st.TypeText)+" to confirm"
	}
	return []intent{in}
}

func (confirmKind) nextLabel(Model, *steps.StepState) string { return "confirm" }

func (m Model) confirmPane(st *steps.StepState, w int) paneContent {
	s := m.styles
	lines := notesLines(st, w)
	for _, l := range wrapAll(reflow(orDash(st.Prompt)), w) {
		lines = append(lines, s.Bold.Render(l))
	}
	lines = append(lines, "")
	switch {
	case st.Status.Done():
		lines = append(lines, s.Good.Render("confirmed"))
	case st.TypeText != "":
		lines = append(lines, m.hint(hintType)+" "+s.Bold.Render(st.TypeText)+" "+m.hint(hintTypeToConfirm))
	default:
		lines = append(lines, m.hint(hintConfirm))
	}
	if st.Rejected != nil {
		lines = append(lines, "", s.Bad.Render("REJECTED: ")+"you typed "+quote(*st.Rejected)+", expected "+quote(st.TypeText))
	}
	return textPane(wrapAll(lines, w), nil)
}
