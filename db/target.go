package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// Target is the database a session changes, reached over three connections:
//
//   - work: every statement of every step, the identity probes and the
//     read-only checks run here, one at a time;
//   - lock: holds the session-level deploy lock and nothing else, so no
//     step can ever release it by accident (a DISCARD ALL, say) and a
//     lost work connection does not lose the lock;
//   - side: lock-wait diagnostics while a statement runs, and monitor
//     queries; never a write.
//
// Methods are safe to call from several goroutines; statements on one
// connection are serialized.
type Target struct {
	conn     *ConnTarget
	cfg      *pgx.ConnConfig // each dial uses a copy
	onNotice func(Notice)

	workMu  sync.Mutex
	work    *pgx.Conn
	workPID atomic.Int64
	// deadCheck is the work connection on which the dead-client check was
	// set (see ensureDeadClientCheck); a reconnect makes a new one.
	deadCheck *pgx.Conn

	sideMu sync.Mutex
	side   *pgx.Conn

	// single: the work connection is the only one (ConnectOptions.Single).
	single bool

	lockMu sync.Mutex
	lock   *pgx.Conn
	held   map[int64]bool // deploy locks taken on the current lock conn

	// cbMu serializes the callbacks of ExecOptions, QueryOptions and
	// ConnectOptions.OnNotice: they are called from more than one goroutine
	// (the statement's reader and the lock-wait poller) but never at once.
	cbMu sync.Mutex
}

// ConnectOptions configures Connect.
type ConnectOptions struct {
	// AppName is the application_name every connection reports, so
	// pg_stat_activity (and a second operator finding the deploy lock held)
	// says who is there: "handrail/<runbook>/<operator>". PostgreSQL keeps
	// 63 bytes of printable ASCII; AppName is cut and cleaned to match, so
	// AppName() is exactly what the server shows. Default "handrail".
	AppName string
	// OnNotice receives the server notices (RAISE NOTICE, warnings) of the
	// work connection.
	OnNotice func(Notice)
	// Single dials the work connection only, for a command that reads one
	// query at a time and takes no deploy lock (`handrail check`): the side
	// connection's work (Inspect, SideQuery, Blockers) runs on the work
	// connection, and TryDeployLock refuses.
	Single bool
}

const (
	defaultConnectTimeout = 15 * time.Second
	// cancelDeadlineDelay is how long a cancelled statement may take to
	// acknowledge the cancel request before the socket is closed.
	cancelDeadlineDelay = 5 * time.Second
	closeTimeout        = 3 * time.Second
	// cleanupTimeout bounds ROLLBACK and RESET after a failure.
	cleanupTimeout = 30 * time.Second
)

// Connect dials the work, lock and side connections to target and checks
// that they reached the same server. It refuses Supabase's
// transaction-mode pooler. It sends no statement: the caller verifies the
// identity (VerifyIdentity) before anything else runs.
func Connect(ctx context.Context, target *ConnTarget, opts ConnectOptions) (*Target, error) {
	cfg := target.Config()
	for _, hp := range hostPorts(&cfg.Config) {
		if isTransactionPooler(hp.host, hp.port) {
			return nil, &TransactionPoolerError{Host: hp.host, Port: hp.port}
		}
	}
	// The simple protocol everywhere: no named prepared statements, so
	// transaction-mode poolers (PgBouncer, Supavisor) work, and nothing is
	// sent that the operator did not see.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	cfg.StatementCacheCapacity = 0
	cfg.DescriptionCacheCapacity = 0
	cfg.RuntimeParams["application_name"] = cleanAppName(opts.AppName)
	// pgx's simple protocol needs client_encoding UTF8; a SQL_ASCII
	// database (or PGCLIENTENCODING) would otherwise give another one and
	// every query would fail.
	cfg.RuntimeParams["client_encoding"] = "UTF8"
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	// pgx's default reaction to a cancelled context is to set a past
	// deadline on the socket, which abandons the query and closes the
	// connection. We want what ctrl+c does in psql: send the protocol
	// cancel request at once and keep reading, so the server answers
	// "canceling statement due to user request" (57014), rolls back, and
	// the connection stays usable. If the server has not answered within
	// cancelDeadlineDelay, the socket deadline closes the connection, which
	// also aborts an open transaction.
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{
			Conn:               pc,
			CancelRequestDelay: 0,
			DeadlineDelay:      cancelDeadlineDelay,
		}
	}

	t := &Target{conn: target, cfg: cfg, onNotice: opts.OnNotice, held: map[int64]bool{}, single: opts.Single}
	if opts.Single {
		work, err := t.dial(ctx, true)
		if err != nil {
			return nil, err
		}
		t.work = work
		t.workPID.Store(int64(work.PgConn().PID()))
		return t, nil
	}
	// The three connections are dialled at once: each costs a server
	// backend and an authentication exchange, which a session would
	// otherwise wait for three times in a row before its first statement.
	type dialed struct {
		conn *pgx.Conn
		err  error
	}
	lockc, sidec := make(chan dialed, 1), make(chan dialed, 1)
	go func() { c, err := t.dial(ctx, false); lockc <- dialed{c, err} }()
	go func() { c, err := t.dial(ctx, false); sidec <- dialed{c, err} }()
	work, werr := t.dial(ctx, true)
	lock, side := <-lockc, <-sidec
	t.work, t.lock, t.side = work, lock.conn, side.conn
	switch {
	case werr != nil:
		t.Close()
		return nil, werr
	case lock.err != nil:
		t.Close()
		return nil, fmt.Errorf("lock connection: %w", lock.err)
	case side.err != nil:
		t.Close()
		return nil, fmt.Errorf("side connection: %w", side.err)
	}
	t.workPID.Store(int64(t.work.PgConn().PID()))
	if err := sameServer(t.work, t.lock, t.side); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// TransactionPoolerError refuses Supabase's transaction-mode pooler
