package steps

import (
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/steps/lockcheck"
)

// locksSetup has a table large enough (over a million rows, analysed)
// for a blocking index build on it to weigh high, and a small one.
const locksSetup = `
create table large (id int, x int);
insert into large select g, g from generate_series(1, 1100000) g;
create table small (id int, x int);
insert into small select g, g from generate_series(1, 300) g;
analyze large; analyze small;`

const locksRunbook = `
[[phase]]
title = "Indexes"

[[phase.step]]
kind = "sql"
id = "index-large"
title = "Index the large table"
file = "migrations/001.sql"

[[phase.step]]
kind = "sql"
id = "index-small"
title = "Index the small table"
file = "migrations/002.sql"
`

// Before a sql step is shown the engine weighs its locks on the target
// (locks_weighed): a blocking index build on a table of a million rows
// weighs high, and the step does not run until the operator types the
// finding's rule id (a wrong text or enter first are refused on the
// record); on a small table nothing needs acknowledging.
func TestEngineHighLockFindingNeedsAcknowledgement(t *testing.T) {
	t.Parallel()
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	dsn := testDatabase(t, sb, "locks", "test-project", locksSetup)
	rb := writeTestRunbook(t, locksRunbook, map[string]string{
		"migrations/001.sql": "create index large_x on large (x);\n",
		"migrations/002.sql": "create index small_x on small (x);\n",
	})
	r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsn), Apply: true}, nil)

	w := r.rec.waitStep(t, EvLocksWeighed, "index-large").Locks
	if w == nil || w.Analysis == nil || w.Error != "" {
		t.Fatalf("locks_weighed = %+v", w)
	}
	f := highFinding(w.Analysis)
	if f == nil || f.Rule != lockcheck.RuleCreateIndexBlocking {
		t.Fatalf("no high %s finding: %+v", lockcheck.RuleCreateIndexBlocking, w.Analysis.Findings)
	}
	if !strings.Contains(strings.Join(f.Weight.Reasons, " "), "1,100,000 rows") {
		t.Errorf("reasons %q do not name the live size", f.Weight.Reasons)
	}
	r.rec.waitStep(t, EvStepWouldRun, "index-large")
	r.awaitIdle(t)
	s := r.e.State()
	if aff := s.Accepts(CmdNext); aff.OK || !strings.Contains(aff.Reason, "acknowledge the lock finding create-index-blocking first") {
		t.Fatalf("Accepts(next) = %+v, want refused until acknowledged", aff)
	}
	if !s.Accepts(CmdAcknowledge).OK {
		t.Fatalf("Accepts(acknowledge) = %+v", s.Accepts(CmdAcknowledge))
	}

	n := r.rec.count()
	r.e.Send(Command{Type: CmdNext, Step: "index-large"})
	ref, _ := r.rec.wait(t, n, "refusal of run", func(e Event) bool { return e.Type == EvCommandRefused })
	if ref.Command.Type != CmdNext || !strings.Contains(ref.Text, "acknowledge the lock finding") {
		t.Fatalf("refusal %+v %q", ref.Command, ref.Text)
	}
	n = r.rec.count()
	r.e.Send(Command{Type: CmdAcknowledge, Step: "index-large", Text: "ack"})
	ref, _ = r.rec.wait(t, n, "refusal of a wrong acknowledgement", func(e Event) bool { return e.Type == EvCommandRefused })
	if !strings.Contains(ref.Text, "type the rule id") {
		t.Fatalf("wrong acknowledgement refused with %q", ref.Text)
	}
	r.e.Send(Command{Type: CmdAcknowledge, Step: "index-large", Text: " " + lockcheck.RuleCreateIndexBlocking + " "})
	if ack := r.rec.waitStep(t, EvLockAcknowledged, "index-large"); ack.Text != lockcheck.RuleCreateIndexBlocking {
		t.Fatalf("lock_acknowledged %q", ack.Text)
	}
	r.e.Send(Command{Type: CmdNext, Step: "index-large"})
	r.rec.waitStep(t, EvStepSucceeded, "index-large")

	w = r.rec.waitStep(t, EvLocksWeighed, "index-small").Locks
	if f := highFinding(w.Analysis); f != nil {
		t.Fatalf("small table: high finding %+v", f)
	}
	r.rec.waitStep(t, EvStepWouldRun, "index-small")
	r.awaitIdle(t)
	if s := r.e.State(); !s.Accepts(CmdNext).OK || s.Accepts(CmdAcknowledge).OK {
		t.Fatalf("small table: next %+v, acknowledge %+v", s.Accepts(CmdNext), s.Accepts(CmdAcknowledge))
	}
	r.e.Send(Command{Type: CmdNext, Step: "index-small"})
	if end := r.rec.waitType(t, EvSessionEnded); end.Outcome != OutcomeSucceeded {
		t.Fatalf("ended %s: %s\n%s", end.Outcome, end.Text, r.rec.dump())
	}
	for _, ev := range r.rec.ofType(EvLockAcknowledged) {
		if ev.Step != "index-large" {
			t.Errorf("acknowledged at %s", ev.Step)
		}
	}
	r.quit(t)
	assertFoldMatches(t, r)
}

