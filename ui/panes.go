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

// execFixedLines is how many lines the exec pane shows above its output.
const execFixedLines = 2

// paneLines renders the current step's pane: exactly h lines of width w.
func (m Model) paneLines(w, h int) []string {
	switch m.screen() {
	case screenConsent:
		return block(wrapAll(m.consentLines(), w), w, h)
	case screenPromotion:
		return block(wrapAll(m.promotionLines(), w), w, h)
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
	case st.Status == steps.StatusFailed || st.Status == steps.StatusUnknown || st.Status == steps.StatusCancelled:
		status, style = strings.ToUpper(status), s.Bad
	}
	return s.Bold.Render("["+string(st.Kind)+"] "+st.Title) + s.Muted.Render(" · ") + style.Render(status)
}

// pane dispatches on the step kind.
func (m Model) pane(st *steps.StepState, w int) paneContent {
	switch st.Kind {
	case steps.KindChecklist:
		return m.checklistPane(st, w)
	case steps.KindConfirm:
		return m.confirmPane(st, w)
	case steps.KindSQL:
		return m.sqlPane(st, w)
	case steps.KindCheck:
		return m.checkPane(st, w)
	case steps.KindManual:
		return m.manualPane(st, w)
	case steps.KindMonitor:
		return m.monitorPane(st, w)
	case steps.KindExec:
		return m.execPane(st, w)
	case steps.KindMessage:
		return m.messagePane(st, w)
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

// --- checklist ---

func (m Model) checklistPane(st *steps.StepState, w int) paneContent {
	fixed := notesLines(st, w)
	fixed = append(fixed, m.styles.Muted.Render("tick every item, or skip it with a reason"))
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
		box, suffix = s.Muted.Render("[-]"), s.Muted.Render(" skipped: "+it.Reason)
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
	switch {
	case it.Check != nil && !it.Ticked:
		lines = append(lines, "      "+s.Bad.Render("check: ")+it.Check.Summary)
	case it.Check != nil && it.Auto && it.Check.SQL == "":
		// Ticked by evidence, not a query (the staging journal): say which.
		for _, l := range wrapAll([]string{"proof: " + it.Check.Summary}, max(10, w-itemIndent)) {
			lines = append(lines, strings.Repeat(" ", itemIndent)+s.Muted.Render(l))
		}
	}
	return lines
}

// itemIndent is the width of "> [x] ", where an item's text starts.
const itemIndent = 6

// --- confirm ---

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
		lines = append(lines, "type "+s.Bold.Render(st.TypeText)+" exactly to confirm (enter opens the input)")
	default:
		lines = append(lines, "press enter to confirm")
	}
	if st.Rejected != nil {
		lines = append(lines, "", s.Bad.Render("REJECTED: ")+"you typed "+quote(*st.Rejected)+", expected "+quote(st.TypeText))
	}
	return textPane(wrapAll(lines, w), nil)
}

// --- sql ---

func (m Model) sqlPane(st *steps.StepState, w int) paneContent {
	if st.Statement == nil && len(st.WouldRun) > 0 {
		return m.wouldRunPane(st, w)
	}
	fixed := m.statementLines(st)
	fixed = append(fixed, m.sqlPreview(st, w)...)
	fixed = append(fixed, m.lockWaitLines(st, w)...)
	fixed = append(fixed, m.errorLines(st.Error, w)...)
	fixed = append(fixed, m.noticeLines(st.Notices, w)...)
	if len(st.Columns) == 0 {
		return textPane(fixed, nil)
	}
	t := newTable(st.Columns, st.Rows, w, m.styles)
	fixed = append(fixed, m.rowCountLine(st), t.header())
	return paneContent{fixed: fixed, n: len(st.Rows), line: t.row, focus: -1}
}

