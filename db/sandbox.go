package db

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// SandboxOptions configures StartSandbox.
type SandboxOptions struct {
	// LogStatements sets log_statement='all' so tests can prove what was
	// (and what was not) sent to the server. The log is at LogFile().
	LogStatements bool
	// Stdout, if set, receives one-line progress messages.
	Stdout io.Writer
}

// Sandbox is a throwaway PostgreSQL cluster: a fresh data directory in a
// temporary directory, a postmaster listening on 127.0.0.1 on a free port
// with password (SCRAM) authentication, tuned for speed rather than
// durability (fsync=off). It exists for tests and demos only.
//
// Stop shuts it down and removes every file it created. Stop is idempotent
// and safe to call concurrently, e.g. from a signal handler goroutine.
// On Linux the postmaster also receives SIGINT (fast shutdown) if the
// process that started it dies, and StartSandbox removes the leftover
// directories of sandboxes whose owning process is gone.
type Sandbox struct {
	bindir   string
	tmpdir   string
	datadir  string
	sockdir  string
	logfile  string
	user     string
	password string
	port     int
	version  string

	cmd  *exec.Cmd
	done chan struct{} // closed when the postmaster has exited
	// What the postmaster was started with, for StartServer.
	logStatements bool
	cred          *serverUser

	stopOnce sync.Once
	stopErr  error
}

const (
	sandboxSuperuser = "handrail"
	sandboxPrefix    = "handrail-sandbox-"
	sandboxOwnerFile = "owner.pid"
	sandboxStartWait = 30 * time.Second
)

// ErrServerBinariesMissing is wrapped by FindServerBinaries (and so by
// StartSandbox) when no usable PostgreSQL server installation is found.
var ErrServerBinariesMissing = errors.New("PostgreSQL server binaries (initdb, postgres) not found")

const installHint = "install the PostgreSQL server (Debian/Ubuntu: `apt-get install postgresql`; " +
	"macOS: `brew install postgresql`), put its bin directory on PATH or set HANDRAIL_PG_BINDIR, " +
	"or skip the sandbox and use `--db DSN` against an existing server"

// FindServerBinaries returns a directory that holds the PostgreSQL server
// programs the sandbox needs (initdb and postgres). It tries, in order:
// $HANDRAIL_PG_BINDIR, initdb on PATH (symlinks resolved), `pg_config
// --bindir`, and the highest version under /usr/lib/postgresql/*/bin
// (Debian/Ubuntu install the server there, off PATH). Each candidate is
// verified: pg_config often points at a client-only /usr/bin.
func FindServerBinaries() (string, error) {
	var tried []string
	try := func(dir string) bool {
		if dir == "" {
			return false
		}
		tried = append(tried, dir)
		return hasServerBinaries(dir)
	}

	if dir := os.Getenv("HANDRAIL_PG_BINDIR"); dir != "" {
		if try(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("%w: HANDRAIL_PG_BINDIR=%s does not contain initdb and postgres; %s",
			ErrServerBinariesMissing, dir, installHint)
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && try(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
		if try(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	if pgConfig, err := exec.LookPath("pg_config"); err == nil {
		if out, err := exec.Command(pgConfig, "--bindir").Output(); err == nil {
			if try(strings.TrimSpace(string(out))) {
				return strings.TrimSpace(string(out)), nil
			}
		}
	}
	if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(dirs) > 0 {
		sort.Slice(dirs, func(i, j int) bool { // highest version first
			return versionKey(dirs[i]) > versionKey(dirs[j])
		})
		for _, dir := range dirs {
			if try(dir) {
				return dir, nil
			}
		}
	}
	if len(tried) > 0 {
		return "", fmt.Errorf("%w (looked in %s); %s", ErrServerBinariesMissing, strings.Join(tried, ", "), installHint)
	}
	return "", fmt.Errorf("%w; %s", ErrServerBinariesMissing, installHint)
}

func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// versionKey turns /usr/lib/postgresql/15/bin into 15 (9.6 into 9.6) for sorting.
func versionKey(bindir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(bindir)), 64)
	if err != nil {
		return -1
	}
	return v
}

// StartSandbox creates and starts a new throwaway cluster. It takes about a
// second. The caller must call Stop.
func StartSandbox(ctx context.Context, opts SandboxOptions) (sb *Sandbox, err error) {
	started := time.Now()
	progress := func(format string, args ...any) {
		if opts.Stdout != nil {
			fmt.Fprintf(opts.Stdout, "sandbox: "+format+"\n", args...)
		}
	}
	bindir, err := FindServerBinaries()
	if err != nil {
		return nil, err
	}
	// initdb and postgres refuse to run as root; run them as an
	// unprivileged user and hand that user the temporary directory.
	var cred *serverUser
	runAs := ""
	if os.Geteuid() == 0 {
		if cred, runAs, err = unprivilegedCredential(); err != nil {
			return nil, err
		}
	}
	s, err := newSandboxDir(bindir, cred, runAs)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = s.Stop()
		}
	}()
	if runAs != "" {
		progress("running as root: the server runs as user %q", runAs)
	}
	progress("initdb in %s (%s)", s.datadir, bindir)
	if err := s.initdb(ctx, cred, runAs); err != nil {
		return nil, err
	}
	s.logStatements, s.cred = opts.LogStatements, cred
	const attempts = 5
	for attempt := 1; ; attempt++ {
		port, err := pickPort()
		if err != nil {
			return nil, fmt.Errorf("sandbox: pick a port: %w", err)
		}
		err = s.startPostmaster(ctx, port, opts.LogStatements, cred)
		if err == nil {
			break
		}
		if errors.Is(err, errPortTaken) && attempt < attempts {
			progress("port %d was taken, retrying", port)
			continue
		}
		return nil, err
	}
	progress("PostgreSQL %s ready on 127.0.0.1:%d in %s (log: %s)", s.version, s.port,
		time.Since(started).Round(time.Millisecond), s.logfile)
	return s, nil
}

