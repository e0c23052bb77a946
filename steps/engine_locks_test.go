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