// statementLines: "statement k of n" with a spinner and the elapsed time
// while it runs, then where it comes from (file:line).
func (m Model) statementLines(st *steps.StepState) []string {
	stmt := st.Statement
	if stmt == nil {
		return []string{fmt.Sprintf("%d statement(s)", st.Statements)}
	}
	if st.Status == steps.StatusSucceeded {
		return []string{m.styles.Good.Render(fmt.Sprintf("done: %d of %d statement(s) succeeded", st.Done, stmt.Count)) +
			m.styles.Muted.Render(fmt.Sprintf(" · last %s:%d", stmt.File, stmt.Line))}
	}
	line := fmt.Sprintf("statement %d of %d", stmt.Index+1, stmt.Count)
	switch {
	case st.Status == steps.StatusRunning && st.Done <= stmt.Index:
		d := m.sessionNow() - m.stmtStart
		line += m.styles.Muted.Render(" · ") + m.styles.Warn.Render("running "+shortDur(d)+" "+spinnerFrame(d))
	case stmt.Tag != "":
		line += "  " + m.styles.Good.Render(stmt.Tag+" in "+shortDur(stmt.Elapsed))
	}
	if stmt.File == "" {
		return []string{line}
	}
	return []string{line, m.styles.Muted.Render(fmt.Sprintf("at %s:%d", stmt.File, stmt.Line))}
}

// spinnerFrame is derived from elapsed time rather than kept as state, so
// a frame is the same whether drawn live, replayed or under test.
func spinnerFrame(d time.Duration) string {
	f := spinner.Line.Frames
	return f[int(d/(250*time.Millisecond))%len(f)]
}

// sqlPreview is the start of the running statement, past its leading
// comment lines (a migration file often opens with a comment block).
func (m Model) sqlPreview(st *steps.StepState, w int) []string {
	if st.Statement == nil {
		return nil
	}
	lines := strings.Split(strings.TrimSpace(st.Statement.SQL), "\n")
	for len(lines) > 1 && (strings.HasPrefix(strings.TrimSpace(lines[0]), "--") || strings.TrimSpace(lines[0]) == "") {
		lines = lines[1:]
	}
	return m.sqlLines(strings.Join(lines, "\n"), w, 3)
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

// lockWaitLines: who blocks the running statement (SPEC 4.5).
func (m Model) lockWaitLines(st *steps.StepState, w int) []string {
	if len(st.Blockers) == 0 {
		return nil
	}
	since := m.sessionNow() - m.lockWaitAt
	var lines []string
	for _, b := range st.Blockers {
		q := strings.Join(strings.Fields(b.Query), " ")
		lines = append(lines, fmt.Sprintf("waiting for lock held by pid %d (%s, %s, %s) for %s",
			b.PID, orDash(b.ApplicationName), b.State, ansi.Truncate(q, 60, "…"), shortDur(b.Waited+since)))
	}
	box := m.styles.Box.Width(w).Render(strings.Join(wrapAll(lines, w-4), "\n"))
	return strings.Split(box, "\n")
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
		lines = append(lines, s.Warn.Render("press r to retry the step"))
	}
	return wrapAll(lines, w)
}

func (m Model) noticeLines(ns []steps.Notice, w int) []string {
	var lines []string
	for _, n := range ns[max(0, len(ns)-3):] {
		lines = append(lines, ansi.Truncate(m.styles.Warn.Render(n.Severity+": ")+n.Message, w, "…"))
	}
	return lines
}

func (m Model) rowCountLine(st *steps.StepState) string {
	kept := len(st.Rows)
	line := fmt.Sprintf("%d row(s) received", st.TotalRows)
	if int64(kept) < st.TotalRows {
		line += fmt.Sprintf(", first %d kept (keep_rows)", kept)
	}
	return m.styles.Muted.Render(line)
}

