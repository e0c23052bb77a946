package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/handrail-dev/handrail/steps"
)

// paneContent is a step's pane: fixed lines that always show, then a body
// that scrolls. The body is produced one line at a time so a pane of 1000
// rows renders only the rows on screen.
type paneContent struct {
	fixed []string
	n     int
	line  func(i int) string
	focus int    // a body line to keep in view (checklist cursor); -1 none
	view  string // a pre-rendered body (the exec viewport) instead of lines
}

func textPane(fixed, body []string) paneContent {
	return paneContent{fixed: fixed, n: len(body), line: func(i int) string { return body[i] }, focus: -1}
}

// paneLines renders the current step's pane: exactly h lines of width w.
func (m Model) paneLines(w, h int) []string {
	switch m.screen() {
	case screenConsent:
		return pinTail(m.consentLines, w, h)
	case screenPromotion:
		return pinTail(m.promotionLines, w, h)
	}
	st := m.shownStep()
	if st == nil {
		return block(wrapAll(m.loadingLines(), w), w, h)
	}
	pc := m.pane(st, w)
	lines := append(m.paneHead(st), pc.fixed...)
	if pc.view != "" {
		return block(append(lines, strings.Split(pc.view, "\n")...), w, h)
	}
	avail := h - len(lines)
	off := m.bodyOffset(pc, avail)
	end := min(pc.n, off+max(0, avail))
	for i := off; i < end; i++ {
		lines = append(lines, pc.line(i))
	}
	if end < pc.n && avail > 0 {
		lines[len(lines)-1] = m.styles.Muted.Render(fmt.Sprintf("  ... %d more lines (pgdn)", pc.n-end+1))
	}
	return block(lines, w, h)
}

// pinTail draws a gate's text and, below it, its input (the tail); when
// both do not fit in h lines the text is cut, never the input: at 80x24
// the promotion gate's explanation used to push the reason being typed
// below the last row.
func pinTail(lines func() (text, tail []string), w, h int) []string {
	text, tail := lines()
	text, tail = wrapAll(text, w), wrapAll(tail, w)
	if room := h - len(tail); len(text) > room && room > 0 {
		cut := len(text) - room + 1
		text = append(text[:room-1:room-1], fmt.Sprintf("  ... %d more lines (a larger terminal shows them)", cut))
	}
	return block(append(text, tail...), w, h)
}

// bodyOffset clamps the scroll and keeps the focus line in view.
func (m Model) bodyOffset(pc paneContent, avail int) int {
	off := max(0, min(m.scroll, pc.n-avail))
	if pc.focus >= 0 && avail > 0 {
		if pc.focus < off {
			off = pc.focus
		} else if pc.focus >= off+avail-1 {
			off = min(pc.focus-avail+2, max(0, pc.n-avail))
		}
	}
	return max(0, off)
}

// maxScroll is the largest useful scroll offset of what is on screen.
func (m Model) maxScroll() int {
	m = m.drawn() // count the lines as drawn
	l := m.layout()
	if m.screen() == screenEnded {
		return max(0, len(m.summaryLines(l.width))-l.bodyH)
	}
	st := m.shownStep()
	if st == nil {
		return 0
	}
	pc := m.pane(st, l.paneW)
	return max(0, pc.n-(l.bodyH-len(m.paneHead(st))-len(pc.fixed)))
}

// paneHead is the pane's title, and a line about the step that just
// finished (the engine moves on at once after a passing check) or that the
// pane shows another step than the current one.
func (m Model) paneHead(st *steps.StepState) []string {
	head := []string{m.paneTitle(st)}
	if m.browsing() {
		return append(head, m.styles.Warn.Render("viewing another step · esc back to the current step"))
	}
	if prev := m.state.Current - 1; prev >= 0 && st.Status == steps.StatusActive {
		if p := &m.state.Steps[prev]; p.Status.Done() && p.Rollback == st.Rollback {
			head = append(head, m.styles.Muted.Render("previous: ")+m.stepSummary(p)+
				m.styles.Muted.Render(" (shift+tab shows it)"))
		}
	}
	return head
}

