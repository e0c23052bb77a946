package journal

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/steps"
)

// listingEvent is a step_would_run of the statements sqls (lines from 1,
// one apart unless noLines), compacted as a format 2 writer's first
// listing of the step writes it.
func listingEvent(sqls []string, file string, noLines bool) eventLine {
	ss := make([]steps.StatementInfo, len(sqls))
	for k, s := range sqls {
		ss[k] = steps.StatementInfo{Index: k, Count: len(sqls), SQL: s, File: file}
		if !noLines {
			ss[k].Line = 1 + 3*k
		}
	}
	e := steps.Event{Seq: 9, Time: time.Date(2026, 12, 1, 11, 0, 0, 5, time.UTC), Mono: 12345, Type: steps.EvStepWouldRun, Step: "migrate", Statements: steps.ListOf(ss)}
	prev := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	c, lst := stmtTable{}.compact(e)
	return eventLine{Event: c, Listing: lst, Prev: &prev}
}

// TestListingLineMatchesEncodingJSON: a listing line written from the
// engine's statements is the line encoding/json writes for the filled
// listing, for plain and awkward SQL, and leaves the listing unfilled
// (no copy of the statements).
func TestListingLineMatchesEncodingJSON(t *testing.T) {
	cases := []struct {
		sqls    []string
		file    string
		noLines bool
	}{
		{[]string{"select 1"}, "migrations/001.sql", false},
		{[]string{"create table t (\n\tid int\n)", "insert into t values (1)", "select '\"<&>'"}, "m.sql", false},
		{[]string{"select 'é\u2028\u2029'", "select '\x1b[31m'", "select '\x7f\u0085'", "select 'a\\b'"}, "dir\\x\".sql", false},
		{[]string{"select 1", "select 2"}, "", true},
		{[]string{"select '\xff'"}, "", false},
	}
	for i, c := range cases {
		el := listingEvent(c.sqls, c.file, c.noLines)
		if el.Listing == nil {
			t.Fatalf("case %d: no listing", i)
		}
		want := slowLine(t, el)
		got, ok := newEncoder().listingLine(el)
		if !ok {
			t.Fatalf("case %d: listingLine left it to encoding/json", i)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want)
		}
		if el.Listing.SQL != nil || el.Listing.Line != nil {
			t.Errorf("case %d: the listing was filled", i)
		}
		var back eventLine
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if back.Listing == nil || len(back.Listing.SQL) != len(c.sqls) {
			t.Fatalf("case %d: read back %+v", i, back.Listing)
		}
	}
}

// FuzzListingLine: a listing line is what encoding/json writes.
func FuzzListingLine(f *testing.F) {
	f.Add("create table t (\n\tid int\n)", "insert into t values (1)", "m.sql", false)
	f.Add("select 'é\u2028'", "select '\x1b'", "a\"b", true)
	f.Add("select '\xff\xfe'", "\x7f", "", false)
	f.Fuzz(func(t *testing.T, a, b, file string, noLines bool) {
		if a == "" || b == "" {
			return // an event's statement is never empty
		}
		el := listingEvent([]string{a, b, a}, file, noLines)
		want := slowLine(t, el)
		got, err := newEncoder().encodeEvent(el)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("got %s (%v)\nwant %s", got, err, want)
		}
	})
}
