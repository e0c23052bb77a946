package ui

import (
	"fmt"

	"github.com/handrail-dev/handrail/steps"
)

// monitorKind: the countdown, each query's latest rows, the alerts, what
// to watch; e ends the window early.
type monitorKind struct{}

func init() { registerPane(steps.KindMonitor, monitorKind{}) }

func (monitorKind) pane(m Model, st *steps.StepState, w int) paneContent { return m.monitorPane(st, w) }

func (monitorKind) intents(m Model, _ *steps.StepState) []intent {
	return []intent{{key: m.keys.EndEarly, cmd: steps.CmdEndMonitor, input: inputEndMonitor, question: "why end the monitoring window early?"}}
}

func (monitorKind) nextLabel(_ Model, st *steps.StepState) string {
	if len(st.Monitor) == 0 {
		return "open the window"
	}
	return "next"
}

func (m Model) monitorPane(st *steps.StepState, w int) paneContent {
	s := m.styles
	fixed := []string{m.countdownLine(st)}
	if len(st.Alerts) > 0 {
		fixed = append(fixed, s.Bad.Render(fmt.Sprintf("ALERTS: %d", len(st.Alerts)))+" latest: "+st.Alerts[len(st.Alerts)-1])
	}
	var body []string
	for _, q := range st.Monitor {
		body = append(body, m.sampleLines(q, w)...)
	}
	body = append(body, listLines(s.Bold.Render("watch:"), st.Watch)...)
	if len(st.Alerts) > 1 {
		body = append(body, listLines(s.Bad.Render("alerts:"), st.Alerts[max(0, len(st.Alerts)-5):])...)
	}
	return textPane(fixed, body)
}

func (m Model) countdownLine(st *steps.StepState) string {
	s := m.styles
	if st.Status.Done() || st.Status == steps.StatusFailed {
		if st.EndedEarly {
			return s.Warn.Render(fmt.Sprintf("ENDED EARLY after %s of %s: ", clockText(st.WindowRan), clockText(st.Duration))) + st.Note
		}
		return s.Bold.Render("monitoring window over: " + clockText(st.Duration) + " elapsed")
	}
	if len(st.Monitor) == 0 {
		return s.Bold.Render("window of "+clockText(st.Duration)) + s.Muted.Render(" · "+m.hint(hintOpenWindow))
	}
	if st.Status != steps.StatusRunning {
		// Samples of a window that is closed: it was open when handrail
		// stopped, and a resumed session opens it anew on enter.
		return s.Bold.Render("window of "+clockText(st.Duration)) +
			s.Muted.Render(" · not open: "+m.hint(hintReopenWindow)+" (the samples below are from before handrail stopped)")
	}
	left := st.Monitor[0].Remaining - (m.sessionNow() - m.monitorAt)
	return s.Bold.Render(clockText(left)+" left") + s.Muted.Render(" of "+clockText(st.Duration)+" · "+m.hint(hintEndEarly))
}

func (m Model) sampleLines(q steps.MonitorSample, w int) []string {
	s := m.styles
	title := s.Bold.Render(orDash(q.Title))
	if q.Alerting {
		title += " " + s.BigFail.Render("ALERT")
	}
	lines := []string{title}
	switch {
	case q.Error != "":
		lines = append(lines, s.Bad.Render("error: ")+q.Error)
	case len(q.Columns) > 0:
		lines = append(lines, tableBlock(q.Columns, q.Rows[:min(5, len(q.Rows))], w, s, "")...)
	}
	return append(lines, "")
}
