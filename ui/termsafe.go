package ui

import (
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/internal/termsafe"
	"github.com/handrail-dev/handrail/steps"
)

// Nothing from data reaches the terminal raw. Beside the fold of the
// session's events (State: exact, what the commands and the equivalence
// with the engine rely on) the screen keeps that fold with every string
// escaped (termsafe: controls, invalid UTF-8, bidi overrides), each escape
// bracketed by markers; the views draw that one (Model.drawn), and render
// turns the markers into the escape style. Every string of the fold is
// escaped, those of fields added tomorrow too, so a view cannot forget one.
//
// The escaped state is not a second fold: events are folded once
// (steps.Apply, into m.state), and after each batch the escaped state is
// derived from it, for the parts the batch changed (issue 15). Apply
// changes the session's fields and, for an event about a step, that step
// only; so a batch re-escapes the session's small fields, the session
// info when an event carries one, and the steps its events name. The bulky
// parts are escaped once: a step's kept rows only past what was escaped
// before (the fold appends to them), a statement list once per list.

// textFields are the fields whose newlines are kept (their views split
// them into lines); every other string is one line, its newlines escaped.
var textFields = map[string]bool{
	"Notes": true, "Prompt": true, "SQL": true, "Body": true, "Output": true, "Query": true,
}

// shownChanges is what a batch of events changed in the fold, for
// deriveShown.
type shownChanges struct {
	session bool  // an event carried the session info
	steps   []int // steps named by an event
}

func (c *shownChanges) note(s *steps.State, e steps.Event) {
	if e.Session != nil {
		c.session = true
	}
	if e.Step == "" {
		return
	}
	if i := s.StepIndex(e.Step); i >= 0 && !slices.Contains(c.steps, i) {
		c.steps = append(c.steps, i)
	}
}

// deriveShown makes m.shown the escaped m.state again after a batch that
// made the changes ch.
func (m Model) deriveShown(ch shownChanges) Model {
	prev := m.shown
	exact := m.state
	stepsOf, session := exact.Steps, exact.Session
	exact.Steps, exact.Session = nil, steps.SessionInfo{}
	m.shown = escapeState(exact)
	m.shown.Session = prev.Session
	if ch.session {
		m.shown.Session = escapeState(steps.State{Session: session}).Session
	}
	m.shown.Steps = prev.Steps
	if len(m.shown.Steps) != len(stepsOf) || ch.session {
		m.shown.Steps = make([]steps.StepState, len(stepsOf))
		for i := range stepsOf {
			m.shown.Steps[i] = m.cache.escapeStep(&stepsOf[i], nil)
		}
		return m
	}
	for _, i := range ch.steps {
		m.shown.Steps[i] = m.cache.escapeStep(&stepsOf[i], &m.shown.Steps[i].PlannedStep)
	}
	return m
}

func escapeState(s steps.State) steps.State {
	if v, changed := escapeValue(reflect.ValueOf(s), false); changed {
		return v.Interface().(steps.State)
	}
	return s
}

// escapeStep is a step of the fold escaped, its rows and statement list
// through the cache. planned, when set, is its plan escaped already: the
// fold sets a step's plan when the session starts and never changes it.
func (c *renderCache) escapeStep(st *steps.StepState, planned *steps.PlannedStep) steps.StepState {
	cp := *st
	rows, wouldRun := cp.Rows, cp.WouldRun
	cp.Rows, cp.WouldRun = nil, nil
	if planned != nil {
		cp.PlannedStep = steps.PlannedStep{}
	}
	if v, changed := escapeValue(reflect.ValueOf(cp), false); changed {
		cp = v.Interface().(steps.StepState)
	}
	if planned != nil {
		cp.PlannedStep = *planned
	}
	cp.Rows = c.escapedRows(rows)
	// The statement list stays the fold's own (read-only, shared with the
	// event and the engine): a file of a million statements is not
	// copied because one of them has a tab. The would-run pane, its one
	// reader, escapes each statement it counts or draws (window.go:
	// escapedStatement).
	cp.WouldRun = wouldRun
	return cp
}