func highFinding(an *lockcheck.Analysis) *lockcheck.Finding {
	for i, f := range an.Findings {
		if f.Allowed == nil && f.Weight != nil && f.Weight.Level == lockcheck.High {
			return &an.Findings[i]
		}
	}
	return nil
}

// A CREATE UNIQUE INDEX CONCURRENTLY that fails on duplicate rows leaves
// an INVALID index: the engine finds exactly that one (not an older
// invalid index on the same table), offers to drop it (drop_invalid_index,
// accepted only then), journals the DROP INDEX CONCURRENTLY before
// sending it, and the retry after the data is fixed succeeds. Before the
// step, the transaction the build will have to wait for (an open
// REPEATABLE READ snapshot) is listed.
func TestEngineDropsTheInvalidIndexAFailedConcurrentBuildLeft(t *testing.T) {
	t.Parallel()
	dsn := dupTableDB(t, "cic", "create table other (id int);")
	// An older INVALID index on the same table: not this step's to drop.
	admin := adminConn(t, dsn)
	ctx := engineCtx(t)
	if _, err := admin.Exec(ctx, "create unique index concurrently old_bad on dup (x)"); err == nil {
		t.Fatal("the older build should fail on the duplicates")
	}
	// A session holding a snapshot: a CONCURRENTLY build waits for it.
	holder := adminConn(t, dsn)
	if _, err := holder.Exec(ctx, "begin isolation level repeatable read; select count(*) from other"); err != nil {
		t.Fatal(err)
	}
	holderPID := int(holder.PgConn().PID())

	rb := writeTestRunbook(t, `
[[phase]]
title = "Index"

[[phase.step]]
kind = "sql"
id = "unique-x"
title = "Unique index on dup.x"
transaction = false
# select 1 locks nothing, so locks_weighed leaves it out: the failed
# build is then the analysis's first statement but the step's second.
statements = ["select 1", "create unique index concurrently dup_x on dup (x)"]
`, nil)
	r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsn), Apply: true}, nil)
	w := r.rec.waitStep(t, EvLocksWeighed, "unique-x").Locks
	if len(w.InvalidIndexes) != 1 || w.InvalidIndexes[0].Index.Name != "old_bad" {
		t.Errorf("invalid indexes before the step: %+v", w.InvalidIndexes)
	}
	waits := w.Analysis.Statements[0].WaitsFor
	if len(waits) == 0 || waits[0].PID != holderPID {
		t.Fatalf("the build's waits %+v do not list the snapshot holder pid %d", waits, holderPID)
	}
	if lines := w.Lines(); !slicesContainText(lines, "will wait for pid") {
		t.Errorf("the lines do not say who the build waits for: %+v", lines)
	}
	if _, err := holder.Exec(ctx, "commit"); err != nil {
		t.Fatal(err)
	}
	r.rec.waitStep(t, EvStepWouldRun, "unique-x")
	r.awaitIdle(t)
	if s := r.e.State(); s.Accepts(CmdDropInvalid).OK {
		t.Fatal("drop_invalid_index accepted before anything failed")
	}
	r.e.Send(Command{Type: CmdNext, Step: "unique-x"})
	failed := r.rec.waitStep(t, EvStepFailed, "unique-x")
	if failed.Error.SQLState != "23505" {
		t.Fatalf("failed with %+v", failed.Error)
	}
	found := r.rec.waitStep(t, EvInvalidIndexFound, "unique-x")
	if len(found.Invalid) != 1 || found.Invalid[0].Index != (lockcheck.Rel{Schema: "public", Name: "dup_x"}) {
		t.Fatalf("invalid_index_found %+v, want exactly public.dup_x", found.Invalid)
	}
	r.awaitIdle(t)
	if s := r.e.State(); !s.Accepts(CmdDropInvalid).OK {
		t.Fatalf("drop_invalid_index refused: %s", s.Accepts(CmdDropInvalid).Reason)
	}
	// A retry before the drop would fail on the INVALID index's name
	// (or, with IF NOT EXISTS, succeed and leave it INVALID): refused.
	if s := r.e.State(); s.Accepts(CmdRetry).OK || !strings.Contains(s.Accepts(CmdRetry).Reason, "public.dup_x") {
		t.Fatalf("retry with the INVALID index still there: %+v", s.Accepts(CmdRetry))
	}
	r.e.Send(Command{Type: CmdDropInvalid, Step: "unique-x"})
	drop := r.rec.waitStep(t, EvInvalidIndexDrop, "unique-x")
	if drop.Statements.Len() != 1 || drop.Statements.At(0).SQL != "DROP INDEX CONCURRENTLY IF EXISTS public.dup_x" {
		t.Fatalf("drop intent %+v", drop.Statements)
	}
	if done := r.rec.waitStep(t, EvInvalidIndexDropped, "unique-x"); done.Pass == nil || !*done.Pass || done.Text != "public.dup_x" {
		t.Fatalf("invalid_index_dropped %+v %q %+v", done.Pass, done.Text, done.Error)
	}
	left := queryValue[string](t, dsn, "select coalesce(string_agg(c.relname::text, ',' order by c.relname), '') from pg_index i join pg_class c on c.oid = i.indexrelid where not i.indisvalid")
	if left != "old_bad" {
		t.Fatalf("invalid indexes after the drop: %q, want only old_bad", left)
	}
	r.awaitIdle(t)
	if s := r.e.State(); s.Accepts(CmdDropInvalid).OK {
		t.Fatal("drop_invalid_index still accepted after the drop")
	}
	if _, err := admin.Exec(ctx, "delete from dup where id > 50"); err != nil {
		t.Fatal(err)
	}
	r.e.Send(Command{Type: CmdRetry, Step: "unique-x"})
	if end := r.rec.waitType(t, EvSessionEnded); end.Outcome != OutcomeSucceeded {
		t.Fatalf("ended %s: %s\n%s", end.Outcome, end.Text, r.rec.dump())
	}
	r.quit(t)
	assertFoldMatches(t, r)
}