// (Supavisor on port 6543): there a client does not keep its server
// backend between transactions, so the session-level deploy lock would be
// held by a backend that then serves other clients, and the lock and
// session settings would not mean what they say.
type TransactionPoolerError struct {
	Host string
	Port uint16
}

func (e *TransactionPoolerError) Error() string {
	return fmt.Sprintf("%s port %d is Supabase's transaction-mode pooler, where the deploy lock cannot hold; "+
		"connect to port 5432 of the same host (session mode) or to the direct host db.<project-ref>.supabase.co", e.Host, e.Port)
}

func isTransactionPooler(host string, port uint16) bool {
	return port == 6543 && strings.HasSuffix(strings.ToLower(host), supabasePoolerSuffix)
}

func (t *Target) dial(ctx context.Context, work bool) (*pgx.Conn, error) {
	cfg := t.cfg.Copy()
	if work && t.onNotice != nil {
		cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
			t.cbMu.Lock()
			defer t.cbMu.Unlock()
			t.onNotice(Notice{Severity: n.Severity, Message: n.Message, Detail: n.Detail, Hint: n.Hint})
		}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		// pgx's ConnectError names user and database, never the password.
		return nil, t.conn.explainAuth(oneLineError{err})
	}
	return conn, nil
}

// oneLineError is a dial error said on one line: pgx puts each attempt
// (sslmode=prefer tries TLS, then plain; each host of a list) on a line of
// its own after a tab. It joins them with "; ", an attempt that failed the
// same way as the one before said once.
type oneLineError struct{ err error }

func (e oneLineError) Unwrap() error { return e.err }

