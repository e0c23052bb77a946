package steps

import (
	"reflect"
	"strconv"
	"strings"
)

// where says where the keys of a runbook were written, so that validation
// (which works on the Runbook value alone) can position its problems. A
// runbook read by Load answers from its TOML source: file:line:col, the
// keys each table had, the values the decoder already reported as bad. A
// runbook built in code has no source: its problems name the key's path
// instead (phase[1].step[2].statements), a key counts as written when its
// value is not the zero value, and nothing was reported before.
type where interface {
	// at positions a problem about the key (or table) at indexed path p.
	at(p []string) Problem
	// inText positions a problem at line (1-based) and col of the string
	// value at p: a multi-line SQL text or message body.
	inText(p []string, line, col int) Problem
	// top positions a problem about a missing top-level table.
	top(key string) Problem
	// name says where p is, for hints: "line 12", or "phase[0].step[1]".
	name(p []string) string
	// line is p's line in the runbook file (0: none).
	line(p []string) int
	// textBase is the line of the runbook file on which the content of
	// the string at p starts (1 when there is no file).
	textBase(p []string) int
	// keys returns the keys written in the table at p; false when p is
	// not a table (a problem already reported by the decoder).
	keys(p []string) (map[string]bool, bool)
	// bad reports whether the value at p was already reported as
	// malformed, so validation does not pile "missing" on top of it.
	bad(p []string) bool
}

// fileWhere answers from a decoded runbook.toml.
type fileWhere struct {
	loc     *tomlLocator
	file    string // display path of runbook.toml
	present map[string]map[string]bool
	failed  map[string]bool
}

func (w *fileWhere) at(p []string) Problem {
	pos := w.loc.near(p)
	return Problem{Path: w.file, Line: pos.Line, Col: pos.Col}
}

func (w *fileWhere) inText(p []string, line, col int) Problem {
	return Problem{Path: w.file, Line: w.textBase(p) + line - 1, Col: col}
}

func (w *fileWhere) top(string) Problem { return Problem{Path: w.file, Line: 1} }

func (w *fileWhere) name(p []string) string { return "line " + strconv.Itoa(w.line(p)) }

func (w *fileWhere) line(p []string) int { return w.loc.near(p).Line }

func (w *fileWhere) textBase(p []string) int {
	if pos, ok := w.loc.find(p); ok {
		return w.loc.contentLine(pos)
	}
	return w.loc.near(p).Line
}

func (w *fileWhere) keys(p []string) (map[string]bool, bool) {
	k, ok := w.present[pathKey(p)]
	return k, ok && k != nil
}

func (w *fileWhere) bad(p []string) bool { return w.failed[pathKey(p)] }

// codeWhere answers for a runbook built in code, from its values.
type codeWhere struct{ r *Runbook }

func (w codeWhere) at(p []string) Problem { return Problem{Path: pathName(p)} }

func (w codeWhere) inText(p []string, line, col int) Problem {
	return Problem{Path: pathName(p), Line: line, Col: col}
}

func (w codeWhere) top(key string) Problem { return Problem{Path: key} }

func (w codeWhere) name(p []string) string { return pathName(p) }

func (w codeWhere) line([]string) int { return 0 }

func (w codeWhere) textBase([]string) int { return 1 }

func (w codeWhere) keys(p []string) (map[string]bool, bool) {
	v, ok := valueAt(reflect.ValueOf(w.r).Elem(), p)
	if !ok || v.Kind() != reflect.Struct {
		return nil, false
	}
	fields, names := tomlFields(v.Type())
	out := map[string]bool{}
	for _, n := range names {
		if !v.Field(fields[n].index).IsZero() {
			out[n] = true
		}
	}
	return out, true
}

func (w codeWhere) bad([]string) bool { return false }

// valueAt follows an indexed path (toml keys and array indices) from v.
func valueAt(v reflect.Value, p []string) (reflect.Value, bool) {
	for _, seg := range p {
		switch {
		case isIdxSeg(seg):
			i, err := strconv.Atoi(strings.TrimPrefix(seg, idxMark))
			if err != nil || v.Kind() != reflect.Slice || i < 0 || i >= v.Len() {
				return reflect.Value{}, false
			}
			v = v.Index(i)
		case v.Kind() == reflect.Struct:
			fields, _ := tomlFields(v.Type())
			f, ok := fields[seg]
			if !ok {
				return reflect.Value{}, false
			}
			v = v.Field(f.index)
		default:
			return reflect.Value{}, false
		}
	}
	return v, true
}

// pathName renders an indexed path the way Go code reaches the value:
// phase[1].step[2].statements (indices from 0); "(runbook)" for the
// runbook itself.
func pathName(p []string) string {
	if len(p) == 0 {
		return "(runbook)"
	}
	var b strings.Builder
	for _, seg := range p {
		if isIdxSeg(seg) {
			b.WriteString("[" + strings.TrimPrefix(seg, idxMark) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return b.String()
}
