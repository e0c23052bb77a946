package runbooks_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/runbooks"
	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/steps/expect"
)

// fixtureDir holds the schemas the example runbooks run against.
const fixtureDir = "../testdata/fixtures"

func TestEmbeddedNames(t *testing.T) {
	want := []string{"connect-rls-hardening", "tenant-rls-fix"}
	if got := runbooks.Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, name := range want {
		sub, err := runbooks.Sub(name)
		if err != nil {
			t.Fatalf("Sub(%q): %v", name, err)
		}
		embedded, err := fs.ReadFile(sub, "runbook.toml")
		if err != nil {
			t.Fatalf("Sub(%q): %v", name, err)
		}
		onDisk, err := os.ReadFile(filepath.Join(name, "runbook.toml"))
		if err != nil {
			t.Fatal(err)
		}
		if string(embedded) != string(onDisk) {
			t.Errorf("%s: embedded runbook.toml differs from the file on disk", name)
		}
	}
	if _, err := runbooks.Sub("no-such-runbook"); err == nil {
		t.Error("Sub of an unknown name: no error")
	}
}

// TestRunbooksLintClean loads every example from disk and from the
// embedded FS: no errors, no warnings (lock analysis included), and the
// same hash both ways.
func TestRunbooksLintClean(t *testing.T) {
	for _, name := range runbooks.Names() {
		t.Run(name, func(t *testing.T) {
			rb := loadRunbook(t, name)
			sub, err := runbooks.Sub(name)
			if err != nil {
				t.Fatal(err)
			}
			erb, problems := steps.LoadFS(sub, ".")
			if len(problems) > 0 {
				t.Fatalf("embedded %s:\n%s", name, problems.Error())
			}
			// Lock hazards too: each one the examples take is accepted with
			// a reason in an allow comment.
			if locks := erb.LintLocks(); len(locks) > 0 {
				t.Fatalf("embedded %s, lock analysis:\n%s", name, locks.Error())
			}
			if erb.Hash != rb.Hash {
				t.Errorf("hash differs: disk %s, embedded %s", rb.Hash, erb.Hash)
			}
			facts := steps.MessageFacts{
				Target: rb.Target.Name, ProjectID: rb.Target.ProjectID, Operator: "alice",
				Runbook: rb.Meta.ID, Started: "2024-05-01 10:00 UTC", Finished: "2024-05-01 10:30 UTC", Outcome: "succeeded",
			}
			for _, m := range rb.Messages {
				body, err := steps.RenderMessage(m, facts)
				if err != nil {
					t.Errorf("message %s: %v", m.ID, err)
				} else if !strings.Contains(body, rb.Target.ProjectID) {
					t.Errorf("message %s does not name the project id:\n%s", m.ID, body)
				}
			}
		})
	}
}

// TestFixturesLoadTwice loads each fixture into two databases of one
// cluster, as the demo does (connect_prod and connect_staging share the
// cluster-wide roles).
func TestFixturesLoadTwice(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	for _, f := range []string{db.FixtureSupabaseApp, db.FixtureTenant} {
		scripts := fixtureScripts(t, f)
		for i := range 2 {
			name := fmt.Sprintf("%s_%d", strings.TrimSuffix(f, ".sql"), i)
			if err := sb.CreateDatabase(ctx, name, scripts...); err != nil {
				t.Fatalf("load %s into %s: %v", f, name, err)
			}
		}
	}
}

// fixtureScripts reads a fixture and what it is loaded on top of: the
// Supabase app needs the Supabase platform (supabase_base.sql) first.
func fixtureScripts(t *testing.T, fixture string) []string {
	t.Helper()
	names := []string{fixture}
	if fixture == db.FixtureSupabaseApp {
		names = []string{db.FixtureSupabaseBase, fixture}
	}
	var out []string
	for _, n := range names {
		src, err := os.ReadFile(filepath.Join(fixtureDir, n))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(src))
	}
	return out
}

// scenario describes how one example runbook is exercised for real.
type scenario struct {
	runbook string
	fixture string
	// snapshot queries complete pg_dump --schema-only with what it does not
	// show: cluster-wide role attributes and the rows the migration touches.
	snapshot []string
	// notices that applying the migration must raise (substrings).
	notices []string
}

func TestConnectRLSHardening(t *testing.T) {
	t.Parallel()
	runScenario(t, scenario{
		runbook: "connect-rls-hardening",
		fixture: "supabase.sql",
		snapshot: []string{
			"select id, name, public, file_size_limit, allowed_mime_types from storage.buckets order by id",
			"select id, owner_id, name, settings from public.business_accounts order by id",
			"select rolname, rolsuper, rolinherit, rolcanlogin, rolbypassrls from pg_roles where rolname in ('anon', 'authenticated', 'service_role', 'authenticator') order by 1",
			"select count(*) from public.rate_limits",
		},
		notices: []string{"3 account(s) marked private from settings.visibility"},
	})
}

