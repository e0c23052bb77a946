package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/internal/termsafe"
	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/steps"
)

// Issue 13: a user's display name in a table must not retitle or repaint
// the operator's terminal. A real PostgreSQL holds names made of terminal
// controls; the engine runs a check that selects them, a notice that
// quotes them and a command that prints the like. The live screen, the
// replay and the transcript show only escapes; the fold and the journal
// keep the values.

// hostileNames are the users' names, by id, as the client receives them.
// (PostgreSQL keeps text valid UTF-8; the command below prints a byte that
// is not.)
var hostileNames = []struct{ sql, value, shown string }{
	{`'Bob' || chr(155) || '2J'`, "Bob\u009b2J", `Bob\u009b2J`},                         // C1 CSI: erase the screen
	{`chr(157) || '0;pwned' || chr(156)`, "\u009d0;pwned\u009c", `\u009d0;pwned\u009c`}, // C1 OSC ... ST: retitle
	{`chr(27) || ']0;pwned' || chr(7)`, "\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},         // ESC ] ... BEL
	{`'beep' || E'\x07'`, "beep\x07", `beep\x07`},                                       // BEL
	{`'abc' || chr(8238) || 'fed'`, "abc\u202efed", `abc\u202efed`},                     // RLO: reads "abcdef"
	{`'\x9bff'::bytea::text`, `\x9bff`, `\x9bff`},                                       // bytea shown as text: already escaped
	{`E'two\nlines\ttab'`, "two\nlines\ttab", `two\nlines\ttab`},                        // one cell, one line
	{`'Zoë 日本 ok'`, "Zoë 日本 ok", "Zoë 日本 ok"},                                           // ordinary text stays as it is
}

const hostileRunbook = `
[runbook]
id = "hostile-data"
title = "Hostile data \u009d0;runbook title\u009c"
version = "1"

[target]
name = "Hostile \u001b]0;target\u0007"
project_id = "hostile-db"
identity = ["stamp"]

[settings]
lock_timeout = "5s"
statement_timeout = "1m"

[[phase]]
title = "Look \u202eat it"

  [[phase.step]]
  kind = "check"
  id = "names"
  title = "every display name"
  sql = "select id, name from users order by id"
  expect_rows = %d

  [[phase.step]]
  kind = "check"
  id = "bob"
  title = "a failing check shows expected and actual"
  sql = "select name from users where id = 1"
  expect = [{ name = "Bob" }]

  [[phase.step]]
  kind = "sql"
  id = "notice"
  title = "a notice quoting the names"
  statements = ["do $$ begin raise notice 'names: %%', (select string_agg(name, ' | ' order by id) from users); end $$"]

  [[phase.step]]
  kind = "exec"
  id = "echo"
  title = "a command printing controls"
  command = "printf 'out \\302\\233 2J \\033]0;pwned\\007 \\342\\200\\256 rev \\377\\n'"
`

func hostileDatabase(t *testing.T, ctx context.Context) string {
	t.Helper()
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	var values []string
	for i, n := range hostileNames {
		values = append(values, fmt.Sprintf("(%d, %s)", i+1, n.sql))
	}
	if err := sb.CreateDatabase(ctx, "hostile", "create table users (id int primary key, name text); insert into users values "+strings.Join(values, ", ")); err != nil {
		t.Fatal(err)
	}
	dsn := sb.DSN("hostile")
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := db.Stamp(ctx, conn, "hostile-db", true); err != nil {
		t.Fatal(err)
	}
	return dsn
}

func TestHostileDatabaseValuesAreEscapedEverywhere(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dsn := hostileDatabase(t, ctx)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, steps.RunbookFile), fmt.Appendf(nil, hostileRunbook, len(hostileNames)), 0o644); err != nil {
		t.Fatal(err)
	}
	rb, problems := steps.Load(dir)
	if rb == nil || problems.HasErrors() {
		t.Fatalf("runbook: %v", problems.Errors())
	}
	target, err := db.ParseTarget(dsn)
	if err != nil {
		t.Fatal(err)
	}

	// The session, journaled, the autopilot answering and skipping the
	// check meant to fail.
	w, err := journal.Create(t.TempDir(), journal.Header{SessionID: "hostile", RunbookID: rb.Meta.ID, RunbookHash: rb.Hash,
		Operator: "hostile", TargetName: rb.Target.Name, ProjectID: rb.Target.ProjectID, DSN: target.Display(), Apply: true}, target.Secrets())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []steps.Event
	eng := steps.NewEngine(steps.Config{Runbook: rb, Target: target, Apply: true, Operator: "hostile", SessionID: "hostile",
		Environ: []string{"PATH=" + os.Getenv("PATH")},
		Sink: func(e steps.Event) error {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
			return w.Append(e)
		}})
	skipFailed := func(s *steps.State) (steps.Command, bool) {
		if st := s.CurrentStep(); st != nil && st.Status == steps.StatusFailed && st.ID == "bob" {
			return steps.Command{Type: steps.CmdSkipStep, Text: "expected: the name is not Bob"}, true
		}
		return steps.Command{}, false
	}
	driven := make(chan error, 1)
	go func() { driven <- steps.Drive(ctx, eng, rb, skipFailed) }()
	outcome, runErr := eng.Run(ctx)
	if err := <-driven; err != nil || runErr != nil {
		t.Fatalf("session: %v / %v", err, runErr)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("outcome %s, %d events", outcome, len(events))

	live := New(Options{Mode: Live, Initial: events, Now: time.Now})
	live = update(live, tea.WindowSizeMsg{Width: 120, Height: 40})
	checkHostileScreens(t, "live", live)
	assertExactFold(t, live.State())

	log, err := journal.Read(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	assertJournalKeepsValues(t, log)
	replay := replayJournal(t, w.Path(), true)
	checkHostileScreens(t, "replay", replay)
	if l, r := jsonRoundTrip(t, live.State()), jsonRoundTrip(t, replay.State()); !reflect.DeepEqual(l, r) {
		t.Fatalf("the replayed fold differs from the live one:\n%s", stateDiff(t, l, r))
	}
	checkHostileTranscript(t, log)
	checkHostileCheckCommand(t, ctx, rb, target)
}

// checkHostileScreens draws the end summary and every step's pane, asserts
// nothing raw reaches the screen, and that the names show escaped.
func checkHostileScreens(t *testing.T, where string, m Model) {
	t.Helper()
	m = update(m, tea.WindowSizeMsg{Width: 120, Height: 40})
	var all strings.Builder
	look := func(what string) {
		checkScreen(t, where+" "+what, m, true)
		checkScreen(t, where+" "+what, bare(m), false)
		all.WriteString(ansi.Strip(m.View().Content))
	}
	look("summary")
	for i := range m.state.Steps {
		m.viewing = i // what tab and shift+tab browse to
		look(m.state.Steps[i].ID)
	}
	screens := all.String()
	for _, n := range hostileNames {
		if !strings.Contains(screens, n.shown) {
			t.Errorf("%s: no screen shows %q", where, n.shown)
		}
	}
	// The command's last byte is not UTF-8: the engine records it as
	// U+FFFD, as the journal (JSON) could only record it.
	for _, want := range []string{`names: Bob\u009b2J`, "out \\u009b 2J \\x1b]0;pwned\\x07 \\u202e rev \ufffd",
		`Hostile data \u009d0;runbook title\u009c`, `Look \u202eat it`} {
		if !strings.Contains(screens, want) {
			t.Errorf("%s: no screen shows %q", where, want)
		}
	}
}

// assertExactFold: the screen's fold holds the values as the server sent
// them (only drawing escapes).
func assertExactFold(t *testing.T, s steps.State) {
	t.Helper()
	i := s.StepIndex("names")
	if i < 0 || s.Steps[i].Check == nil {
		t.Fatal("no check report for the names")
	}
	rows := s.Steps[i].Check.Actual
	if len(rows) != len(hostileNames) {
		t.Fatalf("%d rows, want %d", len(rows), len(hostileNames))
	}
	for j, n := range hostileNames {
		if rows[j][1] != n.value {
			t.Errorf("fold row %d = %q, want %q", j+1, rows[j][1], n.value)
		}
	}
}

// assertJournalKeepsValues: the journal records the exact values. (JSON
// strings are UTF-8: encoding/json records a byte that is not UTF-8 as
// U+FFFD; the screen and the transcript show that as it is.)
func assertJournalKeepsValues(t *testing.T, log *journal.Log) {
	t.Helper()
	for _, e := range log.Events {
		if e.Type != steps.EvCheckPassed || e.Step != "names" {
			continue
		}
		for j, n := range hostileNames {
			var want string // what encoding/json makes of the value
			b, _ := json.Marshal(n.value)
			_ = json.Unmarshal(b, &want)
			if got := e.Check.Actual[j][1]; got != want {
				t.Errorf("journal row %d = %q, want %q", j+1, got, want)
			}
		}
		return
	}
	t.Fatal("the journal has no passed check of the names")
}

func checkHostileTranscript(t *testing.T, log *journal.Log) {
	t.Helper()
	var out bytes.Buffer
	if err := journal.Transcript(&out, log); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if i := termsafe.FirstUnsafe(text); i >= 0 {
		t.Fatalf("transcript: raw %q at byte %d:\n%s", text[i:min(len(text), i+12)], i, text)
	}
	for _, want := range []string{`Bob\u009b2J`, `\x1b]0;pwned\x07`, `abc\u202efed`, `names: Bob\u009b2J`, `\u009d0;runbook title\u009c`, "are shown\nescaped"} {
		if !strings.Contains(text, want) {
			t.Errorf("transcript lacks %q:\n%s", want, text)
		}
	}
}

// checkHostileCheckCommand: `handrail check` prints the values escaped, and
// its JSON keeps them.
func checkHostileCheckCommand(t *testing.T, ctx context.Context, rb *steps.Runbook, target *db.ConnTarget) {
	t.Helper()
	var text, js bytes.Buffer
	steps.RunChecks(ctx, rb, target, &text, false)
	steps.RunChecks(ctx, rb, target, &js, true)
	for name, out := range map[string]string{"text": text.String(), "json": js.String()} {
		if i := termsafe.FirstUnsafe(out); i >= 0 {
			t.Fatalf("check %s output: raw %q at byte %d:\n%s", name, out[i:min(len(out), i+12)], i, out)
		}
	}
	if !strings.Contains(text.String(), `Bob\u009b2J`) || !strings.Contains(text.String(), `Hostile \x1b]0;target\x07`) {
		t.Errorf("check output lacks the escaped values:\n%s", text.String())
	}
	var rep steps.ChecksReport
	if err := json.Unmarshal(js.Bytes(), &rep); err != nil {
		t.Fatalf("check --json: %v\n%s", err, js.String())
	}
	if !strings.Contains(rep.Target, "Hostile \x1b]0;target\x07") {
		t.Errorf("check --json target = %q", rep.Target)
	}
}
