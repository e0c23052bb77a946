package ui

import (
	"strings"

	"github.com/handrail-dev/handrail/steps"
)

// messageKind: the rendered message; c copies it.
type messageKind struct{}

func init() { registerPane(steps.KindMessage, messageKind{}) }

func (messageKind) pane(m Model, st *steps.StepState, w int) paneContent { return m.messagePane(st, w) }

func (messageKind) intents(Model, *steps.StepState) []intent { return nil }

func (messageKind) nextLabel(Model, *steps.StepState) string { return "next" }

func (messageKind) copyText(st *steps.StepState) string {
	if st.Message != nil {
		return st.Message.Body
	}
	return ""
}

func (m Model) messagePane(st *steps.StepState, w int) paneContent {
	s := m.styles
	msg := st.Message
	if msg == nil {
		return textPane(notesLines(st, w), nil)
	}
	fixed := []string{s.Muted.Render("to: ") + msg.To, s.Muted.Render("when: ") + msg.When + s.Muted.Render(" · c copies it (OSC 52, works over SSH)"), ""}
	return textPane(fixed, wrapAll(strings.Split(msg.Body, "\n"), w))
}