// rowsMemo: the escaped rows of the rows the fold keeps for a step, as far
// as they were escaped (src, the exact rows then). The fold only appends
// to its rows (in place, or into a larger array holding the same rows),
// so the rows past src are all a batch brings.
type rowsMemo struct {
	src [][]string
	out [][]string // src while none needed escaping
	own bool       // out is a copy
}

func (c *renderCache) escapedRows(rows [][]string) [][]string {
	if len(rows) == 0 {
		return rows
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &c.rows
	if !extends(rows, r.src) {
		*r = rowsMemo{}
	}
	n := len(r.src)
	tail := rows[n:]
	esc, changed := escapeRows(tail)
	switch {
	case !changed && !r.own:
		r.out = rows
	case !r.own:
		r.out = append(append(make([][]string, 0, len(rows)), rows[:n]...), esc...)
		r.own = true
	case changed:
		r.out = append(r.out[:n], esc...)
	default:
		r.out = append(r.out[:n], tail...)
	}
	r.src = rows
	return r.out[:len(rows):len(rows)]
}

// extends reports whether rows begins with the rows of src: the same
// array, or the same rows (a row's cells are never changed) copied into a
// larger one.
func extends(rows, src [][]string) bool {
	if len(src) == 0 || len(rows) < len(src) {
		return false
	}
	if &rows[0] == &src[0] {
		return true
	}
	for i, row := range src {
		if len(rows[i]) != len(row) || (len(row) > 0 && &rows[i][0] != &row[0]) {
			return false
		}
	}
	return true
}

var (
	timeType   = reflect.TypeFor[time.Time]()
	stringsT   = reflect.TypeFor[[]string]()
	rowsT      = reflect.TypeFor[[][]string]()
	stringType = reflect.TypeFor[string]()
	// statementListT holds strings in unexported fields (escapeList).
	statementListT = reflect.TypeFor[*steps.StatementList]()
)

// escapeValue returns v with every string in it escaped, copying only what
// changes (so clean data costs a scan, not a copy), and whether anything
// did; v itself is never modified.
func escapeValue(v reflect.Value, text bool) (reflect.Value, bool) {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		e := markText(s, text)
		if e == s {
			return v, false
		}
		if v.Type() == stringType {
			return reflect.ValueOf(e), true
		}
		out := reflect.New(v.Type()).Elem()
		out.SetString(e)
		return out, true
	case reflect.Struct:
		return escapeStruct(v)
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return v, false
		}
		if l, ok := v.Interface().(*steps.StatementList); ok && v.Kind() == reflect.Pointer {
			return escapeList(l)
		}
		e, changed := escapeValue(v.Elem(), text)
		if !changed {
			return v, false
		}
		if v.Kind() == reflect.Interface {
			out := reflect.New(v.Type()).Elem()
			out.Set(e)
			return out, true
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(e)
		return p, true
	case reflect.Slice, reflect.Array:
		return escapeSlice(v, text)
	case reflect.Map:
		return escapeMap(v, text)
	}
	return v, false
}

func escapeStruct(v reflect.Value) (reflect.Value, bool) {
	t := v.Type()
	var out reflect.Value
	for _, f := range stringFieldsOf(t) {
		e, changed := escapeValue(v.Field(f.index), f.text)
		if !changed {
			continue
		}
		if !out.IsValid() {
			out = reflect.New(t).Elem()
			out.Set(v)
		}
		out.Field(f.index).Set(e)
	}
	if !out.IsValid() {
		return v, false
	}
	return out, true
}

// stringField is an exported field of a struct that can hold a string.
type stringField struct {
	index int
	text  bool // textFields
}

// stringFields caches, per struct type, the fields escapeStruct walks:
// the derived state walks the same few types after every batch, and most
// of their fields (numbers, durations, flags) cannot hold a string.
var stringFields sync.Map // reflect.Type -> []stringField

func stringFieldsOf(t reflect.Type) []stringField {
	if fs, ok := stringFields.Load(t); ok {
		return fs.([]stringField)
	}
	var fs []stringField
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() && mayHoldString(f.Type, nil) {
			fs = append(fs, stringField{index: i, text: textFields[f.Name]})
		}
	}
	stringFields.Store(t, fs)
	return fs
}