func (e oneLineError) Error() string {
	parts := strings.Split(e.err.Error(), "\n")
	out := parts[:1]
	for _, p := range parts[1:] {
		if p = strings.TrimSpace(p); p != "" && p != out[len(out)-1] {
			out = append(out, p)
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return out[0] + " " + strings.Join(out[1:], "; ")
}

// sameServer refuses connections that reached different servers: with a
// multi-host DSN or a failover in between dials, the deploy lock could be
// taken on one server while the statements run on another.
func sameServer(conns ...*pgx.Conn) error {
	first := conns[0].PgConn().Conn().RemoteAddr().String()
	for _, c := range conns[1:] {
		if addr := c.PgConn().Conn().RemoteAddr().String(); addr != first {
			return fmt.Errorf("the session's connections reached different servers (%s and %s); "+
				"use a connection string that names a single server", first, addr)
		}
	}
	return nil
}

// cleanAppName does what PostgreSQL does to application_name (printable
// ASCII only, at most 63 bytes), so what we report is what the server shows.
func cleanAppName(s string) string {
	if s == "" {
		s = "handrail"
	}
	var b strings.Builder
	for _, r := range s {
		if r < 32 || r > 126 {
			r = '?'
		}
		b.WriteRune(r)
	}
	s = b.String()
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}

// sideConn is the connection for side work (diagnostics, monitors, lock
// analysis), held until release is called: the side connection, or the
// work connection of a Single target.
func (t *Target) sideConn() (conn *pgx.Conn, release func()) {
	if t.single {
		t.workMu.Lock()
		return t.work, t.workMu.Unlock
	}
	t.sideMu.Lock()
	return t.side, t.sideMu.Unlock
}

// AppName is the application_name of the session's connections.
func (t *Target) AppName() string { return t.cfg.RuntimeParams["application_name"] }

// SetAppName renames the work connection's session (application_name, as
// AppName does when connecting; a reconnection uses it too): for a
// connection dialled before its name was known. Call it before the Target
// is shared, and only after the identity is verified: it is a statement.
func (t *Target) SetAppName(ctx context.Context, name string) error {
	name = cleanAppName(name)
	t.workMu.Lock()
	defer t.workMu.Unlock()
	if t.work == nil || t.work.IsClosed() {
		return fmt.Errorf("set application_name: %w", pgconn.ErrConnClosed)
	}
	if _, err := t.work.PgConn().ExecParams(ctx, "select pg_catalog.set_config('application_name', $1, false)", [][]byte{[]byte(name)}, nil, nil, nil).Close(); err != nil {
		return fmt.Errorf("set application_name %q on the work connection: %w", name, err)
	}
	t.cfg.RuntimeParams["application_name"] = name
	return nil
}

// WorkPID is the backend pid of the work connection (it changes on Reconnect).
func (t *Target) WorkPID() int { return int(t.workPID.Load()) }

// Database is the database name.
func (t *Target) Database() string { return t.cfg.Database }

// PGEnv returns libpq environment variables naming this target, for exec
// steps (pg_dump, psql): the password travels only in PGPASSWORD, never on
// a command line where ps would show it.
func (t *Target) PGEnv() []string {
	var hosts, ports []string
	for _, hp := range hostPorts(&t.cfg.Config) {
		hosts = append(hosts, hp.host)
		ports = append(ports, strconv.Itoa(int(hp.port)))
	}
	env := []string{
		"PGHOST=" + strings.Join(hosts, ","),
		"PGPORT=" + strings.Join(ports, ","),
		"PGUSER=" + t.cfg.User,
		"PGDATABASE=" + t.cfg.Database,
		"PGAPPNAME=" + t.AppName(),
	}
	if t.cfg.Password != "" {
		env = append(env, "PGPASSWORD="+t.cfg.Password)
	}
	return append(env, t.conn.tls...)
}

// Reconnect replaces the work and side connections with new ones, and the
// lock connection too if it has died (its deploy locks died with it: the
// caller must take the lock again). It sends no statement on the new
// connections: the caller verifies the identity again before using them,
// since the name may now lead somewhere else.
func (t *Target) Reconnect(ctx context.Context) error {
	t.workMu.Lock()
	defer t.workMu.Unlock()
	t.sideMu.Lock()
	defer t.sideMu.Unlock()
	t.lockMu.Lock()
	defer t.lockMu.Unlock()

	closeConn(t.work)
	closeConn(t.side)
	t.workPID.Store(0)
	var err error
	if t.work, err = t.dial(ctx, true); err != nil {
		return fmt.Errorf("reconnect: %w", err)
	}
	t.workPID.Store(int64(t.work.PgConn().PID()))
	if t.single {
		return nil
	}
	if t.side, err = t.dial(ctx, false); err != nil {
		return fmt.Errorf("reconnect: %w", err)
	}
	if t.lock == nil || !connAlive(ctx, t.lock) {
		closeConn(t.lock)
		clear(t.held)
		if t.lock, err = t.dial(ctx, false); err != nil {
			return fmt.Errorf("reconnect: %w", err)
		}
	}
	return sameServer(t.work, t.lock, t.side)
}

// connAlive pings c (an empty statement) unless it is known to be closed.
func connAlive(ctx context.Context, c *pgx.Conn) bool {
	if c == nil || c.IsClosed() {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return c.Ping(ctx) == nil
}

// Close closes the three connections; the server releases the deploy lock
// with the lock connection. Cancel running statements first: Close waits
// for them.
func (t *Target) Close() {
	t.workMu.Lock()
	closeConn(t.work)
	t.workMu.Unlock()
	t.sideMu.Lock()
	closeConn(t.side)
	t.sideMu.Unlock()
	t.lockMu.Lock()
	closeConn(t.lock)
	clear(t.held)
	t.lockMu.Unlock()
}

func closeConn(c *pgx.Conn) {
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = c.Close(ctx)
}

// IsConnectionLost reports whether err means the connection is gone, as
// opposed to the server refusing a statement (a SQL error) or the caller
// cancelling. For an *ExecError it is the ConnectionLost field.
func IsConnectionLost(err error) bool {
	if err == nil {
		return false
	}
	var ee *ExecError
	if errors.As(err, &ee) {
		return ee.ConnectionLost
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// FATAL/PANIC end the session (pg_terminate_backend, shutdown,
		// crash); class 08 is connection exception.
		return pgErr.Severity == "FATAL" || pgErr.Severity == "PANIC" || strings.HasPrefix(pgErr.Code, "08")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	// Errors pgx knows happened before anything was sent (a dial failure,
	// a closed connection) are connection trouble too.
	return pgconn.SafeToRetry(err)
}
