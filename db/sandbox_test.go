package db

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestSandboxSelectOne(t *testing.T) {
	conn := tbConnect(t, sharedSandbox.DSN("postgres"))
	var one int
	if err := conn.QueryRow(tbContext(t), "select 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("select 1 = %d, %v", one, err)
	}
	if !strings.HasPrefix(sharedSandbox.ServerVersion(), "1") {
		t.Errorf("ServerVersion() = %q", sharedSandbox.ServerVersion())
	}
	var super bool
	if err := conn.QueryRow(tbContext(t), "select rolsuper from pg_roles where rolname = current_user").Scan(&super); err != nil || !super {
		t.Fatalf("sandbox user is superuser = %v, %v", super, err)
	}
}

func TestSandboxDSN(t *testing.T) {
	u, err := url.Parse(sharedSandbox.DSN("some_db"))
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	if u.Scheme != "postgres" || u.Hostname() != "127.0.0.1" || u.Port() != strconv.Itoa(sharedSandbox.Port()) ||
		u.Path != "/some_db" || u.Query().Get("sslmode") != "disable" || u.User.Username() != sharedSandbox.User() || pw != sharedSandbox.Password() {
		t.Fatalf("unexpected DSN %s", sharedSandbox.DSN("some_db"))
	}
	if len(sharedSandbox.Password()) < 32 {
		t.Fatalf("password %q is too short", sharedSandbox.Password())
	}
	if sharedSandbox.AdminDSN("x") != sharedSandbox.DSN("x") {
		t.Fatalf("AdminDSN differs from DSN")
	}
	cfg, err := pgx.ParseConfig(sharedSandbox.DSN("some_db"))
	if err != nil || cfg.Port != uint16(sharedSandbox.Port()) || cfg.Database != "some_db" || cfg.Password != sharedSandbox.Password() {
		t.Fatalf("pgx parses DSN as %+v, %v", cfg, err)
	}
}

func TestSandboxServerRunsUnprivileged(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	conn := tbConnect(t, sharedSandbox.DSN("postgres"))
	var backend int
	var datadir string
	if err := conn.QueryRow(tbContext(t), "select pg_backend_pid(), current_setting('data_directory')").Scan(&backend, &datadir); err != nil {
		t.Fatal(err)
	}
	if datadir != sharedSandbox.DataDir() {
		t.Fatalf("data_directory = %s, want %s", datadir, sharedSandbox.DataDir())
	}
	want := uint32(os.Geteuid())
	if want == 0 {
		cred, _, err := unprivilegedCredential()
		if err != nil {
			t.Fatal(err)
		}
		want = cred.uid
	}
	for what, path := range map[string]string{
		"postmaster process": fmt.Sprintf("/proc/%d", sharedSandbox.PID()),
		"backend process":    fmt.Sprintf("/proc/%d", backend),
		"data directory":     datadir,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		uid := fi.Sys().(*syscall.Stat_t).Uid
		if uid != want {
			t.Errorf("%s %s owned by uid %d, want %d", what, path, uid, want)
		}
		if os.Geteuid() == 0 && uid == 0 {
			t.Errorf("%s runs as root", what)
		}
	}
}

func TestSandboxPasswordEnforced(t *testing.T) {
	t.Parallel()
	ctx := tbContext(t)
	wrong := tbDSNAs(t, sharedSandbox, sharedSandbox.User(), "not-the-password", "postgres")
	conn, err := pgx.Connect(ctx, wrong)
	if err == nil {
		conn.Close(ctx)
		t.Fatal("connected over TCP with a wrong password")
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Fatalf("wrong password over TCP: want invalid_password (28P01), got %v", err)
	}

	// The unix socket requires the password too.
	sock := fmt.Sprintf("host=%s port=%d user=%s dbname=postgres", sharedSandbox.SocketDir(), sharedSandbox.Port(), sharedSandbox.User())
	conn, err = pgx.Connect(ctx, sock+" password=wrong")
	if err == nil {
		conn.Close(ctx)
		t.Fatal("connected over the unix socket with a wrong password")
	}
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Fatalf("wrong password over the socket: want invalid_password (28P01), got %v", err)
	}
	conn = tbConnect(t, sock+" password="+sharedSandbox.Password())
	var n int
	if err := conn.QueryRow(ctx, "select 2").Scan(&n); err != nil || n != 2 {
		t.Fatalf("socket connection with the right password: %d, %v", n, err)
	}
}

