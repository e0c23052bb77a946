package ui

import (
	"errors"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/handrail-dev/handrail/internal/termsafe"
	"github.com/handrail-dev/handrail/internal/termsafe/termsafetest"
	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/steps"
)

// Nothing from data reaches the terminal raw (issue 13): a session whose
// every string is hostile is drawn, screen by screen, and no control
// character other than a newline may come out, with the plain styles (no
// escape sequence of our own at all) and with the real ones (where only
// SGR sequences, our styling, may remain).

// hostile is the fuzzer's data: a result value, runbook text, and a
// message from the database or a command.
type hostile struct{ val, text, msg string }

func (h hostile) plan() []steps.PlannedStep {
	v, t, m := h.val, h.text, h.msg
	return []steps.PlannedStep{
		{ID: "list", Title: t, Kind: steps.KindChecklist, Phase: t, Notes: t + "\n" + m, Items: []string{t, v, m}},
		{ID: "confirm", Title: "confirm " + t, Kind: steps.KindConfirm, Phase: "P", Prompt: t, TypeText: v, Notes: m},
		{ID: "dump", Title: m, Kind: steps.KindExec, Phase: "P", SQL: "pg_dump " + t, Writes: true},
		{ID: "sql", Title: v, Kind: steps.KindSQL, Phase: "Execution", Writes: true, Statements: 2},
		{ID: "check", Title: t, Kind: steps.KindCheck, Phase: "V", SQL: t, Expect: v, OnFail: "rollback"},
		{ID: "manual", Title: t, Kind: steps.KindManual, Phase: "V", Notes: t},
		{ID: "monitor", Title: t, Kind: steps.KindMonitor, Phase: "M", Duration: time.Minute, Watch: []string{t, m}},
		{ID: "message", Title: t, Kind: steps.KindMessage, Phase: "C", Notes: t},
		{ID: "undo", Title: t, Kind: steps.KindSQL, Phase: "Rollback", Rollback: true, Writes: true, Statements: 1},
	}
}

func (h hostile) report() *steps.CheckReport {
	v, t, m := h.val, h.text, h.msg
	return &steps.CheckReport{SQL: t, Expect: v, Summary: m, Columns: []string{v, t},
		Expected: [][]string{{v, t}}, Actual: [][]string{{m, v}, {v + "\n" + m, t}},
		Missing: []string{v}, Unexpected: []string{m}, AsRole: t}
}

func (h hostile) errorInfo() *steps.ErrorInfo {
	return &steps.ErrorInfo{Message: h.msg, SQLState: h.val, Detail: h.msg + "\n" + h.val, Hint: h.text, Where: h.text, RolledBack: true, Retryable: true}
}

