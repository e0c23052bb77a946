package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/handrail-dev/handrail/steps"
)

// execKind: the command, its exit code, and its output in the model's
// viewport, which follows the tail.
type execKind struct{}

func init() { registerPane(steps.KindExec, execKind{}) }

func (execKind) pane(m Model, st *steps.StepState, w int) paneContent { return m.execPane(st, w) }

func (execKind) intents(Model, *steps.StepState) []intent { return nil }

func (execKind) nextLabel(m Model, _ *steps.StepState) string { return runLabel(m) }

func (execKind) output(st *steps.StepState) string { return st.Output }

// execFixedLines is how many lines the exec pane shows above its output.
const execFixedLines = 2

func (m Model) execPane(st *steps.StepState, w int) paneContent {
	s := m.styles
	fixed := []string{ansi.Truncate(s.SQL.Render("$ "+st.SQL), w, "…")}
	switch {
	case st.ExitCode != nil && *st.ExitCode == 0:
		fixed = append(fixed, s.Good.Render("exit code 0"))
	case st.ExitCode != nil:
		fixed = append(fixed, s.Bad.Render(fmt.Sprintf("exit code %d", *st.ExitCode)))
	case st.Status == steps.StatusRunning:
		d := m.sessionNow() - st.Started
		fixed = append(fixed, s.Warn.Render("running "+shortDur(d)+" "+spinnerFrame(d)))
	default:
		fixed = append(fixed, s.Muted.Render("not started"))
	}
	if st.WouldRun.Len() > 0 && !m.state.Session.Apply {
		fixed[1] = s.DryRun.Render("DRY RUN") + " not run"
	}
	fixed = append(fixed, m.stepErrorLines(st, w)...)
	if m.browsing() {
		return textPane(fixed, wrapAll(strings.Split(strings.TrimRight(st.Output, "\n"), "\n"), w))
	}
	return paneContent{fixed: fixed, view: m.execView.View(), focus: -1}
}

// refreshExec feeds the exec step's output to its viewport, following the
// tail unless the operator scrolled up.
func (m *Model) refreshExec() {
	st := m.shown.CurrentStep() // escaped
	m.execStale = false
	m.execView = clone(m.execView)
	var op outputPane
	if st != nil {
		op, _ = paneOf(st.Kind).(outputPane)
	}
	if op == nil {
		m.execView.SetContent("")
		return
	}
	follow := m.execView.AtBottom() || m.execView.TotalLineCount() == 0
	m.execView.SetContent(strings.TrimRight(op.output(st), "\n"))
	if follow {
		m.execView.GotoBottom()
	}
}