// newSandboxDir makes the sandbox's temporary directory, claimed by this
// process (so a concurrent sweep never takes it), somewhere the server's
// user can reach.
func newSandboxDir(bindir string, cred *serverUser, runAs string) (*Sandbox, error) {
	base := os.TempDir()
	if cred != nil && !traversableBy(base, cred) {
		if !traversableBy("/tmp", cred) {
			return nil, fmt.Errorf("sandbox: temporary directory %s is not accessible to user %s (the server cannot run as root); set TMPDIR to a world-traversable directory such as /tmp", base, runAs)
		}
		base = "/tmp"
	}
	sweepStaleSandboxes(base)
	tmpdir, err := os.MkdirTemp(base, sandboxPrefix)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s := &Sandbox{
		bindir:  bindir,
		tmpdir:  tmpdir,
		datadir: filepath.Join(tmpdir, "data"),
		sockdir: filepath.Join(tmpdir, "sock"),
		logfile: filepath.Join(tmpdir, "postgres.log"),
		user:    sandboxSuperuser,
		done:    make(chan struct{}),
	}
	if err := os.WriteFile(filepath.Join(tmpdir, sandboxOwnerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	return s, nil
}

// initdb creates the cluster: a superuser with a random password (SCRAM),
// UTF8, the C locale.
func (s *Sandbox) initdb(ctx context.Context, cred *serverUser, runAs string) error {
	var err error
	if s.password, err = randomHex(16); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if err := os.Mkdir(s.sockdir, 0o700); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	pwfile := filepath.Join(s.tmpdir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer os.Remove(pwfile)
	if cred != nil {
		for _, p := range []string{s.tmpdir, s.sockdir, pwfile} {
			if err := os.Chown(p, int(cred.uid), int(cred.gid)); err != nil {
				return fmt.Errorf("sandbox: chown %s to %s: %w", p, runAs, err)
			}
		}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(s.bindir, "initdb"),
		"-D", s.datadir, "-U", s.user, "--pwfile", pwfile,
		"--auth=scram-sha-256", "--encoding=UTF8", "--locale=C",
		"--no-sync", "--no-instructions",
	)
	cmd.Env = childEnv()
	cmd.SysProcAttr = sysProcAttr(cred, false)
	cmd.Dir = s.tmpdir
	if out, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("sandbox: initdb: %w", ctx.Err())
		}
		return fmt.Errorf("sandbox: initdb failed: %v\n%s", err, bytes.TrimSpace(out))
	}
	return nil
}

var errPortTaken = errors.New("port already in use")

// startPostmaster runs postgres as a child process on port and waits until
// it accepts connections.
func (s *Sandbox) startPostmaster(ctx context.Context, port int, logStatements bool, cred *serverUser) error {
	logf, err := os.OpenFile(s.logfile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer logf.Close() // the child keeps its own descriptor
	logStart, _ := logf.Seek(0, io.SeekEnd)

	args := []string{
		"-D", s.datadir,
		"-p", strconv.Itoa(port),
		"-k", s.sockdir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_permissions=0700",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "shared_buffers=16MB",
		"-c", "max_connections=50",
		"-c", "max_wal_size=256MB",
		"-c", "logging_collector=off",
		"-c", "log_destination=stderr",
		"-c", "log_line_prefix=%m [%p] %q%u@%d ",
		"-c", "lc_messages=C",
		"-c", "TimeZone=UTC",
	}
	if logStatements {
		args = append(args, "-c", "log_statement=all")
	}
	cmd := exec.Command(filepath.Join(s.bindir, "postgres"), args...)
	cmd.Env = childEnv()
	cmd.Dir = s.tmpdir
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Own process group: a ctrl+c at the terminal reaches only us, and we
	// decide when the server stops. Parent-death signal where supported.
	cmd.SysProcAttr = sysProcAttr(cred, true)

	done := make(chan struct{})
	startErr := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that forked the
		// child exits; keep that thread alive until the child is gone.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			startErr <- err
			close(done)
			return
		}
		startErr <- nil
		_ = cmd.Wait()
		close(done)
	}()
	if err := <-startErr; err != nil {
		return fmt.Errorf("sandbox: start postgres: %w", err)
	}
	s.cmd, s.done, s.port = cmd, done, port

	readErr := s.waitReady(ctx)
	if readErr == nil {
		return nil
	}
	select {
	case <-done:
		logText := readFrom(s.logfile, logStart)
		if strings.Contains(logText, "Address already in use") {
			return errPortTaken
		}
		return fmt.Errorf("sandbox: postgres exited during startup:\n%s", tail(logText, 20))
	default:
		s.signalAndWait()
		return fmt.Errorf("sandbox: %w\n%s", readErr, tail(readFrom(s.logfile, logStart), 20))
	}
}

