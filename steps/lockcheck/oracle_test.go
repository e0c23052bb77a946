package lockcheck

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// oracleTally counts what the oracle compared.
type oracleTally struct {
	statements, locks, rewrites, scans, unknownStmts, unknownAnswers, queued int
}

// TestOracle runs every statement of the corpus and of both example
// runbooks against a real PostgreSQL and compares the prediction with
// what the server did: the strongest mode the backend holds per relation
// (pg_locks), a new relfilenode for a rewrite, and the transaction's
// sequential-scan counter (pg_stat_get_xact_numscans) for a scan.
// Statements PostgreSQL refuses in a transaction block are checked by the
// mode of the table lock they queue for behind a held ACCESS EXCLUSIVE.
func TestOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL sandbox")
	}
	ctx := context.Background()
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	if err := sb.CreateDatabase(ctx, "oracle"); err != nil {
		t.Fatal(err)
	}
	o := newOracle(t, ctx, sb.DSN("oracle"))
	var tally oracleTally
	for i, c := range oracleCases {
		t.Run(c.name, func(t *testing.T) {
			o.t = t
			o.runCase(ctx, i, c, &tally)
		})
	}
	t.Run("runbooks", func(t *testing.T) {
		o.t = t
		o.runRunbooks(ctx, sb, &tally)
	})
	verdict := "all agreeing"
	if t.Failed() {
		verdict = "with disagreements (above)"
	}
	t.Logf("oracle: %d statements, %d locks, %d rewrites and %d scans compared, %s; %d statements reported unknown (DO blocks and the like), %d rewrite/scan answers left unknown; %d non-transactional statements checked by their queued lock",
		tally.statements, tally.locks, tally.rewrites, tally.scans, verdict, tally.unknownStmts, tally.unknownAnswers, tally.queued)
}

// TestOracleCorpusCoversEveryRule: each static rule has a case where it
// fires and one where it does not.
func TestOracleCorpusCoversEveryRule(t *testing.T) {
	fires, not := map[string]int{}, map[string]int{}
	for _, c := range oracleCases {
		for _, r := range c.fires {
			fires[r]++
		}
		for _, r := range c.not {
			not[r]++
		}
	}
	for _, r := range Rules {
		if r.ID == RuleLockQueue {
			continue // live only: TestWeighLockQueue
		}
		if fires[r.ID] == 0 || not[r.ID] == 0 {
			t.Errorf("rule %s: %d firing and %d non-firing oracle cases, want at least one of each", r.ID, fires[r.ID], not[r.ID])
		}
	}
}

type oracle struct {
	t       *testing.T
	conn    *pgx.Conn // runs the statements
	blocker *pgx.Conn // holds locks for the non-transactional checks
	dsn     string
	// commit: a measured statement is committed instead of rolled back
	// and run again (real migrations: a sequence a rolled-back INSERT
	// advanced would give the next INSERT other ids).
	commit bool
}

func newOracle(t *testing.T, ctx context.Context, dsn string) *oracle {
	o := &oracle{t: t, dsn: dsn}
	var err error
	if o.conn, err = pgx.Connect(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	if o.blocker, err = pgx.Connect(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		o.conn.Close(context.Background())
		o.blocker.Close(context.Background())
	})
	return o
}

func (o *oracle) exec(ctx context.Context, conn *pgx.Conn, sql string) {
	o.t.Helper()
	if _, err := conn.PgConn().Exec(ctx, sql).ReadAll(); err != nil {
		o.t.Fatalf("%s: %v", sql, err)
	}
}

func (o *oracle) runCase(ctx context.Context, i int, c oracleCase, tally *oracleTally) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	schema := fmt.Sprintf("c%03d", i)
	o.exec(ctx, o.conn, fmt.Sprintf("drop schema if exists %s cascade; create schema %s; set search_path to %s, public", schema, schema, schema))
	o.exec(ctx, o.blocker, fmt.Sprintf("set search_path to %s, public", schema))
	defer func() {
		o.exec(ctx, o.conn, "reset all; drop schema "+schema+" cascade")
		if c.teardown != "" {
			o.exec(ctx, o.conn, c.teardown)
		}
	}()
	o.exec(ctx, o.conn, oracleBase)
	if c.setup != "" {
		o.exec(ctx, o.conn, c.setup)
	}
	stmts := sqlscan.SplitStatements(c.step)
	final := o.runStep(ctx, stmts, !c.noTx, tally, c.unknown)
	o.checkRules(final, c)
}