// stages are the session's events, cut where a new screen shows.
func (h hostile) stages() [][]steps.Event {
	v, t, m := h.val, h.text, h.msg
	f := new(fake)
	var out [][]steps.Event
	cut := func() { out, f.evs = append(out, f.evs), nil }
	item := func(i int) *int { return &i }
	pass := false

	f.add(steps.Event{Type: steps.EvSessionStarted, Session: &steps.SessionInfo{
		SessionID: v, RunbookID: t, RunbookTitle: t, RunbookVer: v, TargetName: t, ProjectID: v, Production: true,
		Apply: true, Operator: m, HasRollback: true, KeepRows: 50, Plan: h.plan(),
		RollbackWhen: []string{t, m}, SuccessCriteria: []string{t, v},
	}})
	cut()
	f.add(steps.Event{Type: steps.EvIdentityVerified, Identity: &steps.IdentityReport{Expected: v, OK: true,
		Sources: []steps.IdentitySource{{Source: t, Found: v, Resolved: true, Detail: m}}}})
	f.add(steps.Event{Type: steps.EvLockAcquired, Lock: &steps.LockInfo{Key: 1, ApplicationName: v, Client: m}})
	f.stepStarted("list")
	f.add(steps.Event{Type: steps.EvItemTicked, Step: "list", Item: item(0), Auto: true, Check: h.report()})
	f.add(steps.Event{Type: steps.EvItemSkipped, Step: "list", Item: item(1), Text: m})
	f.add(steps.Event{Type: steps.EvItemCheckFailed, Step: "list", Item: item(2), Check: h.report()})
	cut()
	f.on(steps.EvStepSucceeded, "list").stepStarted("confirm")
	f.add(steps.Event{Type: steps.EvConfirmRejected, Step: "confirm", Text: m})
	cut()
	f.on(steps.EvConfirmed, "confirm").on(steps.EvStepSucceeded, "confirm").stepStarted("dump")
	f.add(steps.Event{Type: steps.EvConsentRequired, Step: "dump"})
	f.add(steps.Event{Type: steps.EvConsentRejected, Step: "dump", Text: v})
	cut()
	f.on(steps.EvConsentGiven, "dump").add(steps.Event{Type: steps.EvIntent, Step: "dump"})
	half := len(m) / 2 // a chunk boundary may split a rune
	f.add(steps.Event{Type: steps.EvExecOutput, Step: "dump", Text: m[:half]})
	f.add(steps.Event{Type: steps.EvExecOutput, Step: "dump", Text: m[half:] + "\n" + v + "\t" + t})
	f.add(steps.Event{Type: steps.EvExecExited, Step: "dump", ExitCode: item(3)})
	f.add(steps.Event{Type: steps.EvStepFailed, Step: "dump", Error: h.errorInfo()})
	cut()
	f.on(steps.EvStepSkipped, "dump").stepStarted("sql")
	stmts := []steps.StatementInfo{{Index: 0, Count: 2, SQL: t, File: v, Line: 1}, {Index: 1, Count: 2, SQL: m + "\r\n" + t, File: v, Line: 3}}
	f.add(steps.Event{Type: steps.EvStepWouldRun, Step: "sql", Statements: steps.ListOf(stmts)})
	cut()
	f.add(steps.Event{Type: steps.EvIntent, Step: "sql", Statements: steps.ListOf(stmts)})
	s := stmts[1]
	s.Tag = v
	f.add(steps.Event{Type: steps.EvStatementStarted, Step: "sql", Statement: &s})
	f.add(steps.Event{Type: steps.EvRows, Step: "sql", Rows: &steps.RowBatch{Columns: []string{v, t, m},
		Rows: [][]string{{v, t, m}, {m, v, t}, {v + "\t" + m, "", t}}, Total: 3}})
	f.add(steps.Event{Type: steps.EvNotice, Step: "sql", Notice: &steps.Notice{Severity: v, Message: m, Detail: t, Hint: v}})
	f.add(steps.Event{Type: steps.EvLockWait, Step: "sql", Blockers: []steps.Blocker{{PID: 7, State: v, Query: t, ApplicationName: m, User: v}}})
	cut()
	f.add(steps.Event{Type: steps.EvStatementFinished, Step: "sql", Statement: &s})
	f.add(steps.Event{Type: steps.EvStepFailed, Step: "sql", Error: h.errorInfo()})
	cut()
	f.add(steps.Event{Type: steps.EvStepMarked, Step: "sql", Pass: &pass, Text: m}).stepStarted("check")
	f.add(steps.Event{Type: steps.EvCheckFailed, Step: "check", Check: h.report()})
	cut()
	f.add(steps.Event{Type: steps.EvRollbackOffered, Text: m})
	cut()
	f.on(steps.EvStepSkipped, "check").stepStarted("manual")
	f.add(steps.Event{Type: steps.EvManualResult, Step: "manual", Pass: &pass, Text: m})
	cut()
	f.on(steps.EvStepSucceeded, "manual").stepStarted("monitor")
	f.add(steps.Event{Type: steps.EvMonitorTick, Step: "monitor", Monitor: &steps.MonitorSample{Title: t, Columns: []string{v},
		Rows: [][]string{{m}, {v}}, Error: m, Alerting: true, Remaining: time.Minute}})
	f.add(steps.Event{Type: steps.EvMonitorAlert, Step: "monitor", Monitor: &steps.MonitorSample{Title: t}, Text: m})
	f.add(steps.Event{Type: steps.EvMonitorAlert, Step: "monitor", Monitor: &steps.MonitorSample{Title: t}, Text: v})
	cut()
	f.add(steps.Event{Type: steps.EvMonitorEnded, Step: "monitor", Text: m}).on(steps.EvStepSucceeded, "monitor").stepStarted("message")
	f.add(steps.Event{Type: steps.EvMessageRendered, Step: "message", Message: &steps.RenderedMsg{ID: v, To: m, When: t, Body: t + "\n" + m}})
	cut()
	f.add(steps.Event{Type: steps.EvRollbackStarted, Text: m}).stepStarted("undo")
	f.add(steps.Event{Type: steps.EvStepOutcomeUnknown, Step: "undo", Error: h.errorInfo()})
	cut()
	f.add(steps.Event{Type: steps.EvRollbackFinished, Pass: &pass}).add(steps.Event{Type: steps.EvSessionEnded, Outcome: steps.OutcomeFailed, Text: m})
	cut()
	return out
}