// mayHoldString reports whether a value of type t can hold a string (an
// interface can hold anything; time.Time holds none worth escaping).
func mayHoldString(t reflect.Type, seen map[reflect.Type]bool) bool {
	if t == statementListT {
		return true // in unexported fields (escapeList)
	}
	switch t.Kind() {
	case reflect.String, reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return mayHoldString(t.Elem(), seen)
	case reflect.Map:
		return mayHoldString(t.Key(), seen) || mayHoldString(t.Elem(), seen)
	case reflect.Struct:
		if t == timeType || seen[t] {
			return false // a recursive type holds a string through a field seen already
		}
		if seen == nil {
			seen = map[reflect.Type]bool{}
		}
		seen[t] = true
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && mayHoldString(f.Type, seen) {
				return true
			}
		}
	}
	return false
}

func escapeSlice(v reflect.Value, text bool) (reflect.Value, bool) {
	// Result rows are most of the state: no reflection per cell.
	switch v.Type() {
	case stringsT:
		if e, changed := escapeStrings(v.Interface().([]string), text); changed {
			return reflect.ValueOf(e), true
		}
		return v, false
	case rowsT:
		if e, changed := escapeRows(v.Interface().([][]string)); changed {
			return reflect.ValueOf(e), true
		}
		return v, false
	}
	var out reflect.Value
	for i := range v.Len() {
		e, changed := escapeValue(v.Index(i), text)
		if !changed {
			continue
		}
		if !out.IsValid() {
			out = copyOf(v)
		}
		out.Index(i).Set(e)
	}
	if !out.IsValid() {
		return v, false
	}
	return out, true
}

func copyOf(v reflect.Value) reflect.Value {
	if v.Kind() == reflect.Array {
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		return out
	}
	out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
	reflect.Copy(out, v)
	return out
}

func escapeMap(v reflect.Value, text bool) (reflect.Value, bool) {
	var out reflect.Value
	iter := v.MapRange()
	for iter.Next() {
		k, kc := escapeValue(iter.Key(), false)
		e, ec := escapeValue(iter.Value(), text)
		if !kc && !ec {
			continue
		}
		if !out.IsValid() {
			out = reflect.MakeMapWithSize(v.Type(), v.Len())
			for it := v.MapRange(); it.Next(); {
				out.SetMapIndex(it.Key(), it.Value())
			}
		}
		out.SetMapIndex(iter.Key(), reflect.Value{})
		out.SetMapIndex(k, e)
	}
	if !out.IsValid() {
		return v, false
	}
	return out, true
}

func escapeStrings(ss []string, text bool) ([]string, bool) {
	var out []string
	for i, s := range ss {
		e := markText(s, text)
		if e == s {
			continue
		}
		if out == nil {
			out = append([]string(nil), ss...)
		}
		out[i] = e
	}
	return out, out != nil
}

func escapeRows(rows [][]string) ([][]string, bool) {
	var out [][]string
	for i, r := range rows {
		e, changed := escapeStrings(r, false)
		if !changed {
			continue
		}
		if out == nil {
			out = append([][]string(nil), rows...)
		}
		out[i] = e
	}
	return out, out != nil
}

func markText(s string, text bool) string {
	if text {
		return termsafe.MarkText(s)
	}
	return termsafe.MarkLine(s)
}

// safe escapes one line that does not come from the fold (an error the
// engine returned, the journal's path, a banner) for the views.
func safe(s string) string { return termsafe.MarkLine(s) }

// escapeList is a statement list escaped: the list itself when clean,
// else a new list of its statements escaped (a StatementList keeps its
// statements in unexported fields, which escapeStruct does not reach).
func escapeList(l *steps.StatementList) (reflect.Value, bool) {
	var out []steps.StatementInfo
	for k, s := range l.All() {
		e := escapedStatement(s)
		if out == nil && e == s {
			continue
		}
		if out == nil {
			out = l.Infos()
		}
		out[k] = e
	}
	if out == nil {
		return reflect.ValueOf(l), false
	}
	return reflect.ValueOf(steps.ListOf(out)), true
}
