package journal

import (
	"github.com/handrail-dev/handrail/steps"
)

// Format 2 stores each statement's SQL once per step (see the package
// documentation, "Statements by index"): a step's statements are listed
// in full the first time (step_would_run, or the intent when nothing
// listed them before), compactly (listing); the intent that follows refers
// to that listing, and statement_started and statement_finished carry the
// statement's index and count without its SQL, file and line. The reader
// puts them back, so what Read, Follow, replay and watch see is the
// events as the engine emitted them.

// listing is a step's statements in a format 2 line, instead of the
// event's "statements": all of them in the same file, index k at k and
// count len(SQL). With SQL absent it refers to the step's last listing,
// which must have Count statements.
type listing struct {
	Count int      `json:"count"`
	File  string   `json:"file,omitempty"`
	SQL   []string `json:"sql,omitempty"`
	// Line holds each statement's line minus the line of the one before
	// (the first: its line), when any statement has a line.
	Line []int `json:"line,omitempty"`

	// On the writer's side (newListing): the statements listed, and
	// whether any has a line, until fill sets SQL and Line from them.
	from  *steps.StatementList
	lines bool
}

// stmtTable is, per step, the statements of its last listing: what the
// writer may refer to and what the reader resolves references with. The
// writer and the reader update it on the same lines, so they agree.
type stmtTable map[string]*steps.StatementList

// compact returns e as a format 2 line writes it: its Statements as a
// listing (nil when e has none), and a Statement that repeats the step's
// listing without its SQL, file and line. It updates t.
func (t stmtTable) compact(e steps.Event) (steps.Event, *listing) {
	var lst *listing
	if e.Statements != nil {
		if sameStatements(t[e.Step], e.Statements) {
			lst = &listing{Count: e.Statements.Len()}
			e.Statements = nil
		} else {
			t[e.Step] = e.Statements
			if l, ok := newListing(e.Statements); ok {
				lst = l
				e.Statements = nil
			}
		}
	}
	if s := e.Statement; s != nil && s.SQL != "" {
		if l := t[e.Step]; s.Index >= 0 && s.Index < l.Len() && s.Count == l.Len() &&
			l.At(s.Index).SQL == s.SQL && l.At(s.Index).File == s.File && l.At(s.Index).Line == s.Line {
			cp := *s
			cp.SQL, cp.File, cp.Line = "", "", 0
			e.Statement = &cp
		}
	}
	return e, lst
}

// sameStatements: b lists the same statements as a (a listing, as
// newListing or a format 1 line records them).
func sameStatements(a, b *steps.StatementList) bool {
	return a != nil && a.Equal(b)
}

// newListing lists ss compactly when it is a plain listing (index k at k,
// count len(ss), one file, no result fields); ok false otherwise. The
// listing refers to ss (from) until fill copies its SQL and lines out:
// the writer writes the line from ss itself (chunkWriter.listing), so a step of
// a million statements is not copied into a second list of them to be
// encoded. ss is only read.
func newListing(ss *steps.StatementList) (*listing, bool) {
	l := &listing{Count: ss.Len(), from: ss}
	for k, s := range ss.All() {
		if s.Index != k || s.Count != ss.Len() || s.SQL == "" || s.Tag != "" || s.RowsAffected != 0 || s.Elapsed != 0 {
			return nil, false
		}
		if k == 0 {
			l.File = s.File
		} else if s.File != l.File {
			return nil, false
		}
		l.lines = l.lines || s.Line != 0
	}
	return l, true
}

// full: l lists statements (rather than referring to the step's last
// listing).
func (l *listing) full() bool { return l != nil && (l.SQL != nil || l.from != nil) }

// fill sets SQL and Line from the statements l was made from, for
// encoding/json (nil-safe; a no-op once filled or for a listing read).
func (l *listing) fill() {
	if l == nil || l.from == nil || l.SQL != nil {
		return
	}
	l.SQL = make([]string, l.from.Len())
	lines, prev := make([]int, l.from.Len()), 0
	for k, s := range l.from.All() {
		l.SQL[k] = s.SQL
		lines[k], prev = s.Line-prev, s.Line
	}
	if l.lines {
		l.Line = lines
	}
}

// expand puts back what compact left out of e (read from a format 2
// line), and updates t. A reference to statements never listed, or a
// listing whose lengths disagree, is left as it is (the statements
// without their SQL): handrail never writes one, and the chain and the
// head hash, which Verify checks, cover every line; Read and Verify
// agree on it.
func (t stmtTable) expand(e *steps.Event, lst *listing) {
	switch {
	case lst != nil && lst.SQL == nil && lst.Count > 0:
		if l := t[e.Step]; l.Len() == lst.Count {
			e.Statements = l
		} else {
			e.Statements = steps.ListOf(make([]steps.StatementInfo, lst.Count))
		}
	case lst != nil:
		ss, line := make([]steps.StatementInfo, lst.Count), 0
		for k := range ss {
			ss[k] = steps.StatementInfo{Index: k, Count: lst.Count, File: lst.File}
			if k < len(lst.SQL) {
				ss[k].SQL = lst.SQL[k]
			}
			if k < len(lst.Line) {
				line += lst.Line[k]
				ss[k].Line = line
			}
		}
		e.Statements = steps.ListOf(ss)
		t[e.Step] = e.Statements
	case e.Statements != nil:
		t[e.Step] = e.Statements
	}
	if s := e.Statement; s != nil && s.SQL == "" {
		if l := t[e.Step]; s.Index >= 0 && s.Index < l.Len() && s.Count == l.Len() {
			cp := *s
			at := l.At(s.Index)
			cp.SQL, cp.File, cp.Line = at.SQL, at.File, at.Line
			e.Statement = &cp
		}
	}
}
