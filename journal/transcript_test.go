package journal

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/steps"
)

func goldenPath() string {
	return filepath.Join("..", "testdata", "sessions", fixtureName+".transcript.golden")
}

// TestTranscriptGolden renders the recorded fixture session as a plain
// transcript (go test ./journal -update rewrites the golden file).
func TestTranscriptGolden(t *testing.T) {
	log := mustRead(t, fixturePath())
	var out bytes.Buffer
	if err := Transcript(&out, log); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(goldenPath(), out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenPath())
	if err != nil {
		t.Fatalf("%v (run go test ./journal -update)", err)
	}
	if got := out.String(); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("transcript differs from %s at line %d:\n got %q\nwant %q\n(run go test ./journal -update and review the diff)", goldenPath(), i+1, g, w)
			}
		}
	}
	if strings.Contains(out.String(), fixturePassword) {
		t.Error("the transcript shows the password")
	}
}

// TestTranscriptTorn: a torn, unended journal still makes a transcript
// that says so.
func TestTranscriptTorn(t *testing.T) {
	b, err := os.ReadFile(fixturePath())
	if err != nil {
		t.Fatal(err)
	}
	ls := lines(b)
	torn := append(join(ls[:40]), ls[40][:20]...)
	log, err := ReadFrom(bytes.NewReader(torn))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Transcript(&out, log); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"the session did not end", "torn      last line 41 was incomplete", "OK (incomplete)"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("transcript lacks %q:\n%s", s, out.String())
		}
	}
}

// TestTranscriptWouldRunMode: the statements shown before a write are
// "dry run: would run" only in a dry run; in apply mode they are what the
// operator was shown before letting them run.
func TestTranscriptWouldRunMode(t *testing.T) {
	plan := []steps.PlannedStep{{ID: "w", Kind: steps.KindSQL, Writes: true, Statements: 1}}
	shown := steps.Event{Seq: 3, Type: steps.EvStepWouldRun, Step: "w",
		Statements: steps.ListOf([]steps.StatementInfo{{Count: 1, SQL: "create table t (x int)"}})}
	for _, tc := range []struct {
		apply      bool
		want, deny string
	}{
		{false, "[w] dry run: would run 1 statement", "shown to the operator"},
		{true, "[w] shown to the operator before running: 1 statement", "dry run: would run"},
	} {
		log := &Log{Header: Header{RunbookID: "rb", Apply: tc.apply}, Events: []steps.Event{
			{Seq: 1, Type: steps.EvSessionStarted, Session: &steps.SessionInfo{RunbookID: "rb", Apply: tc.apply, Plan: plan}},
			{Seq: 2, Type: steps.EvStepStarted, Step: "w", Text: "sql"},
			shown,
		}}
		var out bytes.Buffer
		if err := Transcript(&out, log); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), tc.want) || strings.Contains(out.String(), tc.deny) {
			t.Errorf("apply=%v: want %q and not %q in:\n%s", tc.apply, tc.want, tc.deny, out.String())
		}
	}
}

// The intent lists each statement by its first line of SQL, not by the
// comment that heads it.
func TestFirstLineSkipsLeadingComments(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"-- why we do this\n-- more\nalter table t add c int;", "alter table t add c int;"},
		{"/* header\n   more */\n\ncreate index i on t (c);\n-- trailing", "create index i on t (c); ..."},
		{"select 1", "select 1"},
		{"-- only a comment", "-- only a comment"},
		{"  \n update t\n set c = 1;", "update t ..."},
	} {
		if got := firstLine(tc.in); got != tc.want {
			t.Errorf("firstLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A staging_proof item ticks itself from the staging journal, not from a
// query: the transcript says which (it said "ticked by its query").
func TestTranscriptStagingProofTick(t *testing.T) {
	item := 0
	plan := []steps.PlannedStep{{ID: "c", Kind: steps.KindChecklist, Items: []string{"run on staging"}}}
	log := &Log{Header: Header{RunbookID: "rb", Apply: true}, Events: []steps.Event{
		{Seq: 1, Type: steps.EvSessionStarted, Session: &steps.SessionInfo{RunbookID: "rb", Apply: true, Plan: plan}},
		{Seq: 2, Type: steps.EvStepStarted, Step: "c", Text: "checklist"},
		{Seq: 3, Type: steps.EvItemTicked, Step: "c", Item: &item, Auto: true, Check: &steps.CheckReport{
			Expect: "a verified journal of this runbook that succeeded on staging", Summary: "staging journal /j.jsonl (head 0123)"}},
	}}
	var out bytes.Buffer
	if err := Transcript(&out, log); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, `item 1 "run on staging" ticked by its staging proof`) {
		t.Errorf("want the item ticked by its staging proof in:\n%s", s)
	}
}