func TestTenantRLSFix(t *testing.T) {
	t.Parallel()
	runScenario(t, scenario{
		runbook: "tenant-rls-fix",
		fixture: "tenant.sql",
		snapshot: []string{
			"select rolname, rolsuper, rolinherit, rolcanlogin, rolbypassrls from pg_roles where rolname = 'app_user'",
			"select id, tenant_id, secret from public.rls_test_table order by id",
			"select relname, relrowsecurity, relforcerowsecurity from pg_class where relnamespace = 'public'::regnamespace and relkind = 'r' order by 1",
		},
		notices: []string{
			"feature_flags: skipped (no tenant_id column)",
			"tenants: skipped (no tenant_id column)",
			"rls_test_table: RLS enabled and forced",
			"app_user had BYPASSRLS: removed",
		},
	})
}

// runScenario loads the fixture into a fresh database and walks the
// runbook's SQL the way the engine runs it: the checks after the first
// write fail before the migration and pass after it, the migration is
// idempotent, and the rollback restores the pre-migration schema exactly.
func runScenario(t *testing.T, sc scenario) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Lint problems are TestRunbooksLintClean's business; this test is
	// about the SQL, so it runs as long as the runbook decodes.
	rb, _ := steps.Load(sc.runbook)
	if rb == nil {
		t.Fatalf("load %s: not decodable", sc.runbook)
	}
	scripts := fixtureScripts(t, sc.fixture)
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	const dbname = "target"
	if err := sb.CreateDatabase(ctx, dbname, scripts...); err != nil {
		t.Fatalf("load %s: %v", sc.fixture, err)
	}
	tc := connect(ctx, t, sb, dbname)

	pre, post, writes, execs, monitors := classify(rb)
	if len(writes) == 0 || len(post) == 0 {
		t.Fatalf("%s: expected sql steps and checks after them, got %d and %d", sc.runbook, len(writes), len(post))
	}
	var rbWrites, rbChecks []steps.Step
	for _, s := range rb.Rollback.Steps {
		switch s.Kind {
		case steps.KindSQL:
			rbWrites = append(rbWrites, s)
		case steps.KindCheck:
			rbChecks = append(rbChecks, s)
		}
	}
	if len(rbWrites) == 0 || len(rbChecks) == 0 {
		t.Fatalf("%s: rollback needs sql steps and checks", sc.runbook)
	}

	before := tc.snapshot(ctx, t, sc.snapshot)

	// Before the migration.
	for _, s := range pre {
		tc.mustPass(ctx, t, "before migration", s)
	}
	tc.mustPassItems(ctx, t, rb)
	tc.runMonitors(ctx, t, monitors)
	for _, s := range post {
		tc.mustFail(ctx, t, "before migration", s)
	}
	for _, s := range rbChecks { // they describe the pre-migration state
		tc.mustPass(ctx, t, "before migration", s)
	}
	for _, s := range execs {
		runExec(ctx, t, tc.target, s)
	}

	// The migration, then its checks.
	tc.notices.reset()
	for _, s := range writes {
		tc.apply(ctx, t, rb, s)
	}
	got := tc.notices.text()
	for _, want := range sc.notices {
		if !strings.Contains(got, want) {
			t.Errorf("applying the migration: no notice %q; notices:\n%s", want, got)
		}
	}
	for _, s := range append(slices.Clone(pre), post...) {
		tc.mustPass(ctx, t, "after migration", s)
	}
	tc.runMonitors(ctx, t, monitors)

	// Again: the migration is idempotent.
	for _, s := range writes {
		tc.apply(ctx, t, rb, s)
	}
	for _, s := range post {
		tc.mustPass(ctx, t, "after applying the migration twice", s)
	}

	// Rollback, twice (it must be idempotent too), then its checks.
	for range 2 {
		for _, s := range rbWrites {
			tc.apply(ctx, t, rb, s)
		}
		for _, s := range rbChecks {
			tc.mustPass(ctx, t, "after rollback", s)
		}
	}
	for _, s := range post {
		tc.mustFail(ctx, t, "after rollback", s)
	}
	after := tc.snapshot(ctx, t, sc.snapshot)
	if before != after {
		t.Errorf("rollback did not restore the pre-migration state:\n%s", lineDiff(before, after))
	}
}

func loadRunbook(t *testing.T, name string) *steps.Runbook {
	t.Helper()
	rb, problems := steps.Load(name)
	if rb == nil || len(problems) > 0 {
		t.Fatalf("load %s:\n%s", name, problems.Error())
	}
	return rb
}

