package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/steps/lockcheck"
)

// weighedHigh is apply-001 weighed on the target: a blocking index build
// on a table of two million rows.
func weighedHigh() steps.Event {
	orders := lockcheck.Rel{Schema: "public", Name: "orders"}
	return steps.Event{Type: steps.EvLocksWeighed, Step: "apply-001", Locks: &steps.StepLocksReport{Step: "apply-001", Analysis: &lockcheck.Analysis{
		Transactional: true, Weighed: true,
		Statements: []lockcheck.StatementLocks{{Line: 10, Prediction: &lockcheck.Prediction{File: "migrations/001_rls_hardening.sql", Command: "CREATE INDEX",
			Locks: []lockcheck.Lock{{Rel: orders, Mode: lockcheck.Share, Scan: lockcheck.Yes}}}}},
		Findings: []lockcheck.Finding{{Rule: lockcheck.RuleCreateIndexBlocking, File: "migrations/001_rls_hardening.sql", Line: 10, Rel: orders,
			Why: "CREATE INDEX blocks writes to public.orders while it reads the whole table", Safer: "CREATE INDEX CONCURRENTLY",
			Weight: &lockcheck.Weight{Level: lockcheck.High, Reasons: []string{"public.orders: about 2,000,000 rows, 120.0 MB"}}}},
		Relations: map[string]lockcheck.RelInfo{"public.orders": {Rel: orders, Exists: true, Rows: 2e6, Bytes: 120 << 20}},
	}}}
}

// The WRITES pane lists the locks and the findings with their live
// weight before enter; while a high finding waits for its typed
// acknowledgement the footer offers A, not enter (State.Accepts), and A
// asks for the rule id and sends it as the acknowledgement.
func TestHighLockFindingIsAcknowledgedByTyping(t *testing.T) {
	f := toApplyStart(true)
	f.add(weighedHigh()).add(steps.Event{Type: steps.EvStepWouldRun, Step: "apply-001", Statements: steps.ListOf([]steps.StatementInfo{
		{Index: 0, Count: 1, SQL: "create index orders_x on public.orders (x);", File: "migrations/001_rls_hardening.sql", Line: 10}})})
	m, rec := newLive(f)
	m = update(m, press("f")...) // full screen: the whole pane
	s := plain(m)
	mustContain(t, strings.Join(strings.Fields(s), " "), "LOCKS", "SHARE public.orders (about 2,000,000 rows, 120.0 MB), scan yes",
		"[HIGH] create-index-blocking", "safer: CREATE INDEX CONCURRENTLY", "ACKNOWLEDGE before it runs: create-index-blocking")
	m = update(m, press("f")...)
	s = plain(m)
	mustContain(t, s, "A acknowledge lock finding")
	mustNotContain(t, s, "enter run")

	m = update(m, press("A")...)
	if m.screen() != screenInput {
		t.Fatalf("A: screen %v, want the question", m.screen())
	}
	mustContain(t, plain(m), "type the rule id")
	m = typeText(m, lockcheck.RuleCreateIndexBlocking)
	m = update(m, press("enter")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdAcknowledge, Step: "apply-001", Text: lockcheck.RuleCreateIndexBlocking})

	m = feed(m, steps.Event{Seq: m.State().Seq + 1, Type: steps.EvLockAcknowledged, Step: "apply-001", Text: lockcheck.RuleCreateIndexBlocking})
	s = plain(m)
	mustContain(t, s, "enter run")
	mustNotContain(t, s, "A acknowledge", "ACKNOWLEDGE before it runs")
	m = update(m, press("f")...)
	mustContain(t, plain(m), "acknowledged by the operator: create-index-blocking")
}

