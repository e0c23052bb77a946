package ui

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/steps"
)

// fullWouldRun is the would-run pane's body drawn whole, as the pane drew
// it before it drew only the lines on screen: the locks, then every
// statement, each escaped (the shown state's list is the fold's).
func fullWouldRun(m Model, st *steps.StepState, w int) []string {
	body := m.lockLines(st, w)
	for _, raw := range st.WouldRun.All() {
		stmt := escapedStatement(raw)
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
	if got := st.WouldRun.At(10 + 7).SQL; got != "   " {
		t.Fatalf("the odd statements are not in the fold: %q", got)
	}
	// Other styles (a light background): the statements drawn already are
	// drawn again, not taken from the frames before.
	light := d
	ls := NewStyles(false, false)
	light.styles = &ls
	if reflect.DeepEqual(fullWouldRun(light, st, 120), fullWouldRun(d, st, 120)) {
		t.Fatal("the light styles draw the list as the dark ones do: the test needs other styles")
	}
	// The same step weighed: its locks come before the statements.
	weighed := *st
	weighed.Locks = weighedHigh().Locks
	for _, c := range []struct {
		m  Model
		st *steps.StepState
		w  int
	}{{d, st, 3}, {d, st, 12}, {d, st, 40}, {d, st, 79}, {d, st, 120}, {d, st, 200}, {light, st, 120}, {d, st, 120}, {d, &weighed, 80}} {
		st, w := c.st, c.w
		want := fullWouldRun(c.m, st, w)
		if st == &weighed && !strings.Contains(strings.Join(want, "\n"), "LOCKS") {
			t.Fatal("the weighed step draws no locks")
		}
		pc := c.m.wouldRunPane(st, w)
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

// The wrapped-line count of the index is the number of lines ansi.Wrap
// (through wrapAll) makes, for any line.
func FuzzASCIIWrapCount(f *testing.F) {
	for _, s := range []string{
		"", "a", "insert into bench.items (id, name, qty) values (1, 'item 1; ok', 1)",
		"  - a list item that goes on and on and on", "-- a comment -- with -- hyphens---", "x-y-z-",
		strings.Repeat("x", 70), "a " + strings.Repeat("b", 70) + " c", "   leading   and   inner   spaces   ",
		"12. numbered item wraps here", "wide 日本語 text", "tab\there", strings.Repeat("-", 90), "a-" + strings.Repeat("b-", 40),
	} {
		for _, w := range []int{1, 2, 5, 17, 40, 64} {
			f.Add(s, w)
		}
	}
	f.Fuzz(func(t *testing.T, s string, w int) {
		if w < 1 || w > 400 || strings.Contains(s, "\n") {
			return
		}
		if got, want := wrappedLines(s, w), len(wrapAll([]string{s}, w)); got != want {
			t.Fatalf("wrappedLines(%q, %d) = %d, wrapAll makes %d lines: %q", s, w, got, want, wrapAll([]string{s}, w))
		}
	})
}

// Lines of words, spaces and hyphens at every width up to 80: the count
// is wrapAll's.
func TestASCIIWrapCountMatchesWrap(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 2))
	const alphabet = "ab c-  d--xyz   -"
	for range 3000 {
		b := make([]byte, r.IntN(160))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		s := string(b)
		for w := 1; w <= 80; w++ {
			if got, want := wrappedLines(s, w), len(wrapAll([]string{s}, w)); got != want {
				t.Fatalf("wrappedLines(%q, %d) = %d, wrapAll makes %d", s, w, got, want)
			}
		}
	}
}

// Text is wrapped at spaces, never at a hyphen: a command, flag, path or
// project id shown to be copied or typed ("--env", "--staging-journal",
// "replace-with-project-id") must not come out as "-" / "-env".
func TestWrapKeepsHyphenatedWordsWhole(t *testing.T) {
	line := "run it there first (handrail demo connect-rls-hardening --env staging --apply), or give --staging-journal"
	for w := 22; w <= 60; w++ { // 22: the longest word fits
		got := wrapAll([]string{line}, w)
		for _, word := range []string{"connect-rls-hardening", "--env", "--apply),", "--staging-journal"} {
			if !slices.ContainsFunc(got, func(l string) bool { return strings.Contains(l, word) }) {
				t.Errorf("width %d: %q is cut: %q", w, word, got)
			}
		}
		if j := strings.Join(got, " "); j != line {
			t.Errorf("width %d: the text changed: %q", w, j)
		}
	}
	// A word longer than the line is still cut to fit.
	if got := wrapAll([]string{strings.Repeat("ab-", 20)}, 10); len(got) < 6 || width(got[0]) > 10 {
		t.Errorf("a long hyphenated word: %q", got)
	}
}
