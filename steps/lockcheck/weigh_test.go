package lockcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// weighDB starts a sandbox with a database holding setup and returns a
// connection to it.
func weighDB(t *testing.T, setup string) (*db.Sandbox, *pgx.Conn) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a PostgreSQL sandbox")
	}
	ctx := context.Background()
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	if err := sb.CreateDatabase(ctx, "w", setup); err != nil {
		t.Fatal(err)
	}
	return sb, connect(t, sb)
}

func connect(t *testing.T, sb *db.Sandbox) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), sb.DSN("w"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// weigh analyses src as one transactional step and weighs it in a
// read-only transaction on conn.
func weigh(t *testing.T, conn *pgx.Conn, src string, o WeighOptions) *Analysis {
	t.Helper()
	ctx := context.Background()
	an := Analyze(sqlscan.SplitStatements(src), Options{Transactional: true})
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := weighChecked(t, ctx, tx, o, an); err != nil {
		t.Fatal(err)
	}
	return an
}

func finding(t *testing.T, an *Analysis, rule string) Finding {
	t.Helper()
	for _, f := range an.Findings {
		if f.Rule == rule {
			return f
		}
	}
	t.Fatalf("no %s finding: %s", rule, findingSummary(an))
	return Finding{}
}

// A blocking index build on 300 rows is fine; on over a million it is
// not: the same finding weighs low on the small table, high on the large.
func TestWeighBySize(t *testing.T) {
	_, conn := weighDB(t, `
create table small (id int, x int);
insert into small select g, g from generate_series(1, 300) g;
create table large (id int, x int);
insert into large select g, g from generate_series(1, 1200000) g;
analyze small; analyze large;`)
	for _, c := range []struct {
		table string
		want  Level
		rows  string
	}{{"small", Low, "about 300 rows"}, {"large", High, "about 1,200,000 rows"}} {
		an := weigh(t, conn, "create index on "+c.table+" (x)", WeighOptions{})
		f := finding(t, an, RuleCreateIndexBlocking)
		if f.Weight == nil || f.Weight.Level != c.want || !strings.Contains(strings.Join(f.Weight.Reasons, "; "), c.rows) {
			t.Errorf("create index on %s: weight %+v, want %s naming %q", c.table, f.Weight, c.want, c.rows)
		}
		info := an.Relations["public."+c.table]
		if !info.Exists || info.Bytes <= 0 {
			t.Errorf("%s: relation info %+v", c.table, info)
		}
	}
	// Metadata-only changes do not weigh by size.
	an := weigh(t, conn, "drop index if exists nothing_here; alter table large rename column x to y", WeighOptions{})
	if f := finding(t, an, RuleRenameColumn); f.Weight.Level != Medium {
		t.Errorf("rename: %+v", f.Weight)
	}
	// Destructive findings name what disappears.
	an = weigh(t, conn, "truncate large", WeighOptions{})
	if f := finding(t, an, RuleTruncate); f.Weight.Level != High || !strings.Contains(strings.Join(f.Weight.Reasons, " "), "1,200,000 rows") {
		t.Errorf("truncate large: %+v", f.Weight)
	}
}

// A session idle in its transaction holding a lock that conflicts with
// the statement's makes the request queue behind it: a lock-queue
// finding, and every finding on that table weighs high.
func TestWeighIdleInTransactionHolder(t *testing.T) {
	sb, conn := weighDB(t, `create table small (id int, x int); insert into small select g, g from generate_series(1, 300) g;`)
	pid := idleWriterOnSmall(t, sb, conn)

	an := weigh(t, conn, "create index on small (x)", WeighOptions{LockTimeout: 5 * time.Second})
	f := finding(t, an, RuleCreateIndexBlocking)
	if f.Weight.Level != High || len(f.Weight.Waits) != 1 || f.Weight.Waits[0].PID != pid {
		t.Fatalf("create index behind an idle writer: %+v", f.Weight)
	}
	q := finding(t, an, RuleLockQueue)
	if q.Weight.Level != High || !strings.Contains(q.Why, "idle in transaction") || !strings.Contains(q.Why, "ROW EXCLUSIVE") ||
		!strings.Contains(q.Why, "lock_timeout (5s)") {
		t.Fatalf("lock-queue finding: %+v", q)
	}
	l := an.Statements[0].Locks[0]
	if len(l.Waits) != 1 || l.Waits[0].PID != pid || l.Waits[0].Mode != RowExclusive || !l.Waits[0].Granted {
		t.Fatalf("lock waits: %+v", l.Waits)
	}

	// A lock that does not conflict does not wait: ANALYZE's SHARE UPDATE
	// EXCLUSIVE goes past ROW EXCLUSIVE.
	an = weigh(t, conn, "analyze small", WeighOptions{})
	if len(an.Statements[0].Locks[0].Waits) != 0 || len(an.Findings) != 0 {
		t.Fatalf("analyze: waits %+v, findings %s", an.Statements[0].Locks[0].Waits, findingSummary(an))
	}

	// handrail's own sessions are not in anyone's way.
	an = weigh(t, conn, "create index on small (x)", WeighOptions{IgnorePIDs: []int{pid}})
	for _, f := range an.Findings {
		if f.Rule == RuleLockQueue || len(f.Weight.Waits) > 0 {
			t.Fatalf("an ignored pid still counted: %s", findingSummary(an))
		}
	}
	if f := finding(t, an, RuleCreateIndexBlocking); f.Weight.Level != Low {
		t.Fatalf("without the holder: %+v", f.Weight)
	}
}

// idleWriterOnSmall opens a session that inserts into table small and
// stays idle in its transaction (holding ROW EXCLUSIVE on it), and
// returns its pid once conn sees it idle.
func idleWriterOnSmall(t *testing.T, sb *db.Sandbox, conn *pgx.Conn) int {
	t.Helper()
	idle := connect(t, sb)
	if _, err := idle.Exec(context.Background(), "begin; insert into small values (0, 0)"); err != nil {
		t.Fatal(err)
	}
	pid := int(idle.PgConn().PID())
	waitIdleInTransaction(t, conn, pid)
	return pid
}

func waitIdleInTransaction(t *testing.T, conn *pgx.Conn, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var state string
		err := conn.QueryRow(context.Background(), "select coalesce(state, '') from pg_stat_activity where pid = $1", pid).Scan(&state)
		if err == nil && state == "idle in transaction" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d never became idle in transaction (state %q, %v)", pid, state, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Conditional findings are settled from the catalog.
func TestWeighSettlesConditionalFindings(t *testing.T) {
	_, conn := weighDB(t, `
create table t (id int, v varchar(10), n text, c text);
alter table t add constraint c_nn check (c is not null);
create function f_vol() returns int language plpgsql volatile as 'begin return 1; end';
create function f_stable() returns int language plpgsql stable as 'begin return 1; end';`)
	tests := []struct {
		src   string
		rule  string
		want  Level // None: settled as not applying
		about string
	}{
		{"alter table t alter column v type varchar(20)", RuleColumnTypeRewrite, None, "longer"},
		{"alter table t alter column v type text", RuleColumnTypeRewrite, None, "binary-coercible"},
		{"alter table t alter column id type bigint", RuleColumnTypeRewrite, Low, "rewrite"},
		{"alter table t alter column c set not null", RuleSetNotNullScans, None, "c_nn"},
		{"alter table t alter column n set not null", RuleSetNotNullScans, Low, "no validated CHECK"},
		{"alter table t add column a int default f_stable()", RuleVolatileDefault, None, "STABLE (pg_proc)"},
		{"alter table t add column a int default f_vol()", RuleVolatileDefault, Low, "VOLATILE (pg_proc)"},
	}
	for _, tt := range tests {
		an := weigh(t, conn, tt.src, WeighOptions{})
		f := finding(t, an, tt.rule)
		if f.Weight.Level != tt.want || !strings.Contains(strings.Join(f.Weight.Reasons, " "), tt.about) {
			t.Errorf("%s: %+v, want %s mentioning %q", tt.src, f.Weight, tt.want, tt.about)
		}
	}
}

// Weigh reads only: it runs in a READ ONLY transaction, and a type name
// that does not exist does not abort it.
func TestWeighInReadOnlyTransactionSurvivesBadNames(t *testing.T) {
	_, conn := weighDB(t, `create table t (id int);`)
	an := weigh(t, conn, "alter table t alter column id type no_such_type; alter table t add column z no_such_type; alter table nope add column a int", WeighOptions{})
	if an.Statements[0].Locks[0].Rewrite != Unknown {
		t.Errorf("unknown type: %+v", an.Statements[0].Locks[0])
	}
	if info := an.Relations["nope"]; info.Exists {
		t.Errorf("a missing table is reported as existing: %+v", info)
	}
	ctx := context.Background()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	an = Analyze(sqlscan.SplitStatements("create index on t (id)"), Options{})
	if err := Weigh(ctx, tx, WeighOptions{}, an); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "create table x (id int)"); err == nil {
		t.Fatal("the weighing transaction accepted a write")
	} else {
		var pe interface{ SQLState() string }
		if !errors.As(err, &pe) || pe.SQLState() != "25006" {
			t.Fatalf("want a read-only transaction error, got %v", err)
		}
	}
}

// Weighing again starts from what Analyze predicted: the same result,
// no finding twice; and a finding on an IF EXISTS object that is not
// there does not apply.
func TestWeighTwiceAndIfExists(t *testing.T) {
	sb, conn := weighDB(t, `create table p (id int primary key); create table c (pid int references p (id)); create index c_pid on c (pid);`)
	ctx := context.Background()
	idle := connect(t, sb)
	if _, err := idle.Exec(ctx, "begin; select * from c"); err != nil {
		t.Fatal(err)
	}
	an := Analyze(sqlscan.SplitStatements("drop index c_pid; drop index if exists gone_idx; drop table c"), Options{Transactional: true})
	var first string
	for round := range 2 {
		if err := Weigh(ctx, conn, WeighOptions{}, an); err != nil {
			t.Fatal(err)
		}
		var got string
		for _, f := range an.Findings {
			got += fmt.Sprintf("%s(%s) %s; ", f.Rule, f.Weight.Level, f.Rel)
		}
		var locks []string
		for _, sl := range an.Statements {
			for _, l := range sl.Locks {
				locks = append(locks, l.Rel.String()+" "+l.Mode.String())
			}
		}
		got += " | " + strings.Join(locks, ", ")
		if round == 0 {
			first = got
			continue
		}
		if got != first {
			t.Fatalf("second Weigh differs:\n%s\n%s", first, got)
		}
	}
	if n := strings.Count(first, "lock-queue("); n != 2 {
		t.Errorf("want one lock-queue finding per statement locking c (2), got %d: %s", n, first)
	}
	for _, f := range an.Findings {
		if f.Rule == RuleDropIndexBlocking && f.Rel.Name == "gone_idx" && f.Weight.Level != None {
			t.Errorf("DROP INDEX IF EXISTS of a missing index: %+v", f.Weight)
		}
	}
	if !strings.Contains(first, "public.p ACCESS EXCLUSIVE") {
		t.Errorf("dropping c drops its foreign key's triggers on p: %s", first)
	}
}

// Weighed with Once, an analysis is weighed as a plain Weigh does it, and
// keeps no copy of the prediction: a second Weigh of it fails, saying so.
func TestWeighOnce(t *testing.T) {
	_, conn := weighDB(t, `create table p (id int primary key); create index p_id on p (id);`)
	ctx := context.Background()
	sql := "drop index p_id; alter table p add column x int"
	plain := Analyze(sqlscan.SplitStatements(sql), Options{Transactional: true})
	once := Analyze(sqlscan.SplitStatements(sql), Options{Transactional: true})
	if err := Weigh(ctx, conn, WeighOptions{}, plain); err != nil {
		t.Fatal(err)
	}
	if err := Weigh(ctx, conn, WeighOptions{Once: true}, once); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(plain)
	b, _ := json.Marshal(once)
	if string(a) != string(b) {
		t.Errorf("Once weighs differently:\n%s\n%s", a, b)
	}
	if once.static != nil {
		t.Error("Once kept a copy of the prediction")
	}
	err := Weigh(ctx, conn, WeighOptions{}, once)
	if err == nil || !strings.Contains(err.Error(), "weighed once") {
		t.Errorf("a second Weigh after Once: %v, want an error saying it was weighed once", err)
	}
}

// Statements with equal locks share one weighed list, and queue writes
// each lock's Waits into it: every sharer must still list the holder it
// waits for, and a statement on another table (its own list) none.
func TestWeighSharedLocksKeepTheirWaits(t *testing.T) {
	sb, conn := weighDB(t, `create table small (id int, x int); create table other (id int);`)
	pid := idleWriterOnSmall(t, sb, conn)

	an := weigh(t, conn, "create index on small (x); create index on small (x); create index on other (id)", WeighOptions{LockTimeout: 5 * time.Second})
	s := an.Statements
	if len(s) != 3 {
		t.Fatalf("statements: %+v", s)
	}
	if len(s[0].Locks) > 0 && len(s[1].Locks) > 0 && &s[0].Locks[0] != &s[1].Locks[0] {
		t.Error("the two statements on small do not share their weighed locks: this test no longer covers sharing")
	}
	for i := range 2 {
		if l := s[i].Locks; len(l) != 1 || len(l[0].Waits) != 1 || l[0].Waits[0].PID != pid {
			t.Errorf("statement %d on small: locks %+v, want one waiting for pid %d", i+1, l, pid)
		}
	}
	if l := s[2].Locks; len(l) != 1 || l[0].Rel.Name != "other" || len(l[0].Waits) != 0 {
		t.Errorf("statement 3 on other: locks %+v, want one waiting for nobody", l)
	}
	queued := 0
	for _, f := range an.Findings {
		if f.Rule == RuleLockQueue {
			queued++
		}
	}
	if queued != 2 {
		t.Errorf("%d lock-queue findings, want one per statement on small: %s", queued, findingSummary(an))
	}
}

// A DROP ... IF EXISTS that does nothing on the target says what is
// missing: the policy (or trigger, index) when its table is there, not the
// table ("storage.objects does not exist" of a table that does). An
// unqualified table name is matched as the qualified one it resolves to.
func TestWeighIfExistsNamesWhatIsMissing(t *testing.T) {
	_, conn := weighDB(t, `create table t (x int); create policy here on t using (true);`)
	for stmt, want := range map[string]string{
		`drop policy if exists "gone policy" on t`:        `does not apply: policy "gone policy" on public.t does not exist on the target (IF EXISTS: the statement does nothing)`,
		`drop policy if exists "gone policy" on public.t`: `does not apply: policy "gone policy" on public.t does not exist on the target`,
		`drop trigger if exists gone_trg on t`:            `does not apply: trigger gone_trg on public.t does not exist on the target`,
		`drop index if exists gone_idx`:                   `does not apply: index gone_idx does not exist on the target`,
		`drop table if exists gone_t`:                     `does not apply: gone_t does not exist on the target`,
	} {
		// Another statement after it: the lock would be held through it.
		an := weigh(t, conn, stmt+"; select 1", WeighOptions{})
		var got []string
		for _, f := range an.Findings {
			if f.Weight == nil || f.Weight.Level != None {
				t.Errorf("%s: finding %s weighs %v, want none: it does nothing", stmt, f.Rule, f.Weight)
				continue
			}
			got = append(got, f.Weight.Reasons...)
		}
		if all := strings.Join(got, "\n"); !strings.Contains(all, want) || strings.Contains(all, "apply: public.t does not") || strings.Contains(all, "apply: t does not") {
			t.Errorf("%s: reasons\n%s\nwant %q (findings: %s)", stmt, all, want, findingSummary(an))
		}
	}
}