// stops are the screens a session can stop at before its steps.
func (h hostile) stops() [][]steps.Event {
	start := h.stages()[0]
	mismatch := steps.Event{Seq: 2, Type: steps.EvIdentityMismatch, Identity: &steps.IdentityReport{
		Expected: h.val, Forbidden: h.msg, Reason: h.msg,
		Sources: []steps.IdentitySource{{Source: h.text, Found: h.val, Resolved: true, Detail: h.msg}, {Source: h.val, Detail: h.text}}}}
	held := steps.Event{Seq: 2, Type: steps.EvLockHeld, Lock: &steps.LockInfo{PID: 9, ApplicationName: h.msg, Client: h.val, Since: t0}}
	return [][]steps.Event{append(start[:1:1], mismatch), append(start[:1:1], held)}
}

// sgr matches exactly the sequences the styles write: Select Graphic
// Rendition, nothing else.
var sgr = regexp.MustCompile("\x1b\\[[0-9;:]*m")

// checkScreen fails if the frame holds anything a terminal would act on
// beyond newlines and, with styles, SGR sequences.
func checkScreen(t *testing.T, where string, m Model, styled bool) {
	t.Helper()
	v := m.View()
	frame := v.Content
	if styled {
		frame = sgr.ReplaceAllString(frame, "")
	}
	if i := termsafe.FirstUnsafe(frame); i >= 0 {
		t.Fatalf("%s (styled %v): raw %q at byte %d:\n%q", where, styled, frame[i:min(len(frame), i+12)], i, frame)
	}
	if i := termsafe.FirstUnsafe(v.WindowTitle); i >= 0 || strings.Contains(v.WindowTitle, "\n") {
		t.Fatalf("%s: window title %q is not safe", where, v.WindowTitle)
	}
}

// bare drops every style, and the text inputs' drawn cursor (reverse
// video whatever the style): a frame then has no escape sequence of ours.
func bare(m Model) Model {
	s := Styles{}
	m.styles = &s
	m.consent = clone(m.consent)
	m.consent.SetStyles(s.Input)
	m.consent.SetVirtualCursor(false)
	m.input = clone(m.input)
	m.input.ti.SetStyles(s.Input)
	m.input.ti.SetVirtualCursor(false)
	return m
}

