package ui

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"github.com/handrail-dev/handrail/steps"
)

// The fake session below has the shape of the connect-rls-hardening
// runbook, built by hand so these tests need neither the engine nor a
// database.

const (
	prodID    = "rxlqtyfhsocxnsnnnlwl"
	stagingID = "mohctrsopquwoyfweadl"
)

var t0 = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

func connectPlan() []steps.PlannedStep {
	return []steps.PlannedStep{
		{ID: "pre-checklist", Title: "Pre-deployment checklist", Kind: steps.KindChecklist, Phase: "Pre-deployment",
			Items: []string{"Change ticket approved", "Team notified in #deploys", "No deploy freeze in effect", "Connected as the migration role"}},
		{ID: "verify-env", Title: "Environment verification", Kind: steps.KindConfirm, Phase: "Pre-deployment",
			Prompt: "The header shows Connect-Prod, project rxlqtyfhsocxnsnnnlwl, VERIFIED."},
		{ID: "backup", Title: "Backup taken", Kind: steps.KindConfirm, Phase: "Pre-deployment",
			Prompt: "A backup of production was taken in the last hour.", TypeText: "BACKUP DONE"},
		{ID: "pg-dump", Title: "Schema dump", Kind: steps.KindExec, Phase: "Pre-deployment", Writes: true,
			SQL: "pg_dump --schema-only -f before.sql"},
		{ID: "apply-001", Title: "Apply migration 001", Kind: steps.KindSQL, Phase: "Execution", Writes: true, Statements: 12},
		{ID: "vacuum", Title: "VACUUM ANALYZE touched tables", Kind: steps.KindSQL, Phase: "Execution", Writes: true, Statements: 4},
		{ID: "rate-limits-rls", Title: "rate_limits RLS is off", Kind: steps.KindCheck, Phase: "Validation",
			SQL:    "select tablename, rowsecurity from pg_tables where schemaname='public' and tablename='rate_limits'",
			Expect: "1 row: rate_limits, false", OnFail: "rollback"},
		{ID: "policy-count", Title: "storage.objects has 6 policies", Kind: steps.KindCheck, Phase: "Validation",
			SQL: "select count(*) from pg_policies where schemaname='storage'", Expect: "1 row: 6"},
		{ID: "business-visibility", Title: "Public business accounts visible", Kind: steps.KindCheck, Phase: "Smoke tests",
			SQL: "select id, is_public from business_accounts", Expect: "2 rows"},
		{ID: "upload-avatar", Title: "Upload an avatar in the app", Kind: steps.KindManual, Phase: "Smoke tests",
			Notes: "Log in as a test user, upload a JPEG under 10 MiB as avatar, check it shows."},
		{ID: "monitor", Title: "Monitor for 15 minutes", Kind: steps.KindMonitor, Phase: "Monitoring",
			Duration: 15 * time.Minute, Watch: []string{"Error rate in the app dashboard", "Support inbox"}},
		{ID: "announce-success", Title: "Announce success", Kind: steps.KindMessage, Phase: "Communication"},
		{ID: "rollback-001", Title: "Roll back migration 001", Kind: steps.KindSQL, Phase: "Rollback", Rollback: true, Writes: true, Statements: 9},
		{ID: "rollback-verify", Title: "RLS restored on rate_limits", Kind: steps.KindCheck, Phase: "Rollback", Rollback: true},
	}
}

// fake builds a session's events with increasing Seq and Mono.
type fake struct {
	seq  int64
	mono time.Duration
	evs  []steps.Event
}

func (f *fake) add(e steps.Event) *fake {
	f.seq++
	f.mono += 100 * time.Millisecond
	e.Seq, e.Mono, e.Time = f.seq, f.mono, t0.Add(f.mono)
	f.evs = append(f.evs, e)
	return f
}

func (f *fake) wait(d time.Duration) *fake { f.mono += d; return f }

func (f *fake) on(typ steps.EventType, step string) *fake {
	return f.add(steps.Event{Type: typ, Step: step})
}

