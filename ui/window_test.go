package ui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/steps"
)

// fullWouldRun is the would-run list drawn whole, as the pane drew it
// before it drew only the lines on screen.
func fullWouldRun(m Model, stmts []steps.StatementInfo, w int) []string {
	var body []string
	for _, stmt := range stmts {
		where := ""
		if stmt.File != "" {
			where = fmt.Sprintf(" %s:%d", stmt.File, stmt.Line)
		}
		body = append(body, m.styles.Muted.Render(fmt.Sprintf("-- %d/%d%s", stmt.Index+1, stmt.Count, where)))
		body = append(body, m.sqlLines(stmt.SQL, w, 1<<20)...)
	}
	return body
}

// The pane finds each line of the list through its index: every line, at
// every width, is the line the whole list has there, for statements that
// wrap, span lines, hold tabs, escapes and wide characters, or are empty.
func TestWouldRunWindowIsTheWholeList(t *testing.T) {
	stmts := migrationStatements(120)
	odd := []string{
		"", "   ", "select 1", "select\n\n1", "\tselect '\x1b[2J' -- " + strings.Repeat("wide ", 40),
		"-- " + strings.Repeat("a comment that wraps ", 12) + "\nselect 1",
		"insert into t values ('日本語 " + strings.Repeat("日本", 60) + "')",
		"  - " + strings.Repeat("list ", 50), strings.Repeat("x", 500),
	}
	for i, sql := range odd {
		stmts[10+i*7].SQL = sql
	}
	m := promptModelOf(t, stmts, 120, 40)
	d := m.drawn()
	st := d.state.CurrentStep()
	if got := st.WouldRun[10+7].SQL; got != "   " {
		t.Fatalf("the odd statements are not in the fold: %q", got)
	}
	for _, w := range []int{3, 12, 40, 79, 120, 200} {
		want := fullWouldRun(d, st.WouldRun, w)
		pc := d.wouldRunPane(st, w)
		if pc.n != len(want) {
			t.Fatalf("width %d: %d lines, want %d", w, pc.n, len(want))
		}
		for i := range want {
			if got := pc.line(i); got != want[i] {
				t.Fatalf("width %d, line %d: %q, want %q", w, i, got, want[i])
			}
		}
		for _, i := range []int{len(want) - 1, 0, len(want) / 2, 1} { // out of order too
			if got := pc.line(i); got != want[i] {
				t.Fatalf("width %d, line %d out of order: %q, want %q", w, i, got, want[i])
			}
		}
	}
}
