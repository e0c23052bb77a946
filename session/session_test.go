package session

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
	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/ui"
)

const testRunbook = `
[runbook]
id = "session-test"
title = "Session test"

[target]
name = "Test-DB"
project_id = "session-test-db"
identity = ["stamp"]

[[phase]]
title = "Main"
  [[phase.step]]
  kind = "sql"
  id = "make"
  statements = ["create table made_by_session (x int)"]

[rollback]
  [[rollback.step]]
  kind = "sql"
  id = "undo"
  statements = ["drop table made_by_session"]
`

// autopilot is a frontend that drives the engine like an operator who
// says yes to everything, and leaves at the end.
func autopilot(eng *steps.Engine, rb *steps.Runbook, opts ui.Options) (steps.Outcome, error) {
	drained := make(chan struct{})
	go func() {
		for range opts.Events {
		}
		close(drained)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := steps.Drive(ctx, eng, rb, nil)
	<-drained
	res := opts.Done()
	if err == nil {
		err = res.Err
	}
	return res.Outcome, err
}

func setup(t *testing.T) (dsn, rbDir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	if err := sb.CreateDatabase(ctx, "work"); err != nil {
		t.Fatal(err)
	}
	tg, err := db.ParseTarget(sb.DSN("work"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Connect(ctx, tg, db.ConnectOptions{AppName: "session-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Stamp(ctx, "session-test-db", false); err != nil {
		t.Fatal(err)
	}
	rbDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(rbDir, steps.RunbookFile), []byte(testRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	return sb.DSN("work"), rbDir
}

func spec(t *testing.T, dsn string) (Spec, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	tg, err := db.ParseTarget(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	return Spec{Target: tg, Apply: true, LogDir: t.TempDir(), Version: "test", Environ: []string{"USER=tester"},
		Stdout: &out, Stderr: &errs, Frontend: autopilot}, &out, &errs
}

// A session runs to its end: the journal verifies and ends succeeded, the
// report names it, and the exit code is the outcome's.
func TestRunToTheEnd(t *testing.T) {
	dsn, rbDir := setup(t)
	s, out, errs := spec(t, dsn)
	s.RunbookArg = rbDir
	if code := Run(s); code != steps.ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	m, _ := filepath.Glob(filepath.Join(s.LogDir, "*.jsonl"))
	if len(m) != 1 {
		t.Fatalf("journals: %v", m)
	}
	if r := journal.Verify(m[0]); !r.OK || !r.Ended || r.Outcome != steps.OutcomeSucceeded {
		t.Fatalf("verify: %s", r.Verdict)
	}
	for _, want := range []string{": succeeded", "journal: " + m[0], "head:", "replay:  handrail replay"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	h, err := journal.Read(m[0])
	if err != nil {
		t.Fatal(err)
	}
	if h.Header.Operator != "tester" || h.Header.RunbookPath != rbDir || h.Header.HandrailVersion != "test" {
		t.Errorf("header: %+v", h.Header)
	}
}

// succeededSession runs the test runbook to its end and returns the
// database, the runbook's directory, the journal's directory, the journal
// and its bytes.
func succeededSession(t *testing.T) (dsn, rbDir, logDir, journal string, content []byte) {
	t.Helper()
	dsn, rbDir = setup(t)
	s, _, _ := spec(t, dsn)
	s.RunbookArg = rbDir
	if code := Run(s); code != steps.ExitOK {
		t.Fatalf("first run: exit %d", code)
	}
	m, _ := filepath.Glob(filepath.Join(s.LogDir, "*.jsonl"))
	if len(m) != 1 {
		t.Fatalf("journals after the first run: %v", m)
	}
	content, _ = os.ReadFile(m[0])
	return dsn, rbDir, s.LogDir, m[0], content
}

// A resume refuses a runbook that changed since the session started, and
// says how to go on, before connecting or writing anything.
func TestResumeRefusesAChangedRunbook(t *testing.T) {
	dsn, rbDir, logDir, journal, before := succeededSession(t)
	if err := os.WriteFile(filepath.Join(rbDir, steps.RunbookFile), []byte(testRunbook+"\n# changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, _, errs := spec(t, dsn)
	r.Resume, r.LogDir = journal, logDir
	if code := Run(r); code != steps.ExitUsage {
		t.Fatalf("resume of a changed runbook: exit %d, want %d", code, steps.ExitUsage)
	}
	if !strings.Contains(errs.String(), "changed since the session started") || !strings.Contains(errs.String(), "Restore the runbook") {
		t.Errorf("stderr:\n%s", errs)
	}
	if after, _ := os.ReadFile(journal); !bytes.Equal(before, after) {
		t.Error("the refused resume wrote to the journal")
	}
}

// A session that succeeded has nothing left to resume: --resume refuses
// it before connecting and leaves the journal (whose head hash went into
// the change ticket) as it was.
func TestResumeRefusesASucceededSession(t *testing.T) {
	dsn, _, logDir, journal, before := succeededSession(t)
	r, _, errs := spec(t, dsn)
	r.Resume, r.LogDir = journal, logDir
	if code := Run(r); code != steps.ExitUsage {
		t.Fatalf("resume of a succeeded session: exit %d, want %d\n%s", code, steps.ExitUsage, errs)
	}
	if !strings.Contains(errs.String(), "succeeded") || !strings.Contains(errs.String(), "nothing to resume") {
		t.Errorf("stderr:\n%s", errs)
	}
	if after, _ := os.ReadFile(journal); !bytes.Equal(before, after) {
		t.Error("the refused resume wrote to the journal")
	}
}

// --share-keys without --share, and the reverse, stop before anything is
// journaled.
func TestShareMistakesStopBeforeTheJournal(t *testing.T) {
	s, _, errs := spec(t, "postgres://u@127.0.0.1:1/x")
	s.RunbookArg = "connect-rls-hardening"
	s.ShareKeys = "keys"
	if code := Run(s); code != steps.ExitUsage || !strings.Contains(errs.String(), "--share-keys needs --share") {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	if m, _ := filepath.Glob(filepath.Join(s.LogDir, "*")); len(m) != 0 {
		t.Fatalf("something was journaled: %v", m)
	}
}

func TestLoadRunbook(t *testing.T) {
	if rb, p := LoadRunbook("connect-rls-hardening"); rb == nil || p.HasErrors() {
		t.Fatalf("the embedded example does not load: %v", p.Errors())
	}
	_, p := LoadRunbook("no-such-runbook")
	if !p.HasErrors() || !strings.Contains(p.Errors()[0].Hint, "connect-rls-hardening") {
		t.Fatalf("problems %v, want one naming the examples", p)
	}
}

func TestEnvironmentHelpers(t *testing.T) {
	env := []string{"USER=a", "SSH_CONNECTION=1 2 3 4", "USER=b"}
	if got := EnvLookup(env)("USER"); got != "b" {
		t.Errorf("EnvLookup USER = %q, want the last one", got)
	}
	if CurrentUser(env) != "b" {
		t.Error("CurrentUser ignores $USER")
	}
	if sshWarning(env) == "" {
		t.Error("no warning on SSH outside tmux")
	}
	if sshWarning(append(env, "TMUX=/tmp/x")) != "" {
		t.Error("a warning inside tmux")
	}
	dir := t.TempDir()
	if got := RunbookRef(dir); !filepath.IsAbs(got) {
		t.Errorf("RunbookRef(%q) = %q, want absolute", dir, got)
	}
	if got := RunbookRef("connect-rls-hardening"); got != "connect-rls-hardening" {
		t.Errorf("an example's name changed to %q", got)
	}
}

// A session that required approval (--require-approval on its first run)
// keeps requiring it when resumed: a resume without --share is refused
// before anything runs, as a fresh run would be, instead of writing with
// no approver (reproduced with handrail run --resume after a kill -9).
func TestResumeKeepsTheApprovalTheSessionRequired(t *testing.T) {
	dsn, rbDir := setup(t)
	s, out, errs := spec(t, dsn)
	rb, problems := LoadRunbook(rbDir)
	if rb == nil || len(problems.Errors()) > 0 {
		t.Fatalf("runbook: %v", problems)
	}
	w, err := journal.Create(s.LogDir, journal.Header{SessionID: "s1", RunbookID: rb.Meta.ID, RunbookHash: rb.Hash,
		HandrailVersion: "test", Operator: "tester", TargetName: rb.Target.Name, ProjectID: rb.Target.ProjectID,
		Apply: true, RunbookPath: RunbookRef(rbDir)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	info := &steps.SessionInfo{SessionID: "s1", RunbookID: rb.Meta.ID, RunbookHash: rb.Hash, Apply: true, Operator: "tester", ApprovalRequired: 1,
		Plan: []steps.PlannedStep{{ID: "make", Kind: steps.KindSQL, Phase: "Main", Writes: true}, {ID: "undo", Kind: steps.KindSQL, Rollback: true, Writes: true}}}
	if err := w.Append(steps.Event{Seq: 1, Type: steps.EvSessionStarted, Session: info}); err != nil {
		t.Fatal(err)
	}
	path := w.Path()
	w.Close()
	s.Resume = path
	if code := Run(s); code != steps.ExitUsage {
		t.Fatalf("resume without --share of a session that required 1 approver: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, steps.ExitUsage, out, errs)
	}
	for _, want := range []string{"needs 1 approver(s)", "the session being resumed required it", "--share"} {
		if !strings.Contains(errs.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}

// The resume line printed after an aborted session that required
// approval names --share and --share-keys: a resume without them is
// refused (TestResumeKeepsTheApprovalTheSessionRequired).
func TestResumeLineOfAnApprovalSessionNamesTheShare(t *testing.T) {
	rb := &steps.Runbook{}
	s := Spec{Apply: true, ShareAddr: ":2222", ShareKeys: "partners", RequireApproval: 1}
	if got := s.resumeShare(rb); got != " --share :2222 --share-keys partners" {
		t.Errorf("resume line's share: %q", got)
	}
	s.RequireApproval, s.resumedApproval = 0, 2
	if got := s.resumeShare(rb); got == "" {
		t.Error("a resumed approval session's resume line does not name the share")
	}
	s.resumedApproval = 0
	if got := s.resumeShare(rb); got != "" {
		t.Errorf("a session without approval: %q", got)
	}
}

// A session refused before it starts (here: it needs an approver and the
// keys file names only an observer) does not first announce that it is
// shared: the share banner comes once the session will run.
func TestRefusedSessionDoesNotAnnounceTheShare(t *testing.T) {
	rbDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(rbDir, steps.RunbookFile), []byte(testRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(t.TempDir(), "partners")
	line := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMcEKf4PNW3YldSQC81YWNkTUf51cIiZe2zkBFk6bAW9 alice observer\n"
	if err := os.WriteFile(keys, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	s, out, errs := spec(t, "postgres://u@127.0.0.1:1/x")
	s.RunbookArg, s.ShareAddr, s.ShareKeys, s.RequireApproval = rbDir, "127.0.0.1:0", keys, 1
	s.Environ = append(s.Environ, "XDG_STATE_HOME="+t.TempDir())
	if code := Run(s); code != steps.ExitUsage {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, steps.ExitUsage, out, errs)
	}
	if !strings.Contains(errs.String(), "names 0 approver(s)") || strings.Contains(errs.String(), "sharing this session") {
		t.Errorf("stderr:\n%s", errs)
	}
}

// The demo's identity hard stop must not send its operator to a --db
// flag handrail demo does not have.
func TestDemoIdentityFixNamesNoDBFlag(t *testing.T) {
	if fix := (&Spec{}).identityFix(); fix != "" {
		t.Fatalf("handrail run's hard stop advice replaced by %q", fix)
	}
	fix := (&Spec{Demo: true}).identityFix()
	if !strings.Contains(fix, "handrail demo") || strings.Contains(fix, "Check the --db") {
		t.Fatalf("demo's hard stop advice: %q", fix)
	}
}

// The command a production run gives for the missing staging journal
// works as written: the RUNBOOK as the operator gave it (a path; the
// runbook's id names no directory) and a --db for the staging database.
func TestStagingRunNamesTheRunbookAndDB(t *testing.T) {
	run := (&Spec{RunbookArg: "supabase"}).stagingRun()
	if !strings.HasPrefix(run, "handrail run supabase ") || !strings.Contains(run, "--env staging") || !strings.Contains(run, "--db") {
		t.Fatalf("handrail run's staging command: %q", run)
	}
	if demo := (&Spec{Demo: true}).stagingRun(); demo != "handrail demo --env staging --apply" {
		t.Fatalf("the demo's staging command: %q", demo)
	}
}