func (f *fake) start(apply bool) *fake {
	return f.add(steps.Event{Type: steps.EvSessionStarted, Session: &steps.SessionInfo{
		SessionID: "s-1", RunbookID: "connect-rls-hardening", RunbookTitle: "RLS hardening", RunbookVer: "1.0",
		TargetName: "Connect-Prod", ProjectID: prodID, Production: true, Apply: apply, Operator: "alice",
		HasRollback: true, KeepRows: 500, Plan: connectPlan(),
		RollbackWhen:    []string{"Migration execution failed", "Any validation check failed"},
		SuccessCriteria: []string{"All validation checks pass", "No errors in the app for 15 minutes"},
	}})
}

func (f *fake) verified() *fake {
	return f.add(steps.Event{Type: steps.EvIdentityVerified, Identity: &steps.IdentityReport{
		Expected: prodID, OK: true,
		Sources: []steps.IdentitySource{{Source: "stamp", Found: prodID, Resolved: true, Detail: "database comment"}},
	}}).add(steps.Event{Type: steps.EvLockAcquired, Lock: &steps.LockInfo{Key: 42}})
}

func (f *fake) mismatch() *fake {
	return f.add(steps.Event{Type: steps.EvIdentityMismatch, Identity: &steps.IdentityReport{
		Expected: prodID, Forbidden: stagingID, Reason: "stamp says staging",
		Sources: []steps.IdentitySource{
			{Source: "stamp", Found: stagingID, Resolved: true, Detail: "database comment"},
			{Source: "supabase", Found: stagingID, Resolved: true, Detail: "host db." + stagingID + ".supabase.co"},
		},
	}})
}

func (f *fake) stepStarted(id string) *fake { return f.on(steps.EvStepStarted, id) }

func (f *fake) item(typ steps.EventType, step string, i int, auto bool, text string) *fake {
	return f.add(steps.Event{Type: typ, Step: step, Item: &i, Auto: auto, Text: text})
}

func (f *fake) statement(step string, i, n int, sql string) *fake {
	return f.add(steps.Event{Type: steps.EvStatementStarted, Step: step, Statement: &steps.StatementInfo{
		Index: i, Count: n, SQL: sql, File: "migrations/001_rls_hardening.sql", Line: 10 + 3*i}})
}

func (f *fake) rows(step string, cols []string, from, n int) *fake {
	rows := make([][]string, n)
	for i := range rows {
		rows[i] = []string{fmt.Sprint(from + i), fmt.Sprintf("user-%04d", from+i), "true"}
	}
	return f.add(steps.Event{Type: steps.EvRows, Step: step, Rows: &steps.RowBatch{Columns: cols, Rows: rows, Total: int64(from + n)}})
}

func (f *fake) checkFailed(step string) *fake {
	return f.add(steps.Event{Type: steps.EvCheckFailed, Step: step, Check: &steps.CheckReport{
		SQL: "select tablename, rowsecurity from pg_tables where tablename='rate_limits'", Expect: "1 row: rate_limits, false",
		Summary: "1 row differs: rowsecurity is true", Columns: []string{"tablename", "rowsecurity"},
		Expected: [][]string{{"rate_limits", "false"}}, Actual: [][]string{{"rate_limits", "true"}},
		Missing: []string{"(rate_limits, false)"}, Unexpected: []string{"(rate_limits, true)"}, AsRole: "authenticated",
	}})
}

// connectStart: the session up to the pre-deployment checklist, one item auto-ticked.
func connectStart(apply bool) *fake {
	return new(fake).start(apply).verified().stepStarted("pre-checklist").
		item(steps.EvItemTicked, "pre-checklist", 3, true, "")
}