// A rehearsal takes the step's locks, so the engine holds a high finding
// for its acknowledgement there too (State.TakesLocks): the pane says so,
// as in an applying session, instead of only the footer's A.
func TestRehearsalShowsTheAcknowledgementItWaitsFor(t *testing.T) {
	f := toApplyStart(false)
	f.evs[0].Session.Rehearse = true
	f.add(weighedHigh()).add(steps.Event{Type: steps.EvStepWouldRun, Step: "apply-001", Statements: steps.ListOf([]steps.StatementInfo{
		{Index: 0, Count: 1, SQL: "create index orders_x on public.orders (x);", File: "migrations/001_rls_hardening.sql", Line: 10}})})
	m, _ := newLive(f)
	if st := m.State(); !st.Accepts(steps.CmdAcknowledge).OK {
		t.Fatal("the engine does not wait for the acknowledgement in a rehearsal")
	}
	// The head is wrapped, not cut: what makes a rehearsal safe is at its end.
	mustContain(t, strings.Join(strings.Fields(plain(m)), " "), "in a transaction that is rolled back; it takes these")
	m = update(m, press("f")...)
	mustContain(t, strings.Join(strings.Fields(plain(m)), " "), "ACKNOWLEDGE before it runs: create-index-blocking")
}

// After a failed CREATE INDEX CONCURRENTLY the pane names the INVALID
// index it left and d asks the engine to drop it.
func TestInvalidIndexOfferedForDrop(t *testing.T) {
	f := toApply().statement("apply-001", 0, 1, "create index concurrently orders_x on public.orders (x);")
	f.add(steps.Event{Type: steps.EvStepFailed, Step: "apply-001", Error: &steps.ErrorInfo{Message: "statement 1 of 1 failed: could not create unique index", SQLState: "23505"}})
	bad := lockcheck.InvalidIndex{Index: lockcheck.Rel{Schema: "public", Name: "orders_x"}, Table: lockcheck.Rel{Schema: "public", Name: "orders"}}
	f.add(steps.Event{Type: steps.EvInvalidIndexFound, Step: "apply-001", Invalid: []lockcheck.InvalidIndex{bad}})
	m, rec := newLive(f)
	mustContain(t, strings.Join(strings.Fields(plain(update(m, press("f")...))), " "), "INVALID index left behind: public.orders_x on public.orders",
		"drop it before retrying: DROP INDEX CONCURRENTLY IF EXISTS public.orders_x")
	mustContain(t, plain(m), "d drop INVALID index")
	m = update(m, press("d")...)
	wantCmds(t, rec, steps.Command{Type: steps.CmdDropInvalid, Step: "apply-001"})
	yes := true
	m = feed(m, steps.Event{Seq: m.State().Seq + 1, Type: steps.EvInvalidIndexDropped, Step: "apply-001", Pass: &yes, Text: "public.orders_x"})
	mustNotContain(t, plain(m), "INVALID index left behind", "d drop INVALID index")
}

// A rehearsal's result is in the step's pane: each lock taken, from which
// statement and for how long, and the predictions it proved wrong.
func TestRehearsalShownInThePane(t *testing.T) {
	f := toApply().statement("apply-001", 0, 1, "alter table public.rate_limits disable row level security;")
	f.add(steps.Event{Type: steps.EvRehearsed, Step: "apply-001", Rehearsal: &steps.Rehearsal{Elapsed: 300 * time.Millisecond,
		Locks: []steps.RehearsedLock{{Rel: "public.rate_limits", Mode: "ACCESS EXCLUSIVE", Predicted: "SHARE", Held: 250 * time.Millisecond, Wrong: true}},
		Wrong: []string{"public.rate_limits: predicted SHARE, the server held ACCESS EXCLUSIVE"}}})
	m, _ := newLive(f)
	s := strings.Join(strings.Fields(plain(update(m, press("f")...))), " ")
	mustContain(t, s, "REHEARSED (rolled back after", "1 wrong prediction(s)",
		"ACCESS EXCLUSIVE public.rate_limits from statement 1, held", "(predicted SHARE)",
		"wrong: public.rate_limits: predicted SHARE, the server held ACCESS EXCLUSIVE")
}

