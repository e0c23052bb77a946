package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/handrail-dev/handrail/steps"
)

// checklistKind: the items, a cursor j/k move, space ticks, s skips.
type checklistKind struct{}

func init() { registerPane(steps.KindChecklist, checklistKind{}) }

func (checklistKind) pane(m Model, st *steps.StepState, w int) paneContent {
	return m.checklistPane(st, w)
}

func (checklistKind) intents(m Model, _ *steps.StepState) []intent {
	k := m.keys
	return []intent{
		{key: k.Toggle, cmd: steps.CmdTick},
		{key: relabel(k.Skip, "s", "skip item"), cmd: steps.CmdSkipItem, input: inputSkipItem, question: "why skip this item?"},
	}
}

func (checklistKind) nextLabel(Model, *steps.StepState) string { return "next" }

func (checklistKind) moveCursor(m Model, msg tea.KeyPressMsg, st *steps.StepState) (Model, bool) {
	return m.moveCursor(msg, st)
}

// moveCursor: j/k move in a checklist (a view change, nothing is sent).
func (m Model) moveCursor(msg tea.KeyPressMsg, st *steps.StepState) (Model, bool) {
	n := len(st.ItemStates)
	switch {
	case n == 0:
		return m, false
	case key.Matches(msg, m.keys.Up):
		m.cursor = max(0, min(n-1, m.cursor-1))
	case key.Matches(msg, m.keys.Down):
		m.cursor = max(0, min(n-1, m.cursor+1))
	default:
		return m, false
	}
	return m, true
}

func (m Model) checklistPane(st *steps.StepState, w int) paneContent {
	fixed := notesLines(st, w)
	fixed = append(fixed, m.styles.Muted.Render(m.hint(hintTickItems)))
	var body []string
	focus := -1
	// The cursor is the live operator's own; it is not in the journal, so
	// a replay or a watcher draws none rather than one that never moves.
	cursor := -1
	if m.mode == Live && st.Status == steps.StatusActive {
		cursor = m.cursor
	}
	for i, it := range st.ItemStates {
		if i == cursor {
			focus = len(body)
		}
		body = append(body, m.itemLines(it, i == cursor, w)...)
	}
	pc := textPane(fixed, body)
	pc.focus = focus
	return pc
}

func (m Model) itemLines(it steps.ItemState, cursor bool, w int) []string {
	s := m.styles
	box, suffix := "[ ]", ""
	switch {
	case it.Ticked && it.Auto:
		box, suffix = s.Good.Render("[x]"), s.Muted.Render(" (auto)")
	case it.Ticked:
		box = s.Good.Render("[x]")
	case it.Skipped:
		box = s.Muted.Render("[-]")
	case it.Check != nil:
		box = s.Bad.Render("[!]")
	}
	lead := "  "
	if cursor {
		lead = s.Bold.Render("> ")
	}
	text := wrapAll([]string{it.Text + suffix}, max(10, w-itemIndent))
	lines := []string{lead + box + " " + text[0]}
	for _, l := range text[1:] {
		lines = append(lines, strings.Repeat(" ", itemIndent)+l)
	}
	// What the item's text is followed by (why it was skipped, what the
	// check found, the proof) goes on lines of its own under the text,
	// wrapped as the text is: a reason glued to the text or cut at the
	// edge reads as part of the item.
	under := func(label, text string, labelStyle, textStyle lipgloss.Style) {
		for i, l := range wrapAll([]string{label + text}, max(10, w-itemIndent)) {
			if i == 0 {
				l = labelStyle.Render(label) + textStyle.Render(strings.TrimPrefix(l, label))
			} else {
				l = textStyle.Render(l)
			}
			lines = append(lines, strings.Repeat(" ", itemIndent)+l)
		}
	}
	switch {
	case it.Skipped:
		under("skipped: ", it.Reason, s.Muted, s.Muted)
	case it.Check != nil && !it.Ticked:
		under("check: ", it.Check.Summary, s.Bad, lipgloss.NewStyle())
	case it.Check != nil && it.Auto && it.Check.SQL == "":
		// Ticked by evidence, not a query (the staging journal): say which.
		under("proof: ", it.Check.Summary, s.Muted, s.Muted)
	}
	return lines
}

// itemIndent is the width of "> [x] ", where an item's text starts.
const itemIndent = 6