// toApplyStart: the steps before the migration done, apply-001 started.
func toApplyStart(apply bool) *fake {
	f := connectStart(apply)
	for i := range 4 {
		f.item(steps.EvItemTicked, "pre-checklist", i, i == 3, "")
	}
	return f.on(steps.EvStepSucceeded, "pre-checklist").stepStarted("verify-env").on(steps.EvConfirmed, "verify-env").
		on(steps.EvStepSucceeded, "verify-env").stepStarted("backup").on(steps.EvConfirmed, "backup").
		on(steps.EvStepSucceeded, "backup").stepStarted("pg-dump").on(steps.EvStepSucceeded, "pg-dump").
		stepStarted("apply-001")
}

// toApply: up to the first statement of the migration, with consent given.
func toApply() *fake {
	f := toApplyStart(true).on(steps.EvConsentGiven, "apply-001")
	return f.add(steps.Event{Type: steps.EvIntent, Step: "apply-001"})
}

// recorder records the commands the screen sends.
type recorder struct {
	cmds     []steps.Command
	answered int // commands answer has looked at
}

// answer plays the engine's part for the commands sent since the last
// call: each one the engine would refuse in the screen's state (by the
// engine's own rule, State.Admit) comes back as command_refused.
func answer(m Model, rec *recorder) Model {
	if rec.answered > len(rec.cmds) {
		rec.answered = 0
	}
	for _, c := range rec.cmds[rec.answered:] {
		st := m.State()
		if why, ok := st.Admit(c); !ok {
			info := &steps.CommandInfo{Type: c.Type, Step: c.Step}
			m = feed(m, steps.Event{Seq: st.Seq + 1, Type: steps.EvCommandRefused, Command: info, Text: why})
		}
	}
	rec.answered = len(rec.cmds)
	return m
}

func (r *recorder) send(c steps.Command) { r.cmds = append(r.cmds, c) }

// newLive is a live screen at 80x24 with the events folded in.
func newLive(f *fake) (Model, *recorder) {
	rec := &recorder{}
	m := New(Options{Mode: Live, Send: rec.send, Initial: f.evs, Now: func() time.Time { return t0.Add(f.mono) }})
	return update(m, tea.WindowSizeMsg{Width: 80, Height: 24}), rec
}

func update(m Model, msgs ...tea.Msg) Model {
	for _, msg := range msgs {
		next, _ := m.Update(msg)
		m = next.(Model)
	}
	return m
}

func updateCmd(m Model, msg tea.Msg) (Model, tea.Cmd) {
	next, cmd := m.Update(msg)
	return next.(Model), cmd
}

// feed delivers events the way the live source does.
func feed(m Model, evs ...steps.Event) Model {
	for _, e := range evs {
		m = update(m, stepEventMsg{e})
	}
	return m
}

// press turns key names into key presses: "enter", "space", "ctrl+c",
// "esc", "up", "down", "pgup", "pgdown", or a single character.
func press(names ...string) []tea.Msg {
	var out []tea.Msg
	for _, n := range names {
		out = append(out, keyMsg(n))
	}
	return out
}

func keyMsg(n string) tea.KeyPressMsg {
	switch n {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	}
	r := []rune(n)[0]
	return tea.KeyPressMsg{Code: r, Text: n}
}

// typeText types a string into the screen.
func typeText(m Model, s string) Model {
	for _, r := range s {
		m = update(m, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return m
}

// plain is the screen as text, without styling.
func plain(m Model) string { return ansi.Strip(m.View().Content) }

// asciiScreen is the screen downsampled to the ASCII profile: no color,
// bold and reverse kept. Golden files hold this, so they match everywhere.
func asciiScreen(m tea.Model) []byte {
	var buf bytes.Buffer
	w := &colorprofile.Writer{Forward: &buf, Profile: colorprofile.ASCII}
	_, _ = w.WriteString(m.View().Content)
	return buf.Bytes()
}

func isQuit(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

func mustContain(t *testing.T, screen string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(screen, w) {
			t.Errorf("screen lacks %q:\n%s", w, screen)
		}
	}
}

func mustNotContain(t *testing.T, screen string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(screen, b) {
			t.Errorf("screen has %q:\n%s", b, screen)
		}
	}
}