// wouldRunPane shows the statements before they run: in a dry run what
// would run (nothing is sent), in apply what enter will send.
func (m Model) wouldRunPane(st *steps.StepState, w int) paneContent {
	s := m.styles
	n := len(st.WouldRun)
	head := s.DryRun.Render("DRY RUN") + " " + s.Bold.Render(fmt.Sprintf("nothing is sent; would run %d statement(s):", n))
	if m.state.Session.Apply {
		head = s.Apply.Render("WRITES") + " " + s.Bold.Render(fmt.Sprintf("enter sends %d statement(s) to %s:", n, orDash(m.state.Session.TargetName)))
	}
	fixed := append([]string{head}, m.errorLines(st.Error, w)...)
	var body []string
	for _, stmt := range st.WouldRun {
		where := ""
		if stmt.File != "" {
			where = fmt.Sprintf(" %s:%d", stmt.File, stmt.Line)
		}
		body = append(body, s.Muted.Render(fmt.Sprintf("-- %d/%d%s", stmt.Index+1, stmt.Count, where)))
		body = append(body, m.sqlLines(stmt.SQL, w, 1<<20)...)
	}
	return textPane(fixed, body)
}

// --- check ---

func (m Model) checkPane(st *steps.StepState, w int) paneContent {
	s, c := m.styles, st.Check
	fixed := []string{m.verdictLine(st)}
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
		fixed = append(fixed, s.Warn.Render("report: read it, then press enter to go on"))
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

// verdictLine: PASS or FAIL, big, with the one-line summary.
func (m Model) verdictLine(st *steps.StepState) string {
	s := m.styles
	switch {
	case st.Passed == nil && st.Status == steps.StatusRunning:
		return s.Warn.Render("running...")
	case st.Passed == nil:
		return s.Muted.Render("not run yet: enter runs it")
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

// --- manual ---

func (m Model) manualPane(st *steps.StepState, w int) paneContent {
	s := m.styles
	lines := notesLines(st, w)
	switch {
	case st.Passed == nil:
		lines = append(lines, "do the test, then record it: "+s.Bold.Render("p")+" pass, "+s.Bold.Render("f")+" fail (with a note)")
	case *st.Passed:
		lines = append(lines, s.BigPass.Render("PASS")+" "+st.Note)
	default:
		lines = append(lines, s.BigFail.Render("FAIL")+" "+st.Note)
	}
	return textPane(nil, wrapAll(lines, w))
}

// --- monitor ---

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
		return s.Bold.Render("window of "+clockText(st.Duration)) + s.Muted.Render(" · enter opens it")
	}
	left := st.Monitor[0].Remaining - (m.sessionNow() - m.monitorAt)
	return s.Bold.Render(clockText(left)+" left") + s.Muted.Render(" of "+clockText(st.Duration)+" · e ends early")
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

// --- exec ---

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
	if len(st.WouldRun) > 0 && !m.state.Session.Apply {
		fixed[1] = s.DryRun.Render("DRY RUN") + " not run"
	}
	fixed = append(fixed, m.errorLines(st.Error, w)...)
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
	if st == nil || st.Kind != steps.KindExec {
		m.execView.SetContent("")
		return
	}
	follow := m.execView.AtBottom() || m.execView.TotalLineCount() == 0
	m.execView.SetContent(strings.TrimRight(st.Output, "\n"))
	if follow {
		m.execView.GotoBottom()
	}
}

// --- message ---

func (m Model) messagePane(st *steps.StepState, w int) paneContent {
	s := m.styles
	msg := st.Message
	if msg == nil {
		return textPane(notesLines(st, w), nil)
	}
	fixed := []string{s.Muted.Render("to: ") + msg.To, s.Muted.Render("when: ") + msg.When + s.Muted.Render(" · c copies it (OSC 52, works over SSH)"), ""}
	return textPane(fixed, wrapAll(strings.Split(msg.Body, "\n"), w))
}

// copyable is the text c copies: the current message's body.
func (m Model) copyable() string {
	if st := m.shownStep(); st != nil && st.Kind == steps.KindMessage && st.Message != nil {
		return st.Message.Body
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
	case st.Error != nil:
		line += m.styles.Muted.Render(" - ") + st.Error.Message
	case st.Check != nil && st.Passed != nil:
		line += m.styles.Muted.Render(" - " + st.Check.Summary)
	case st.EndedEarly:
		line += m.styles.Warn.Render(fmt.Sprintf(" - ENDED EARLY after %s of %s: ", clockText(st.WindowRan), clockText(st.Duration))) + st.Note
	case st.Note != "":
		line += m.styles.Muted.Render(" - " + st.Note)
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
