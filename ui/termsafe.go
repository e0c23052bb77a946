package ui

import (
	"reflect"
	"time"

	"github.com/handrail-dev/handrail/internal/termsafe"
	"github.com/handrail-dev/handrail/steps"
)

// Nothing from data reaches the terminal raw. Beside the fold of the
// session's events (State: exact, what the commands and the equivalence
// with the engine rely on) the screen keeps a second fold, of the same
// events with every string escaped (termsafe: controls, invalid UTF-8,
// bidi overrides), each escape bracketed by markers; the views draw that
// one (Model.drawn), and render turns the markers into the escape style.
// Every string of an event is escaped, those of fields added tomorrow
// too, so a view cannot forget one.

// textFields are the fields whose newlines are kept (their views split
// them into lines); every other string is one line, its newlines escaped.
var textFields = map[string]bool{
	"Notes": true, "Prompt": true, "SQL": true, "Body": true, "Output": true, "Query": true,
}

// foldShown folds e, escaped, into the shown state. Exec output is
// escaped whole from the exact fold's: the fold keeps its last 64 KiB,
// and escaped chunks would be cut elsewhere.
func (m Model) foldShown(e steps.Event) steps.State {
	esc := m.keptRows(e)
	if v, changed := escapeValue(reflect.ValueOf(esc), false); changed {
		esc = v.Interface().(steps.Event)
	}
	s := steps.Apply(m.shown, esc)
	if e.Type == steps.EvExecOutput {
		if i := m.state.StepIndex(e.Step); i >= 0 && i < len(s.Steps) {
			s.Steps[i].Output = termsafe.MarkText(m.state.Steps[i].Output)
		}
	}
	return s
}

// keptRows is e without the rows the fold will not keep (keep_rows), so a
// flood of rows past the cap costs no escaping.
func (m Model) keptRows(e steps.Event) steps.Event {
	if e.Type != steps.EvRows || e.Rows == nil {
		return e
	}
	i := m.shown.StepIndex(e.Step)
	if i < 0 {
		return e
	}
	room := max(0, m.shown.KeepRows-len(m.shown.Steps[i].Rows))
	if room >= len(e.Rows.Rows) {
		return e
	}
	r := *e.Rows
	r.Rows = r.Rows[:room]
	e.Rows = &r
	return e
}

var (
	timeType   = reflect.TypeFor[time.Time]()
	stringsT   = reflect.TypeFor[[]string]()
	rowsT      = reflect.TypeFor[[][]string]()
	stringType = reflect.TypeFor[string]()
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
	if t == timeType {
		return v, false
	}
	var out reflect.Value
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		e, changed := escapeValue(v.Field(i), textFields[f.Name])
		if !changed {
			continue
		}
		if !out.IsValid() {
			out = reflect.New(t).Elem()
			out.Set(v)
		}
		out.Field(i).Set(e)
	}
	if !out.IsValid() {
		return v, false
	}
	return out, true
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
