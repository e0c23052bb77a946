package ui

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/steps/lockcheck"
)

// sqlKind: what would run, then each statement with its rows, notices
// and lock waits.
type sqlKind struct{}

func init() { registerPane(steps.KindSQL, sqlKind{}) }

func (sqlKind) pane(m Model, st *steps.StepState, w int) paneContent { return m.sqlPane(st, w) }

// intents: a high-severity lock finding is acknowledged by typing its
// rule id; an INVALID index a failed CONCURRENTLY statement left can be
// dropped before the retry.
func (sqlKind) intents(m Model, st *steps.StepState) []intent {
	k := m.keys
	q := "type the rule id of the lock finding you acknowledge"
	if p := st.PendingAcks(); len(p) > 0 {
		q += " (" + strings.Join(p, ", ") + ")"
	}
	return []intent{
		{key: k.Ack, cmd: steps.CmdAcknowledge, input: inputAck, question: q},
		{key: k.DropIdx, cmd: steps.CmdDropInvalid},
	}
}

func (sqlKind) nextLabel(m Model, st *steps.StepState) string {
	if m.state.Session.Rehearse && transactional(st) {
		return "rehearse"
	}
	return runLabel(m)
}

// runLabel: enter runs a writing step in an applying session.
func runLabel(m Model) string {
	if m.state.Session.Apply {
		return "run"
	}
	return "next"
}

func (m Model) sqlPane(st *steps.StepState, w int) paneContent {
	if st.Statement == nil && st.WouldRun.Len() > 0 {
		return m.wouldRunPane(st, w)
	}
	fixed := m.statementLines(st)
	fixed = append(fixed, m.sqlPreview(st, w)...)
	fixed = append(fixed, m.lockWaitLines(st, w)...)
	fixed = append(fixed, m.stepErrorLines(st, w)...)
	fixed = append(fixed, m.invalidIndexLines(st, w)...)
	fixed = append(fixed, m.rehearsalLines(st, w)...)
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
	n := st.WouldRun.Len()
	head := s.DryRun.Render("DRY RUN") + " " + s.Bold.Render(fmt.Sprintf("nothing is sent; would run %d statement(s):", n))
	switch {
	case m.state.Session.Rehearse && transactional(st):
		head = s.DryRun.Render("REHEARSAL") + " " + s.Bold.Render(fmt.Sprintf("%s %d statement(s) on %s in a transaction that is rolled back; it takes these locks:", m.hint(hintRehearse), n, orDash(m.state.Session.TargetName)))
	case m.state.Session.Rehearse:
		head = s.DryRun.Render("REHEARSAL") + " " + s.Bold.Render(fmt.Sprintf("transaction = false: not rehearsed, nothing is sent; would run %d statement(s):", n))
	case m.state.Session.Apply:
		head = s.Apply.Render("WRITES") + " " + s.Bold.Render(fmt.Sprintf("%s %d statement(s) to %s:", m.hint(hintSend), n, orDash(m.state.Session.TargetName)))
	}
	// Wrapped: the rehearsal's head ends with what makes it safe (rolled
	// back), which a cut line would hide.
	fixed := append(wrapAll([]string{head}, w), m.stepErrorLines(st, w)...)
	// The locks come first, then the statements: only the lines on screen
	// are drawn (window.go).
	locks := m.lockLines(st, w)
	ix := m.cache.stmtIndexOf(st.WouldRun, w)
	draw := func(stmt *steps.StatementInfo) []string {
		where := ""
		if stmt.File != "" {
			where = fmt.Sprintf(" %s:%d", stmt.File, stmt.Line)
		}
		lines := []string{s.Muted.Render(fmt.Sprintf("-- %d/%d%s", stmt.Index+1, stmt.Count, where))}
		return append(lines, m.sqlLines(stmt.SQL, w, 1<<20)...)
	}
	line := func(i int) string {
		if i < len(locks) {
			return locks[i]
		}
		k, j := ix.at(i - len(locks))
		return ix.block(k, s, draw)[j]
	}
	return paneContent{fixed: fixed, n: len(locks) + ix.lines(), line: line, focus: -1}
}

