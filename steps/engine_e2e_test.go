package steps

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/db"
)

// rollbackAt makes the autopilot ask for the rollback when step id is
// reached, instead of running it.
func rollbackAt(id string) func(*State) (Command, bool) {
	return func(s *State) (Command, bool) {
		if st := s.CurrentStep(); st != nil && st.ID == id && st.Status == StatusActive && s.CanRollback() {
			return Command{Type: CmdRollback, Text: "test: exercise the rollback"}, true
		}
		return Command{}, false
	}
}

// assertChecksPassed: every check step of the phases before stopAt (and
// every rollback check) passed, and none failed anywhere.
func assertChecksPassed(t *testing.T, r *engineRun, stopAt string) {
	t.Helper()
	for _, ev := range r.rec.all() {
		switch ev.Type {
		case EvCheckFailed, EvStepFailed, EvItemCheckFailed, EvStepCancelled, EvStepOutcomeUnknown:
			t.Errorf("%s %s: %+v %+v", ev.Type, ev.Step, ev.Check, ev.Error)
		}
	}
	st := r.e.State()
	for _, s := range st.Steps {
		if s.ID == stopAt {
			break
		}
		if s.Kind == KindCheck && s.Status != StatusSucceeded {
			t.Errorf("check %s is %s", s.ID, s.Status)
		}
	}
	for _, s := range st.Steps {
		if s.Rollback && s.Status != StatusSucceeded {
			t.Errorf("rollback step %s is %s", s.ID, s.Status)
		}
	}
}

func passedChecks(r *engineRun) map[string]bool {
	out := map[string]bool{}
	for _, ev := range r.rec.ofType(EvCheckPassed) {
		out[ev.Step] = true
	}
	return out
}

// Without --apply nothing writes: the schema is byte for byte the same,
// no intent is recorded, and every write step is skipped as a dry run.
func TestDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	sb, dsns := demoDatabases(t, db.SandboxOptions{})
	rb := exampleRunbook(t, "connect-rls-hardening")
	before := schemaDump(t, sb, "connect_prod")

	r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsns["connect_prod"])}, nil)
	res := r.drive(t, nil)
	if res.err != nil || res.outcome != OutcomeSucceeded {
		t.Fatalf("dry run: %+v\n%s", res, r.rec.dump())
	}
	if after := schemaDump(t, sb, "connect_prod"); after != before {
		t.Fatal("the dry run changed the schema")
	}
	if n := len(r.rec.ofType(EvIntent)); n != 0 {
		t.Fatalf("%d intents in a dry run", n)
	}
	for _, s := range r.e.State().Steps {
		if s.Writes && !s.Rollback && (s.Status != StatusSkipped || !strings.HasPrefix(s.Note, "dry run")) {
			t.Errorf("write step %s: %s %q", s.ID, s.Status, s.Note)
		}
		if s.Writes && !s.Rollback && s.WouldRun.Len() == 0 {
			t.Errorf("write step %s did not show what it would run", s.ID)
		}
	}
	if r.e.State().Wrote || r.e.Wrote() {
		t.Error("state says something was written")
	}
	// The validation checks fail (the migration was only shown): each is
	// marked as a dry run expects, not a real FAIL, and the run went on
	// without anyone having to skip it.
	expected := 0
	for _, s := range r.e.State().Steps {
		switch {
		case s.ExpectedInDryRun():
			expected++
			if !strings.Contains(s.Error.Message, "expected in a dry run") {
				t.Errorf("%s: %q", s.ID, s.Error.Message)
			}
		case s.Status == StatusFailed:
			t.Errorf("%s failed for real in the dry run: %+v", s.ID, s.Error)
		}
	}
	if expected == 0 {
		t.Error("no check failed as a dry run expects; the validation checks should (the migration was not made)")
	}
	for _, e := range r.rec.ofType(EvStepSkipped) {
		if strings.Contains(e.Text, "skipped by the operator") {
			t.Errorf("the operator had to skip %s: %q", e.Step, e.Text)
		}
	}
	assertFoldMatches(t, r)
}

