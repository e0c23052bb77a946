package db

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Helpers for the Target tests (prefix tg, to stay clear of other test
// files in this package).

// tgEnv is a sandbox for one top-level test; subtests take a database each.
type tgEnv struct {
	sb *Sandbox
	n  atomic.Int64
}

func tgNewEnv(t *testing.T, opts SandboxOptions) *tgEnv {
	t.Helper()
	return &tgEnv{sb: NewTestSandbox(t, opts)}
}

func tgCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// database creates a fresh database, runs scripts in it, and returns its name.
func (e *tgEnv) database(t testing.TB, scripts ...string) string {
	t.Helper()
	name := fmt.Sprintf("tg_%d", e.n.Add(1))
	if err := e.sb.CreateDatabase(tgCtx(t), name, scripts...); err != nil {
		t.Fatal(err)
	}
	return name
}

// connect opens a Target on dbname, closed at the end of the test.
func (e *tgEnv) connect(t testing.TB, dbname string, opts ConnectOptions) *Target {
	t.Helper()
	if opts.AppName == "" {
		opts.AppName = "handrail/test/" + strings.ReplaceAll(t.Name(), "/", "-")
	}
	tg, err := Connect(tgCtx(t), tbTarget(t, e.sb.DSN(dbname)), opts)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(tg.Close)
	return tg
}

// admin opens a plain superuser connection (the "other operator").
func (e *tgEnv) admin(t testing.TB, dbname string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(tgCtx(t), e.sb.AdminDSN(dbname))
	if err != nil {
		t.Fatalf("admin connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func tgExec(t testing.TB, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(tgCtx(t), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// tgWaitUntil polls cond until it holds or the deadline passes.
func tgWaitUntil(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tgWaitActive waits until backend pid is running a query starting with
// prefix, as pg_stat_activity sees it from conn; waitEventType, if not
// empty, must match too (e.g. "Lock").
func tgWaitActive(t testing.TB, conn *pgx.Conn, pid int, prefix, waitEventType string) {
	t.Helper()
	tgWaitUntil(t, fmt.Sprintf("pid %d to run %q", pid, prefix), 20*time.Second, func() bool {
		var n int
		err := conn.QueryRow(context.Background(), `select count(*) from pg_stat_activity
where pid = $1 and state = 'active' and starts_with(query, $2)
  and ($3 = '' or wait_event_type = $3)`, pid, prefix, waitEventType).Scan(&n)
		return err == nil && n == 1
	})
}

// tgTableExists reports whether table name exists in conn's database.
func tgTableExists(t testing.TB, conn *pgx.Conn, name string) bool {
	t.Helper()
	var ok bool
	if err := conn.QueryRow(tgCtx(t), "select to_regclass($1) is not null", name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func tgExecError(t testing.TB, err error) *ExecError {
	t.Helper()
	var e *ExecError
	if !errors.As(err, &e) {
		t.Fatalf("want *ExecError, got %T: %v", err, err)
	}
	return e
}

func TestConnect(t *testing.T) {
	t.Parallel()
	env := tgNewEnv(t, SandboxOptions{})
	dbname := env.database(t)

	t.Run("three connections, application_name, accessors", func(t *testing.T) {
		long := "handrail/" + strings.Repeat("r", 40) + "/operatør-" + strings.Repeat("x", 40)
		tg := env.connect(t, dbname, ConnectOptions{AppName: long})
		if got := tg.AppName(); len(got) != 63 || strings.ContainsFunc(got, func(r rune) bool { return r > 126 }) {
			t.Fatalf("AppName() = %q (%d bytes), want 63 bytes of ASCII", got, len(got))
		}
		admin := env.admin(t, dbname)
		rows, err := admin.Query(tgCtx(t), "select pid, application_name from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()", dbname)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int]string{}
		for rows.Next() {
			var pid int
			var app string
			if err := rows.Scan(&pid, &app); err != nil {
				t.Fatal(err)
			}
			seen[pid] = app
		}
		if len(seen) != 3 {
			t.Fatalf("want 3 backends (work, lock, side), got %v", seen)
		}
		for _, pid := range []int{tg.WorkPID(), tg.LockPID()} {
			if seen[pid] != tg.AppName() {
				t.Errorf("backend %d has application_name %q, want %q", pid, seen[pid], tg.AppName())
			}
		}
		if c := tg.cfg; c.Host != "127.0.0.1" || c.User != env.sb.User() || tg.Database() != dbname || int(c.Port) != env.sb.Port() {
			t.Errorf("Host/User/Database/Port = %s %s %s %d", c.Host, c.User, tg.Database(), c.Port)
		}
		if !connAlive(tgCtx(t), tg.work) || !connAlive(tgCtx(t), tg.lock) {
			t.Error("a fresh target's connections do not answer")
		}
	})

	t.Run("PGEnv carries the password only in PGPASSWORD", func(t *testing.T) {
		tg := env.connect(t, dbname, ConnectOptions{AppName: "handrail/env"})
		got := map[string]string{}
		for _, kv := range tg.PGEnv() {
			k, v, _ := strings.Cut(kv, "=")
			got[k] = v
			if k != "PGPASSWORD" && strings.Contains(v, env.sb.Password()) {
				t.Errorf("%s carries the password", k)
			}
		}
		want := map[string]string{
			"PGHOST": "127.0.0.1", "PGPORT": fmt.Sprint(env.sb.Port()), "PGUSER": env.sb.User(),
			"PGDATABASE": dbname, "PGPASSWORD": env.sb.Password(), "PGSSLMODE": "disable", "PGAPPNAME": "handrail/env",
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q", k, got[k], v)
			}
		}
		if s := tg.conn.Secrets(); len(s) != 1 || s[0] != env.sb.Password() {
			t.Errorf("Secrets() = %v", s)
		}
	})

	t.Run("notices reach OnNotice", func(t *testing.T) {
		var mu sync.Mutex
		var notices []Notice
		tg := env.connect(t, dbname, ConnectOptions{OnNotice: func(n Notice) {
			mu.Lock()
			defer mu.Unlock()
			notices = append(notices, n)
		}})
		err := tg.RunTransaction(tgCtx(t), SQLs{
			`do $$ begin raise notice 'hello %', 42 using detail = 'the detail', hint = 'the hint'; end $$`,
		}, ExecOptions{})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		want := Notice{Severity: "NOTICE", Message: "hello 42", Detail: "the detail", Hint: "the hint"}
		if len(notices) != 1 || notices[0] != want {
			t.Fatalf("notices = %+v, want [%+v]", notices, want)
		}
	})

	t.Run("bad password fails without leaking it", func(t *testing.T) {
		dsn := strings.Replace(env.sb.DSN(dbname), env.sb.Password(), "wrong-secret-pw", 1)
		_, err := Connect(tgCtx(t), tbTarget(t, dsn), ConnectOptions{})
		if err == nil {
			t.Fatal("Connect with a wrong password succeeded")
		}
		if strings.Contains(err.Error(), "wrong-secret-pw") {
			t.Fatalf("error leaks the password: %v", err)
		}
	})
}

func TestIsConnectionLost(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.Canceled, false},
		{errors.New("some sql thing"), false},
		{&ExecError{ConnectionLost: true}, true},
		{fmt.Errorf("wrapped: %w", &ExecError{ConnectionLost: false}), false},
	} {
		if got := IsConnectionLost(tc.err); got != tc.want {
			t.Errorf("IsConnectionLost(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// Supabase's transaction-mode pooler is refused before anything is dialed:
// the session-level deploy lock cannot hold there.
func TestConnectRefusesTransactionPooler(t *testing.T) {
	_, err := Connect(tgCtx(t), tbTarget(t, "postgres://postgres.rxlqtyfhsocxnsnnnlwl:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres"), ConnectOptions{})
	var pe *TransactionPoolerError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "port 5432") {
		t.Fatalf("err = %v, want a TransactionPoolerError that names the session-mode port", err)
	}
	for _, c := range []struct {
		host string
		port uint16
		want bool
	}{
		{"aws-0-eu-central-1.pooler.supabase.com", 6543, true},
		{"AWS-0-EU-CENTRAL-1.POOLER.SUPABASE.COM", 6543, true},
		{"aws-0-eu-central-1.pooler.supabase.com", 5432, false},
		{"db.rxlqtyfhsocxnsnnnlwl.supabase.co", 6543, false},
		{"127.0.0.1", 6543, false},
	} {
		if got := isTransactionPooler(c.host, c.port); got != c.want {
			t.Errorf("isTransactionPooler(%q, %d) = %v, want %v", c.host, c.port, got, c.want)
		}
	}
}

// A database created with ENCODING 'SQL_ASCII' (old clusters have them)
// reports client_encoding SQL_ASCII unless the client asks for UTF8; pgx's
// simple protocol, which handrail uses everywhere, refuses every query on
// such a connection. Connect asks for UTF8, so the identity probes, the
// stamp and the checks work there too (a value that is not UTF-8 is then
// refused by the server, saying so, instead of every query failing).
func TestConnectSQLASCIIDatabase(t *testing.T) {
	t.Parallel()
	env := tgNewEnv(t, SandboxOptions{})
	tgExec(t, env.admin(t, "postgres"), "create database tg_ascii encoding 'SQL_ASCII' template template0 lc_collate 'C' lc_ctype 'C'")
	tg := env.connect(t, "tg_ascii", ConnectOptions{})
	if _, err := tg.Stamp(tgCtx(t), "ascii-prod", false); err != nil {
		t.Fatalf("Stamp on a SQL_ASCII database: %v", err)
	}
	if _, ok, _, reason := tg.VerifyIdentity(tgCtx(t), IdentityConfig{Expected: "ascii-prod", Sources: []string{"stamp"}}); !ok {
		t.Fatalf("identity on a SQL_ASCII database: %s", reason)
	}
	res, err := tg.Query(tgCtx(t), `select 'plain' as v`, QueryOptions{})
	if err != nil {
		t.Fatalf("a check on a SQL_ASCII database: %v", err)
	}
	if len(res.Rows) != 1 {
		t.Fatalf("rows = %v", res.Rows)
	}
}

// A connection that fails is reported on one line: pgx lists each attempt
// (sslmode=prefer tries TLS, then plain) on a line of its own, indented
// with a tab, which the screen and the journal's transcript can only show
// as \n\t escapes; the same failure twice is said once.
func TestConnectErrorIsOneLine(t *testing.T) {
	t.Parallel()
	_, err := Connect(tgCtx(t), tbTarget(t, "postgres://u@127.0.0.1:1/app?connect_timeout=2"), ConnectOptions{})
	if err == nil {
		t.Fatal("connected to port 1")
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\t") || strings.Count(msg, "connection refused") != 1 || !strings.Contains(msg, "127.0.0.1:1") {
		t.Fatalf("error: %q", msg)
	}
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("the error no longer wraps pgx's: %#v", err)
	}
}