func slicesContainText(lines []LockLine, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l.Text, sub) {
			return true
		}
	}
	return false
}

// A drop of an INVALID index cut off before its result was recorded is,
// on resume, an outcome unknown on the record, and the index is still
// offered for a drop (the drop is IF EXISTS); nothing is sent by itself.
func TestResumeAfterAnUnrecordedDropSaysItsOutcomeIsUnknown(t *testing.T) {
	t.Parallel()
	dsn := dupTableDB(t, "cicresume", "")
	rb := writeTestRunbook(t, `
[[phase]]
title = "Index"

[[phase.step]]
kind = "sql"
id = "unique-x"
title = "Unique index on dup.x"
transaction = false
statements = ["create unique index concurrently dup_x on dup (x)"]
`, nil)
	rec := newEvRecorder()
	rec.failOn = func(e Event) bool { return e.Type == EvInvalidIndexDropped }
	first := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsn), Apply: true}, rec)
	first.rec.waitStep(t, EvStepWouldRun, "unique-x")
	first.e.Send(Command{Type: CmdNext, Step: "unique-x"})
	first.rec.waitStep(t, EvInvalidIndexFound, "unique-x")
	first.awaitIdle(t)
	first.e.Send(Command{Type: CmdDropInvalid, Step: "unique-x"})
	if res := first.finish(t); res.err == nil || !strings.Contains(res.err.Error(), "recording event") {
		t.Fatalf("first session: %+v, want the sink's error", res)
	}
	prior := first.rec.all()
	if last := prior[len(prior)-1]; last.Type != EvInvalidIndexDrop || last.Text != "public.dup_x" {
		t.Fatalf("the prior journal ends with %s %q, want invalid_index_drop of public.dup_x", last.Type, last.Text)
	}

	second := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsn), Apply: true, Prior: prior}, nil)
	unknown := second.rec.waitStep(t, EvInvalidIndexDropped, "unique-x")
	if unknown.Pass != nil || unknown.Text != "public.dup_x" || unknown.Error == nil ||
		!strings.Contains(unknown.Error.Message, "may or may not be gone") {
		t.Fatalf("on resume: %+v (error %+v), want the drop's outcome unknown", unknown, unknown.Error)
	}
	second.awaitIdle(t)
	st := second.e.State()
	if s := st.Steps[0]; s.Dropping != "" || len(s.Invalid) != 1 {
		t.Fatalf("after resume: dropping %q, invalid %+v", s.Dropping, s.Invalid)
	}
	if a := st.Accepts(CmdDropInvalid); !a.OK {
		t.Fatalf("the drop is not offered again: %s", a.Reason)
	}
	for _, ev := range second.rec.all() {
		if ev.Type == EvInvalidIndexDrop {
			t.Fatal("the drop was sent again without the operator")
		}
	}
	second.quit(t)
	// The whole journal (both sessions) folds to the resumed engine's state.
	whole := &evRecorder{events: append(prior, second.rec.all()...), changed: make(chan struct{})}
	assertFoldMatches(t, &engineRun{e: second.e, rec: whole})
}

// dupTableDB makes database name in a new sandbox with table dup (200
// rows, x repeating every 50: a unique index on x fails), plus extra SQL,
// and returns its DSN.
func dupTableDB(t *testing.T, name, extra string) string {
	t.Helper()
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	return testDatabase(t, sb, name, "test-project", `
create table dup (id int, x int);
insert into dup select g, g % 50 from generate_series(1, 200) g;
`+extra+`
analyze dup;`)
}
