package promote

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/runbooks"
	"github.com/handrail-dev/handrail/steps"
)

// The staging journals the tests judge are recorded by real sessions of
// the Connect runbook against the sandbox's staging and production
// databases (the autopilot plays the operator).
type world struct {
	rb   *steps.Runbook // as it runs against [target]
	dsns map[string]string
	dir  string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	dbs, err := db.SetupDemoDatabases(ctx, sb, os.DirFS(filepath.Join("..", "testdata", "fixtures")))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{dsns: map[string]string{}, dir: t.TempDir()}
	for _, d := range dbs {
		w.dsns[d.Role] = d.DSN
	}
	rb, problems := steps.LoadFS(runbooks.FS, "connect-rls-hardening")
	if rb == nil || problems.HasErrors() {
		t.Fatalf("runbook: %v", problems.Errors())
	}
	w.rb = rb
	return w
}

// session runs rb (in env) against the database of role to its end and
// returns its journal. intercept may steer the autopilot.
func (w *world) session(t *testing.T, env, role string, intercept func(*steps.State) (steps.Command, bool)) (string, steps.Outcome) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rb, err := w.rb.ForEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	target, err := db.ParseTarget(w.dsns[role])
	if err != nil {
		t.Fatal(err)
	}
	jw, err := journal.Create(w.dir, journal.Header{SessionID: "s-" + env, RunbookID: rb.Meta.ID, RunbookHash: rb.Hash,
		HandrailVersion: "test", Operator: "ci-" + env, TargetName: rb.Target.Name, ProjectID: rb.Target.ProjectID,
		DSN: target.Display(), Apply: true, Environment: rb.Env}, target.Secrets())
	if err != nil {
		t.Fatal(err)
	}
	defer jw.Close()
	eng := steps.NewEngine(steps.Config{Runbook: rb, Target: target, Apply: true, Operator: "ci-" + env, SessionID: "s-" + env,
		ProveStaging: Prover(Request{Runbook: rb, Dir: w.dir}),
		Sink:         func(e steps.Event) error { _, err := jw.Record(e); return err }})
	done := make(chan steps.Outcome, 1)
	go func() {
		out, err := eng.Run(ctx)
		if err != nil {
			t.Errorf("engine: %v", err)
		}
		done <- out
	}()
	if err := steps.Drive(ctx, eng, rb, intercept); err != nil {
		t.Fatal(err)
	}
	return jw.Path(), <-done
}

