package ui

import (
	"github.com/handrail-dev/handrail/steps"
)

// checkKind: the query and its expectation; then PASS or FAIL, the rows,
// or expected beside actual.
type checkKind struct{}

func init() { registerPane(steps.KindCheck, checkKind{}) }

func (checkKind) pane(m Model, st *steps.StepState, w int) paneContent { return m.checkPane(st, w) }

func (checkKind) intents(Model, *steps.StepState) []intent { return nil }

func (checkKind) nextLabel(_ Model, st *steps.StepState) string {
	if st.Check == nil {
		return "run the check"
	}
	return "next"
}

func (m Model) checkPane(st *steps.StepState, w int) paneContent {
	s, c := m.styles, st.Check
	fixed := wrapAll([]string{m.verdictLine(st)}, w) // a query's error is long: wrap it, never cut it
	if c == nil {
		body := append(notesLines(st, w), wrapAll([]string{s.Muted.Render("expect: ") + orDash(st.Expect)}, w)...)
		return textPane(fixed, append(body, m.sqlLines(st.SQL, w, 1<<20)...))
	}
	if c.AsRole != "" {
		fixed = append(fixed, s.Muted.Render("as role: ")+s.Bold.Render(c.AsRole))
	}
	fixed = append(fixed, capLines(wrapAll([]string{s.Muted.Render("expect: ") + c.Expect}, w), 2, s)...)
	fixed = append(fixed, m.sqlLines(c.SQL, w, 2)...)
	if st.Passed != nil && !*st.Passed {
		return textPane(fixed, m.checkDiffLines(c, w))
	}
	if st.Status == steps.StatusActive && m.state.Accepts(steps.CmdNext).OK {
		fixed = append(fixed, s.Warn.Render(m.hint(hintReport)))
	}
	if len(c.Columns) == 0 {
		return textPane(fixed, nil)
	}
	t := newTable(c.Columns, c.Actual, w, s)
	fixed = append(fixed, t.header())
	return paneContent{fixed: fixed, n: len(c.Actual), line: t.row, focus: -1}
}

// capLines keeps the first n lines, marking the cut.
func capLines(lines []string, n int, s *Styles) []string {
	if len(lines) <= n {
		return lines
	}
	lines = lines[:n]
	lines[n-1] += s.Muted.Render(" ...")
	return lines
}

// verdictLine: PASS or FAIL, big, with the summary (checkPane wraps it).
func (m Model) verdictLine(st *steps.StepState) string {
	s := m.styles
	switch {
	case st.Passed == nil && st.Status == steps.StatusRunning:
		return s.Warn.Render("running...")
	case st.Passed == nil:
		return s.Muted.Render("not run yet: " + m.hint(hintRunCheck))
	case *st.Passed:
		return s.BigPass.Render("PASS") + " " + summaryOf(st)
	case st.ExpectedInDryRun():
		return s.Warn.Render("FAIL (expected in a dry run)") + " " + summaryOf(st)
	}
	return s.BigFail.Render("FAIL") + " " + summaryOf(st)
}

func summaryOf(st *steps.StepState) string {
	if st.Check != nil {
		return st.Check.Summary
	}
	return st.Note
}

// checkDiffLines: expected beside actual, then what is missing and what
// was not expected.
func (m Model) checkDiffLines(c *steps.CheckReport, w int) []string {
	s := m.styles
	half := max(10, (w-3)/2)
	left := tableBlock(c.Columns, c.Expected, half, s, "EXPECTED")
	right := tableBlock(c.Columns, c.Actual, half, s, "ACTUAL")
	lines := []string{""}
	for i := range max(len(left), len(right)) {
		lines = append(lines, fit(at(left, i), half)+s.Rule.Render(" │ ")+at(right, i))
	}
	lines = append(lines, listLines(s.Bad.Render("missing (expected, not found):"), c.Missing)...)
	return append(lines, listLines(s.Bad.Render("unexpected (found, not expected):"), c.Unexpected)...)
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return ""
}
