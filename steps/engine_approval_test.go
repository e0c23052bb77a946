package steps

import (
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/db"
)

const approvalRunbook = `
[approval]
required = 1

[[phase]]
title = "Change"

[[phase.step]]
id = "create"
kind = "sql"
statements = ["create table approved_t (x int)"]

[[phase.step]]
id = "fill"
kind = "sql"
statements = ["insert into approved_t values (1)"]

[[phase.step]]
id = "more"
kind = "sql"
statements = ["insert into approved_t values (2)"]

[[rollback.step]]
id = "undo"
kind = "sql"
statements = ["drop table if exists approved_t"]
`

// loggedWith reports whether the server logged a statement containing
// text in dbname since offset (log_statement = all).
func loggedWith(t *testing.T, sb *db.Sandbox, offset int64, dbname, text string) bool {
	t.Helper()
	for _, s := range loggedStatements(t, sb.LogFile(), offset, dbname) {
		if strings.Contains(s, text) {
			return true
		}
	}
	return false
}

// With [approval] required = 1, no write reaches the server until an
// approver who is not the operator typed the project id for that write:
// the server's own log (log_statement = all) shows no write statement
// before the approval. Observers, the operator's name and the operator's
// key are refused on the record, as are a wrong project id and the
// operator's own approve; an approver who leaves takes their approval
// with them (the next write waits until one is back); a hold holds the
// next write until released.
func TestApprovalRequiredBeforeEveryWrite(t *testing.T) {
	t.Parallel()
	sb := db.NewTestSandbox(t, db.SandboxOptions{LogStatements: true})
	dsn := testDatabase(t, sb, "approval_db", "test-project")
	rb := writeTestRunbook(t, approvalRunbook, nil)
	logStart := fileSize(t, sb.LogFile())

	r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsn), Apply: true,
		Operator: "olga", OperatorKeys: []string{"SHA256:olgas-key"}}, nil)
	r.rec.waitStep(t, EvStepWouldRun, "create")
	alice := Partner{ID: 1, Name: "alice", Role: RoleApprover, Fingerprint: "SHA256:alice"}
	bob := Partner{ID: 2, Name: "bob", Role: RoleObserver, Fingerprint: "SHA256:bob"}
	olgaByName := Partner{ID: 3, Name: "Olga", Role: RoleApprover, Fingerprint: "SHA256:other"}
	olgaByKey := Partner{ID: 4, Name: "o2", Role: RoleApprover, Fingerprint: "SHA256:olgas-key"}
	for _, p := range []Partner{alice, bob, olgaByName, olgaByKey} {
		if err := r.e.PartnerJoined(p); err != nil {
			t.Fatal(err)
		}
	}

	// The operator runs the step: the write waits for its approver.
	r.e.Send(Command{Type: CmdNext, Step: "create"})
	_, at := r.rec.wait(t, 0, "approval_required of create", func(e Event) bool {
		return e.Type == EvApprovalRequired && e.Step == "create"
	})
	refused := func(by *Partner, c Command, want string) {
		t.Helper()
		from := r.rec.count()
		if by != nil {
			r.e.PartnerSend(*by, c)
		} else {
			r.e.Send(c)
		}
		ev, _ := r.rec.wait(t, from, "command_refused ("+want+")", func(e Event) bool {
			return e.Type == EvCommandRefused || e.Type == EvApprovalGiven
		})
		if ev.Type != EvCommandRefused || !strings.Contains(ev.Text, want) {
			t.Fatalf("%+v: got %s %q, want a refusal saying %q", c, ev.Type, ev.Text, want)
		}
		if by != nil && (ev.Command.By == nil || ev.Command.By.Fingerprint != by.Fingerprint) {
			t.Errorf("the refusal does not name the partner: %+v", ev.Command)
		}
	}
	approve := Command{Type: CmdApprove, Step: "create", Text: "test-project"}
	refused(&bob, approve, "observer")
	refused(&olgaByName, approve, "operator cannot approve")
	refused(&olgaByKey, approve, "operator cannot approve")
	refused(&alice, Command{Type: CmdApprove, Step: "create", Text: "wrong-id"}, "project id")
	refused(nil, approve, "only a pair partner")
	refused(nil, Command{Type: CmdNext, Step: "create"}, "waits")
	refused(&alice, Command{Type: CmdNext, Step: "create"}, "a pair partner may only")
	refused(&alice, Command{Type: CmdRelease}, "hold nothing")
	if loggedWith(t, sb, logStart, "approval_db", "approved_t") || r.rec.count() > 0 && len(r.rec.ofType(EvIntent)) > 0 {
		t.Fatalf("a write was sent before any approval; events:\n%s", r.rec.dump())
	}

	r.e.PartnerSend(alice, approve)
	given, gi := r.rec.wait(t, at, "approval_given", func(e Event) bool { return e.Type == EvApprovalGiven })
	if given.Step != "create" || given.Partner == nil || given.Partner.Fingerprint != alice.Fingerprint {
		t.Fatalf("approval_given = %+v", given)
	}
	_, ii := r.rec.wait(t, gi, "intent of create", func(e Event) bool { return e.Type == EvIntent && e.Step == "create" })
	r.rec.waitStep(t, EvStepSucceeded, "create")
	if ii < gi || !loggedWith(t, sb, logStart, "approval_db", "create table approved_t") {
		t.Fatalf("the approved write did not run after its approval")
	}

	// The approver leaves before the next write: it waits until one is back.
	r.rec.waitStep(t, EvStepWouldRun, "fill")
	if err := r.e.PartnerLeft(alice, "connection lost"); err != nil {
		t.Fatal(err)
	}
	mark := fileSize(t, sb.LogFile())
	r.e.Send(Command{Type: CmdNext, Step: "fill"})
	wait, wi := r.rec.wait(t, 0, "approval_required of fill", func(e Event) bool {
		return e.Type == EvApprovalRequired && e.Step == "fill"
	})
	if !strings.Contains(wait.Text, "no approver is connected") {
		t.Errorf("approval_required of fill says %q", wait.Text)
	}
	r.awaitIdle(t)
	if loggedWith(t, sb, mark, "approval_db", "insert into approved_t") {
		t.Fatal("the insert was sent while no approver was connected")
	}
	alice2 := alice
	alice2.ID = 5
	if err := r.e.PartnerJoined(alice2); err != nil {
		t.Fatal(err)
	}
	r.e.PartnerSend(alice2, Command{Type: CmdApprove, Step: "fill", Text: "test-project"})
	r.rec.waitStep(t, EvStepSucceeded, "fill")
	if _, i := r.rec.wait(t, wi, "approval of fill", func(e Event) bool { return e.Type == EvApprovalGiven && e.Step == "fill" }); i < wi {
		t.Fatal("fill ran without its approval")
	}

	// A hold: the next write waits for the release even once approved.
	r.rec.waitStep(t, EvStepWouldRun, "more")
	r.e.PartnerSend(alice2, Command{Type: CmdHold})
	r.rec.waitType(t, EvHoldPlaced)
	r.e.PartnerSend(alice2, Command{Type: CmdApprove, Step: "more", Text: "test-project"})
	r.rec.waitStep(t, EvApprovalGiven, "more")
	r.e.Send(Command{Type: CmdNext, Step: "more"})
	held, hi := r.rec.wait(t, 0, "approval_required of more", func(e Event) bool {
		return e.Type == EvApprovalRequired && e.Step == "more"
	})
	if !strings.Contains(held.Text, "held by alice") {
		t.Errorf("approval_required of more says %q", held.Text)
	}
	r.awaitIdle(t)
	if n := queryValue[int64](t, dsn, "select count(*) from approved_t"); n != 1 {
		t.Fatalf("rows while held: %d, want 1", n)
	}
	r.e.PartnerSend(alice2, Command{Type: CmdRelease})
	_, ri := r.rec.wait(t, hi, "hold_released", func(e Event) bool { return e.Type == EvHoldReleased })
	_, mi := r.rec.wait(t, hi, "intent of more", func(e Event) bool { return e.Type == EvIntent && e.Step == "more" })
	if mi < ri {
		t.Fatal("more was sent before the hold was released")
	}
	r.rec.waitType(t, EvSessionEnded)
	if res := r.quit(t); res.outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s %v; events:\n%s", res.outcome, res.err, r.rec.dump())
	}
	assertFoldMatches(t, r)
}