// connect-rls-hardening end to end in apply mode: every check passes
// (including the as_role RLS smoke tests), then the rollback runs, its
// checks pass, and the schema is back to the pre-deploy dump.
func TestConnectRunbookApplyAndRollback(t *testing.T) {
	t.Parallel()
	sb, dsns := demoDatabases(t, db.SandboxOptions{})
	rb := exampleRunbook(t, "connect-rls-hardening")
	before := schemaDump(t, sb, "connect_prod")

	// A staging run proved the promotion: the proof item ticks itself and
	// the gate lets the first write through without an override.
	proven := func(context.Context) *PromotionProof {
		return &PromotionProof{OK: true, Journal: "/var/lib/handrail/staging.jsonl", Head: strings.Repeat("ab", 32), Operator: "ci", ProjectID: db.DemoStagingProjectID}
	}
	r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsns["connect_prod"]), Apply: true, ProveStaging: proven}, nil)
	res := r.drive(t, rollbackAt("post-deploy"))
	if res.err != nil || res.outcome != OutcomeRolledBack {
		t.Fatalf("outcome %+v\n%s", res, r.rec.dump())
	}
	assertChecksPassed(t, r, "post-deploy")
	passed := passedChecks(r)
	for _, id := range []string{
		"check-rate-limits-rls", "check-is-public-column", "check-business-accounts-policy", "check-buckets", "check-storage-policies",
		"smoke-owner-sees-private", "smoke-viewer-sees-public-only", "smoke-no-foreign-private",
		"rollback-check-schema", "rollback-check-buckets",
	} {
		if !passed[id] {
			t.Errorf("check %s did not pass", id)
		}
	}
	if n, o := len(r.rec.ofType(EvPromotionChecked)), len(r.rec.ofType(EvPromotionOverridden)); n != 1 || o != 0 {
		t.Errorf("the staging proof was checked %d times and overridden %d times; want once and never", n, o)
	}
	if st := r.e.State(); !st.Steps[0].ItemStates[1].Ticked || !st.Steps[0].ItemStates[1].Auto {
		t.Errorf("the staging proof item did not tick itself: %+v", st.Steps[0].ItemStates[1])
	}
	if len(r.rec.ofType(EvConsentGiven)) != 1 {
		t.Error("production consent was not asked exactly once")
	}
	// The rollback dialog and end summary read these from the session.
	if st := r.e.State(); !reflect.DeepEqual(st.Session.RollbackWhen, rb.Rollback.When) || len(st.Session.RollbackWhen) == 0 ||
		!reflect.DeepEqual(st.Session.SuccessCriteria, rb.SuccessCriteria) || len(st.Session.SuccessCriteria) == 0 {
		t.Errorf("session info lacks the runbook's rollback conditions or success criteria: %q %q", st.Session.RollbackWhen, st.Session.SuccessCriteria)
	}
	if fin := r.rec.waitType(t, EvRollbackFinished); fin.Pass == nil || !*fin.Pass {
		t.Error("rollback_finished did not pass")
	}
	msgs := r.rec.ofType(EvMessageRendered)
	if len(msgs) != 3 || !strings.Contains(msgs[2].Message.Body, "ROLLED BACK") || !strings.Contains(msgs[2].Message.Body, "rolled back") {
		t.Errorf("messages: %+v", msgs)
	}
	if after := schemaDump(t, sb, "connect_prod"); after != before {
		t.Fatalf("after the rollback the schema differs from before the deploy:\n%s", diffLines(before, after))
	}
	assertFoldMatches(t, r)
}

// tenant-rls-fix end to end in apply mode: pg_dump backup via exec, the
// isolation checks as app_user per tenant, then the rollback.
func TestTenantRunbookApplyAndRollback(t *testing.T) {
	t.Parallel()
	sb, dsns := demoDatabases(t, db.SandboxOptions{})
	stampDB(t, dsns["tenant_app"], "tenant-app-prod")
	rb := exampleRunbook(t, "tenant-rls-fix")
	before := schemaDump(t, sb, "tenant_app")

	r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsns["tenant_app"]), Apply: true}, nil)
	res := r.drive(t, rollbackAt("post-checklist"))
	if res.err != nil || res.outcome != OutcomeRolledBack {
		t.Fatalf("outcome %+v\n%s", res, r.rec.dump())
	}
	assertChecksPassed(t, r, "post-checklist")
	passed := passedChecks(r)
	for _, id := range []string{"isolation-tenant-a", "isolation-tenant-b", "isolation-all-tables-tenant-a", "isolation-no-context",
		"rollback-check-rls-off", "rollback-check-role"} {
		if !passed[id] {
			t.Errorf("check %s did not pass", id)
		}
	}
	exit := r.rec.waitStep(t, EvExecExited, "backup")
	if *exit.ExitCode != 0 {
		st := r.e.State()
		t.Fatalf("pg_dump exited %d: %s", *exit.ExitCode, st.Steps[st.StepIndex("backup")].Output)
	}
	dumps, _ := filepath.Glob(filepath.Join(rb.Dir, "tenant-app-backup-*.dump"))
	if len(dumps) != 1 {
		t.Errorf("backups in the runbook directory: %v", dumps)
	}
	for _, d := range dumps {
		if fi, err := os.Stat(d); err != nil || fi.Size() == 0 {
			t.Errorf("backup %s is empty: %v", d, err)
		}
	}
	if after := schemaDump(t, sb, "tenant_app"); after != before {
		t.Fatalf("after the rollback the schema differs from before the deploy:\n%s", diffLines(before, after))
	}
	assertFoldMatches(t, r)
}

// diffLines lists the lines only in a and only in b.
func diffLines(a, b string) string {
	in := func(s string) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			m[l]++
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out strings.Builder
	for l, n := range ma {
		if mb[l] < n {
			out.WriteString("- " + l + "\n")
		}
	}
	for l, n := range mb {
		if ma[l] < n {
			out.WriteString("+ " + l + "\n")
		}
	}
	return out.String()
}
