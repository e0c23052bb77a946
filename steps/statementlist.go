package steps

import (
	"bytes"
	"encoding/json"
	"iter"
	"math"
	"slices"
	"strings"
	"unsafe"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// StatementList is a step's statements as one read-only list: what
// step_would_run and the intent list, shared as it is by the runbook, the
// engine, the state's fold, the journal and the screen (issue 15: a step
// of 1.16M statements held them as the runbook's split, 56 bytes each,
// and again as the event's []StatementInfo, 88 bytes each). A file's
// statements are views into the file's text: per statement its offset,
// length and line (12 bytes), the file's name once; Index and Count come
// from the position and the length. Other lists (inline SQL, a check's
// query, an exec's command, a journal read back) hold their
// StatementInfos. Nothing changes a list once made; the nil list is empty.
// In JSON it is the array of its StatementInfos, as before.
type StatementList struct {
	src   string // the file's text (spans)
	file  string
	spans []stmtSpan
	infos []StatementInfo // when not spans
}

// stmtSpan is one statement of a file: src[off:off+n], at line.
type stmtSpan struct{ off, n, line uint32 }

// ListBytes is what a file's list of n statements holds besides the
// file's text (for sizing a session's memory).
func ListBytes(n int) int64 { return int64(n) * int64(unsafe.Sizeof(stmtSpan{})) }

// ListOf returns a list of ss, which it keeps (the caller no longer
// changes ss); nil when ss is empty.
func ListOf(ss []StatementInfo) *StatementList {
	if len(ss) == 0 {
		return nil
	}
	return &StatementList{infos: ss}
}

// splitFile splits a file's text src (sqlscan.Each), calls check with
// each statement as it is found, and returns how many there are, the
// split's issue, and, when keep is set, the statements as a list of
// views into src (nil when there are none, or when src is too long for
// a span's 32-bit offsets). Nothing holds the statements but the list:
// a 53 MB migration's 1.16M statements are 14 MB of spans, never a
// []Statement (56 MB; issue 15).
func splitFile(src, file string, keep bool, check func(Statement)) (int, *StatementList, *sqlscan.Issue) {
	keep = keep && len(src) < math.MaxUint32
	var spans []stmtSpan
	if keep {
		spans = make([]stmtSpan, 0, statementsAtMost(src))
	}
	n := 0
	issue := sqlscan.Each(src, func(s Statement) bool {
		n++
		if keep {
			spans = append(spans, stmtSpan{off: uint32(s.Offset), n: uint32(len(s.SQL)), line: uint32(s.Line)})
		}
		check(s)
		return true
	})
	if n == 0 || !keep {
		return n, nil, issue
	}
	if cap(spans)-n > n/4 {
		spans = slices.Clone(spans) // far fewer than its ';' said: a string full of them
	}
	return n, &StatementList{src: src, file: file, spans: spans}, issue
}

// statementsAtMost is about how many statements src splits into, to
// size its list once: a statement ends at a ';', a psql meta-command or
// the end (at most one more per meta-command for the statement it ends),
// bounded for a file whose ';' are mostly inside strings or bodies.
func statementsAtMost(src string) int {
	n := strings.Count(src, ";") + 2*strings.Count(src, `\`) + 1
	return min(n, len(src)/16+1)
}

// Len is the number of statements.
func (l *StatementList) Len() int {
	if l == nil {
		return 0
	}
	if l.spans != nil {
		return len(l.spans)
	}
	return len(l.infos)
}

// At returns statement k (0 <= k < Len()).
func (l *StatementList) At(k int) StatementInfo {
	if l.spans == nil {
		return l.infos[k]
	}
	s := l.spans[k]
	return StatementInfo{Index: k, Count: len(l.spans), SQL: l.src[s.off : s.off+s.n], File: l.file, Line: int(s.line)}
}

// All yields each statement with its position.
func (l *StatementList) All() iter.Seq2[int, StatementInfo] {
	return func(yield func(int, StatementInfo) bool) {
		for k := range l.Len() {
			if !yield(k, l.At(k)) {
				return
			}
		}
	}
}

// Infos returns the statements as a new slice.
func (l *StatementList) Infos() []StatementInfo {
	out := make([]StatementInfo, l.Len())
	for k := range out {
		out[k] = l.At(k)
	}
	return out
}

// Equal reports whether l and m list the same statements.
func (l *StatementList) Equal(m *StatementList) bool {
	if l == m {
		return true
	}
	if l.Len() != m.Len() {
		return false
	}
	if l != nil && m != nil && l.spans != nil && m.spans != nil && l.src == m.src && l.file == m.file {
		for k := range l.spans {
			if l.spans[k] != m.spans[k] {
				return false
			}
		}
		return true
	}
	for k := range l.Len() {
		if l.At(k) != m.At(k) {
			return false
		}
	}
	return true
}

// MarshalJSON writes the list as the array of its StatementInfos, byte
// for byte as encoding/json writes a []StatementInfo.
func (l *StatementList) MarshalJSON() ([]byte, error) {
	if l == nil {
		return []byte("null"), nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the outer encoder escapes as it was told
	var err error
	if l.spans == nil {
		err = enc.Encode(l.infos)
	} else {
		err = enc.Encode(l.Infos())
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), err
}

// UnmarshalJSON reads the array MarshalJSON writes.
func (l *StatementList) UnmarshalJSON(b []byte) error {
	var ss []StatementInfo
	if err := json.Unmarshal(b, &ss); err != nil {
		return err
	}
	*l = StatementList{infos: ss}
	return nil
}

// statements returns a file's list (splitFile's) as its split statements.
func (l *StatementList) statements() []Statement {
	out := make([]Statement, len(l.spans))
	for k, s := range l.spans {
		out[k] = Statement{SQL: l.src[s.off : s.off+s.n], Line: int(s.line), Offset: int(s.off), File: l.file}
	}
	return out
}

// SQL returns statement k's SQL (At(k).SQL without the rest).
func (l *StatementList) SQL(k int) string {
	if l.spans == nil {
		return l.infos[k].SQL
	}
	s := l.spans[k]
	return l.src[s.off : s.off+s.n]
}

// Line returns statement k's line (At(k).Line).
func (l *StatementList) Line(k int) int {
	if l.spans == nil {
		return l.infos[k].Line
	}
	return int(l.spans[k].line)
}

// MapStrings returns the list with f applied to each statement's SQL,
// File and Tag, as a new list when any changed (else l itself, changed
// false): the journal's redaction (internal/redact.Mapper).
func (l *StatementList) MapStrings(f func(string) string) (any, bool) {
	var out []StatementInfo
	for k := range l.Len() {
		s := l.At(k)
		sql, file, tag := f(s.SQL), f(s.File), f(s.Tag)
		if out == nil && sql == s.SQL && file == s.File && tag == s.Tag {
			continue
		}
		if out == nil {
			out = l.Infos()
		}
		out[k].SQL, out[k].File, out[k].Tag = sql, file, tag
	}
	if out == nil {
		return l, false
	}
	return ListOf(out), true
}

// statementSeq yields a file's list (splitFile's) as its split
// statements, one at a time.
func (l *StatementList) statementSeq() iter.Seq2[int, Statement] {
	return func(yield func(int, Statement) bool) {
		for k, s := range l.spans {
			if !yield(k, Statement{SQL: l.src[s.off : s.off+s.n], Line: int(s.line), Offset: int(s.off), File: l.file}) {
				return
			}
		}
	}
}