func (m Model) paneTitle(st *steps.StepState) string {
	s := m.styles
	status := strings.ReplaceAll(string(st.Status), "_", " ")
	style := s.Muted
	switch {
	case st.ExpectedInDryRun():
		status = "failed as a dry run expects"
	case st.Rehearsed():
		status = "rehearsed, rolled back"
	case st.Status == steps.StatusFailed || st.Status == steps.StatusUnknown || st.Status == steps.StatusCancelled:
		status, style = strings.ToUpper(status), s.Bad
	}
	return s.Bold.Render("["+string(st.Kind)+"] "+st.Title) + s.Muted.Render(" · ") + style.Render(status)
}

// kindPane is what the screen draws and offers for one step kind: its
// pane and its command keys. Each kind registers one from its own file,
// ui/pane_<name>.go (the kind's half in steps is steps/kind_<name>.go);
// TestEveryKindHasAPane walks steps.Kinds, so a kind without one fails
// the tests rather than falling back to a plain pane. A pane may also
// be a copier, a cursorPane or an outputPane.
type kindPane interface {
	// pane is the step's pane under its title, w wide.
	pane(m Model, st *steps.StepState, w int) paneContent
	// intents are the pane's own command keys. The keys every step has
	// (enter next, r retry, s skip step, a/n mark) follow, but for one
	// whose key the pane takes for itself (a confirm's enter).
	intents(m Model, st *steps.StepState) []intent
	// nextLabel says what enter does on the pane.
	nextLabel(m Model, st *steps.StepState) string
}

// copier is a pane with text c copies (a message).
type copier interface {
	copyText(st *steps.StepState) string
}

// cursorPane is a pane with a cursor the view keys move (a checklist).
type cursorPane interface {
	moveCursor(m Model, msg tea.KeyPressMsg, st *steps.StepState) (Model, bool)
}

// outputPane shows a growing output in the model's viewport (exec): it
// follows the tail, and the scroll keys scroll the viewport.
type outputPane interface {
	output(st *steps.StepState) string
}

var panes = map[steps.Kind]kindPane{}

// registerPane registers the pane of kind k; each ui/pane_<name>.go calls
// it from its init.
func registerPane(k steps.Kind, p kindPane) {
	if _, dup := panes[k]; dup {
		panic(fmt.Sprintf("ui: pane of kind %q registered twice", k))
	}
	panes[k] = p
}

// paneOf returns the pane of kind k: nil for a kind this handrail does
// not know (a journal of a newer one).
func paneOf(k steps.Kind) kindPane { return panes[k] }

// pane draws the step's pane with its kind's; a kind this handrail does
// not know shows its notes.
func (m Model) pane(st *steps.StepState, w int) paneContent {
	if p := paneOf(st.Kind); p != nil {
		return p.pane(m, st, w)
	}
	return textPane(wrapAll([]string{st.Notes}, w), nil)
}

// notesLines are the step's free-text notes, wrapped, with a blank after.
func notesLines(st *steps.StepState, w int) []string {
	if st.Notes == "" {
		return nil
	}
	return append(wrapAll(reflow(st.Notes), w), "")
}

// reflow joins the hard-wrapped lines of each paragraph, so text wrapped
// by hand in runbook.toml rewraps to the pane. Blank lines, list items and
// a line indented less than the one before (the text after a list) keep
// their breaks. The first line keeps its indent, so an indented list
// stays aligned from its first item on.
func reflow(s string) []string {
	var out []string
	s = strings.TrimRight(s, " \t\n")
	for strings.HasPrefix(strings.TrimLeft(s, " \t"), "\n") {
		s = strings.TrimLeft(s, " \t")[1:] // a leading blank line
	}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, " \t")
		if n := len(out); n > 0 && joinable(out[n-1], line) {
			out[n-1] += " " + strings.TrimSpace(line)
			continue
		}
		out = append(out, line)
	}
	return out
}

