package db

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// tgRecorder collects the callbacks of an ExecOptions.
type tgRecorder struct {
	mu       sync.Mutex
	started  []int
	done     []string // tags
	rows     map[int][][]any
	totals   map[int]int64
	columns  map[int][]string
	lockWait [][]Blocker
}

func (r *tgRecorder) options(o ExecOptions) ExecOptions {
	r.rows, r.totals, r.columns = map[int][][]any{}, map[int]int64{}, map[int][]string{}
	o.OnStatementStart = func(i int) { r.mu.Lock(); r.started = append(r.started, i); r.mu.Unlock() }
	o.OnRows = func(i int, cols []string, batch [][]any, total int64) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.columns[i] = cols
		r.rows[i] = append(r.rows[i], batch...)
		r.totals[i] = total
	}
	o.OnStatementDone = func(i int, tag string, _ int64, _ time.Duration) {
		r.mu.Lock()
		r.done = append(r.done, tag)
		r.mu.Unlock()
	}
	o.OnLockWait = func(i int, bs []Blocker) { r.mu.Lock(); r.lockWait = append(r.lockWait, bs); r.mu.Unlock() }
	return o
}

func TestRunTransaction(t *testing.T) {
	t.Parallel()
	env := tgNewEnv(t, SandboxOptions{})

	t.Run("commits and streams rows", func(t *testing.T) {
		dbname := env.database(t)
		tg := env.connect(t, dbname, ConnectOptions{})
		var rec tgRecorder
		err := tg.RunTransaction(tgCtx(t), SQLs{
			"create table t(id int primary key, name text)",
			"insert into t select g, 'n' || g from generate_series(1, 1000) g",
			"select id, name from t order by id",
		}, rec.options(ExecOptions{KeepRows: 300, BatchRows: 100}))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rec.started, []int{0, 1, 2}) || !slices.Equal(rec.done, []string{"CREATE TABLE", "INSERT 0 1000", "SELECT 1000"}) {
			t.Fatalf("started %v, done %v", rec.started, rec.done)
		}
		if len(rec.rows[2]) != 300 || rec.totals[2] != 1000 || !slices.Equal(rec.columns[2], []string{"id", "name"}) {
			t.Fatalf("kept %d rows, total %d, columns %v", len(rec.rows[2]), rec.totals[2], rec.columns[2])
		}
		if first := rec.rows[2][0]; first[0] != int32(1) || first[1] != "n1" {
			t.Fatalf("first row = %#v, want raw pgx values int32(1), \"n1\"", first)
		}
		if !tgTableExists(t, env.admin(t, dbname), "t") {
			t.Fatal("not committed")
		}
	})

	t.Run("a failing statement leaves no trace", func(t *testing.T) {
		dbname := env.database(t)
		tg := env.connect(t, dbname, ConnectOptions{})
		err := tg.RunTransaction(tgCtx(t), SQLs{
			"create table first(id int)",
			"insert into first values (1)",
			"select 1/0",
			"create table fourth(id int)",
			"create table fifth(id int)",
		}, ExecOptions{LockTimeout: time.Second, StatementTimeout: 10 * time.Second})
		e := tgExecError(t, err)
		if e.Index != 2 || !e.RolledBack || e.SQLState != "22012" || e.OutcomeUnknown || e.ConnectionLost || e.Cancelled {
			t.Fatalf("ExecError = %+v", e)
		}
		if e.Error() != "statement 3: division by zero (SQLSTATE 22012); rolled back, nothing was changed" {
			t.Errorf("Error() = %q", e.Error())
		}
		admin := env.admin(t, dbname)
		for _, table := range []string{"first", "fourth", "fifth"} {
			if tgTableExists(t, admin, table) {
				t.Errorf("table %s exists after the failed step", table)
			}
		}
		if err := tg.RunTransaction(tgCtx(t), SQLs{"select 1"}, ExecOptions{}); err != nil {
			t.Fatalf("connection unusable after the rollback: %v", err)
		}
	})

	t.Run("cancel sends a cancel request and rolls back", func(t *testing.T) {
		dbname := env.database(t)
		tg := env.connect(t, dbname, ConnectOptions{})
		admin := env.admin(t, dbname)
		ctx, cancel := context.WithCancel(tgCtx(t))
		defer cancel()
		result := make(chan error, 1)
		go func() {
			result <- tg.RunTransaction(ctx, SQLs{"create table gone(id int)", "select pg_sleep(30)"}, ExecOptions{})
		}()
		tgWaitActive(t, admin, tg.WorkPID(), "select pg_sleep(30)", "")
		cancelled := time.Now()
		cancel()
		var err error
		select {
		case err = <-result:
		case <-time.After(15 * time.Second):
			t.Fatal("RunTransaction did not return after cancel")
		}
		e := tgExecError(t, err)
		if !e.Cancelled || !e.RolledBack || e.Index != 1 || e.SQLState != "57014" || e.ConnectionLost || e.OutcomeUnknown {
			t.Fatalf("ExecError = %+v", e)
		}
		// The server answered the cancel request: this is not the 5s
		// socket-deadline fallback.
		if d := time.Since(cancelled); d > 3*time.Second {
			t.Errorf("cancel took %s", d)
		}
		if tgTableExists(t, admin, "gone") {
			t.Fatal("table from the cancelled step exists")
		}
		pid := tg.WorkPID()
		if err := tg.RunTransaction(tgCtx(t), SQLs{"create table kept(id int)"}, ExecOptions{}); err != nil {
			t.Fatalf("connection unusable after cancel: %v", err)
		}
		if tg.WorkPID() != pid || !tgTableExists(t, admin, "kept") {
			t.Fatal("the same connection did not carry on")
		}
	})

	// handrail killed (SIGKILL, a dropped SSH session) mid-statement: the
	// server must abort the transaction and free its locks at once, not
	// when the statement would have ended. That takes
	// client_connection_check_interval on the work connection (the crash
	// test in package main proves the effect with a killed process).
	t.Run("the work connection checks for a vanished client", func(t *testing.T) {
		dbname := env.database(t)
		tg := env.connect(t, dbname, ConnectOptions{})
		var rec tgRecorder
		if err := tg.RunTransaction(tgCtx(t), SQLs{"select current_setting('client_connection_check_interval')"},
			rec.options(ExecOptions{})); err != nil {
			t.Fatal(err)
		}
		if got := rec.rows[0]; len(got) != 1 || got[0][0] != "1s" {
			t.Fatalf("client_connection_check_interval = %v, want 1s", got)
		}
	})

	t.Run("connection lost mid-statement rolls back; Reconnect", func(t *testing.T) {
		dbname := env.database(t)
		tg := env.connect(t, dbname, ConnectOptions{})
		admin := env.admin(t, dbname)
		result := make(chan error, 1)
		go func() {
			result <- tg.RunTransaction(tgCtx(t), SQLs{"create table gone(id int)", "select pg_sleep(30)"}, ExecOptions{})
		}()
		oldPID := tg.WorkPID()
		tgWaitActive(t, admin, oldPID, "select pg_sleep(30)", "")
		tgExec(t, admin, "select pg_terminate_backend($1)", oldPID)
		e := tgExecError(t, <-result)
		if !e.ConnectionLost || !e.RolledBack || e.OutcomeUnknown || e.Cancelled || e.Index != 1 {
			t.Fatalf("ExecError = %+v", e)
		}
		if !IsConnectionLost(e) {
			t.Error("IsConnectionLost(e) = false")
		}
		if tgTableExists(t, admin, "gone") {
			t.Fatal("table from the interrupted step exists")
		}
		if connAlive(tgCtx(t), tg.work) {
			t.Error("the dead work connection answers")
		}
		lockPID := tg.LockPID()
		if err := tg.Reconnect(tgCtx(t)); err != nil {
			t.Fatal(err)
		}
		if tg.WorkPID() == oldPID || tg.LockPID() != lockPID {
			t.Errorf("work pid %d→%d, lock pid %d→%d: want a new work conn, the same lock conn", oldPID, tg.WorkPID(), lockPID, tg.LockPID())
		}
		if !connAlive(tgCtx(t), tg.work) {
			t.Error("the new work connection does not answer")
		}
		if err := tg.RunTransaction(tgCtx(t), SQLs{"select 1"}, ExecOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("lock timeout names the blocker; retry succeeds", func(t *testing.T) {
		dbname := env.database(t, "create table t(id int primary key, v int); insert into t values (1, 0)")
		tg := env.connect(t, dbname, ConnectOptions{})
		admin := env.admin(t, dbname)
		blocker := env.admin(t, dbname)
		var blockerPID int
		if err := blocker.QueryRow(tgCtx(t), "select pg_backend_pid()").Scan(&blockerPID); err != nil {
			t.Fatal(err)
		}
		tgExec(t, blocker, "begin")
		tgExec(t, blocker, "update t set v = 1 where id = 1")

		stmts := []string{"create table side_effect(id int)", "update t set v = 2 where id = 1"}
		var rec tgRecorder
		start := time.Now()
		err := tg.RunTransaction(tgCtx(t), SQLs(stmts), rec.options(ExecOptions{LockTimeout: 300 * time.Millisecond, StatementTimeout: 10 * time.Second}))
		e := tgExecError(t, err)
		if !e.LockTimeout || !e.RolledBack || e.SQLState != "55P03" || e.Index != 1 {
			t.Fatalf("ExecError = %+v", e)
		}
		if d := time.Since(start); d < 300*time.Millisecond || d > 5*time.Second {
			t.Errorf("returned after %s with lock_timeout 300ms", d)
		}
		rec.mu.Lock()
		waits := slices.Clone(rec.lockWait)
		rec.mu.Unlock()
		if len(waits) < 2 || len(waits[0]) != 1 || waits[0][0].PID != blockerPID || len(waits[len(waits)-1]) != 0 {
			t.Fatalf("OnLockWait calls = %+v; want the blocker %d, then an empty list", waits, blockerPID)
		}
		if b := waits[0][0]; b.State != "idle in transaction" || b.Query != "update t set v = 1 where id = 1" {
			t.Errorf("blocker = %+v", b)
		}
		if tgTableExists(t, admin, "side_effect") {
			t.Fatal("side effect of the timed-out step remains")
		}

		tgExec(t, blocker, "commit")
		if err := tg.RunTransaction(tgCtx(t), SQLs(stmts), ExecOptions{LockTimeout: 300 * time.Millisecond}); err != nil {
			t.Fatalf("retry: %v", err)
		}
		var v int
		if err := admin.QueryRow(tgCtx(t), "select v from t where id = 1").Scan(&v); err != nil || v != 2 {
			t.Fatalf("v = %d, %v", v, err)
		}
	})

	t.Run("OnLockWait reports a wait that ends", func(t *testing.T) {
		dbname := env.database(t, "create table t(id int primary key, v int); insert into t values (1, 0)")
		tg := env.connect(t, dbname, ConnectOptions{})
		admin := env.admin(t, dbname)
		blocker := env.admin(t, dbname)
		tgExec(t, blocker, "begin")
		tgExec(t, blocker, "lock table t in access exclusive mode")

		seen := make(chan []Blocker, 10)
		result := make(chan error, 1)
		go func() {
			result <- tg.RunTransaction(tgCtx(t), SQLs{"select count(*) from t"}, ExecOptions{
				LockTimeout: 20 * time.Second,
				OnLockWait:  func(_ int, bs []Blocker) { seen <- bs },
			})
		}()
		if bs := <-seen; len(bs) != 1 || bs[0].Query != "lock table t in access exclusive mode" {
			t.Fatalf("first OnLockWait = %+v", bs)
		}
		tgWaitActive(t, admin, tg.WorkPID(), "select count(*) from t", "Lock")
		tgExec(t, blocker, "commit")
		if err := <-result; err != nil {
			t.Fatal(err)
		}
		if bs := <-seen; len(bs) != 0 {
			t.Fatalf("last OnLockWait = %+v, want empty", bs)
		}
	})

	t.Run("COMMIT refused by the server is a rollback", func(t *testing.T) {
		dbname := env.database(t, "create table u(id int unique deferrable initially deferred)")
		tg := env.connect(t, dbname, ConnectOptions{})
		stmts := []string{"insert into u values (1)", "insert into u values (1)"}
		e := tgExecError(t, tg.RunTransaction(tgCtx(t), SQLs(stmts), ExecOptions{}))
		if e.Index != len(stmts) || !e.RolledBack || e.OutcomeUnknown || e.SQLState != "23505" {
			t.Fatalf("ExecError = %+v", e)
		}
		var n int
		if err := env.admin(t, dbname).QueryRow(tgCtx(t), "select count(*) from u").Scan(&n); err != nil || n != 0 {
			t.Fatalf("u has %d rows, %v", n, err)
		}
	})

	t.Run("connection lost during COMMIT: outcome unknown", func(t *testing.T) {
		// A deferred constraint trigger makes COMMIT itself slow, so the
		// connection can be cut while COMMIT is in flight.
		dbname := env.database(t, `create table t(id int);
create function slow() returns trigger language plpgsql as $$ begin perform pg_sleep(30); return null; end $$;
create constraint trigger slow_commit after insert on t deferrable initially deferred for each row execute function slow();`)
		tg := env.connect(t, dbname, ConnectOptions{})
		admin := env.admin(t, dbname)
		ctx, cancel := context.WithCancel(tgCtx(t))
		defer cancel()
		result := make(chan error, 1)
		go func() { result <- tg.RunTransaction(ctx, SQLs{"insert into t values (1)"}, ExecOptions{}) }()
		tgWaitActive(t, admin, tg.WorkPID(), "COMMIT", "")
		// The operator's ctrl+c does not interrupt a COMMIT...
		cancel()
		select {
		case err := <-result:
			t.Fatalf("COMMIT was interrupted by cancel: %v", err)
		case <-time.After(300 * time.Millisecond):
		}
		tgWaitActive(t, admin, tg.WorkPID(), "COMMIT", "")
		// ...but a lost connection leaves its outcome unknown.
		tgExec(t, admin, "select pg_terminate_backend($1)", tg.WorkPID())
		e := tgExecError(t, <-result)
		if !e.OutcomeUnknown || e.RolledBack || !e.ConnectionLost || e.Index != 1 {
			t.Fatalf("ExecError = %+v", e)
		}
		if got := e.Error(); got[:7] != "COMMIT:" {
			t.Errorf("Error() = %q", got)
		}
	})

	t.Run("a COMMIT inside the step is caught", func(t *testing.T) {
		dbname := env.database(t)
		tg := env.connect(t, dbname, ConnectOptions{})
		e := tgExecError(t, tg.RunTransaction(tgCtx(t), SQLs{"create table a(id int)", "commit", "create table b(id int)"}, ExecOptions{}))
		if e.Index != 1 || e.RolledBack {
			t.Fatalf("ExecError = %+v", e)
		}
		admin := env.admin(t, dbname)
		if !tgTableExists(t, admin, "a") || tgTableExists(t, admin, "b") {
			t.Fatal("want a committed and b never run")
		}
	})

	t.Run("statement timeout", func(t *testing.T) {
		dbname := env.database(t)
		tg := env.connect(t, dbname, ConnectOptions{})
		e := tgExecError(t, tg.RunTransaction(tgCtx(t), SQLs{"select pg_sleep(5)"}, ExecOptions{StatementTimeout: 200 * time.Millisecond}))
		if !e.StatementTimeout || e.Cancelled || !e.RolledBack || e.SQLState != "57014" {
			t.Fatalf("ExecError = %+v", e)
		}
	})
}

func TestRunEach(t *testing.T) {
	t.Parallel()
	env := tgNewEnv(t, SandboxOptions{})
	dbname := env.database(t, "create table t(id int); insert into t select generate_series(1, 100)")
	tg := env.connect(t, dbname, ConnectOptions{})
	admin := env.admin(t, dbname)
	ctx := tgCtx(t)

	// VACUUM refuses a transaction block...
	e := tgExecError(t, tg.RunTransaction(ctx, SQLs{"vacuum t"}, ExecOptions{}))
	if e.SQLState != "25001" || !e.RolledBack {
		t.Fatalf("VACUUM in RunTransaction: %+v", e)
	}
	// ...and runs with RunEach.
	var rec tgRecorder
	err := tg.RunEach(ctx, SQLs{"vacuum (analyze) t", "create index concurrently t_id on t(id)"},
		rec.options(ExecOptions{LockTimeout: time.Second, StatementTimeout: time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.done, []string{"VACUUM", "CREATE INDEX"}) {
		t.Fatalf("done = %v", rec.done)
	}
	var analyzed bool
	if err := admin.QueryRow(ctx, "select last_analyze is not null from pg_stat_user_tables where relname = 't'").Scan(&analyzed); err != nil || !analyzed {
		t.Fatalf("not analyzed: %v", err)
	}
	// The session settings were reset.
	res, err := tg.Query(ctx, "select current_setting('lock_timeout'), current_setting('statement_timeout')", QueryOptions{})
	if err != nil || res.Rows[0][0] != "0" || res.Rows[0][1] != "0" {
		t.Fatalf("after RunEach: %v, %v", res.Rows, err)
	}

	// A failure says which statement; those before it stay committed.
	e = tgExecError(t, tg.RunEach(ctx, SQLs{"create table one(id int)", "select 1/0", "create table three(id int)"}, ExecOptions{}))
	if e.Index != 1 || e.RolledBack || e.OutcomeUnknown {
		t.Fatalf("ExecError = %+v", e)
	}
	if !tgTableExists(t, admin, "one") || tgTableExists(t, admin, "three") {
		t.Fatal("want one committed, three never run")
	}

	// A BEGIN in a non-transactional step is refused and rolled back.
	e = tgExecError(t, tg.RunEach(ctx, SQLs{"begin", "create table four(id int)"}, ExecOptions{}))
	if e.Index != 0 || tgTableExists(t, admin, "four") {
		t.Fatalf("ExecError = %+v", e)
	}

	// A lost connection during an autocommitted statement: unknown outcome.
	result := make(chan error, 1)
	go func() { result <- tg.RunEach(ctx, SQLs{"select pg_sleep(30)"}, ExecOptions{}) }()
	tgWaitActive(t, admin, tg.WorkPID(), "select pg_sleep(30)", "")
	tgExec(t, admin, "select pg_terminate_backend($1)", tg.WorkPID())
	e = tgExecError(t, <-result)
	if !e.ConnectionLost || !e.OutcomeUnknown || e.RolledBack {
		t.Fatalf("ExecError = %+v", e)
	}
}

func TestQuery(t *testing.T) {
	t.Parallel()
	env := tgNewEnv(t, SandboxOptions{})
	dbname := env.database(t, `
create role tg_tenant_reader nologin;
create table docs(tenant text, body text);
insert into docs values ('a', 'a1'), ('a', 'a2'), ('b', 'b1');
alter table docs enable row level security;
create policy tenant_isolation on docs using (tenant = current_setting('app.current_tenant_id', true));
grant select on docs to tg_tenant_reader;`)
	tg := env.connect(t, dbname, ConnectOptions{})
	ctx := tgCtx(t)

	t.Run("as_role and settings change what RLS shows", func(t *testing.T) {
		const q = "select current_user::text, body from docs order by body"
		for _, tc := range []struct {
			role     string
			settings map[string]string
			want     []string
		}{
			{"", nil, []string{"a1", "a2", "b1"}}, // the superuser bypasses RLS
			{"tg_tenant_reader", map[string]string{"app.current_tenant_id": "a"}, []string{"a1", "a2"}},
			{"tg_tenant_reader", map[string]string{"app.current_tenant_id": "b", "request.jwt.claims": `{"sub":"x"}`}, []string{"b1"}},
			{"tg_tenant_reader", nil, nil},
		} {
			res, err := tg.Query(ctx, q, QueryOptions{AsRole: tc.role, Settings: tc.settings, StatementTimeout: 5 * time.Second})
			if err != nil {
				t.Fatalf("%s %v: %v", tc.role, tc.settings, err)
			}
			var got []string
			for _, row := range res.Rows {
				got = append(got, row[1].(string))
				if wantUser := map[bool]string{true: env.sb.User(), false: tc.role}[tc.role == ""]; row[0] != wantUser {
					t.Errorf("current_user = %v, want %s", row[0], wantUser)
				}
			}
			if !slices.Equal(got, tc.want) || res.Total != int64(len(tc.want)) {
				t.Errorf("as %q with %v: rows %v (total %d), want %v", tc.role, tc.settings, got, res.Total, tc.want)
			}
		}
	})

	t.Run("nothing persists: role, settings, writes", func(t *testing.T) {
		_, err := tg.Query(ctx, "select 1", QueryOptions{AsRole: "tg_tenant_reader", Settings: map[string]string{"app.current_tenant_id": "a"}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := tg.Query(ctx, "select current_user::text, coalesce(current_setting('app.current_tenant_id', true), '')", QueryOptions{})
		if err != nil || res.Rows[0][0] != env.sb.User() || res.Rows[0][1] != "" {
			t.Fatalf("after the check: %v, %v; want the login role and no setting", res.Rows, err)
		}
		_, err = tg.Query(ctx, "delete from docs returning *", QueryOptions{})
		if e := tgExecError(t, err); e.SQLState != "25006" || !e.RolledBack {
			t.Fatalf("a writing check: %+v", e)
		}
		_, err = tg.Query(ctx, "commit; delete from docs", QueryOptions{})
		if e := tgExecError(t, err); e.SQLState != "42601" {
			t.Fatalf("a smuggled statement: %+v", e)
		}
		res, err = tg.Query(ctx, "select count(*) from docs", QueryOptions{})
		if err != nil || res.Rows[0][0] != int64(3) {
			t.Fatalf("docs: %v, %v", res.Rows, err)
		}
	})

	t.Run("a batch: each query in its own read-only transaction, one failing alone", func(t *testing.T) {
		res, errs := tg.QueryBatch(ctx, []ReadOnlyQuery{
			{SQL: "select body from docs order by body", Opts: QueryOptions{AsRole: "tg_tenant_reader", Settings: map[string]string{"app.current_tenant_id": "b"}}},
			{SQL: "delete from docs returning *"},
			{SQL: "select 1", Opts: QueryOptions{AsRole: "no_such_role"}},
			{SQL: "select current_user::text, coalesce(current_setting('app.current_tenant_id', true), ''), current_setting('transaction_read_only')", Opts: QueryOptions{StatementTimeout: time.Second}},
			{SQL: "select count(*) from docs"},
		})
		if errs[0] != nil || len(res[0].Rows) != 1 || res[0].Rows[0][0] != "b1" {
			t.Errorf("as the tenant reader: %v, %v", res[0].Rows, errs[0])
		}
		if e := tgExecError(t, errs[1]); e.SQLState != "25006" || !e.RolledBack {
			t.Errorf("a writing query: %+v", e)
		}
		if e := tgExecError(t, errs[2]); e.SQLState != "22023" {
			t.Errorf("an unknown role: %+v", e)
		}
		if errs[3] != nil || res[3].Rows[0][0] != env.sb.User() || res[3].Rows[0][1] != "" || res[3].Rows[0][2] != "on" {
			t.Errorf("after the others, in its own read-only transaction: %v, %v", res[3].Rows, errs[3])
		}
		if errs[4] != nil || res[4].Rows[0][0] != int64(3) {
			t.Errorf("docs after the batch: %v, %v", res[4].Rows, errs[4])
		}
		if r, err := tg.Query(ctx, "select 1", QueryOptions{}); err != nil || r.Rows[0][0] != int32(1) {
			t.Errorf("the connection after the batch: %v, %v", r.Rows, err)
		}
	})

	t.Run("values are raw pgx values; empty is not null", func(t *testing.T) {
		res, err := tg.Query(ctx, "select ''::text, null::text, 42::bigint, true, 1.5::numeric", QueryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		row := res.Rows[0]
		if row[0] != "" || row[1] != nil || row[2] != int64(42) || row[3] != true {
			t.Fatalf("row = %#v", row)
		}
		if _, ok := row[4].(pgtype.Numeric); !ok {
			t.Fatalf("numeric decoded as %T", row[4])
		}
	})

	t.Run("a million rows keep KeepRows", func(t *testing.T) {
		var batches atomic.Int64
		res, err := tg.Query(ctx, "select g from generate_series(1, 1000000) g", QueryOptions{
			KeepRows: 100,
			OnRows:   func(_ []string, _ [][]any, _ int64) { batches.Add(1) },
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != 100 || res.Total != 1000000 || res.Rows[99][0] != int32(100) || !slices.Equal(res.Columns, []string{"g"}) {
			t.Fatalf("kept %d rows, total %d, columns %v", len(res.Rows), res.Total, res.Columns)
		}
		if batches.Load() == 0 {
			t.Error("OnRows never called")
		}
	})

	t.Run("SideQuery runs while the work connection is busy", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		result := make(chan error, 1)
		go func() { result <- tg.RunTransaction(ctx, SQLs{"select pg_sleep(30)"}, ExecOptions{}) }()
		tgWaitUntil(t, "the sleep to show on the side connection", 10*time.Second, func() bool {
			res, err := tg.SideQuery(ctx, "select count(*) from pg_stat_activity where query = 'select pg_sleep(30)' and state = 'active'", 10)
			if err != nil {
				t.Fatal(err)
			}
			return res.Rows[0][0] == int64(1)
		})
		cancel()
		if e := tgExecError(t, <-result); !e.Cancelled {
			t.Fatalf("ExecError = %+v", e)
		}
		if _, err := tg.SideQuery(context.Background(), "create table nope(id int)", 1); err == nil {
			t.Fatal("SideQuery wrote")
		}
	})
}

// BenchmarkQueryMillionRows reports the peak heap while Query reads a
// million rows keeping 500: it must stay flat, not grow with the result.
func BenchmarkQueryMillionRows(b *testing.B) {
	sb := NewTestSandbox(b, SandboxOptions{})
	ctx := context.Background()
	if err := sb.CreateDatabase(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	tg, err := Connect(ctx, tbTarget(b, sb.DSN("bench")), ConnectOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer tg.Close()

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	for b.Loop() {
		res, err := tg.Query(ctx, "select g, 'row ' || g from generate_series(1, 1000000) g", QueryOptions{KeepRows: 500})
		if err != nil {
			b.Fatal(err)
		}
		if res.Total != 1000000 || len(res.Rows) != 500 {
			b.Fatalf("total %d, kept %d", res.Total, len(res.Rows))
		}
	}
	b.StopTimer()
	close(stop)
	<-sampled
	b.ReportMetric(float64(peak.Load()), "peak-heap-B")
	b.ReportMetric(float64(peak.Load())-float64(base.HeapAlloc), "peak-heap-growth-B")
}
