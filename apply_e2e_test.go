package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/apply"
	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/steps"
)

// plan and apply, the real binary with no terminal (setsid, stdin
// /dev/null), against the sandbox: the Connect runbook (its monitor
// shortened, [apply] on_failure = "rollback") on staging, then on
// production with the staging journal as proof; a wrong --confirm, a
// stale plan, a failing check that rolls back, SIGTERM mid-statement.
func TestPlanApplyUnattended(t *testing.T) {
	bin := buildHandrail(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	sb := db.NewTestSandbox(t, db.SandboxOptions{LogStatements: true})
	dbs, err := db.SetupDemoDatabases(ctx, sb, os.DirFS(filepath.Join("testdata", "fixtures")))
	if err != nil {
		t.Fatal(err)
	}
	dsn := map[string]string{}
	for _, d := range dbs {
		dsn[d.Role] = d.DSN
	}
	a := &applyWorld{t: t, bin: bin, logDir: t.TempDir(), work: t.TempDir(), sb: sb}
	rbDir := a.connectRunbook("connect", nil)
	answers := a.answersFor(rbDir, "")
	prod := a.conn(ctx, dsn[db.DemoRoleConnectProd])

	// A wrong --confirm: exit 3, and the server saw only the identity probes.
	plan := a.plan(rbDir, dsn[db.DemoRoleConnectProd], "", steps.ExitOK)
	logStart := fileSizeOf(t, sb.LogFile())
	code, _, stderr := a.run("apply", "--plan", plan, "--db", dsn[db.DemoRoleConnectProd], "--confirm", db.DemoStagingProjectID, "--answers", answers, "--log-dir", a.logDir)
	if code != steps.ExitIdentity || !strings.Contains(stderr, "is not the target's project id") {
		t.Fatalf("wrong --confirm: exit %d, want %d\n%s", code, steps.ExitIdentity, stderr)
	}
	for _, s := range serverStatements(t, sb.LogFile(), logStart, "connect_prod") {
		if !identityProbe(s) {
			t.Errorf("with a wrong --confirm, a statement other than an identity probe reached the server: %q", s)
		}
	}
	if logs, _ := filepath.Glob(filepath.Join(a.logDir, "*.jsonl")); len(logs) != 0 {
		t.Errorf("a refused apply journals nothing: %v", logs)
	}

	// Without staging proof: the proof item cannot tick itself and the
	// answers file does not override the gate: the apply stops there
	// (exit 1), nothing written, what is missing on the record.
	code, _, stderr = a.run("apply", "--plan", plan, "--db", dsn[db.DemoRoleConnectProd], "--confirm", db.DemoProdProjectID, "--answers", answers, "--log-dir", a.logDir)
	if code != steps.ExitFailed || !strings.Contains(stderr, "did not tick itself: no journal in "+a.logDir) {
		t.Fatalf("apply without staging proof: exit %d, want %d\n%s", code, steps.ExitFailed, stderr)
	}
	if got := readValidationState(t, ctx, prod); got != preMigration {
		t.Fatalf("without staging proof nothing is written:\n got %+v\nwant %+v", got, preMigration)
	}
	refused := a.lastJournal()
	if pc := eventOf(t, refused, steps.EvPromotionChecked); pc == nil || pc.Promotion.OK || eventOf(t, refused, steps.EvIntent) != nil {
		t.Errorf("the apply's journal should record the missing proof and no write: %+v", pc)
	}
	os.Remove(refused)

	// Staging first: plan and apply --env staging; its journal verifies.
	splan := a.plan(rbDir, dsn[db.DemoRoleConnectStaging], steps.EnvStaging, steps.ExitOK)
	code, out, stderr := a.run("apply", "--plan", splan, "--db", dsn[db.DemoRoleConnectStaging], "--confirm", db.DemoStagingProjectID, "--answers", answers, "--log-dir", a.logDir)
	if code != steps.ExitOK {
		t.Fatalf("apply on staging: exit %d\n%s\n%s", code, out, stderr)
	}
	staging := a.lastJournal()
	if rep := journal.Verify(staging); !rep.OK || rep.Outcome != steps.OutcomeSucceeded {
		t.Fatalf("the staging apply's journal: %+v", rep)
	}

	// A stale plan: an ALTER TABLE on a touched object between plan and
	// apply gives exit 2, what changed, and nothing written.
	plan = a.plan(rbDir, dsn[db.DemoRoleConnectProd], "", steps.ExitOK)
	exec1(t, ctx, prod, "alter table public.business_accounts add column drifted int")
	code, _, stderr = a.run("apply", "--plan", plan, "--db", dsn[db.DemoRoleConnectProd], "--confirm", db.DemoProdProjectID, "--answers", answers, "--log-dir", a.logDir)
	if code != steps.ExitUsage || !strings.Contains(stderr, "stale plan: the schema changed") || !strings.Contains(stderr, "public.business_accounts: definition changed") {
		t.Fatalf("stale plan: exit %d, want %d\n%s", code, steps.ExitUsage, stderr)
	}
	if got := readValidationState(t, ctx, prod); got != preMigration {
		t.Fatalf("a stale plan must write nothing:\n got %+v\nwant %+v", got, preMigration)
	}
	if strings.Contains(stderr, `\n`) || !strings.Contains(stderr, "\n  public.business_accounts: definition changed") {
		t.Errorf("stale plan: each changed object on a line of its own, no escaped newline:\n%s", stderr)
	}
	exec1(t, ctx, prod, "alter table public.business_accounts drop column drifted")

	// An answers file that answers nothing: every question on a line of
	// its own (exit 2, nothing sent).
	empty := filepath.Join(t.TempDir(), "empty.toml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = a.run("apply", "--plan", plan, "--db", dsn[db.DemoRoleConnectProd], "--confirm", db.DemoProdProjectID, "--answers", empty, "--log-dir", a.logDir)
	if code != steps.ExitUsage || strings.Contains(stderr, `\n`) || !strings.Contains(stderr, "\n  step confirm-target (confirm) is not answered") {
		t.Errorf("unanswered questions: exit %d, want %d, each on a line of its own:\n%s\n%s", code, steps.ExitUsage, out, stderr)
	}

	// A failing check after the migration: on_failure = "rollback" rolls
	// back (exit 5). This runbook differs from the staged one, so the
	// answers file overrides the promotion gate: journaled as such.
	badDir := a.connectRunbook("connect-bad", map[string]string{
		`{ id = "avatars", public = true, file_size_limit = 10485760 }`: `{ id = "avatars", public = true, file_size_limit = 10485761 }`})
	badAnswers := a.answersFor(badDir, "incident 42: the check under test is wrong on purpose")
	badPlan := a.plan(badDir, dsn[db.DemoRoleConnectProd], "", steps.ExitOK)
	code, out, stderr = a.run("apply", "--plan", badPlan, "--db", dsn[db.DemoRoleConnectProd], "--confirm", db.DemoProdProjectID, "--answers", badAnswers, "--log-dir", a.logDir)
	if code != steps.ExitRolledBack || !strings.Contains(stderr, "on_failure = \"rollback\": rolling back") {
		t.Fatalf("failing check: exit %d, want %d\n%s\n%s", code, steps.ExitRolledBack, out, stderr)
	}
	if got := readValidationState(t, ctx, prod); got != preMigration {
		t.Fatalf("after the rollback the database should be as before:\n got %+v\nwant %+v", got, preMigration)
	}
	rolled := a.lastJournal()
	if ov := eventOf(t, rolled, steps.EvPromotionOverridden); ov == nil || !strings.Contains(ov.Text, "incident 42") || !strings.Contains(ov.Text, "answered by ci-bot") {
		t.Errorf("the override should be journaled with its reason and who gave it: %+v", ov)
	}

	a.applySucceeds(ctx, rbDir, dsn[db.DemoRoleConnectProd], answers, prod, staging)
}

// applySucceeds: plan then apply succeeds, with the staging journal as
// proof; the end state is the one the screen's walk reaches
// (e2e_tmux_test); the journal verifies and replays.
func (a *applyWorld) applySucceeds(ctx context.Context, rbDir, dsn, answers string, prod *pgx.Conn, staging string) {
	t := a.t
	t.Helper()
	plan := a.plan(rbDir, dsn, "", steps.ExitOK)
	code, out, stderr := a.run("apply", "--plan", plan, "--db", dsn, "--confirm", db.DemoProdProjectID, "--answers", answers, "--log-dir", a.logDir, "--json")
	if code != steps.ExitOK {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, stderr)
	}
	if got := readValidationState(t, ctx, prod); got != postMigration {
		t.Fatalf("after the apply the database should be in the post-migration state:\n got %+v\nwant %+v", got, postMigration)
	}
	if !strings.Contains(out, `"type":"promotion_checked"`) || !strings.Contains(out, `"type":"session_ended"`) {
		t.Errorf("--json prints the events as journaled:\n%s", out)
	}
	done := a.lastJournal()
	if pc := eventOf(t, done, steps.EvPromotionChecked); pc == nil || !pc.Promotion.OK || pc.Promotion.Journal != staging {
		t.Errorf("the production apply should be proven by the staging journal %s: %+v", staging, pc)
	}
	// The same format: verify and replay work on it.
	if code, out, _ := a.run("verify", done); code != steps.ExitOK || !strings.Contains(out, "session ended: succeeded") {
		t.Errorf("verify: exit %d\n%s", code, out)
	}
	if code, out, _ := a.run("replay", "--plain", done); code != steps.ExitOK || !strings.Contains(out, "promotion proven by staging journal") || !strings.Contains(out, "answered by ci-bot") {
		t.Errorf("replay --plain: exit %d\n%s", code, out)
	}
}

// SIGTERM mid-statement: the statement is cancelled, the step's
// transaction rolls back, the session ends (exit 1), the journal says so.
func TestApplySIGTERMCancels(t *testing.T) {
	bin := buildHandrail(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	dbs, err := db.SetupDemoDatabases(ctx, sb, os.DirFS(filepath.Join("testdata", "fixtures")))
	if err != nil {
		t.Fatal(err)
	}
	var dsn string
	for _, d := range dbs {
		if d.Role == db.DemoRoleTenant {
			dsn = d.DSN
		}
	}
	a := &applyWorld{t: t, bin: bin, logDir: t.TempDir(), work: t.TempDir(), sb: sb}
	rbDir := filepath.Join(a.work, "slow")
	if err := os.MkdirAll(rbDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(rbDir, steps.RunbookFile), fmt.Sprintf(`[runbook]
id = "slow-change"
title = "A change that takes its time"
[target]
name = "Tenant app"
project_id = %q
identity = ["stamp"]
[[phase]]
title = "Execution"
  [[phase.step]]
  kind = "sql"
  id = "slow"
  statements = ["create table public.apply_sigterm (id int)", "select pg_sleep(120)"]
[[rollback.step]]
kind = "sql"
statements = ["drop table if exists public.apply_sigterm"]
`, db.DemoTenantProjectID))
	plan := a.plan(rbDir, dsn, "", steps.ExitOK)
	cmd := a.command("apply", "--plan", plan, "--db", dsn, "--confirm", db.DemoTenantProjectID, "--log-dir", a.logDir)
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(out.String(), "select pg_sleep(120)") {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the slow statement never started:\n%s\n%s", out.String(), errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	if code != steps.ExitFailed {
		t.Fatalf("apply after SIGTERM: exit %d (%v), want %d\n%s\n%s", code, err, steps.ExitFailed, out.String(), errb.String())
	}
	log, rerr := journal.Read(a.lastJournal())
	if rerr != nil {
		t.Fatal(rerr)
	}
	var cancelled *steps.Event
	for i, e := range log.Events {
		if e.Type == steps.EvStepCancelled && e.Step == "slow" {
			cancelled = &log.Events[i]
		}
	}
	if cancelled == nil || cancelled.Error == nil || !cancelled.Error.RolledBack {
		t.Fatalf("the journal should record the step cancelled and rolled back: %+v\n%s", cancelled, out.String())
	}
	if last := log.Events[len(log.Events)-1]; last.Type != steps.EvSessionEnded || last.Outcome != steps.OutcomeAborted {
		t.Errorf("the session should end aborted, got %s %s", last.Type, last.Outcome)
	}
	conn := a.conn(ctx, dsn)
	var exists bool
	if err := conn.QueryRow(ctx, "select to_regclass('public.apply_sigterm') is not null").Scan(&exists); err != nil || exists {
		t.Errorf("the cancelled step's table must not exist (err %v)", err)
	}
}

type applyWorld struct {
	t            *testing.T
	bin          string
	logDir, work string
	sb           *db.Sandbox
}

// command is the binary with no terminal: a session of its own, stdin
// /dev/null.
func (a *applyWorld) command(args ...string) *exec.Cmd {
	cmd := exec.Command(a.bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Env = append(os.Environ(), "USER=ci-bot", "NO_COLOR=1")
	return cmd
}

func (a *applyWorld) run(args ...string) (int, string, string) {
	a.t.Helper()
	cmd := a.command(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if cmd.ProcessState == nil {
		a.t.Fatalf("handrail %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

func (a *applyWorld) plan(rbDir, dsn, env string, want int) string {
	a.t.Helper()
	path := filepath.Join(a.work, fmt.Sprintf("plan-%d.json", time.Now().UnixNano()))
	args := []string{"plan", rbDir, "--db", dsn, "-o", path, "--log-dir", a.logDir}
	if env != "" {
		args = append(args, "--env", env)
	}
	code, out, stderr := a.run(args...)
	if code != want || !strings.Contains(out, "plan sha256:") || !strings.Contains(out, "what will run, in order:") {
		a.t.Fatalf("handrail plan: exit %d, want %d\n%s\n%s", code, want, out, stderr)
	}
	p, _, err := apply.ReadPlan(path)
	if err != nil {
		a.t.Fatal(err)
	}
	if p.Locks == nil || p.Locks.Error != "" || len(p.Locks.Steps) == 0 || len(p.Objects) == 0 || p.Target.SystemIdentifier == "" {
		a.t.Errorf("the plan lacks the weighed locks, the fingerprint or the system identifier: %+v", p)
	}
	return path
}

func (a *applyWorld) conn(ctx context.Context, dsn string) *pgx.Conn {
	a.t.Helper()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		a.t.Fatal(err)
	}
	a.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// connectRunbook copies the Connect runbook with its 15-minute monitor
// shortened to seconds, [apply] on_failure = "rollback", and edits.
func (a *applyWorld) connectRunbook(name string, edits map[string]string) string {
	a.t.Helper()
	src := filepath.Join("runbooks", "connect-rls-hardening")
	dst := filepath.Join(a.work, name)
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		a.t.Fatal(err)
	}
	p := filepath.Join(dst, steps.RunbookFile)
	b, err := os.ReadFile(p)
	if err != nil {
		a.t.Fatal(err)
	}
	s := strings.Replace(string(b), `duration = "15m"`, `duration = "2s"`, 1)
	s = strings.Replace(s, `every = "30s"`, `every = "1s"`, 1)
	s = strings.Replace(s, "[settings]", "[apply]\non_failure = \"rollback\"\n\n[settings]", 1)
	for old, new := range edits {
		if !strings.Contains(s, old) {
			a.t.Fatalf("the runbook has no %q to edit", old)
		}
		s = strings.Replace(s, old, new, 1)
	}
	writeFile(a.t, p, s)
	return dst
}

// answersFor writes an answers file answering every question the runbook
// asks a person, as ci-bot; override, when set, overrides the promotion gate.
func (a *applyWorld) answersFor(rbDir, override string) string {
	a.t.Helper()
	rb, problems := steps.Load(rbDir)
	if rb == nil || problems.HasErrors() {
		a.t.Fatalf("runbook: %v", problems)
	}
	var b strings.Builder
	at := "2026-12-01T09:00:00Z"
	for _, s := range append(rb.AllSteps(), rb.Rollback.Steps...) {
		switch s.Kind {
		case steps.KindChecklist:
			for _, it := range s.Items {
				if !it.SelfTicking() {
					fmt.Fprintf(&b, "[[checklist]]\nstep = %q\nitem = %q\nby = \"ci-bot\"\nat = %s\nnote = \"checked in the change ticket\"\n\n", s.ID, it.Text, at)
				}
			}
		case steps.KindConfirm:
			fmt.Fprintf(&b, "[[confirm]]\nstep = %q\ntext = %q\nby = \"ci-bot\"\nat = %s\n\n", s.ID, s.Type, at)
		case steps.KindManual:
			fmt.Fprintf(&b, "[[manual]]\nstep = %q\npass = true\nnote = \"verified by the release pipeline\"\nby = \"ci-bot\"\nat = %s\n\n", s.ID, at)
		}
	}
	if override != "" {
		fmt.Fprintf(&b, "[promotion]\noverride = %q\nby = \"ci-bot\"\nat = %s\n", override, at)
	}
	p := filepath.Join(a.work, filepath.Base(rbDir)+"-answers.toml")
	writeFile(a.t, p, b.String())
	return p
}

// lastJournal is the newest journal in the log directory.
func (a *applyWorld) lastJournal() string {
	a.t.Helper()
	logs, _ := filepath.Glob(filepath.Join(a.logDir, "*.jsonl"))
	var newest string
	var at time.Time
	for _, l := range logs {
		if fi, err := os.Stat(l); err == nil && !fi.ModTime().Before(at) {
			newest, at = l, fi.ModTime()
		}
	}
	if newest == "" {
		a.t.Fatalf("no journal in %s", a.logDir)
	}
	return newest
}

func eventOf(t *testing.T, path string, typ steps.EventType) *steps.Event {
	t.Helper()
	log, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range log.Events {
		if log.Events[i].Type == typ {
			return &log.Events[i]
		}
	}
	return nil
}

func exec1(t *testing.T, ctx context.Context, c *pgx.Conn, sql string) {
	t.Helper()
	if _, err := c.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileSizeOf(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// serverStatements are the statements the server logged (log_statement =
// all) in database dbname from byte offset on.
func serverStatements(t *testing.T, logFile string, offset int64, dbname string) []string {
	t.Helper()
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	marker := "@" + dbname + " LOG:  "
	for _, l := range strings.Split(string(b[min(offset, int64(len(b))):]), "\n") {
		if i := strings.Index(l, marker); i >= 0 {
			rest := l[i+len(marker):]
			if _, stmt, ok := strings.Cut(rest, ": "); ok && (strings.HasPrefix(rest, "statement") || strings.HasPrefix(rest, "execute")) {
				out = append(out, stmt)
			}
		}
	}
	return out
}

// identityProbe: what VerifyIdentity and the system identifier probe send.
func identityProbe(stmt string) bool {
	s := strings.TrimSpace(stmt)
	return strings.Contains(s, "shobj_description") || strings.Contains(s, "pg_control_system") ||
		s == "BEGIN READ ONLY" || s == "ROLLBACK"
}