func TestPromotionProof(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	now := time.Now()

	// No staging journal yet: refused, saying what is missing and where.
	p := Prove(context.Background(), Request{Runbook: w.rb, Dir: w.dir})
	if p.OK || !strings.Contains(p.Problems[0], "no journal in "+w.dir) {
		t.Fatalf("without a staging journal: %+v", p)
	}
	// The demo's records its staging journal with handrail demo, not
	// handrail run: the message gives the command that works there.
	p = Prove(context.Background(), Request{Runbook: w.rb, Dir: w.dir, StagingRun: "handrail demo --env staging --apply", Demo: true})
	if !strings.Contains(p.Problems[0], "run it there first (handrail demo --env staging --apply)") {
		t.Fatalf("the demo's command is not given: %+v", p)
	}
	// ... and handrail demo has no --staging-journal to offer instead.
	if strings.Contains(p.Problems[0], "--staging-journal") {
		t.Fatalf("the demo is told to give a flag it does not have: %+v", p)
	}

	// A staging session that rolled back does not prove anything.
	rolledBack := func(s *steps.State) (steps.Command, bool) {
		if st := s.CurrentStep(); st != nil && st.ID == "post-deploy" && s.CanRollback() {
			return steps.Command{Type: steps.CmdRollback, Text: "test: roll back"}, true
		}
		return steps.Command{}, false
	}
	failed, out := w.session(t, steps.EnvStaging, db.DemoRoleConnectStaging, rolledBack)
	if out != steps.OutcomeRolledBack {
		t.Fatalf("the failing staging session ended %s", out)
	}
	p = Check(failed, w.rb, now)
	if p.OK || !hasProblem(p, "ended rolled_back, not succeeded") || !hasProblem(p, "rolled back") {
		t.Fatalf("a rolled-back staging session: %+v", p)
	}

	// The real staging session: the production run of the same runbook
	// finds it and the gate opens.
	good, out := w.session(t, steps.EnvStaging, db.DemoRoleConnectStaging, nil)
	if out != steps.OutcomeSucceeded {
		t.Fatalf("the staging session ended %s", out)
	}
	p = Prove(context.Background(), Request{Runbook: w.rb, Dir: w.dir})
	if !p.OK || p.Journal != good || p.Operator != "ci-staging" || p.Head == "" || p.Ended.IsZero() {
		t.Fatalf("with a staging journal: %+v", p)
	}
	prod, out := w.session(t, "", db.DemoRoleConnectProd, nil)
	if out != steps.OutcomeSucceeded {
		t.Fatalf("the production session ended %s", out)
	}
	log := readLog(t, prod)
	if n := count(log, steps.EvPromotionOverridden); n != 0 {
		t.Errorf("with proof the production run was overridden %d times", n)
	}
	if c := first(log, steps.EvPromotionChecked); c == nil || !c.Promotion.OK || c.Promotion.Journal != good {
		t.Errorf("the production journal should record the proof: %+v", c)
	}

	// A production journal is not staging proof (another project).
	p = Check(prod, w.rb, now)
	if p.OK || !hasProblem(p, `line 1: header field project_id is "rxlqtyfhsocxnsnnnlwl", not the staging project "mohctrsopquwoyfweadl"`) {
		t.Fatalf("a production journal as proof: %+v", p)
	}

	// Another version of the runbook: the hash differs.
	other := *w.rb
	other.Hash = strings.Repeat("0", 64)
	p = Check(good, &other, now)
	if p.OK || !hasProblem(p, "line 1: header field runbook_hash is") {
		t.Fatalf("another runbook hash: %+v", p)
	}
	p = Prove(context.Background(), Request{Runbook: &other, Dir: w.dir})
	if p.OK || !hasProblem(p, "is of another version of the runbook") {
		t.Fatalf("searching for another runbook hash: %+v", p)
	}

	// Too old.
	p = Check(good, w.rb, now.Add(15*24*time.Hour))
	if p.OK || !hasProblem(p, "older than proof_max_age (336h0m0s)") {
		t.Fatalf("an old staging journal: %+v", p)
	}

	// One line altered (an operator's answer, mid-journal): refused,
	// naming the line; the search passes over it.
	tampered := filepath.Join(t.TempDir(), "tampered.jsonl")
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(raw, []byte("\n"))
	n := len(lines) / 2
	lines[n] = bytes.Replace(lines[n], []byte(`"seq":`), []byte(`"seq": `), 1)
	if err := os.WriteFile(tampered, bytes.Join(lines, []byte("\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	p = Prove(context.Background(), Request{Runbook: w.rb, Journal: tampered})
	if p.OK || !hasProblem(p, "does not verify") || !hasProblem(p, "line ") {
		t.Fatalf("a tampered journal: %+v", p)
	}

	// Without the good journal, nothing left in the directory proves it.
	if err := os.Remove(good); err != nil {
		t.Fatal(err)
	}
	p = Prove(context.Background(), Request{Runbook: w.rb, Dir: w.dir})
	if p.OK {
		t.Fatalf("without the good journal the search should fail: %+v", p)
	}
}

// Without proof the production run's first write is held; the override
// is journaled with its reason and shown in the transcript as one.
func TestPromotionOverrideIsJournaled(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	prod, out := w.session(t, "", db.DemoRoleConnectProd, nil)
	if out != steps.OutcomeSucceeded {
		t.Fatalf("the production session ended %s", out)
	}
	log := readLog(t, prod)
	req, ov := first(log, steps.EvPromotionRequired), first(log, steps.EvPromotionOverridden)
	intent := first(log, steps.EvIntent)
	if req == nil || ov == nil || intent == nil || !(req.Seq < ov.Seq && ov.Seq < intent.Seq) {
		t.Fatalf("the gate must hold the first write until the override: required %v, overridden %v, intent %v", req, ov, intent)
	}
	if req.Step != "apply-001" || !strings.Contains(req.Text, "no journal in") || ov.Text != steps.AutopilotOverride {
		t.Errorf("gate events: %+v / %+v", req, ov)
	}
	var tr bytes.Buffer
	if err := journal.Transcript(&tr, log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tr.String(), "PROMOTION GATE OVERRIDDEN by the operator, without staging proof: \""+steps.AutopilotOverride+"\"") {
		t.Errorf("the transcript does not show the override:\n%s", tr.String())
	}
}

func readLog(t *testing.T, path string) *journal.Log {
	t.Helper()
	log, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return log
}

func first(log *journal.Log, typ steps.EventType) *steps.Event {
	for i := range log.Events {
		if log.Events[i].Type == typ {
			return &log.Events[i]
		}
	}
	return nil
}

func count(log *journal.Log, typ steps.EventType) int {
	n := 0
	for _, e := range log.Events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func hasProblem(p *steps.PromotionProof, sub string) bool {
	for _, pr := range p.Problems {
		if strings.Contains(pr, sub) {
			return true
		}
	}
	return false
}
