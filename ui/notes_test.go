package ui

import (
	"reflect"
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/steps"
)

// smokeNotes is written the way connect-rls-hardening writes its manual
// smoke tests: an indented numbered list, hard-wrapped, then an
// instruction that belongs to no item.
const smokeNotes = `  1. As smoke-owner@connect.test, send an image in "Smoke test chat". It must
     succeed and appear for smoke-viewer@connect.test.
  2. As smoke-viewer@connect.test, try to upload to a chat you are not a
     member of: it must be rejected.
Record pass or fail with a note.`

func TestReflowKeepsFirstIndentAndDedent(t *testing.T) {
	got := reflow("\n" + smokeNotes + "\n")
	want := []string{
		`  1. As smoke-owner@connect.test, send an image in "Smoke test chat". It must succeed and appear for smoke-viewer@connect.test.`,
		"  2. As smoke-viewer@connect.test, try to upload to a chat you are not a member of: it must be rejected.",
		"Record pass or fail with a note.",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reflow:\n got %q\nwant %q", got, want)
	}
}

// TestManualNotesListStaysAligned: on the manual step's screen the first
// item of an indented list lines up with the others, and the closing
// instruction is not glued to the last item.
func TestManualNotesListStaysAligned(t *testing.T) {
	f := new(fake)
	f.add(steps.Event{Type: steps.EvSessionStarted, Session: &steps.SessionInfo{
		SessionID: "s-1", RunbookID: "connect-rls-hardening", RunbookTitle: "RLS hardening", RunbookVer: "1.0",
		TargetName: "Connect-Prod", ProjectID: prodID, Operator: "alice", KeepRows: 500,
		Plan: []steps.PlannedStep{{ID: "smoke-chat-media-upload", Title: "Upload and view chat media",
			Kind: steps.KindManual, Phase: "Smoke tests", Notes: smokeNotes}},
	}})
	f.verified().stepStarted("smoke-chat-media-upload")
	m, _ := newLive(f)
	var one, two, record string
	for _, l := range strings.Split(plain(m), "\n") {
		_, pane, _ := strings.Cut(l, "│")
		switch {
		case strings.Contains(pane, "1. As smoke-owner"):
			one = pane
		case strings.Contains(pane, "2. As smoke-viewer"):
			two = pane
		case strings.Contains(pane, "Record pass or fail"):
			record = pane
		}
	}
	if one == "" || two == "" || record == "" {
		t.Fatalf("notes not on screen:\n%s", plain(m))
	}
	if i, j := strings.Index(one, "1."), strings.Index(two, "2."); i != j {
		t.Errorf("list items misaligned (1. at column %d, 2. at %d):\n%s\n%s", i, j, one, two)
	}
	if !strings.HasPrefix(record, "Record pass or fail") {
		t.Errorf("the closing instruction should start its own line, got %q", record)
	}
}

// TestWouldRunWrapsCommentsUnderTheirText: the statement review before a
// write wraps a long SQL comment under its text, not at the margin where
// its tail would read as SQL.
func TestWouldRunWrapsCommentsUnderTheirText(t *testing.T) {
	f := connectStart(true).stepStarted("apply-001")
	f.add(steps.Event{Type: steps.EvStepWouldRun, Step: "apply-001", Statements: steps.ListOf([]steps.StatementInfo{{
		Index: 0, Count: 1, File: "migrations/001.sql", Line: 1,
		SQL: "-- Runs as one transaction (handrail sql step with the default transaction = true): it commits entirely or not at all.\n" +
			"alter table public.rate_limits disable row level security;",
	}})})
	m, _ := newLive(f)
	var comment []string
	for _, l := range strings.Split(plain(m), "\n") {
		_, pane, _ := strings.Cut(l, "│")
		pane = strings.TrimRight(pane, " ")
		switch {
		case strings.HasPrefix(pane, "  -- Runs as one transaction"):
			comment = append(comment, pane)
		case len(comment) > 0 && strings.HasPrefix(pane, "  alter table"):
			comment = append(comment, "END")
		case len(comment) > 0 && comment[len(comment)-1] != "END":
			comment = append(comment, pane)
		}
	}
	if len(comment) < 3 || comment[len(comment)-1] != "END" {
		t.Fatalf("the comment should wrap onto more lines before the statement, got %q:\n%s", comment, plain(m))
	}
	for _, l := range comment[1 : len(comment)-1] {
		if !strings.HasPrefix(l, "     ") || strings.HasPrefix(l, "      ") {
			t.Errorf("continuation %q should hang under the comment's text (5 spaces)", l)
		}
	}
}