// waitReady polls until the server accepts an authenticated connection, the
// postmaster exits, ctx ends, or sandboxStartWait passes.
func (s *Sandbox) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, sandboxStartWait)
	defer cancel()
	done := s.done
	go func() { // abandon a pending connection attempt as soon as the postmaster exits
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	delay := 5 * time.Millisecond
	var lastErr error
	for {
		select {
		case <-done:
			return errors.New("postgres exited")
		default:
		}
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, s.AdminDSN("postgres"))
		ccancel()
		if err == nil {
			// Reported by the server at startup: no query, nothing in the statement log.
			s.version = conn.PgConn().ParameterStatus("server_version")
			conn.Close(context.Background())
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("server not ready (waited at most %s): %w (last error: %v)", sandboxStartWait, ctx.Err(), lastErr)
		case <-done:
			return errors.New("postgres exited")
		case <-time.After(delay):
		}
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

// Stop shuts the server down (fast shutdown: sessions are cancelled) and
// removes the temporary directory. It is idempotent and safe to call from
// several goroutines, including a signal handler; later calls return the
// first call's result.
func (s *Sandbox) Stop() error {
	if s == nil {
		return nil
	}
	s.stopOnce.Do(func() {
		var errs []error
		if err := s.signalAndWait(); err != nil {
			errs = append(errs, err)
		}
		if s.tmpdir != "" {
			if err := os.RemoveAll(s.tmpdir); err != nil {
				errs = append(errs, fmt.Errorf("sandbox: remove %s: %w", s.tmpdir, err))
			}
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

// StopServer stops the server (fast shutdown: sessions are ended) and keeps
// its data, so that a test can take the database away from a session and
// bring it back with StartServer.
func (s *Sandbox) StopServer() error { return s.signalAndWait() }

// StartServer starts the server stopped by StopServer again, on the same
// port with the same data.
func (s *Sandbox) StartServer(ctx context.Context) error {
	return s.startPostmaster(ctx, s.port, s.logStatements, s.cred)
}

// signalAndWait stops the postmaster: SIGINT (fast shutdown), then SIGQUIT
// (immediate shutdown), then SIGKILL, waiting for it to exit in between.
func (s *Sandbox) signalAndWait() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	steps := []struct {
		sig  os.Signal
		wait time.Duration
	}{
		{syscall.SIGINT, 15 * time.Second},
		{syscall.SIGQUIT, 5 * time.Second},
		{syscall.SIGKILL, 5 * time.Second},
	}
	for _, st := range steps {
		select {
		case <-s.done:
			return nil
		default:
		}
		_ = s.cmd.Process.Signal(st.sig)
		select {
		case <-s.done:
			return nil
		case <-time.After(st.wait):
		}
	}
	return fmt.Errorf("sandbox: postgres (pid %d) did not exit", s.cmd.Process.Pid)
}

// DSN returns a libpq URL for database dbname. The sandbox has a single
// role, a superuser, so DSN and AdminDSN are the same.
func (s *Sandbox) DSN(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(s.user, s.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// AdminDSN returns a superuser DSN for dbname (currently equal to DSN).
func (s *Sandbox) AdminDSN(dbname string) string { return s.DSN(dbname) }

// Password returns the sandbox superuser's password, random per sandbox.
func (s *Sandbox) Password() string { return s.password }

// User returns the sandbox superuser's name.
func (s *Sandbox) User() string { return s.user }

// Port returns the TCP port the server listens on (127.0.0.1 only).
func (s *Sandbox) Port() int { return s.port }

// LogFile returns the server log path; log_statement output goes here.
func (s *Sandbox) LogFile() string { return s.logfile }

// DataDir returns the cluster's data directory.
func (s *Sandbox) DataDir() string { return s.datadir }

// SocketDir returns the directory holding the server's unix socket.
func (s *Sandbox) SocketDir() string { return s.sockdir }

// ServerVersion returns the server_version setting, e.g. "15.8 (Debian ...)".
func (s *Sandbox) ServerVersion() string { return s.version }

// PID returns the postmaster's process id (0 if not running).
func (s *Sandbox) PID() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// CreateDatabase creates database name, then runs each script (SQL text,
// possibly many statements) in order, as superuser, connected to the new
// database. Each script is sent as one simple-protocol query, so a script
// without explicit BEGIN/COMMIT runs as a single implicit transaction.
func (s *Sandbox) CreateDatabase(ctx context.Context, name string, sqlScripts ...string) error {
	conn, err := pgx.Connect(ctx, s.AdminDSN("postgres"))
	if err != nil {
		return fmt.Errorf("sandbox: connect: %w", err)
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	conn.Close(context.Background())
	if err != nil {
		return fmt.Errorf("sandbox: create database %s: %w", name, err)
	}
	if len(sqlScripts) == 0 {
		return nil
	}
	conn, err = pgx.Connect(ctx, s.AdminDSN(name))
	if err != nil {
		return fmt.Errorf("sandbox: connect to %s: %w", name, err)
	}
	defer conn.Close(context.Background())
	for i, script := range sqlScripts {
		if _, err := conn.PgConn().Exec(ctx, script).ReadAll(); err != nil {
			return fmt.Errorf("sandbox: database %s: script %d: %w", name, i+1, err)
		}
	}
	return nil
}

// serverUser is the unprivileged user the server runs as when we are root.
type serverUser struct{ uid, gid uint32 }

// unprivilegedCredential picks the user the server runs as when we are
// root: "postgres" if it exists, else "nobody".
func unprivilegedCredential() (*serverUser, string, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &serverUser{uid: uint32(uid), gid: uint32(gid)}, name, nil
	}
	return nil, "", errors.New("sandbox: running as root, and PostgreSQL refuses to run as root; no unprivileged user (postgres or nobody) found to run it as; run handrail as a normal user")
}

// childEnv is our environment without variables that would redirect
// initdb or postgres (PGDATA, PGPORT, ...), with the C locale for
// predictable messages.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "LANG=C")
}

// pickPort is freePort; tests replace it to simulate a lost race for the port.
var pickPort = freePort

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func readFrom(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || offset > int64(len(b)) {
		return ""
	}
	return string(b[offset:])
}

func tail(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// sweepStaleSandboxes removes sandbox directories under base whose owning
// process is gone (a test binary or command that was killed before it could
// call Stop). Directories without an owner file, or whose owner or
// postmaster is still alive, are left alone.
func sweepStaleSandboxes(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, sandboxPrefix+"*"))
	for _, dir := range dirs {
		owner, ok := readPID(filepath.Join(dir, sandboxOwnerFile))
		if !ok || processAlive(owner) {
			continue
		}
		if pm, ok := readPID(filepath.Join(dir, "data", "postmaster.pid")); ok && processAlive(pm) {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}

// readPID reads the integer on the first line of path.
func readPID(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}