func checkHostile(t *testing.T, h hostile) {
	t.Helper()
	boom := errors.New(h.msg)
	for _, styled := range []bool{false, true} {
		m := New(Options{Mode: Live, Send: func(steps.Command) {}, SSHWarning: h.text, JournalPath: h.val, Now: func() time.Time { return t0 }})
		m = update(m, tea.WindowSizeMsg{Width: 80, Height: 24})
		if !styled {
			m = bare(m)
		}
		checkScreen(t, "start", m, styled)
		for i, stage := range h.stages() {
			m = feed(m, stage...)
			checkScreen(t, "stage "+string(rune('a'+i)), m, styled)
			if !reflect.DeepEqual(m.shown, shownState(m.state)) {
				t.Fatalf("stage %c: the shown state is not the exact fold escaped", 'a'+i)
			}
			if i == 2 { // confirm: the typed-text dialog quotes what to type
				m2, _ := m.openInput(inputConfirmText, "type "+quote(h.val)+" to confirm", steps.Command{Type: steps.CmdConfirm})
				m2.input.problem = h.msg
				if !styled {
					m2 = bare(m2)
				}
				checkScreen(t, "input dialog", m2, styled)
			}
		}
		m = update(m, engineDoneMsg{Result{Outcome: steps.OutcomeFailed, Err: boom, Journal: h.val, Head: h.msg}})
		checkScreen(t, "summary", m, styled)
		m = update(m, press("tab", "tab", "tab")...) // browse the finished steps
		checkScreen(t, "browsing", m, styled)
		if !reflect.DeepEqual(m.shown, shownState(m.state)) {
			t.Fatalf("the shown fold drifted from the escaped exact fold")
		}
		for i, stop := range h.stops() {
			s := feed(New(Options{Mode: Live, Now: func() time.Time { return t0 }}), stop...)
			s = update(s, tea.WindowSizeMsg{Width: 80, Height: 24})
			if !styled {
				s = bare(s)
			}
			checkScreen(t, "stop "+string(rune('a'+i)), s, styled)
		}
	}
}

// shownState escapes every string of an exact fold but the steps'
// statement lists (the would-run pane escapes what it draws of them):
// what the shown fold must equal.
func shownState(s steps.State) steps.State {
	if v, changed := escapeValue(reflect.ValueOf(s), false); changed {
		out := v.Interface().(steps.State)
		for i := range out.Steps {
			out.Steps[i].WouldRun = s.Steps[i].WouldRun
		}
		return out
	}
	return s
}

func TestHostileDataIsEscapedOnEveryScreen(t *testing.T) {
	checkHostile(t, hostile{
		val:  "Bob\u009b2J\u009d0;pwned\u009c\x1b]0;title\x07\x1b[2J\xff\xfe",
		text: "RLS \u202eenil ecnetsixe\u202c \u2066iso\u2069\x00\x7f\t\r",
		msg:  "ERROR:\x1b[31m red \u009b31m\nsecond line\r\n\u2028",
	})
}

func TestEscapedControlsAreShownMarked(t *testing.T) {
	f := toApply().statement("apply-001", 0, 1, "select name from users")
	f.add(steps.Event{Type: steps.EvRows, Step: "apply-001", Rows: &steps.RowBatch{
		Columns: []string{"name"}, Rows: [][]string{{"Bob\u009b2J"}, {"Eve\x1b]0;x\x07"}, {"abc\u202edef"}, {`lit\u009b`}}, Total: 4}})
	m, _ := newLive(f)
	screen := m.View().Content
	on, off := m.styles.EscapeOn, m.styles.EscapeOff
	for _, want := range []string{
		"Bob" + on + `\u009b` + off + "2J",
		"Eve" + on + `\x1b` + off + "]0;x" + on + `\x07` + off,
		"abc" + on + `\u202e` + off + "def",
		`lit\u009b`, // the same text typed in the data is not marked
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%q", want, screen)
		}
	}
	// The fold keeps the exact data.
	if st := m.State(); st.CurrentStep().Rows[0][0] != "Bob\u009b2J" {
		t.Fatalf("state row = %q", st.CurrentStep().Rows[0][0])
	}
}

