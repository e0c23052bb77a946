package db

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// sharedSandbox is one sandbox for the whole package's tests (with statement
// logging on); tests that need a sandbox of their own start one.
var sharedSandbox *Sandbox

func TestMain(m *testing.M) {
	// The connection settings of the machine running the tests (PG*
	// variables, DATABASE_URL) must not reach pgx, which reads the process
	// environment: every test says where it connects. Tests of those
	// sources set them with t.Setenv.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "PG") || k == "DATABASE_URL" {
			os.Unsetenv(k)
		}
	}
	if os.Getenv(tbHelperEnv) != "" {
		os.Exit(m.Run()) // re-executed as a helper process; see TestSandboxDiesWithParent
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	s, err := StartSandbox(ctx, SandboxOptions{LogStatements: true})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "db tests need a local PostgreSQL server: %v\n", err)
		os.Exit(1)
	}
	sharedSandbox = s
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stop sandbox: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func tbContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var tbCounter atomic.Int64

// newDatabase creates a fresh database in the sharedSandbox sandbox and returns
// its name.
func tbNewDatabase(t testing.TB, scripts ...string) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), tbCounter.Add(1))
	if err := sharedSandbox.CreateDatabase(tbContext(t), name, scripts...); err != nil {
		t.Fatal(err)
	}
	return name
}

// tbTarget resolves dsn as --db does.
func tbTarget(t testing.TB, dsn string) *ConnTarget {
	t.Helper()
	target, err := ParseTarget(dsn)
	if err != nil {
		t.Fatalf("ParseTarget: %v", err)
	}
	return target
}

// connect opens a connection and closes it at the end of the test.
func tbConnect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(tbContext(t), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// dsnAs is s.DSN(dbname) with another user and password.
func tbDSNAs(t testing.TB, s *Sandbox, user, password, dbname string) string {
	t.Helper()
	u, err := url.Parse(s.DSN(dbname))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}

// createRole creates a login role (cluster-wide, so names are unique per
// test binary) and returns its name.
func tbCreateRole(t testing.TB, conn *pgx.Conn, prefix, password string) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), tbCounter.Add(1))
	if _, err := conn.Exec(tbContext(t), fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", pgx.Identifier{name}.Sanitize(), password)); err != nil {
		t.Fatal(err)
	}
	return name
}