// classify splits the runbook's phase steps: checks before the first sql
// step (they hold before and after), checks after it (validation and
// smoke tests: they fail before and pass after), the sql steps, the exec
// steps and the monitor steps.
func classify(rb *steps.Runbook) (pre, post, writes, execs, monitors []steps.Step) {
	for _, s := range rb.AllSteps() {
		switch s.Kind {
		case steps.KindSQL:
			writes = append(writes, s)
		case steps.KindExec:
			execs = append(execs, s)
		case steps.KindMonitor:
			monitors = append(monitors, s)
		case steps.KindCheck:
			if len(writes) == 0 || s.Report {
				pre = append(pre, s)
			} else {
				post = append(post, s)
			}
		}
	}
	return
}

// testConn is the engine's view of the target: a db.Target, whose
// RunTransaction, RunEach, Query and SideQuery are what the engine calls
// for sql steps, checks and monitors.
type testConn struct {
	target  *db.Target
	notices *noticeLog
}

type noticeLog struct {
	mu   sync.Mutex
	msgs []string
}

func (n *noticeLog) add(msg string) { n.mu.Lock(); n.msgs = append(n.msgs, msg); n.mu.Unlock() }
func (n *noticeLog) reset()         { n.mu.Lock(); n.msgs = nil; n.mu.Unlock() }
func (n *noticeLog) text() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.msgs, "\n")
}

func connect(ctx context.Context, t *testing.T, sb *db.Sandbox, dbname string) *testConn {
	t.Helper()
	tc := &testConn{notices: &noticeLog{}}
	conn, err := db.ParseTarget(sb.DSN(dbname))
	if err != nil {
		t.Fatal(err)
	}
	target, err := db.Connect(ctx, conn, db.ConnectOptions{
		AppName:  "handrail/runbooks-test",
		OnNotice: func(n db.Notice) { tc.notices.add(n.Message) },
	})
	if err != nil {
		t.Fatal(err)
	}
	tc.target = target
	t.Cleanup(target.Close)
	return tc
}

// apply runs a sql step as the engine does: a transactional step as one
// transaction (RunTransaction), a transaction = false step one statement
// at a time outside any (RunEach).
func (tc *testConn) apply(ctx context.Context, t *testing.T, rb *steps.Runbook, s steps.Step) {
	t.Helper()
	stmts, err := rb.StepStatements(s)
	if err != nil || len(stmts) == 0 {
		t.Fatalf("step %s: statements: %v (%d)", s.ID, err, len(stmts))
	}
	sqls := make([]string, len(stmts))
	for i, st := range stmts {
		sqls[i] = st.SQL
	}
	o := db.ExecOptions{LockTimeout: rb.LockTimeout(), StatementTimeout: rb.StatementTimeout(), KeepRows: rb.KeepRows()}
	run := tc.target.RunTransaction
	if !s.IsTransactional() {
		run = tc.target.RunEach
	}
	if err := run(ctx, db.SQLs(sqls), o); err != nil {
		where := ""
		var ee *db.ExecError
		if errors.As(err, &ee) && ee.Index >= 0 && ee.Index < len(stmts) {
			where = " at " + stmts[ee.Index].Where()
		}
		t.Fatalf("step %s%s: %v", s.ID, where, err)
	}
}

// query runs a read-only query as the engine runs a check: BEGIN READ
// ONLY, SET LOCAL ROLE as_role, set_config(k, v, true) per setting, the
// query, ROLLBACK.
func (tc *testConn) query(ctx context.Context, sql, asRole string, settings map[string]string) ([]string, [][]any, error) {
	res, err := tc.target.Query(ctx, sql, db.QueryOptions{AsRole: asRole, Settings: settings, KeepRows: 1000})
	if err != nil {
		return nil, nil, err
	}
	if res.Total > int64(len(res.Rows)) {
		return nil, nil, fmt.Errorf("%d rows, only %d kept", res.Total, len(res.Rows))
	}
	return res.Columns, res.Rows, nil
}

func (tc *testConn) check(ctx context.Context, s steps.Step) (expect.Result, error) {
	cols, rows, err := tc.query(ctx, s.SQL, s.AsRole, s.SessionVars)
	if err != nil {
		return expect.Result{}, err
	}
	return expect.Evaluate(s.Expectation(), cols, rows), nil
}

func (tc *testConn) mustPass(ctx context.Context, t *testing.T, when string, s steps.Step) {
	t.Helper()
	res, err := tc.check(ctx, s)
	if err != nil {
		t.Errorf("%s: check %s (%s): %v", when, s.ID, s.Title, err)
		return
	}
	if !res.Pass {
		t.Errorf("%s: check %s (%s) failed: %s\n  missing: %v\n  unexpected: %v", when, s.ID, s.Title, res.Summary, res.Missing, res.Unexpected)
	}
}