// Every string of an event is escaped, in fields added later too: the
// walker reaches every string an Event can hold.
func TestEveryStringOfAnEventIsEscaped(t *testing.T) {
	var e steps.Event
	termsafetest.Fill(&e, termsafetest.Cycle("\x1b]0;x\x07"))
	got, changed := escapeValue(reflect.ValueOf(e), false)
	if !changed {
		t.Fatal("nothing escaped")
	}
	n := 0
	termsafetest.Strings(got.Interface(), func(path, s string) {
		n++
		if termsafe.FirstUnsafe(strings.ReplaceAll(strings.ReplaceAll(s, termsafe.MarkOpen, ""), termsafe.MarkClose, "")) >= 0 {
			t.Errorf("%s = %q not escaped", path, s)
		}
	})
	if n < 40 {
		t.Fatalf("walked only %d strings", n)
	}
}

func FuzzScreenShowsNoControl(f *testing.F) {
	f.Add("Bob\u009b2J", "title\u009d0;x\u009c", "\x1b[31mred\x07")
	f.Add("\xff\xfe\xc3", "\u202eabc\u2066", "line\r\nnext\ttab")
	f.Add("plain", "plain text", "plain message")
	f.Add("", "", "")
	f.Add("日本語\u200d👩‍💻", "\x0e\x0f", "\u2028\u2029\ufeff\U000e0041")
	f.Fuzz(func(t *testing.T, val, text, msg string) {
		checkHostile(t, hostile{val, text, msg})
	})
}

// Rows past keep_rows are not escaped (the fold drops them); what the
// screen draws is still the exact fold escaped.
func TestShownFoldKeepsRowsAsTheExactFold(t *testing.T) {
	f := toApply().statement("apply-001", 0, 1, "select * from auth.users")
	first := hostileRowBatch(0, 300)
	first.Rows.Columns = benchCols
	f.add(first).add(hostileRowBatch(300, 300)).add(hostileRowBatch(600, 300))
	m, _ := newLive(f)
	if n := len(m.shown.CurrentStep().Rows); n != 500 {
		t.Fatalf("shown %d rows, want 500", n)
	}
	if !reflect.DeepEqual(m.shown, shownState(m.state)) {
		t.Fatal("the shown fold differs from the exact fold escaped")
	}
}

// hostileRowBatch is rowBatch with a control character in every cell.
func hostileRowBatch(from, n int) steps.Event {
	e := rowBatch(from, n)
	for _, r := range e.Rows.Rows {
		for i := range r {
			r[i] += "\u009b2J"
		}
	}
	return e
}

// Folding a batch whose every cell needs escaping; BenchmarkUpdateRowBatch
// is the same with clean cells.
func BenchmarkUpdateRowBatchHostile(b *testing.B) {
	m := rowsModel(b, 200, 60, 100, 500)
	batch := stepEventMsg{hostileRowBatch(100, 100)}
	b.ReportAllocs()
	for b.Loop() {
		next, _ := m.Update(batch)
		m = next.(Model)
	}
}

// A frame of 1000 rows whose every cell was escaped; BenchmarkViewRun200x60With1000Rows
// is the same with clean cells.
func BenchmarkViewRun200x60With1000HostileRows(b *testing.B) {
	f := toApply().statement("apply-001", 0, 1, "select * from auth.users")
	f.evs[0].Session.KeepRows = 2000
	first := hostileRowBatch(0, 1000)
	first.Rows.Columns = benchCols
	f.add(first)
	m := New(Options{Mode: Live, Send: func(steps.Command) {}, Initial: f.evs, Now: func() time.Time { return t0 }})
	m = update(m, tea.WindowSizeMsg{Width: 200, Height: 60})
	b.ReportAllocs()
	for b.Loop() {
		_ = m.View()
	}
}