// The consent before a rehearsal on production says what it asks for: the
// write's locks, in a transaction that is rolled back, not a write.
func TestRehearsalConsentSaysWhatItTakes(t *testing.T) {
	f := new(fake).start(false)
	f.evs[0].Session.Rehearse = true
	f.verified().stepStarted("pg-dump").on(steps.EvConsentRequired, "pg-dump")
	m, _ := newLive(f)
	m = update(m, tea.WindowSizeMsg{Width: 240, Height: 30})
	s := strings.Join(strings.Fields(plain(m)), " ")
	mustContain(t, s, "PRODUCTION: TYPED CONSENT", "rehearsed on the production target", "always rolled back", "takes the write's locks")
	mustNotContain(t, s, "writes to the production target")
}

// A finding wrapped at a narrow pane keeps its indent on every line,
// styled or not: the continuation does not start at the margin.
func TestLockFindingWrapsUnderItsIndent(t *testing.T) {
	f := toApply()
	f.evs = f.evs[:len(f.evs)-2] // before the consent and the intent: the prompt
	f.add(weighedHigh()).add(steps.Event{Type: steps.EvStepWouldRun, Step: "apply-001", Statements: steps.ListOf([]steps.StatementInfo{
		{Index: 0, Count: 1, SQL: "create index orders_x on public.orders (x);", File: "migrations/001_rls_hardening.sql", Line: 10}})})
	m, _ := newLive(f)
	seen := false
	for _, l := range strings.Split(plain(m), "\n") {
		_, pane, ok := strings.Cut(l, "│")
		if !ok || strings.TrimSpace(pane) == "" {
			continue
		}
		if strings.Contains(pane, "blocks writes to") || strings.Contains(pane, "whole table") {
			seen = true
			if !strings.HasPrefix(pane, "  ") {
				t.Errorf("a wrapped finding line starts at the margin: %q", pane)
			}
		}
	}
	if !seen {
		t.Fatalf("no wrapped finding on screen:\n%s", plain(m))
	}
}

// A rehearsed step is marked "reh" in the step list, not "skip": the
// rehearsal ran it and rolled it back (a step that was not rehearsed,
// transaction = false, stays "skip").
func TestRehearsedStepMark(t *testing.T) {
	f := toApply().statement("apply-001", 0, 1, "alter table public.rate_limits disable row level security;")
	f.add(steps.Event{Type: steps.EvRehearsed, Step: "apply-001", Rehearsal: &steps.Rehearsal{Elapsed: 300 * time.Millisecond}})
	f.add(steps.Event{Type: steps.EvStepSkipped, Step: "apply-001", Text: "dry run: rehearsed in a transaction that was rolled back; nothing of it stays"})
	m, _ := newLive(f)
	var line string
	for l := range strings.SplitSeq(plain(m), "\n") {
		if left, _, _ := strings.Cut(l, "│"); strings.Contains(left, "Apply migration 001") {
			line = left
			break
		}
	}
	if !strings.HasPrefix(strings.TrimSpace(line), "reh ") {
		t.Fatalf("step list line of the rehearsed step: %q, want it marked reh", line)
	}
	mustContain(t, plain(m), "[sql] Apply migration 001 · rehearsed, rolled back")
}

// In a rehearsal the footer labels enter as the pane does: it rehearses a
// transactional step ("enter rehearse"), not "enter next" as in a dry run.
func TestRehearsalFooterSaysRehearse(t *testing.T) {
	f := toApplyStart(false)
	f.evs[0].Session.Rehearse = true
	f.add(steps.Event{Type: steps.EvStepWouldRun, Step: "apply-001", Statements: steps.ListOf([]steps.StatementInfo{
		{Index: 0, Count: 1, SQL: "alter table t add column c int;", File: "migrations/001_rls_hardening.sql", Line: 10}})})
	m, _ := newLive(f)
	mustContain(t, plain(m), "enter rehearse")
}