func TestSandboxLogStatements(t *testing.T) {
	marker := fmt.Sprintf("handrail-log-probe-%d", time.Now().UnixNano())
	conn := tbConnect(t, sharedSandbox.DSN("postgres"))
	if _, err := conn.Exec(tbContext(t), "select '"+marker+"'"); err != nil {
		t.Fatal(err)
	}
	// The backend writes the log line before it executes the statement, to
	// the log file it inherited; by the time the result is back it is there.
	b, err := os.ReadFile(sharedSandbox.LogFile())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "statement: select '"+marker+"'") {
		t.Fatalf("statement not found in %s:\n%s", sharedSandbox.LogFile(), tail(string(b), 20))
	}
}

func TestSandboxStop(t *testing.T) {
	t.Parallel()
	ctx := tbContext(t)
	s, err := StartSandbox(ctx, SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	if s.Port() == sharedSandbox.Port() {
		t.Fatalf("two sandboxes on port %d", s.Port())
	}
	if _, err := os.Stat(s.DataDir()); err != nil {
		t.Fatal(err)
	}
	tmpdir := filepath.Dir(s.DataDir())
	conn := tbConnect(t, s.DSN("postgres")) // an open session does not block a fast shutdown

	// Without LogStatements, statements are not logged.
	marker := fmt.Sprintf("handrail-nolog-probe-%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "select '"+marker+"'"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(s.LogFile()); err != nil || strings.Contains(string(b), marker) {
		t.Fatalf("statement logged without LogStatements (read err %v)", err)
	}

	// Concurrent calls (e.g. a signal handler and a deferred Stop) are safe.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.Stop() }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("Stop: %v", err)
		}
	}
	if _, err := os.Stat(tmpdir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary directory %s still exists after Stop (stat: %v)", tmpdir, err)
	}
	if processAlive(s.PID()) {
		t.Fatalf("postmaster %d still alive after Stop", s.PID())
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if c, err := pgx.Connect(ctx, s.DSN("postgres")); err == nil {
		c.Close(ctx)
		t.Fatal("connected after Stop")
	}
}

func TestSandboxRetriesTakenPort(t *testing.T) {
	// Not parallel: replaces pickPort.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	calls := 0
	pickPort = func() (int, error) {
		calls++
		if calls == 1 {
			return taken, nil // as if someone grabbed it between pick and start
		}
		return freePort()
	}
	defer func() { pickPort = freePort }()

	var progress strings.Builder
	s := NewTestSandbox(t, SandboxOptions{Stdout: &progress})
	if s.Port() == taken || calls != 2 {
		t.Fatalf("port %d after %d picks; taken was %d", s.Port(), calls, taken)
	}
	if !strings.Contains(progress.String(), fmt.Sprintf("port %d was taken, retrying", taken)) {
		t.Fatalf("progress does not mention the retry:\n%s", progress.String())
	}
	tbConnect(t, s.DSN("postgres"))
}

