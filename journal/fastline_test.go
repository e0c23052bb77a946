package journal

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/steps"
)

// slowLine is the line encoding/json writes for el.
func slowLine(t testing.TB, el eventLine) []byte {
	t.Helper()
	if el.Listing != nil { // encoding/json writes the filled listing; el's stays as it is
		c := *el.Listing
		c.fill()
		el.Listing = &c
	}
	b, err := newEncoder().encode(el)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(b)
}

// TestFastLineMatchesEncodingJSON: every line the fast path writes is the
// line encoding/json writes, over the fixture session (each event as it
// is, and compacted as format 2 writes it) and over statement events with
// every field set, unset and awkward.
func TestFastLineMatchesEncodingJSON(t *testing.T) {
	prev := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	var lines []eventLine
	tbl := stmtTable{}
	for _, e := range fixtureEvents() {
		lines = append(lines, eventLine{Event: e, Prev: &prev})
		c, lst := tbl.compact(e)
		lines = append(lines, eventLine{Event: c, Listing: lst, Prev: &prev})
	}
	at := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.FixedZone("X", 5*3600+30*60))
	stmts := []*steps.StatementInfo{
		nil,
		{},
		{Index: 3, Count: 20000},
		{Index: -1, Count: 1, SQL: "insert into t values (1)", File: "migrations/001.sql", Line: 12, Tag: "INSERT 0 1", RowsAffected: 1, Elapsed: 1234567},
		{SQL: "select 'a\"b'"},         // needs escaping: encoding/json writes it
		{SQL: "select '\u00e9\u2028'"}, // non-ASCII
		{Tag: "DEL\x7f"},
		{File: "a\\b.sql"},
	}
	for _, when := range []time.Time{at, at.UTC(), {}, time.Unix(0, 1)} {
		for _, st := range stmts {
			for _, step := range []string{"", "migrate", "ste\"p", "st\x1bep"} {
				e := steps.Event{Seq: 42, Time: when, Mono: 987654321, Type: steps.EvStatementFinished, Step: step, Statement: st}
				lines = append(lines, eventLine{Event: e, Prev: &prev})
			}
		}
	}
	fast := 0
	for i, el := range lines {
		want := slowLine(t, el)
		enc := newEncoder()
		got, err := enc.encodeEvent(el)
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("line %d (%s):\n got %s\nwant %s", i, el.Type, got, want)
		}
		if _, ok := enc.fastLine(el); ok {
			fast++
		}
	}
	if fast < 20 {
		t.Errorf("only %d of %d lines took the fast path", fast, len(lines))
	}
}

// TestStatementShapedKnowsEveryField: statementShaped looks at every field
// of steps.Event but the ones the fast path writes. A new field must be
// added there (or the fast path would drop it from the journal).
func TestStatementShapedKnowsEveryField(t *testing.T) {
	written := []string{"Seq", "Time", "Mono", "Type", "Step", "Statement"}
	checked := []string{"Session", "Identity", "Lock", "Statements", "Rows", "Notice", "Blockers", "Check", "Item",
		"Auto", "Pass", "ExitCode", "Monitor", "Message", "Error", "Outcome", "Command", "Promotion", "Share",
		"Partner", "Locks", "Invalid", "Rehearsal", "Text", "Secret"}
	typ := reflect.TypeOf(steps.Event{})
	for i := range typ.NumField() {
		f := typ.Field(i).Name
		if !slices.Contains(written, f) && !slices.Contains(checked, f) {
			t.Errorf("steps.Event has a field %s that statementShaped (journal/fastline.go) does not check", f)
		}
	}
	// Each checked field, set alone, takes the line off the fast path.
	for _, f := range checked {
		var e steps.Event
		v := reflect.ValueOf(&e).Elem().FieldByName(f)
		switch v.Kind() {
		case reflect.Pointer:
			v.Set(reflect.New(v.Type().Elem()))
		case reflect.Slice:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		case reflect.Bool:
			v.SetBool(true)
		case reflect.String:
			v.SetString("x")
		default:
			t.Fatalf("field %s: kind %s", f, v.Kind())
		}
		if statementShaped(&e) {
			t.Errorf("an event with %s set is statement-shaped", f)
		}
	}
}

// FuzzFastLine: the fast path writes what encoding/json writes, or leaves
// the line to it.
func FuzzFastLine(f *testing.F) {
	f.Add(int64(7), int64(1764583200123456789), int64(5e9), "statement_finished", "migrate", 3, 20000, "", "", 0, "INSERT 0 1", int64(1), int64(1500))
	f.Add(int64(1), int64(0), int64(0), "statement_started", "", 0, 1, "select 1", "m/001.sql", 4, "", int64(0), int64(0))
	f.Add(int64(-1), int64(-62135596800000000), int64(-5), "x\"y", "s\\t", -3, -1, "é\u2028", "\x00", -7, "\x7f", int64(-9), int64(-2))
	f.Fuzz(func(t *testing.T, seq, unixNano, mono int64, typ, step string, index, count int, sql, file string, line int, tag string, rows, elapsed int64) {
		prev := "abc"
		e := steps.Event{Seq: seq, Time: time.Unix(0, unixNano), Mono: time.Duration(mono), Type: steps.EventType(typ), Step: step,
			Statement: &steps.StatementInfo{Index: index, Count: count, SQL: sql, File: file, Line: line, Tag: tag, RowsAffected: rows, Elapsed: time.Duration(elapsed)}}
		el := eventLine{Event: e, Prev: &prev}
		want, werr := newEncoder().encode(el)
		got, gerr := newEncoder().encodeEvent(el)
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("got %s (%v)\nwant %s (%v)", got, gerr, want, werr)
		}
	})
}
