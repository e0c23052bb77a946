package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/internal/termsafe"
	"github.com/handrail-dev/handrail/steps"
)

// runCLI runs the real command line in process and returns its exit code
// and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	c, flush := newCLI(&out, &errOut, []string{"USER=cli-test"})
	code := c.main(args)
	flush()
	return code, out.String(), errOut.String()
}

// The exit codes a cron job and an operator rely on, through the real CLI.
func TestCLILintExitCodes(t *testing.T) {
	if code, _, stderr := runCLI(t, "lint", "runbooks/connect-rls-hardening", "runbooks/tenant-rls-fix"); code != 0 {
		t.Fatalf("lint of the examples: exit %d\n%s", code, stderr)
	}
	dir := t.TempDir()
	toml := `[runbook]
id = "broken"
title = "Broken"
version = "1"
colour = "red"

[target]
name = "Local"
project_id = "local"
identity = ["stamp"]

[[phase]]
title = "Work"

  [[phase.step]]
  kind = "sql"
  id = "missing"
  file = "nope.sql"

  [[phase.step]]
  kind = "sql"
  id = "vacuum"
  statements = ["-- VACUUM in a comment is fine", "vacuum analyze t"]
`
	if err := os.WriteFile(filepath.Join(dir, "runbook.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "lint", dir)
	if code != steps.ExitUsage {
		t.Fatalf("lint of a broken runbook: exit %d, want %d", code, steps.ExitUsage)
	}
	all := stdout + stderr
	for _, want := range []string{"runbook.toml:5:", "colour", "runbook.toml:18:", "nope.sql", "runbook.toml:23:", "VACUUM"} {
		if !strings.Contains(all, want) {
			t.Errorf("lint output lacks %q:\n%s", want, all)
		}
	}
}

// Lock findings are warnings: lint passes; --strict makes them errors.
func TestCLILintStrict(t *testing.T) {
	dir := t.TempDir()
	toml := `[runbook]
id = "locks"
title = "Locks"

[target]
name = "Local"
project_id = "local"
identity = ["stamp"]

[[phase]]
title = "Work"

  [[phase.step]]
  kind = "sql"
  id = "index"
  file = "m.sql"

[rollback]
  [[rollback.step]]
  kind = "sql"
  statements = ["select 1"]
`
	for name, text := range map[string]string{"runbook.toml": toml, "m.sql": "create index on orders (customer_id);\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, _ := runCLI(t, "lint", dir)
	if code != steps.ExitOK || !strings.Contains(stdout, "m.sql:1: warning: create-index-blocking") {
		t.Fatalf("lint: exit %d, want %d with the warning:\n%s", code, steps.ExitOK, stdout)
	}
	code, stdout, _ = runCLI(t, "lint", "--strict", dir)
	if code != steps.ExitUsage || !strings.Contains(stdout, "m.sql:1: error: create-index-blocking") {
		t.Fatalf("lint --strict: exit %d, want %d with the error:\n%s", code, steps.ExitUsage, stdout)
	}
	if err := os.WriteFile(filepath.Join(dir, "m.sql"),
		[]byte("-- handrail:allow create-index-blocking orders is a 200-row fixture\ncreate index on orders (customer_id);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, stdout, _ = runCLI(t, "lint", "--strict", dir); code != steps.ExitOK {
		t.Fatalf("lint --strict with the finding accepted: exit %d:\n%s", code, stdout)
	}
}

func TestCLICheckExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandbox PostgreSQL")
	}
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	dbs, err := db.SetupDemoDatabases(context.Background(), sb, fixtures())
	if err != nil {
		t.Fatal(err)
	}
	dsn := map[string]string{}
	for _, d := range dbs {
		dsn[d.Role] = d.DSN
	}
	// The wrong database: hard stop, exit 3, and it says which id it found.
	code, stdout, stderr := runCLI(t, "check", "connect-rls-hardening", "--db", dsn[db.DemoRoleConnectStaging])
	if code != steps.ExitIdentity {
		t.Fatalf("check against staging: exit %d, want %d\n%s%s", code, steps.ExitIdentity, stdout, stderr)
	}
	if !strings.Contains(stdout+stderr, "mohctrsopquwoyfweadl") {
		t.Errorf("the hard stop does not name the id it found:\n%s%s", stdout, stderr)
	}
	// Production before the migration: the validation checks fail, exit 1,
	// and --json says which.
	code, stdout, stderr = runCLI(t, "check", "connect-rls-hardening", "--db", dsn[db.DemoRoleConnectProd], "--json")
	if code != steps.ExitFailed {
		t.Fatalf("check before the migration: exit %d, want %d\n%s%s", code, steps.ExitFailed, stdout, stderr)
	}
	if !json.Valid([]byte(stdout)) || !strings.Contains(stdout, "check-rate-limits-rls") {
		t.Errorf("--json output is not JSON naming the checks:\n%s", stdout)
	}
	if strings.Contains(stdout+stderr, sb.Password()) {
		t.Error("the sandbox password appears in the output")
	}
}

// A connection string that is not PostgreSQL's is a usage error (exit 2)
// that names its scheme and what is accepted, for every command that
// connects, before anything connects or is journaled.
func TestCLIUnknownScheme(t *testing.T) {
	logDir := t.TempDir()
	for _, args := range [][]string{
		{"check", "connect-rls-hardening", "--db", "mysql://root:pw@localhost:3306/app"},
		{"stamp", "--id", "rxlqtyfhsocxnsnnnlwl", "--db", "mysql://root:pw@localhost:3306/app"},
		{"run", "connect-rls-hardening", "--log-dir", logDir, "--db", "mysql://root:pw@localhost:3306/app"},
	} {
		code, stdout, stderr := runCLI(t, args...)
		if code != steps.ExitUsage {
			t.Errorf("%s: exit %d, want %d\n%s%s", args[0], code, steps.ExitUsage, stdout, stderr)
		}
		for _, want := range []string{`"mysql"`, "postgres://", "postgresql://", "--db"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", args[0], want, stderr)
			}
		}
	}
	if m, _ := filepath.Glob(filepath.Join(logDir, "*")); len(m) != 0 {
		t.Errorf("a session was journaled: %v", m)
	}
}

// `handrail stamp` connects as a session does (db.Connect): Supabase's
// transaction-mode pooler is refused before anything is dialed.
func TestCLIStampRefusesTransactionPooler(t *testing.T) {
	code, stdout, stderr := runCLI(t, "stamp", "--id", "rxlqtyfhsocxnsnnnlwl",
		"--db", "postgres://postgres.rxlqtyfhsocxnsnnnlwl:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres")
	if code != steps.ExitFailed || !strings.Contains(stderr, "transaction-mode pooler") || !strings.Contains(stderr, "port 5432") {
		t.Fatalf("exit %d, want %d with the pooler refusal\n%s%s", code, steps.ExitFailed, stdout, stderr)
	}
}

// A project id handrail stamp cannot record is a usage error (exit 2),
// said before anything connects (the server here does not exist).
func TestCLIStampRefusesABadIDFirst(t *testing.T) {
	code, stdout, stderr := runCLI(t, "stamp", "--id", "Prod DB", "--db", "postgres://u@127.0.0.1:1/app?connect_timeout=1")
	if code != steps.ExitUsage || !strings.Contains(stderr, `invalid project id "Prod DB"`) || strings.Contains(stderr, "connect") {
		t.Fatalf("exit %d, want %d with the id's problem only\n%s%s", code, steps.ExitUsage, stdout, stderr)
	}
}

// Whatever a command prints may quote data: a runbook's content, a path, a
// server's error. None of it may act on the terminal (issue 13).
func TestCLIOutputIsEscaped(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rb\x1b]0;pwned\x07")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	toml := "[runbook]\nid = \"x\"\ntitle = \"T\"\n\"col\\u009bour\\u202e\" = \"red\"\n"
	if err := os.WriteFile(filepath.Join(dir, "runbook.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "session\u009b2J.jsonl")
	for _, args := range [][]string{{"lint", dir}, {"replay", "--plain", missing}, {"verify", missing}, {"check", dir, "--db", "postgres://x@127.0.0.1:1/\x1b[2J"}} {
		code, stdout, stderr := runCLI(t, args...)
		out := stdout + stderr
		if i := termsafe.FirstUnsafe(out); i >= 0 {
			t.Errorf("handrail %s: raw %q at byte %d:\n%s", args[0], out[i:min(len(out), i+12)], i, out)
		}
		if !strings.Contains(out, `\x1b]0;pwned\x07`) && !strings.Contains(out, `\u009b2J`) {
			t.Errorf("handrail %s (exit %d) does not show the escaped path:\n%s", args[0], code, out)
		}
	}
}

// check weighs the locks of the sql steps on the target, in text and in
// --json: an idle-in-transaction session holding a lock on a table the
// migration takes ACCESS EXCLUSIVE on is named, with a lock-queue finding.
func TestCLICheckWeighsLocks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandbox PostgreSQL")
	}
	ctx := context.Background()
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	dbs, err := db.SetupDemoDatabases(ctx, sb, fixtures())
	if err != nil {
		t.Fatal(err)
	}
	var dsn string
	for _, d := range dbs {
		if d.Role == db.DemoRoleConnectProd {
			dsn = d.DSN
		}
	}
	code, stdout, stderr := runCLI(t, "check", "connect-rls-hardening", "--db", dsn)
	if code != steps.ExitFailed { // the validation checks fail before the migration
		t.Fatalf("check: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"step apply-001 (one transaction):",
		"ALTER TABLE  ACCESS EXCLUSIVE public.rate_limits (",
		"[accepted, low] lock-held-until-commit at migrations/001_rls_hardening.sql:16",
		"accepted at migrations/001_rls_hardening.sql:15: rate_limits is small",
		"locks unknown: a DO block",
		"rollback step",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout)
		}
	}

	idle, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close(ctx)
	if _, err := idle.Exec(ctx, "begin; select count(*) from public.rate_limits"); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runCLI(t, "check", "connect-rls-hardening", "--db", dsn, "--json")
	if code != steps.ExitFailed || !json.Valid([]byte(stdout)) {
		t.Fatalf("check --json: exit %d\n%s", code, stdout)
	}
	var rep struct {
		Locks struct {
			Steps []struct {
				Step     string `json:"step"`
				Analysis struct {
					Findings []struct {
						Rule   string `json:"rule"`
						Weight struct {
							Level string `json:"level"`
							Waits []struct {
								PID   int    `json:"pid"`
								State string `json:"state"`
							} `json:"waits"`
						} `json:"weight"`
					} `json:"findings"`
				} `json:"analysis"`
			} `json:"steps"`
		} `json:"locks"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range rep.Locks.Steps {
		for _, f := range s.Analysis.Findings {
			if s.Step == "apply-001" && f.Rule == "lock-queue" && f.Weight.Level == "high" &&
				len(f.Weight.Waits) == 1 && f.Weight.Waits[0].PID == int(idle.PgConn().PID()) && f.Weight.Waits[0].State == "idle in transaction" {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no high lock-queue finding naming the idle session %d:\n%s", idle.PgConn().PID(), stdout)
	}
}

// `handrail check` dials while the runbook loads: a runbook that does not
// load is reported as before (its problems, exit 2, nothing about the
// connection), at once even when the server never answers (the dial is
// stopped: TestCheckDialClose).
func TestCLICheckBrokenRunbookStopsTheDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "runbook.toml"), []byte("[runbook]\nid = \"x\"\ncolour = \"red\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "check", dir, "--db", "postgres://u:pw@"+ln.Addr().String()+"/db?connect_timeout=600")
	if code != steps.ExitUsage || !strings.Contains(stderr, `unknown key "colour"`) || strings.Contains(stdout+stderr, "connect") {
		t.Fatalf("exit %d, want %d with the runbook's problems alone:\n%s%s", code, steps.ExitUsage, stdout, stderr)
	}
}

// handrail check --json that stops before connecting (the runbook does not
// load, the connection string is unreadable) still writes one JSON object
// with the error and the exit code: a script reading stdout always gets
// one, as it does for a connection that fails.
func TestCLICheckJSONWhenItStopsEarly(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "runbook.toml"), []byte("[runbook]\nid = \"b\"\ntitle = \"B\"\nversion = \"1\"\n[target]\nname = \"n\"\nproject_id = \"p\"\nidentiy = [\"stamp\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"check", dir, "--json", "--db", "postgres://u@127.0.0.1:1/x"},
		{"check", "connect-rls-hardening", "--json", "--db", "mysql://root:pw@localhost:3306/app"},
	} {
		code, stdout, stderr := runCLI(t, args...)
		var rep steps.ChecksReport
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != steps.ExitUsage || rep.ExitCode != steps.ExitUsage || rep.Error == "" || stderr == "" {
			t.Errorf("%q: exit %d, JSON %v %+v\nstdout:\n%s\nstderr:\n%s", args, code, err, rep, stdout, stderr)
		}
	}
}

// --rehearse with --apply is refused before anything runs, by run and by
// demo alike, with what to drop.
func TestCLIRehearseWithApplyRefused(t *testing.T) {
	for _, cmd := range []string{"run", "demo"} {
		args := []string{cmd, "--rehearse", "--apply"}
		if cmd == "run" {
			args = append(args, "runbooks/connect-rls-hardening")
		}
		code, _, stderr := runCLI(t, args...)
		if code != steps.ExitUsage || !strings.Contains(stderr, "handrail "+cmd+": --rehearse applies nothing") ||
			!strings.Contains(stderr, "drop --apply to rehearse") {
			t.Errorf("%s --rehearse --apply: exit %d, want %d\n%s", cmd, code, steps.ExitUsage, stderr)
		}
	}
}

// handrail demo refuses what it can refuse without a database before it
// starts the throwaway PostgreSQL (it started and loaded one, and only
// then refused a bad --share-keys file): the share flags, the approval
// it could never get, the runbook's environment.
func TestCLIDemoRefusesBeforeSandbox(t *testing.T) {
	dir := t.TempDir()
	writable := filepath.Join(dir, "writable")
	if err := os.WriteFile(writable, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMcEKf4PNW3YldSQC81YWNkTUf51cIiZe2zkBFk6bAW9 alice observer\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(writable, 0o666); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	observer := filepath.Join(dir, "observer")
	if err := os.WriteFile(observer, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMcEKf4PNW3YldSQC81YWNkTUf51cIiZe2zkBFk6bAW9 alice observer\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--share", ":0", "--share-keys", writable}, "writable by others"},
		{[]string{"--share", ":0", "--share-keys", bad}, bad},
		{[]string{"--share", ":0", "--share-keys", filepath.Join(dir, "missing")}, "--share-keys"},
		{[]string{"--share", "nonsense", "--share-keys", observer}, "want [HOST]:PORT"},
		{[]string{"--share", ":0"}, "--share needs --share-keys"},
		{[]string{"--share-keys", observer}, "--share-keys needs --share"},
		{[]string{"--require-approval", "99"}, "--require-approval 99"},
		{[]string{"--apply", "--require-approval", "1"}, "approvers join over SSH"},
		{[]string{"--apply", "--require-approval", "1", "--share", ":0", "--share-keys", observer}, "names 0 approver(s)"},
	} {
		args := append([]string{"demo", "--log-dir", logs}, c.args...)
		code, _, stderr := runCLI(t, args...)
		if code != steps.ExitUsage || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "starting a throwaway PostgreSQL") {
			t.Errorf("%q: exit %d, want %d and %q before any sandbox\n%s", args, code, steps.ExitUsage, c.want, stderr)
		}
	}
}

// handrail check that cannot reach its target exits 2 (nothing was
// checked), not 1, which tells a cron job a check of the database failed.
func TestCLICheckUnreachableIsNotAFailedCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: the connection is refused
	for _, asJSON := range []bool{false, true} {
		args := []string{"check", "connect-rls-hardening", "--db", "postgres://u@" + addr + "/x"}
		if asJSON {
			args = append(args, "--json")
		}
		code, stdout, stderr := runCLI(t, args...)
		if code != steps.ExitUsage || !strings.Contains(stdout, "cannot connect") || !strings.Contains(stdout, "nothing was checked") {
			t.Errorf("%q: exit %d, want %d saying nothing was checked\nstdout:\n%s\nstderr:\n%s", args, code, steps.ExitUsage, stdout, stderr)
		}
		var rep steps.ChecksReport
		if asJSON && (json.Unmarshal([]byte(stdout), &rep) != nil || rep.ExitCode != steps.ExitUsage) {
			t.Errorf("--json: exit_code %d, want %d\n%s", rep.ExitCode, steps.ExitUsage, stdout)
		}
	}
}