func TestNewTestSandbox(t *testing.T) {
	t.Parallel()
	var s *Sandbox
	var datadir string
	t.Run("inner", func(t *testing.T) {
		s = NewTestSandbox(t, SandboxOptions{})
		datadir = s.DataDir()
		conn := tbConnect(t, s.DSN("postgres"))
		if _, err := conn.Exec(tbContext(t), "select 1"); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := os.Stat(datadir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("NewTestSandbox did not clean up %s", datadir)
	}
}

func TestCreateDatabaseScripts(t *testing.T) {
	t.Parallel()
	ctx := tbContext(t)
	name := tbNewDatabase(t,
		"create table a (id int primary key); insert into a values (1), (2);",
		"create table b (id int references a); insert into b select id from a; -- comment\n"+
			"create function f() returns int language plpgsql as $$ begin return (select count(*) from b); end $$;",
	)
	conn := tbConnect(t, sharedSandbox.DSN(name))
	var n int
	if err := conn.QueryRow(ctx, "select f()").Scan(&n); err != nil || n != 2 {
		t.Fatalf("f() = %d, %v", n, err)
	}

	err := sharedSandbox.CreateDatabase(ctx, name+"_bad", "create table ok (x int);", "create table c (x int); select * from no_such_table;")
	if err == nil || !strings.Contains(err.Error(), "script 2") || !strings.Contains(err.Error(), "no_such_table") {
		t.Fatalf("want an error naming script 2 and the missing table, got %v", err)
	}

	// A database name that needs quoting.
	odd := fmt.Sprintf(`Odd "name"-%d`, tbCounter.Add(1))
	if err := sharedSandbox.CreateDatabase(ctx, odd, "create table t (x int)"); err != nil {
		t.Fatal(err)
	}
	tbConnect(t, sharedSandbox.DSN(odd))
}

func TestFindServerBinaries(t *testing.T) {
	dir, err := FindServerBinaries()
	if err != nil {
		t.Fatal(err)
	}
	if !hasServerBinaries(dir) {
		t.Fatalf("%s lacks initdb/postgres", dir)
	}

	t.Setenv("HANDRAIL_PG_BINDIR", t.TempDir())
	_, err = FindServerBinaries()
	if !errors.Is(err, ErrServerBinariesMissing) {
		t.Fatalf("want ErrServerBinariesMissing, got %v", err)
	}
	for _, want := range []string{"apt-get install postgresql", "--db DSN"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := StartSandbox(tbContext(t), SandboxOptions{}); !errors.Is(err, ErrServerBinariesMissing) {
		t.Fatalf("StartSandbox without binaries: want ErrServerBinariesMissing, got %v", err)
	}
}

func TestSweepStaleSandboxes(t *testing.T) {
	base := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	mk := func(name string, owner int) string {
		dir := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		if owner != 0 {
			if err := os.WriteFile(filepath.Join(dir, sandboxOwnerFile), []byte(strconv.Itoa(owner)+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	stale := mk(sandboxPrefix+"stale", dead.Process.Pid)
	live := mk(sandboxPrefix+"live", os.Getpid())
	unowned := mk(sandboxPrefix+"unowned", 0)
	other := mk("something-else", dead.Process.Pid)
	sweepStaleSandboxes(base)
	for dir, wantGone := range map[string]bool{stale: true, live: false, unowned: false, other: false} {
		_, err := os.Stat(dir)
		if gone := errors.Is(err, os.ErrNotExist); gone != wantGone {
			t.Errorf("%s: gone=%v, want %v", filepath.Base(dir), gone, wantGone)
		}
	}
}

const tbHelperEnv = "HANDRAIL_DB_TEST_HELPER"

// TestHelperSandboxProcess is not a test: TestSandboxDiesWithParent runs the
// test binary again with tbHelperEnv set, and this starts a sandbox, reports
// it and waits to be killed.
func TestHelperSandboxProcess(t *testing.T) {
	if os.Getenv(tbHelperEnv) == "" {
		t.Skip("helper process")
	}
	s, err := StartSandbox(context.Background(), SandboxOptions{})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Printf("READY %d %s\n", s.PID(), s.DataDir())
	time.Sleep(time.Minute)
	os.Exit(1)
}

func TestSandboxDiesWithParent(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("parent-death signal is Linux-only")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSandboxProcess$")
	cmd.Env = append(os.Environ(), tbHelperEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	var pid int
	var datadir string
	if _, err := fmt.Sscanf(line, "READY %d %s", &pid, &datadir); err != nil {
		t.Fatalf("helper said %q", line)
	}
	tmpdir := filepath.Dir(datadir)
	t.Cleanup(func() { _ = os.RemoveAll(tmpdir) })

	// Kill the owner without giving it a chance to call Stop.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	deadline := time.Now().Add(20 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("postmaster %d still running 20s after its parent was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The directory is left behind; the next StartSandbox sweeps it.
	if _, err := os.Stat(tmpdir); err != nil {
		t.Fatalf("expected the leftover directory: %v", err)
	}
	sweepStaleSandboxes(filepath.Dir(tmpdir))
	if _, err := os.Stat(tmpdir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("sweep left %s (stat: %v)", tmpdir, err)
	}
}
