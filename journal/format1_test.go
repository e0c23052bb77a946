package journal

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/steps"
)

// format1Path is the fixture session as format 1 wrote it (every
// statement's SQL with each event about it), kept to prove old journals
// still read.
func format1Path() string {
	return filepath.Join("..", "testdata", "sessions", fixtureName+".format1.jsonl")
}

// TestFormat1StillReads: a format 1 journal verifies, reads into the same
// events as the format 2 fixture of the same session, renders the same
// transcript, and resumes in format 1 (the lines appended carry their SQL).
func TestFormat1StillReads(t *testing.T) {
	if r := Verify(format1Path()); r.Status != Complete {
		t.Fatalf("Verify format 1: %+v", r)
	}
	old, cur := mustRead(t, format1Path()), mustRead(t, fixturePath())
	if old.Header.Format != 1 || cur.Header.Format != FormatVersion {
		t.Fatalf("formats %d and %d", old.Header.Format, cur.Header.Format)
	}
	if !reflect.DeepEqual(old.Events, cur.Events) {
		for i := range min(len(old.Events), len(cur.Events)) {
			if !reflect.DeepEqual(old.Events[i], cur.Events[i]) {
				t.Fatalf("event %d differs:\nformat 1 %+v\nformat 2 %+v", i, old.Events[i], cur.Events[i])
			}
		}
		t.Fatalf("%d events in format 1, %d in format 2", len(old.Events), len(cur.Events))
	}
	var a, b bytes.Buffer
	if err := Transcript(&a, old); err != nil {
		t.Fatal(err)
	}
	if err := Transcript(&b, cur); err != nil {
		t.Fatal(err)
	}
	// The same but for the head hash (the lines differ, so does the chain).
	if x, y := withoutHead(a.String()), withoutHead(b.String()); x != y {
		t.Errorf("the transcripts of format 1 and format 2 differ:\n%s\n---\n%s", x, y)
	}

	// Resume: cut the session before its end and continue it.
	src, err := os.ReadFile(format1Path())
	if err != nil {
		t.Fatal(err)
	}
	ls := lines(src)
	cut := len(ls) - 3
	p := filepath.Join(t.TempDir(), "old.jsonl")
	if err := os.WriteFile(p, join(ls[:cut]), 0o600); err != nil {
		t.Fatal(err)
	}
	w, prior, err := OpenAppend(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.noSync = true
	for _, e := range cur.Events[len(prior):] {
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, src) {
		t.Error("a format 1 journal resumed is not what format 1 wrote")
	}
}

// TestFormat2StatementsOnce: in format 2 a statement's SQL is in the
// journal once however many events are about it; the reader gives every
// event its SQL back.
func TestFormat2StatementsOnce(t *testing.T) {
	b, err := os.ReadFile(fixturePath())
	if err != nil {
		t.Fatal(err)
	}
	const sql = "alter table public.rate_limits disable row level security;"
	if n := strings.Count(string(b), sql); n != 1 {
		t.Errorf("%q is %d times in the journal, want once", sql, n)
	}
	seen := 0
	for _, e := range mustRead(t, fixturePath()).Events {
		if e.Statement != nil && e.Statement.SQL == sql {
			seen++
		}
		for _, s := range e.Statements.All() {
			if s.SQL == "" {
				t.Errorf("event %d (%s): a statement without its SQL", e.Seq, e.Type)
			}
		}
		if e.Type == steps.EvStatementStarted && e.Statement.SQL == "" {
			t.Errorf("event %d: statement_started without its SQL", e.Seq)
		}
	}
	if seen < 2 {
		t.Errorf("the statement is in %d events read back, want it in each", seen)
	}
}

func withoutHead(transcript string) string {
	var out []string
	for _, l := range strings.Split(transcript, "\n") {
		if !strings.HasPrefix(l, "head ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