func joinable(prev, next string) bool {
	if strings.TrimSpace(prev) == "" || strings.TrimSpace(next) == "" {
		return false
	}
	if leadingSpaces(next) < leadingSpaces(prev) {
		return false
	}
	first := strings.Fields(next)[0]
	switch {
	case first == "-" || first == "*" || first == "•":
		return false
	case strings.HasSuffix(first, ".") || strings.HasSuffix(first, ")"):
		_, err := strconv.Atoi(strings.TrimRight(first, ".)"))
		return err != nil
	}
	return true
}

func leadingSpaces(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }

// spinnerFrame is derived from elapsed time rather than kept as state, so
// a frame is the same whether drawn live, replayed or under test.
func spinnerFrame(d time.Duration) string {
	f := spinner.Line.Frames
	return f[int(d/(250*time.Millisecond))%len(f)]
}

// sqlLines shows a statement wrapped to w, at most maxLines lines, "..."
// when cut.
func (m Model) sqlLines(sql string, w, maxLines int) []string {
	src := strings.Split(strings.TrimSpace(sql), "\n")
	var out []string
	for _, l := range wrapAll(src, max(1, w-2)) {
		if len(out) == maxLines {
			out[len(out)-1] += m.styles.Muted.Render(" ...")
			break
		}
		out = append(out, m.styles.SQL.Render("  "+l))
	}
	return out
}

// stepErrorLines is the step's error; once the operator settled an
// unknown outcome, its hint (which asks for that verdict) gives way to
// the verdict and how they know.
func (m Model) stepErrorLines(st *steps.StepState, w int) []string {
	if !st.Marked || st.Error == nil {
		return m.errorLines(st.Error, w)
	}
	e := *st.Error
	e.Hint = ""
	verdict := "NOT applied"
	if st.Status == steps.StatusSucceeded {
		verdict = "applied"
	}
	settled := m.styles.Warn.Render("settled by the operator: ") + verdict + ": " + st.Note
	return append(m.errorLines(&e, w), wrapAll([]string{settled}, w)...)
}

// errorLines say what went wrong, where, and what the operator can do.
func (m Model) errorLines(e *steps.ErrorInfo, w int) []string {
	if e == nil {
		return nil
	}
	s := m.styles
	lines := []string{s.Bad.Render("ERROR: ") + e.Message}
	add := func(label, v string) {
		if v != "" {
			lines = append(lines, s.Muted.Render(label)+v)
		}
	}
	add("sqlstate ", e.SQLState)
	add("at ", e.Where)
	add("detail: ", e.Detail)
	add("hint: ", e.Hint)
	for _, b := range e.Blockers {
		q := strings.Join(strings.Fields(b.Query), " ")
		lines = append(lines, s.Warn.Render("blocked by: ")+fmt.Sprintf("server pid %d (%s, %s, %s), %s",
			b.PID, orDash(b.ApplicationName), orDash(b.State), ansi.Truncate(q, 60, "…"), shortDur(b.Waited)))
	}
	if e.RolledBack {
		lines = append(lines, s.Good.Render("rolled back: ")+"the database is as it was before this step")
	}
	if e.Retryable {
		lines = append(lines, s.Warn.Render(m.hint(hintRetry)))
	}
	return wrapAll(lines, w)
}

func listLines(title string, items []string) []string {
	if len(items) == 0 {
		return nil
	}
	lines := []string{"", title}
	for _, it := range items {
		lines = append(lines, "  - "+it)
	}
	return lines
}

// copyable is the text c copies: the shown pane's (a message's body).
func (m Model) copyable() string {
	if st := m.shownStep(); st != nil {
		if c, ok := paneOf(st.Kind).(copier); ok {
			return c.copyText(st)
		}
	}
	return ""
}

// copyMessage copies through the terminal (OSC 52), so it works over SSH.
func (m Model) copyMessage() (tea.Model, tea.Cmd) {
	m, expire := m.showFlash("copied to the clipboard", false)
	return m, tea.Batch(tea.SetClipboard(m.copyable()), expire)
}

// showFlash shows text before the footer's keys for a few seconds; warn
// marks a refusal rather than a confirmation.
func (m Model) showFlash(text string, warn bool) (Model, tea.Cmd) {
	m.flashID++
	m.flash, m.flashWarn, m.flashExpires = text, warn, 0
	id := m.flashID
	return m, tea.Tick(4*time.Second, func(time.Time) tea.Msg { return flashExpiredMsg{id} })
}