// mustFail asserts a check does not pass; a query error (e.g. a column
// the migration adds) counts as failing, as it does in the engine.
func (tc *testConn) mustFail(ctx context.Context, t *testing.T, when string, s steps.Step) {
	t.Helper()
	res, err := tc.check(ctx, s)
	if err == nil && res.Pass {
		t.Errorf("%s: check %s (%s) passes but must fail: %s", when, s.ID, s.Title, res.Summary)
	}
}

// mustPassItems runs the self-ticking checklist items: on a quiet
// database they all tick.
func (tc *testConn) mustPassItems(ctx context.Context, t *testing.T, rb *steps.Runbook) {
	t.Helper()
	for _, s := range rb.AllSteps() {
		for _, it := range s.Items {
			if it.SQL == "" {
				continue // ticked by a person, or by the staging journal
			}
			cols, rows, err := tc.query(ctx, it.SQL, "", nil)
			if err != nil {
				t.Errorf("step %s item %q: %v", s.ID, it.Text, err)
				continue
			}
			if res := expect.Evaluate(it.Expectation(), cols, rows); !res.Pass {
				t.Errorf("step %s item %q does not tick: %s", s.ID, it.Text, res.Summary)
			}
		}
	}
}

// runMonitors runs every monitor query once: it must succeed, return a
// row, and have the column its alert names.
func (tc *testConn) runMonitors(ctx context.Context, t *testing.T, monitors []steps.Step) {
	t.Helper()
	for _, s := range monitors {
		for _, q := range s.Queries {
			res, err := tc.target.SideQuery(ctx, q.SQL, 100)
			if err != nil {
				t.Errorf("monitor %s query %q: %v", s.ID, q.Title, err)
				continue
			}
			cols, rows := res.Columns, res.Rows
			if len(rows) == 0 {
				t.Errorf("monitor %s query %q returned no row", s.ID, q.Title)
			}
			if q.Alert != "" {
				a, err := steps.ParseAlert(q.Alert)
				if err != nil {
					t.Errorf("monitor %s: %v", s.ID, err)
				} else if !slices.Contains(cols, a.Column) {
					t.Errorf("monitor %s query %q: alert column %q not in %v", s.ID, q.Title, a.Column, cols)
				}
			}
		}
	}
}

// runExec runs an exec step's command as the engine does (sh -c, with the
// target's PG* environment), in a scratch directory, with the server's
// client programs first on PATH.
func runExec(ctx context.Context, t *testing.T, target *db.Target, s steps.Step) {
	t.Helper()
	cmd := exec.CommandContext(ctx, "sh", "-c", s.Command)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), target.PGEnv()...)
	cmd.Env = append(cmd.Env, "PATH="+serverBinDir(t)+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("exec step %s: %v\n%s", s.ID, err, out)
	}
}

func serverBinDir(t *testing.T) string {
	t.Helper()
	bindir, err := db.FindServerBinaries()
	if err != nil {
		t.Fatal(err)
	}
	return bindir
}

// snapshot is pg_dump --schema-only (without pg_dump's random \restrict
// key) followed by the results of the scenario's queries.
func (tc *testConn) snapshot(ctx context.Context, t *testing.T, queries []string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(serverBinDir(t), "pg_dump"), "--schema-only")
	cmd.Env = append(os.Environ(), tc.target.PGEnv()...)
	dump, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	var b strings.Builder
	for line := range strings.SplitSeq(string(dump), "\n") {
		if strings.HasPrefix(line, `\restrict `) || strings.HasPrefix(line, `\unrestrict `) {
			continue
		}
		b.WriteString(line + "\n")
	}
	for _, q := range queries {
		cols, rows, err := tc.query(ctx, q, "", nil)
		if err != nil {
			t.Fatalf("snapshot query %q: %v", q, err)
		}
		fmt.Fprintf(&b, "-- %s\n%s\n", q, strings.Join(cols, " | "))
		for _, r := range rows {
			vals := make([]string, len(r))
			for i, v := range r {
				vals[i] = expect.FormatValue(v)
			}
			b.WriteString(strings.Join(vals, " | ") + "\n")
		}
	}
	return b.String()
}

// lineDiff lists the lines only in a (-) or only in b (+), in order.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	count := map[string]int{}
	for _, l := range bl {
		count[l]++
	}
	var out []string
	for _, l := range al {
		if count[l] > 0 {
			count[l]--
			continue
		}
		out = append(out, "- "+l)
	}
	count = map[string]int{}
	for _, l := range al {
		count[l]++
	}
	for _, l := range bl {
		if count[l] > 0 {
			count[l]--
			continue
		}
		out = append(out, "+ "+l)
	}
	if len(out) == 0 {
		return "(same lines, different order)"
	}
	return strings.Join(out, "\n")
}