// An approver asks for the rollback: the record says who, and the
// operator's screen opens the dialog (the fold's Rollback.Proposed). A
// partner who leaves while holding releases the hold.
func TestApproverAsksRollbackAndHoldEndsWithLeave(t *testing.T) {
	t.Parallel()
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	dsn := testDatabase(t, sb, "approval_rb", "test-project")
	rb := writeTestRunbook(t, approvalRunbook, nil)
	r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsn), Apply: true, Operator: "olga"}, nil)
	r.rec.waitStep(t, EvStepWouldRun, "create")
	alice := Partner{ID: 1, Name: "alice", Role: RoleApprover, Fingerprint: "SHA256:alice"}
	if err := r.e.PartnerJoined(alice); err != nil {
		t.Fatal(err)
	}
	r.e.PartnerSend(alice, Command{Type: CmdAskRollback})
	if ev := r.rec.waitType(t, EvCommandRefused); !strings.Contains(ev.Text, "nothing has been written") {
		t.Errorf("rollback asked before any write: %q", ev.Text)
	}
	r.e.PartnerSend(alice, Command{Type: CmdApprove, Step: "create", Text: "test-project"})
	r.e.Send(Command{Type: CmdNext, Step: "create"})
	r.rec.waitStep(t, EvStepSucceeded, "create")
	r.e.PartnerSend(alice, Command{Type: CmdAskRollback, Text: "errors are up"})
	ev := r.rec.waitType(t, EvRollbackProposed)
	if ev.Partner == nil || ev.Partner.Name != "alice" {
		t.Fatalf("rollback_proposed = %+v", ev)
	}
	if s := r.e.State(); s.Rollback.Proposed != "alice (approver)" {
		t.Errorf("Rollback.Proposed = %q", s.Rollback.Proposed)
	}
	r.e.PartnerSend(alice, Command{Type: CmdHold})
	r.rec.waitType(t, EvHoldPlaced)
	if err := r.e.PartnerLeft(alice, "connection lost"); err != nil {
		t.Fatal(err)
	}
	rel := r.rec.waitType(t, EvHoldReleased)
	if !strings.Contains(rel.Text, "left") {
		t.Errorf("hold_released on leave says %q", rel.Text)
	}
	if s := r.e.State(); len(s.Holds) != 0 {
		t.Errorf("holds after the holder left: %+v", s.Holds)
	}
	r.e.Send(Command{Type: CmdRollback, Text: "alice asked"})
	r.rec.waitType(t, EvSessionEnded)
	if res := r.quit(t); res.outcome != OutcomeRolledBack {
		t.Fatalf("outcome %s; events:\n%s", res.outcome, r.rec.dump())
	}
	assertFoldMatches(t, r)
}