// runStep predicts and measures each statement in order, applying it
// before the next; it returns the analysis weighed before the first
// statement (the rules are judged on it, as lint and check judge them).
func (o *oracle) runStep(ctx context.Context, stmts []sqlscan.Statement, tx bool, tally *oracleTally, unknown []int) *Analysis {
	first := o.weighed(ctx, stmts, tx)
	for k := range stmts {
		an := first
		if k > 0 {
			an = o.weighed(ctx, stmts, tx)
		}
		sl := oStmt{an.Statements[k], stmts[k].SQL}
		if slices.Contains(unknown, k) {
			if sl.Unknown == "" {
				o.t.Errorf("%s: want its locks reported unknown, got %+v", sl.Where(), sl.Locks)
			}
		}
		if sl.Unknown != "" {
			tally.unknownStmts++
		}
		tally.statements++
		if sqlscan.NoTransactionReason(sl.SQL) != "" {
			o.measureQueued(ctx, sl, tally) // applies it too
			continue
		}
		o.measure(ctx, sl, tally)
		if !o.commit && sl.Command != "LOCK" { // LOCK outside a transaction block is an error, and a no-op anyway
			o.exec(ctx, o.conn, sl.SQL)
		}
	}
	return first
}

// weighed analyses the step and weighs it on the current state, in a
// read-only transaction on the statements' own connection (so the same
// search_path resolves the names).
func (o *oracle) weighed(ctx context.Context, stmts []sqlscan.Statement, tx bool) *Analysis {
	o.t.Helper()
	an := Analyze(stmts, Options{Transactional: tx})
	rtx, err := o.conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		o.t.Fatal(err)
	}
	defer rtx.Rollback(ctx)
	if err := weighChecked(o.t, ctx, rtx, WeighOptions{IgnorePIDs: []int{int(o.blocker.PgConn().PID())}}, an); err != nil {
		o.t.Fatalf("weigh: %v", err)
	}
	return an
}

// relState is one relation before or after the statement.
type relState struct {
	oid      uint32
	name     string
	kind     string
	filenode uint32
	scans    int64
	system   bool
}

const relStateSQL = `select c.oid, n.nspname || '.' || c.relname, c.relkind::text, c.relfilenode,
  coalesce(pg_stat_get_xact_numscans(c.oid), 0),
  n.nspname in ('pg_catalog', 'information_schema', 'pg_toast') or n.nspname like 'pg_temp%' or n.nspname like 'pg_toast_temp%'
from pg_class c join pg_namespace n on n.oid = c.relnamespace`

func (o *oracle) relStates(ctx context.Context, q Querier) map[uint32]relState {
	o.t.Helper()
	rows, err := q.Query(ctx, relStateSQL)
	if err != nil {
		o.t.Fatal(err)
	}
	out := map[uint32]relState{}
	for rows.Next() {
		var r relState
		if err := rows.Scan(&r.oid, &r.name, &r.kind, &r.filenode, &r.scans, &r.system); err != nil {
			o.t.Fatal(err)
		}
		out[r.oid] = r
	}
	if err := rows.Err(); err != nil {
		o.t.Fatal(err)
	}
	return out
}