// lockLines: before the step runs, the locks it will take (relation,
// mode, rewrite or scan, live size), its findings with their live weight,
// and what waits for an acknowledgement.
func (m Model) lockLines(st *steps.StepState, w int) []string {
	r := st.Locks
	if r == nil {
		return nil
	}
	s := m.styles
	lines := wrapAll([]string{s.Bold.Render("LOCKS") + s.Muted.Render(" ("+r.TxText()+", weighed on the target before the step)")}, w)
	all := r.Lines()
	for _, l := range all {
		style := lipgloss.NewStyle()
		switch {
		case l.Finding && l.Accepted:
			style = s.Muted
		case l.Finding && l.Level == lockcheck.High:
			style = s.Bad
		case l.Finding && l.Level == lockcheck.Medium:
			style = s.Warn
		}
		// Wrapped before it is styled, so a continuation keeps the
		// line's indent (wrapAll reads the indent of plain text).
		for _, part := range wrapAll([]string{strings.Repeat("  ", l.Depth+1) + l.Text}, w) {
			lines = append(lines, style.Render(part))
		}
	}
	if len(all) == 0 {
		lines = append(lines, s.Muted.Render("  no lock on an existing relation, no finding"))
	}
	if p := st.PendingAcks(); len(p) > 0 && m.state.TakesLocks() {
		lines = append(lines, wrapAll([]string{s.Danger.Render("ACKNOWLEDGE before it runs: ") + strings.Join(p, ", ") + s.Muted.Render(" "+m.hint(hintAck))}, w)...)
	}
	if len(st.Acked) > 0 {
		lines = append(lines, wrapAll([]string{s.Muted.Render("acknowledged by the operator: ") + strings.Join(st.Acked, ", ")}, w)...)
	}
	return append(lines, "")
}

// invalidIndexLines: after a failed CONCURRENTLY statement, the INVALID
// indexes it left and the offer to drop them before the retry.
func (m Model) invalidIndexLines(st *steps.StepState, w int) []string {
	if len(st.Invalid) == 0 {
		return nil
	}
	s := m.styles
	var lines []string
	for _, ix := range st.Invalid {
		lines = append(lines, s.Warn.Render("INVALID index left behind: ")+ix.Index.String()+" on "+ix.Table.String(),
			s.Muted.Render("  drop it before retrying: ")+ix.DropSQL())
	}
	return wrapAll(lines, w)
}

// transactional: the step runs in one transaction (as its weighed
// analysis says; a step not weighed is taken to be, the default).
func transactional(st *steps.StepState) bool {
	return st.Locks == nil || st.Locks.Analysis == nil || st.Locks.Analysis.Transactional
}

// rehearsalLines: what a rehearsal measured (run --rehearse): each lock
// taken, from which statement, for how long, and the wrong predictions.
func (m Model) rehearsalLines(st *steps.StepState, w int) []string {
	r := st.Rehearsal
	if r == nil {
		return nil
	}
	s := m.styles
	if r.Skipped != "" {
		return wrapAll([]string{s.Muted.Render("not rehearsed: ") + r.Skipped}, w)
	}
	lines := []string{s.Bold.Render(fmt.Sprintf("REHEARSED (rolled back after %s): %d lock(s), %d wrong prediction(s)", shortDur(r.Elapsed), len(r.Locks), len(r.Wrong)))}
	for _, l := range r.Locks {
		line := fmt.Sprintf("  %s %s from statement %d, held %s", l.Mode, l.Rel, l.Statement+1, shortDur(l.Held))
		if l.Wrong {
			line = s.Bad.Render(line + " (predicted " + orDash(l.Predicted) + ")")
		}
		lines = append(lines, line)
	}
	for _, x := range r.Wrong {
		lines = append(lines, s.Bad.Render("  wrong: ")+x)
	}
	return wrapAll(lines, w)
}