// The escaped state is derived from the fold after each batch, for what
// the batch changed: event by event, stage by stage or all at once, it is
// the exact fold escaped.
func TestShownStateIsTheFoldEscapedWhateverTheBatches(t *testing.T) {
	h := hostile{val: "Bob\u009b2J", text: "RLS \u202eenil\t\r", msg: "ERROR:\x1b[31m red\nsecond"}
	var all []steps.Event
	for _, stage := range h.stages() {
		all = append(all, stage...)
	}
	for _, size := range []int{1, 2, 7, len(all)} {
		m := New(Options{Mode: Live, Send: func(steps.Command) {}, Now: func() time.Time { return t0 }})
		for i := 0; i < len(all); i += size {
			m = update(m, eventBatchMsg(all[i:min(len(all), i+size)]))
			if !reflect.DeepEqual(m.shown, shownState(m.state)) {
				t.Fatalf("batches of %d, after event %d (%s): the shown state is not the exact fold escaped", size, i, all[i].Type)
			}
		}
	}
}

// Rows arrive clean, then hostile, then clean, then the statement runs
// again (the fold starts its rows over): the escaped rows follow each.
func TestShownRowsFollowTheFoldBatchByBatch(t *testing.T) {
	f := toApply().statement("apply-001", 0, 1, "select * from auth.users")
	first := rowBatch(0, 100)
	first.Rows.Columns = benchCols
	m, _ := newLive(f)
	again := steps.Event{Type: steps.EvStatementStarted, Step: "apply-001", Statement: &steps.StatementInfo{Index: 0, Count: 1, SQL: "select 1"}}
	for i, e := range []steps.Event{first, rowBatch(100, 100), hostileRowBatch(200, 100), rowBatch(300, 100), again, hostileRowBatch(0, 50), rowBatch(50, 500)} {
		m = feed(m, e)
		if !reflect.DeepEqual(m.shown, shownState(m.state)) {
			t.Fatalf("after batch %d: the shown rows are not the fold's escaped", i)
		}
	}
}

// The same over a recorded session (testdata/sessions): the derived state
// relies on the fold changing, for an event about a step, that step only.
func TestShownStateIsTheFoldEscapedOverARecordedSession(t *testing.T) {
	log, err := journal.Read(filepath.Join("..", "testdata", "sessions", "rls-bad-day.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	all := log.Events
	if len(all) < 50 {
		t.Fatalf("%d events", len(all))
	}
	for _, size := range []int{1, 3, 16} {
		m := New(Options{Mode: Watch, Now: func() time.Time { return t0 }})
		for i := 0; i < len(all); i += size {
			m = update(m, eventBatchMsg(all[i:min(len(all), i+size)]))
			if !reflect.DeepEqual(m.shown, shownState(m.state)) {
				t.Fatalf("batches of %d, after event %d (%s): the shown state is not the exact fold escaped", size, i, all[i].Type)
			}
		}
	}
}

// An escape cut by a table cell's width is closed at the cell's end: the
// escape style marks escapes only, so the next cells' plain data must not
// be drawn in it (read as escapes too).
func TestCutEscapeDoesNotStyleTheNextCells(t *testing.T) {
	st := NewStyles(false, true)
	rows := [][]string{{termsafe.MarkLine("x\x1b[5mblink\u202eevil\u009b2J"), "plain", termsafe.MarkLine("a\tb")}}
	tb := newTable([]string{"blink", "next", "tab"}, rows, 30, &st)
	got := termsafe.Highlight(tb.row(0), "<", ">")
	for _, cell := range []string{"plain", "a"} {
		before := got[:strings.Index(got, cell)]
		if strings.LastIndex(before, "<") > strings.LastIndex(before, ">") {
			t.Errorf("%q is drawn in the escape style: %q", cell, got)
		}
	}
	if !strings.Contains(got, "<\\t>") {
		t.Errorf("the tab's escape lost its style: %q", got)
	}
}