// measure runs the statement in BEGIN ... ROLLBACK (or COMMIT, with
// o.commit) and compares.
func (o *oracle) measure(ctx context.Context, sl oStmt, tally *oracleTally) {
	tx, err := o.conn.Begin(ctx)
	if err != nil {
		o.t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	before := o.relStates(ctx, tx)
	predicted := o.resolve(ctx, tx, sl)
	if _, err := tx.Conn().PgConn().Exec(ctx, sl.SQL).ReadAll(); err != nil {
		o.t.Fatalf("%s: %s: %v", sl.Where(), sl.SQL, err)
	}
	held := o.heldModes(ctx, tx)
	after := o.relStates(ctx, tx)
	where := fmt.Sprintf("%q", sl.SQL)
	for oid, p := range predicted {
		got := held[oid]
		tally.locks++
		if got != p.Mode {
			o.t.Errorf("%s: %s: predicted %s, the server holds %s", where, p.Rel, p.Mode, modeText(got))
		}
		b, a := before[oid], after[oid]
		if _, ok := after[oid]; !ok || !strings.Contains("rmit", b.kind) {
			continue // gone, or no storage of its own (or a sequence: RESTART gives it a new file)
		}
		switch {
		case p.Rewrite == Unknown:
			tally.unknownAnswers++
		default:
			tally.rewrites++
			wantNew := p.Rewrite == Yes || p.Truncate
			if gotNew := a.filenode != b.filenode; gotNew != wantNew {
				o.t.Errorf("%s: %s: predicted rewrite %v, relfilenode %d -> %d", where, p.Rel, p.Rewrite, b.filenode, a.filenode)
			}
		}
		if p.Mode < ShareUpdateExclusive || p.Truncate || b.kind != "r" && b.kind != "m" {
			continue // plain reads and writes scan as the plan decides; TRUNCATE reads nothing it keeps
		}
		switch {
		case p.Scan == Unknown:
			tally.unknownAnswers++
		default:
			tally.scans++
			if scanned := a.scans > b.scans; scanned != (p.Scan == Yes) {
				o.t.Errorf("%s: %s: predicted scan %v, sequential scans %d -> %d", where, p.Rel, p.Scan, b.scans, a.scans)
			}
		}
	}
	o.unpredicted(sl, before, held, predicted, where)
	if o.commit {
		if err := tx.Commit(ctx); err != nil {
			o.t.Fatal(err)
		}
	}
}

// unpredicted fails for a lock the server took on an existing user table
// that the prediction does not name, unless the statement said its locks
// are not fully known (Unknown, or a Maybe naming it or naming nothing).
func (o *oracle) unpredicted(sl oStmt, before map[uint32]relState, held map[uint32]Mode, predicted map[uint32]Lock, where string) {
	for oid, m := range held {
		b, existed := before[oid]
		if !existed || b.system || !strings.Contains("rpmvf", b.kind) {
			continue
		}
		if _, ok := predicted[oid]; ok {
			continue
		}
		if sl.Unknown != "" || slices.ContainsFunc(sl.Maybe, func(x MaybeLock) bool {
			return x.Rel.IsZero() || x.Rel.Schema+"."+x.Rel.Name == b.name && m <= max(x.Mode, AccessShare)
		}) {
			continue
		}
		o.t.Errorf("%s: the server holds %s on %s, which the prediction does not name", where, m, b.name)
	}
}

func modeText(m Mode) string {
	if m == NoLock {
		return "no lock"
	}
	return m.String()
}

// resolve maps the predicted locks to relation oids (before the statement
// runs: a DROP removes the name).
func (o *oracle) resolve(ctx context.Context, q Querier, sl oStmt) map[uint32]Lock {
	out := map[uint32]Lock{}
	for _, l := range sl.Locks {
		if l.OnTableOf {
			o.t.Errorf("%s: the table of index %s was not resolved", sl.Where(), l.Rel)
			continue
		}
		var oid *uint32
		if err := queryRow(ctx, q, "select to_regclass($1)::oid", []any{l.Rel.String()}, &oid); err != nil {
			o.t.Fatal(err)
		}
		if oid == nil {
			continue // created by the statement itself
		}
		out[*oid] = l
	}
	return out
}

// heldModes is the strongest granted mode per relation of this backend.
func (o *oracle) heldModes(ctx context.Context, q Querier) map[uint32]Mode {
	rows, err := q.Query(ctx, `select relation, mode from pg_locks
where pid = pg_backend_pid() and locktype = 'relation' and granted
  and database = (select oid from pg_database where datname = current_database())`)
	if err != nil {
		o.t.Fatal(err)
	}
	out := map[uint32]Mode{}
	for rows.Next() {
		var oid uint32
		var mode string
		if err := rows.Scan(&oid, &mode); err != nil {
			o.t.Fatal(err)
		}
		if m, ok := ParsePgLocksMode(mode); ok && m > out[oid] {
			out[oid] = m
		}
	}
	if err := rows.Err(); err != nil {
		o.t.Fatal(err)
	}
	return out
}

// measureQueued checks a statement that cannot run in a transaction
// block. A second session holds, on the predicted table, the weakest mode
// that conflicts with the predicted one (so brief weaker locks the command
// takes first, such as VACUUM's ACCESS SHARE while it looks up the table,
// pass); the statement queues, and pg_locks shows the mode it waits for.
// It is then cancelled, and applied for real to check its rewrite.
func (o *oracle) measureQueued(ctx context.Context, sl oStmt, tally *oracleTally) {
	var table Lock
	for _, l := range sl.Locks {
		var kind string
		if err := queryRow(ctx, o.conn, "select coalesce((select relkind::text from pg_class where oid = to_regclass($1)), '')",
			[]any{l.Rel.String()}, &kind); err != nil {
			o.t.Fatal(err)
		}
		if strings.Contains("rpm", kind) && kind != "" {
			table = l
			break
		}
	}
	if table.Rel.IsZero() {
		o.t.Errorf("%s: no table lock predicted for %q", sl.Where(), sl.SQL)
		return
	}
	block := AccessShare
	for !block.Conflicts(table.Mode) {
		block++
	}
	btx, err := o.blocker.Begin(ctx)
	if err != nil {
		o.t.Fatal(err)
	}
	defer btx.Rollback(ctx)
	if _, err := btx.Exec(ctx, "lock table "+table.Rel.String()+" in "+block.String()+" mode"); err != nil {
		o.t.Fatal(err)
	}
	pid := o.conn.PgConn().PID()
	done := make(chan error, 1)
	go func() { _, err := o.conn.PgConn().Exec(ctx, sl.SQL).ReadAll(); done <- err }()
	var rel, mode string
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := queryRow(ctx, btx, `select relation::regclass::text, mode from pg_locks
where pid = $1 and locktype = 'relation' and not granted`, []any{pid}, &rel, &mode)
		if err == nil {
			break
		}
		select {
		case err := <-done:
			o.t.Errorf("%q did not queue behind %s on %s (it finished: %v): it takes a weaker lock than the predicted %s",
				sl.SQL, block, table.Rel, err, table.Mode)
			return
		default:
		}
		if !errors.Is(err, pgx.ErrNoRows) || time.Now().After(deadline) {
			o.t.Fatalf("%s: waiting for %q to queue: %v", sl.Where(), sl.SQL, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := btx.Exec(ctx, "select pg_cancel_backend($1)", pid); err != nil {
		o.t.Fatal(err)
	}
	if err := <-done; err == nil {
		o.t.Fatalf("%s: the statement finished although it was queued and cancelled", sl.Where())
	}
	if err := btx.Rollback(ctx); err != nil {
		o.t.Fatal(err)
	}
	tally.queued++
	tally.locks++
	got, _ := ParsePgLocksMode(mode)
	if got != table.Mode {
		o.t.Errorf("%q: %s: predicted %s, it queued for %s on %s", sl.SQL, table.Rel, table.Mode, got, rel)
	}
	o.checkAppliedRewrite(ctx, sl, table, tally)
}

// checkAppliedRewrite applies the statement and compares relfilenode
// around it.
func (o *oracle) checkAppliedRewrite(ctx context.Context, sl oStmt, l Lock, tally *oracleTally) {
	var before, after uint32
	q := "select relfilenode from pg_class where oid = to_regclass($1)"
	if err := queryRow(ctx, o.conn, q, []any{l.Rel.String()}, &before); err != nil {
		o.t.Fatal(err)
	}
	o.exec(ctx, o.conn, sl.SQL)
	if err := queryRow(ctx, o.conn, q, []any{l.Rel.String()}, &after); err != nil {
		o.t.Fatal(err)
	}
	if l.Rewrite == Unknown {
		tally.unknownAnswers++
		return
	}
	tally.rewrites++
	if (after != before) != (l.Rewrite == Yes) {
		o.t.Errorf("%q: %s: predicted rewrite %v, relfilenode %d -> %d", sl.SQL, l.Rel, l.Rewrite, before, after)
	}
}

// checkRules compares the findings that apply after Weigh with the case.
func (o *oracle) checkRules(an *Analysis, c oracleCase) {
	applies := map[string]bool{}
	for _, f := range an.Findings {
		if f.Weight == nil || f.Weight.Level > None {
			applies[f.Rule] = true
		}
	}
	for _, r := range c.fires {
		if !applies[r] {
			o.t.Errorf("rule %s should fire; findings: %s", r, findingSummary(an))
		}
	}
	for _, r := range c.not {
		if applies[r] {
			o.t.Errorf("rule %s should not fire; findings: %s", r, findingSummary(an))
		}
	}
}

func findingSummary(an *Analysis) string {
	var s []string
	for _, f := range an.Findings {
		lv := "unweighed"
		if f.Weight != nil {
			lv = f.Weight.Level.String()
		}
		s = append(s, fmt.Sprintf("%s(%s) %s", f.Rule, lv, f.Why))
	}
	return strings.Join(s, "; ")
}

// runRunbooks runs both example runbooks' migrations and rollbacks, in
// order, against the schemas they are written for.
func (o *oracle) runRunbooks(ctx context.Context, sb *db.Sandbox, tally *oracleTally) {
	for _, rb := range []struct {
		name     string
		fixtures []string
	}{
		{"connect-rls-hardening", []string{db.FixtureSupabaseBase, db.FixtureSupabaseApp}},
		{"tenant-rls-fix", []string{db.FixtureTenant}},
	} {
		var scripts []string
		for _, f := range rb.fixtures {
			b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fixtures", f))
			if err != nil {
				o.t.Fatal(err)
			}
			scripts = append(scripts, string(b))
		}
		dbname := "oracle_" + strings.ReplaceAll(rb.name, "-", "_")
		if err := sb.CreateDatabase(ctx, dbname, scripts...); err != nil {
			o.t.Fatal(err)
		}
		ro := newOracle(o.t, ctx, sb.DSN(dbname))
		for _, dir := range []string{"migrations", "rollback"} {
			files, err := filepath.Glob(filepath.Join("..", "..", "runbooks", rb.name, dir, "*.sql"))
			if err != nil || len(files) == 0 {
				o.t.Fatalf("%s/%s: %v", rb.name, dir, err)
			}
			for _, f := range files {
				src, err := os.ReadFile(f)
				if err != nil {
					o.t.Fatal(err)
				}
				stmts := sqlscan.SplitStatements(string(src))
				for k := range stmts {
					stmts[k].File = filepath.Join(rb.name, dir, filepath.Base(f))
				}
				ro.runStep(ctx, stmts, true, tally, nil)
			}
		}
	}
}

// TestOracleMigrationsDir runs the oracle over a directory of real
// migrations (LOCKCHECK_ORACLE_DIR: *.sql applied in name order to an
// empty database, after LOCKCHECK_ORACLE_SETUP if set; each file one
// transactional step), for checking the
// analyzer against a public project's history before trusting it there.
// Skipped when the variable is unset.
func TestOracleMigrationsDir(t *testing.T) {
	dir := os.Getenv("LOCKCHECK_ORACLE_DIR")
	if dir == "" {
		t.Skip("set LOCKCHECK_ORACLE_DIR to a directory of .sql migrations")
	}
	ctx := context.Background()
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	var setup []string
	if s := os.Getenv("LOCKCHECK_ORACLE_SETUP"); s != "" {
		setup = append(setup, s) // e.g. the migration tool's own table
	}
	if err := sb.CreateDatabase(ctx, "migrations", setup...); err != nil {
		t.Fatal(err)
	}
	o := newOracle(t, ctx, sb.DSN("migrations"))
	o.commit = true
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .sql files in %s: %v", dir, err)
	}
	var tally oracleTally
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		stmts := sqlscan.SplitStatements(string(src))
		for k := range stmts {
			stmts[k].File = filepath.Base(f)
		}
		o.runStep(ctx, stmts, true, &tally, nil)
		if t.Failed() {
			break
		}
	}
	t.Logf("%d files: %d statements, %d locks, %d rewrites and %d scans compared; %d statements unknown, %d answers unknown",
		len(files), tally.statements, tally.locks, tally.rewrites, tally.scans, tally.unknownStmts, tally.unknownAnswers)
}

// oStmt is a statement's prediction with its text.
type oStmt struct {
	StatementLocks
	SQL string
}