// --- end summary ---

func (m Model) summaryLines(w int) []string {
	s := m.styles
	out := m.Outcome()
	badge := s.BigFail.Render(strings.ToUpper(strings.ReplaceAll(string(out), "_", " ")))
	if out == steps.OutcomeSucceeded {
		badge = s.BigPass.Render("SUCCEEDED")
	}
	lines := []string{"", badge + fmt.Sprintf("  exit code %d · %s", out.ExitCode(), clockText(m.state.Now))}
	if r := m.state.EndReason; r != "" {
		lines = append(lines, s.Bold.Render("why: ")+r)
	}
	if err := m.Err(); err != nil && safe(err.Error()) != m.state.EndReason {
		lines = append(lines, s.Bad.Render("error: ")+safe(err.Error()))
	}
	lines = append(lines, m.rollbackSummary()...)
	lines = append(lines, m.journalLines()...)
	lines = append(lines, m.messageSummary()...)
	lines = append(lines, listLines(s.Bold.Render("Success criteria"), m.state.Session.SuccessCriteria)...)
	lines = append(lines, "", s.Bold.Render("Steps"))
	for i := range m.state.Steps {
		lines = append(lines, "  "+m.stepSummary(&m.state.Steps[i]))
	}
	return wrapAll(lines, w)
}

// messageSummary lists the messages the session rendered: they still
// have to be sent (tab to the step shows it, c copies it).
func (m Model) messageSummary() []string {
	var items []string
	for i := range m.state.Steps {
		if msg := m.state.Steps[i].Message; msg != nil {
			items = append(items, fmt.Sprintf("%s (%s) to %s", m.state.Steps[i].Title, msg.When, msg.To))
		}
	}
	return listLines(m.styles.Bold.Render("Messages")+m.styles.Muted.Render(" (tab to the step to read and copy)"), items)
}

func (m Model) rollbackSummary() []string {
	r, s := m.state.Rollback, m.styles
	switch {
	case !r.Started:
		return nil
	case !r.Finished:
		return []string{s.Warn.Render("rollback started, not finished: ") + r.Reason}
	case r.OK:
		return []string{s.Good.Render("rolled back: ") + r.Reason}
	}
	return []string{s.Bad.Render("ROLLBACK FAILED: ") + r.Reason}
}

func (m Model) stepSummary(st *steps.StepState) string {
	line := m.styles.StepMark(st) + " " + st.Title
	switch {
	case st.Status == steps.StatusActive:
		// The session ended on it (a rollback, a quit): ">" would say
		// it is being worked on.
		line = m.styles.Mark(steps.StatusPending) + " " + st.Title + m.styles.Muted.Render(" - not finished when the session ended")
	case st.Error != nil:
		line += m.styles.Muted.Render(" - ") + st.Error.Message
	case st.Check != nil && st.Passed != nil:
		line += m.styles.Muted.Render(" - " + st.Check.Summary)
	case st.EndedEarly:
		line += m.styles.Warn.Render(fmt.Sprintf(" - ENDED EARLY after %s of %s: ", clockText(st.WindowRan), clockText(st.Duration))) + st.Note
	case st.Note != "":
		line += m.styles.Muted.Render(" - " + st.Note)
	}
	if n := len(st.Alerts); n > 0 {
		line += m.styles.Warn.Render(fmt.Sprintf(" - %d alert(s), the last: ", n)) + st.Alerts[n-1]
	}
	return line
}

func (m Model) journalLines() []string {
	j, s := m.journal, m.styles
	if j.Path == "" && j.Head == "" {
		return nil
	}
	lines := []string{"", s.Muted.Render("journal: ") + safe(j.Path)}
	if j.Head != "" {
		lines = append(lines, s.Muted.Render("head:    ")+s.Bold.Render(safe(j.Head))+s.Muted.Render(" (paste into the change ticket)"))
	}
	return lines
}
