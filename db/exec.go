package db

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// ExecOptions configures RunTransaction and RunEach. The callbacks are
// never called concurrently (nor concurrently with ConnectOptions.OnNotice),
// though not always from the same goroutine, and never after the Run call
// returns. They must not call methods of the Target.
type ExecOptions struct {
	LockTimeout      time.Duration // 0: leave the server's setting
	StatementTimeout time.Duration // 0: leave the server's setting
	// KeepRows is how many rows of each result are kept and passed to
	// OnRows (0: DefaultKeepRows; negative: none). All rows are counted.
	KeepRows int
	// BatchRows is how many kept rows OnRows gets at once (default 200);
	// pending rows are also flushed when 100ms have passed.
	BatchRows int

	OnStatementStart func(i int)
	// OnRows streams a statement's result. batch holds only kept rows and
	// may be empty, to update total (all rows so far). A statement text
	// holding several queries yields several results; each starts with a
	// new columns slice and a total counting from zero.
	OnRows          func(i int, columns []string, batch [][]any, total int64)
	OnStatementDone func(i int, tag string, rowsAffected int64, elapsed time.Duration)
	// OnStatementNext, when set, is called instead of OnStatementDone(i,
	// ...) then OnStatementStart(i+1) where statement i+1 starts as
	// statement i finishes (statements sent together in one message), so
	// the caller can record both at once.
	OnStatementNext func(i int, tag string, rowsAffected int64, elapsed time.Duration)
	// OnLockWait is called with the blocking backends while statement i
	// waits on a lock (when they change), then once with none when the
	// wait ends.
	OnLockWait func(i int, blockers []Blocker)
	// Rehearse: RunTransaction ends the transaction with ROLLBACK, never
	// COMMIT, once the statements ran (run --rehearse): nothing stays.
	Rehearse bool
}

// DefaultKeepRows is the number of rows kept per result when KeepRows is 0.
const DefaultKeepRows = 500

const (
	defaultBatchRows = 200
	rowFlushInterval = 100 * time.Millisecond
	lockPollInterval = 250 * time.Millisecond
	// noTimeoutCommitLimit bounds the wait for a COMMIT when the step has
	// no statement_timeout; a COMMIT that takes longer is reported as an
	// unknown outcome.
	noTimeoutCommitLimit = 10 * time.Minute
)

// ExecError is a failed step, statement or query: which statement, what
// the server said, and — the point — what became of the step's writes.
type ExecError struct {
	// Index is the statement that failed (0-based); -1 is the setup before
	// the first statement (BEGIN, SET), len(stmts) the COMMIT.
	Index int
	Err   error

	SQLState, Message, Detail, Hint string
	Position                        int // 1-based character position in the statement, 0 if none

	// RolledBack: nothing of the step remains (a transactional step that
	// did not commit).
	RolledBack bool
	// OutcomeUnknown: the connection was lost (or the wait given up) while
	// a COMMIT, or in RunEach an autocommitted statement, was in flight.
	// The change may or may not have been applied: look before retrying.
	OutcomeUnknown   bool
	ConnectionLost   bool
	Cancelled        bool // by the caller (ctrl+c): a cancel request was sent
	LockTimeout      bool // lock_timeout expired (SQLSTATE 55P03): a retry may succeed
	StatementTimeout bool // statement_timeout expired

	atCommit bool // Index is len(stmts): the COMMIT, or the moment before it
}

func (e *ExecError) Error() string {
	var b strings.Builder
	switch {
	case e.Index < 0:
		b.WriteString("before the first statement: ")
	case e.atCommit:
		b.WriteString("COMMIT: ")
	default:
		fmt.Fprintf(&b, "statement %d: ", e.Index+1)
	}
	switch {
	case e.Message != "":
		b.WriteString(e.Message)
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		b.WriteString("failed")
	}
	if e.SQLState != "" {
		fmt.Fprintf(&b, " (SQLSTATE %s)", e.SQLState)
	}
	switch {
	case e.OutcomeUnknown:
		b.WriteString("; the outcome is unknown: check the database before doing anything else")
	case e.RolledBack:
		b.WriteString("; rolled back, nothing was changed")
	}
	return b.String()
}

func (e *ExecError) Unwrap() error { return e.Err }

// Statements are the statements RunTransaction and RunEach send, read one
// at a time: a step's list of a 50 MB file is views into the file, and a
// []string of it would be 16 bytes a statement more for the whole run
// (issue 15). steps.StatementList is one; SQLs adapts a []string.
type Statements interface {
	Len() int
	SQL(k int) string
}

// SQLs is a []string as Statements.
type SQLs []string

// Len is the number of statements.
func (s SQLs) Len() int { return len(s) }

// SQL returns statement k.
func (s SQLs) SQL(k int) string { return s[k] }

// RunTransaction runs stmts in one transaction: BEGIN, SET LOCAL
// lock_timeout and statement_timeout, each statement in order (simple
// protocol, rows streamed to OnRows), COMMIT. It commits entirely or not at
// all; the returned *ExecError says which of these happened:
//
//   - a statement fails, the caller cancels ctx (a cancel request is sent;
//     the connection stays usable), or lock_timeout expires: ROLLBACK,
//     RolledBack;
//   - the connection is lost before COMMIT was sent: ConnectionLost and
//     RolledBack. PostgreSQL aborts the open transaction of a client that
//     vanished (it never commits without a COMMIT), though it may hold the
//     locks until it notices;
//   - the connection is lost while COMMIT is in flight, or COMMIT gets no
//     answer: OutcomeUnknown. The commit may or may not have happened and
//     we do not guess.
//
// Cancelling ctx once COMMIT is sent does not interrupt it.
func (t *Target) RunTransaction(ctx context.Context, stmts Statements, o ExecOptions) error {
	t.workMu.Lock()
	defer t.workMu.Unlock()
	conn := t.work

	fail := func(i int, err error) error {
		e := t.classify(ctx, conn, i, err)
		t.rollback(ctx, conn)
		e.RolledBack = true
		return e
	}

	if conn == nil || conn.IsClosed() {
		return &ExecError{Index: -1, Err: pgconn.ErrConnClosed, Message: "not connected", ConnectionLost: true, RolledBack: true}
	}
	if err := ctx.Err(); err != nil {
		return &ExecError{Index: -1, Err: err, Cancelled: true, RolledBack: true}
	}
	t.ensureDeadClientCheck(ctx, conn)
	setup := "BEGIN" + timeoutSettings("SET LOCAL", o.LockTimeout, o.StatementTimeout)
	if err := execQuiet(ctx, conn, setup); err != nil {
		return fail(-1, err)
	}
	lw := t.newLockWatcher(ctx, o)
	defer lw.close()

	total := stmts.Len()
	pipeline := serverMajor(conn) >= 13 && total >= pipelineMinStatements
	var chunk []string
	for i := 0; i < total; {
		if err := ctx.Err(); err != nil {
			return fail(i, err)
		}
		if n := chunkLen(stmts, i, pipeline); n > 1 {
			chunk = chunk[:0]
			for k := i; k < i+n; k++ {
				chunk = append(chunk, stmts.SQL(k))
			}
			done, err := t.runChunk(ctx, conn, lw, i, chunk, o)
			if err != nil {
				return fail(i+done, err)
			}
			if st := conn.PgConn().TxStatus(); st != 'T' {
				return fail(i+n-1, errors.New("the transaction is in an unexpected state after the statement"))
			}
			i += n
			continue
		}
		tag, _, err := t.runStatement(ctx, conn, lw, i, stmts.SQL(i), o)
		if err != nil {
			return fail(i, err)
		}
		i++
		if st := conn.PgConn().TxStatus(); st != 'T' {
			// The statement itself ended our transaction (a COMMIT or
			// ROLLBACK inside the step). What ran so far is committed
			// (or rolled back), and we stop.
			e := &ExecError{Index: i - 1, RolledBack: tag == "ROLLBACK"}
			if st == 'I' {
				e.Message = fmt.Sprintf("the statement ended the step's transaction (%s): statements 1 to %d are %s; "+
					"a transactional step must not contain COMMIT or ROLLBACK", tag, i,
					map[bool]string{true: "rolled back", false: "committed"}[tag == "ROLLBACK"])
				return e
			}
			return fail(i-1, errors.New("the transaction is in an unexpected state after the statement"))
		}
	}

	if err := ctx.Err(); err != nil {
		// Cancelled after the last statement but before COMMIT was sent:
		// roll back, as the operator asked.
		e := fail(total, err).(*ExecError)
		e.atCommit = true
		return e
	}
	if o.Rehearse {
		// Nothing is committed: a ROLLBACK that does not arrive is a
		// transaction the server aborts (it never commits without COMMIT).
		t.rollback(ctx, conn)
		return nil
	}
	if err := t.commit(ctx, conn, o); err != nil {
		err.Index, err.atCommit = total, true
		return err
	}
	return nil
}

func (t *Target) commit(ctx context.Context, conn *pgx.Conn, o ExecOptions) *ExecError {
	limit := noTimeoutCommitLimit
	if o.StatementTimeout > 0 {
		limit = o.StatementTimeout + 30*time.Second
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
	defer cancel()
	results, err := conn.PgConn().Exec(cctx, "COMMIT").ReadAll()
	if err != nil {
		e := t.classify(cctx, conn, 0, err)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Severity == "ERROR" && cctx.Err() == nil && !conn.IsClosed() {
			// The server refused the COMMIT (a deferred constraint, a
			// serialization failure) and so rolled the transaction back.
			e.RolledBack = true
			return e
		}
		// No answer, a lost connection, or an interruption of our own:
		// the commit may or may not have happened.
		e.OutcomeUnknown = true
		e.Cancelled = false
		if cctx.Err() != nil && e.Message == "" {
			e.Message = fmt.Sprintf("no answer to COMMIT within %s", limit)
		}
		return e
	}
	if len(results) > 0 && results[0].CommandTag.String() == "ROLLBACK" {
		return &ExecError{RolledBack: true,
			Message: "the server rolled the transaction back instead of committing it"}
	}
	return nil
}

// RunEach runs stmts one by one outside a transaction block (VACUUM, CREATE
// INDEX CONCURRENTLY): lock_timeout and statement_timeout are SET for the
// session, then RESET. Each statement commits on its own, so on failure
// the *ExecError's Index says which statement failed and every statement
// before it stays committed (RolledBack is false). If the connection is
// lost during a statement its outcome is unknown (OutcomeUnknown).
func (t *Target) RunEach(ctx context.Context, stmts Statements, o ExecOptions) error {
	t.workMu.Lock()
	defer t.workMu.Unlock()
	conn := t.work

	if conn == nil || conn.IsClosed() {
		return &ExecError{Index: -1, Err: pgconn.ErrConnClosed, Message: "not connected", ConnectionLost: true}
	}
	if err := ctx.Err(); err != nil {
		return &ExecError{Index: -1, Err: err, Cancelled: true}
	}
	t.ensureDeadClientCheck(ctx, conn)
	if s := timeoutSettings("SET", o.LockTimeout, o.StatementTimeout); s != "" {
		if err := execQuiet(ctx, conn, strings.TrimPrefix(s, "; ")); err != nil {
			return t.classify(ctx, conn, -1, err)
		}
		defer func() {
			if !conn.IsClosed() {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
				defer cancel()
				_ = execQuiet(rctx, conn, "RESET lock_timeout; RESET statement_timeout")
			}
		}()
	}

	lw := t.newLockWatcher(ctx, o)
	defer lw.close()
	for i := range stmts.Len() {
		if err := ctx.Err(); err != nil {
			return t.classify(ctx, conn, i, err)
		}
		_, _, err := t.runStatement(ctx, conn, lw, i, stmts.SQL(i), o)
		if err != nil {
			e := t.classify(ctx, conn, i, err)
			if e.ConnectionLost {
				e.OutcomeUnknown = true
			}
			if !conn.IsClosed() && conn.PgConn().TxStatus() != 'I' {
				t.rollback(ctx, conn)
			}
			return e
		}
		if conn.PgConn().TxStatus() != 'I' {
			// A BEGIN in a non-transactional step would leave everything
			// after it uncommitted, then lost.
			t.rollback(ctx, conn)
			return &ExecError{Index: i, Message: "the statement opened a transaction block, which a step with " +
				"transaction = false must not do; it was rolled back"}
		}
	}
	return nil
}

// runStatement runs one statement text of a step with callbacks and the
// lock-wait watcher (nil: none).
func (t *Target) runStatement(ctx context.Context, conn *pgx.Conn, lw *lockWatcher, i int, stmt string, o ExecOptions) (tag string, affected int64, err error) {
	if o.OnStatementStart != nil {
		t.callback(func() { o.OnStatementStart(i) })
	}
	start := time.Now()
	lw.begin(i)
	var onRows func(cols []string, batch [][]any, total int64)
	if o.OnRows != nil {
		onRows = func(cols []string, batch [][]any, total int64) { o.OnRows(i, cols, batch, total) }
	}
	sink := newRowSink(t, conn.TypeMap(), o.KeepRows, o.BatchRows, false, onRows)
	tag, affected, err = streamSimple(ctx, conn, stmt, sink)
	lw.end(i)
	if err == nil {
		t.statementDone(o, i, tag, affected, time.Since(start))
	}
	return tag, affected, err
}

// Pipelining: a transactional step's statements go to the server in
// chunks, several statements in one simple-protocol message, instead of
// one round trip each; the server runs them in order and answers each
// with its own result, so progress, rows, notices, lock waits and errors
// are still reported per statement. On an error the server skips the rest
// of the message, and the transaction is rolled back as before.
//
// Only steps of many statements (generated data migrations) are pipelined:
// pg_stat_activity shows a whole message as the session's query, and for
// a hand-written migration a colleague looking there should see the one
// statement that runs (or waits for a lock), not the head of a chunk.
const (
	pipelineMinStatements = 64
	chunkMaxStatements    = 128
	chunkMaxBytes         = 256 << 10
)

// chunkLen is how many of stmts from index from on (at least 1) go in
// the next message. Only
// servers from PostgreSQL 13 apply statement_timeout to each statement of
// a multi-statement message (pipeline); before, it would time the chunk.
// A statement that may end the transaction (COMMIT, ROLLBACK, ...) always
// goes alone, so the check of the transaction's state after it still
// stops the step before anything else runs outside the transaction.
func chunkLen(stmts Statements, from int, pipeline bool) int {
	if !pipeline {
		return 1
	}
	n, size := 0, 0
	for k := from; k < stmts.Len(); k++ {
		s := stmts.SQL(k)
		if n == chunkMaxStatements || (n > 0 && size+len(s) > chunkMaxBytes) || mayEndTransaction(s) {
			break
		}
		n++
		size += len(s) + 3
	}
	return max(n, 1)
}

// mayEndTransaction reports whether stmt's first word (after comments) is
// one that ends or prepares a transaction. It is deliberately broad (lint
// rejects these in transactional steps; this only keeps them out of chunks).
func mayEndTransaction(stmt string) bool {
	w := strings.ToLower(firstWord(stmt))
	switch w {
	case "commit", "rollback", "end", "abort", "prepare":
		return true
	}
	return false
}

// firstWord skips whitespace and -- and /* */ comments (nested) and
// returns the leading run of letters.
func firstWord(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n\f")
		switch {
		case strings.HasPrefix(s, "--"):
			if i := strings.IndexByte(s, '\n'); i >= 0 {
				s = s[i+1:]
				continue
			}
			return ""
		case strings.HasPrefix(s, "/*"):
			depth, i := 0, 0
			for i < len(s) {
				if strings.HasPrefix(s[i:], "/*") {
					depth++
					i += 2
				} else if strings.HasPrefix(s[i:], "*/") {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
			if depth != 0 {
				return ""
			}
			s = s[i:]
			continue
		}
		end := 0
		for end < len(s) && (s[end]|0x20 >= 'a' && s[end]|0x20 <= 'z') {
			end++
		}
		return s[:end]
	}
}

// runChunk sends stmts (statements base, base+1, ... of the step) as one
// message and reports each result as runStatement would. done is how many
// statements completed; on error, statement base+done is the one that
// failed (an error position is made relative to that statement).
func (t *Target) runChunk(ctx context.Context, conn *pgx.Conn, lw *lockWatcher, base int, stmts []string, o ExecOptions) (done int, err error) {
	var b strings.Builder
	offsets := make([]int, len(stmts)) // byte offset of each statement in the message
	for j, s := range stmts {
		offsets[j] = b.Len()
		b.WriteString(s)
		// The newline first: a statement may end in a -- comment.
		b.WriteString("\n;\n")
	}
	msg := b.String()

	var began time.Time
	start := func(j int) {
		if o.OnStatementStart != nil {
			t.callback(func() { o.OnStatementStart(base + j) })
		}
		lw.begin(base + j)
		began = time.Now()
	}
	start(0)
	running := true
	mrr := conn.PgConn().Exec(ctx, msg)
	for mrr.NextResult() {
		i := base + done
		var onRows func(cols []string, batch [][]any, total int64)
		if o.OnRows != nil {
			onRows = func(cols []string, batch [][]any, total int64) { o.OnRows(i, cols, batch, total) }
		}
		sink := newRowSink(t, conn.TypeMap(), o.KeepRows, o.BatchRows, false, onRows)
		rr := mrr.ResultReader()
		sink.consume(rr)
		ct, rerr := rr.Close()
		sink.endResult()
		if err != nil {
			continue // the server skips the rest after an error
		}
		lw.end(i)
		running = false
		if rerr != nil {
			err = rerr
			continue
		}
		done++
		switch {
		case done == len(stmts):
			t.statementDone(o, i, ct.String(), ct.RowsAffected(), time.Since(began))
		case o.OnStatementNext != nil:
			elapsed := time.Since(began)
			t.callback(func() { o.OnStatementNext(i, ct.String(), ct.RowsAffected(), elapsed) })
			lw.begin(i + 1)
			began = time.Now()
			running = true
		default:
			t.statementDone(o, i, ct.String(), ct.RowsAffected(), time.Since(began))
			start(done)
			running = true
		}
	}
	if cerr := mrr.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if running {
		lw.end(base + done)
	}
	if err == nil && done != len(stmts) {
		err = fmt.Errorf("the server answered %d of %d statements sent together", done, len(stmts))
	}
	var pgErr *pgconn.PgError
	if err != nil && done < len(stmts) && errors.As(err, &pgErr) && pgErr.Position > 0 {
		// Position counts characters of the whole message.
		if p := int(pgErr.Position) - utf8.RuneCountInString(msg[:offsets[done]]); p > 0 {
			pgErr.Position = int32(p)
		}
	}
	return done, err
}

func (t *Target) statementDone(o ExecOptions, i int, tag string, affected int64, elapsed time.Duration) {
	if o.OnStatementDone != nil {
		t.callback(func() { o.OnStatementDone(i, tag, affected, elapsed) })
	}
}

func (t *Target) callback(f func()) {
	t.cbMu.Lock()
	defer t.cbMu.Unlock()
	f()
}

// classify turns an error of statement i into an *ExecError.
func (t *Target) classify(ctx context.Context, conn *pgx.Conn, i int, err error) *ExecError {
	e := &ExecError{Index: i, Err: err}
	var pgErr *pgconn.PgError
	isPg := errors.As(err, &pgErr)
	if isPg {
		e.SQLState, e.Message, e.Detail, e.Hint = pgErr.Code, pgErr.Message, pgErr.Detail, pgErr.Hint
		e.Position = int(pgErr.Position)
	}
	e.ConnectionLost = (conn != nil && conn.IsClosed()) || IsConnectionLost(err)
	switch {
	case isPg && pgErr.Code == "55P03":
		e.LockTimeout = true
	case isPg && pgErr.Code == "57014":
		if ctx.Err() != nil {
			e.Cancelled = true
		} else if strings.Contains(pgErr.Message, "statement timeout") {
			e.StatementTimeout = true
		}
	case !isPg && ctx.Err() != nil:
		e.Cancelled = true
	}
	if e.ConnectionLost && e.Message == "" {
		e.Message = "the connection to the database was lost: " + err.Error()
	}
	return e
}

// rollback ends the transaction on conn if the connection is still there.
// It runs even when ctx is cancelled: that is usually why we roll back.
func (t *Target) rollback(ctx context.Context, conn *pgx.Conn) {
	if conn == nil || conn.IsClosed() {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_ = execQuiet(rctx, conn, probeRollback)
}

// execQuiet runs sql (simple protocol) and discards any result.
func execQuiet(ctx context.Context, conn *pgx.Conn, sql string) error {
	_, err := conn.PgConn().Exec(ctx, sql).ReadAll()
	return err
}

// DeadClientCheckInterval is client_connection_check_interval on the work
// connection. Without it PostgreSQL notices that handrail died (SIGKILL, a
// dropped SSH session) only when the running statement ends, so a killed
// migration would keep its locks on production tables for up to
// statement_timeout; with it the server aborts the transaction and frees
// the locks within about this interval.
const DeadClientCheckInterval = time.Second

// ensureDeadClientCheck sets client_connection_check_interval once per work
// connection, before its first write (so after the identity probes, which
// stay the only statements before the verdict). PostgreSQL 14 added the
// setting; older servers are left alone, and a server that refuses it (a
// platform without the kernel support) is not an error: the step runs as
// it would have without it.
func (t *Target) ensureDeadClientCheck(ctx context.Context, conn *pgx.Conn) {
	if t.deadCheck == conn {
		return
	}
	t.deadCheck = conn
	if serverMajor(conn) < 14 {
		return
	}
	_ = execQuiet(ctx, conn, fmt.Sprintf("SET client_connection_check_interval = '%dms'", DeadClientCheckInterval.Milliseconds()))
}

// serverMajor is the server's major version from the server_version
// parameter it reports at startup (e.g. "15.18 (Debian ...)" is 15), or 0.
func serverMajor(conn *pgx.Conn) int {
	v := conn.PgConn().ParameterStatus("server_version")
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// timeoutSettings returns "; SET lock_timeout = '...'; SET ..." for the
// non-zero timeouts (verb is "SET" or "SET LOCAL"), or "".
func timeoutSettings(verb string, lock, stmt time.Duration) string {
	var b strings.Builder
	for _, s := range []struct {
		name string
		d    time.Duration
	}{{"lock_timeout", lock}, {"statement_timeout", stmt}} {
		if s.d <= 0 {
			continue
		}
		ms := s.d.Milliseconds()
		if ms == 0 {
			ms = 1 // 0 would mean no timeout at all
		}
		fmt.Fprintf(&b, "; %s %s = '%dms'", verb, s.name, ms)
	}
	return b.String()
}

// QueryOptions configures Query and SideQuery.
type QueryOptions struct {
	AsRole           string            // SET LOCAL ROLE for the query
	Settings         map[string]string // set_config(key, value, true) each, in key order
	KeepRows         int               // 0: DefaultKeepRows; negative: none
	StatementTimeout time.Duration     // 0: leave the server's setting
	OnRows           func(columns []string, batch [][]any, total int64)
}

// QueryResult is a read-only query's result: the first KeepRows rows and
// the count of all of them.
type QueryResult struct {
	Columns []string
	Rows    [][]any // at most KeepRows
	Total   int64
}

// Query runs a read-only check on the work connection: BEGIN READ ONLY,
// SET LOCAL statement_timeout, SET LOCAL ROLE AsRole, set_config for each
// setting (transaction-local), the query, and always ROLLBACK, so nothing
// of it outlives the call. The query goes as one extended-protocol
// statement, which cannot contain a second one (no "select 1; commit;
// delete ..."). Memory does not grow with the result: KeepRows rows are
// kept, the rest only counted. Errors are *ExecError.
func (t *Target) Query(ctx context.Context, sql string, o QueryOptions) (QueryResult, error) {
	t.workMu.Lock()
	defer t.workMu.Unlock()
	return t.readOnly(ctx, t.work, sql, o)
}

// SideQueryTimeout is the statement_timeout of SideQuery.
const SideQueryTimeout = 30 * time.Second

// SideQuery runs a read-only query on the side connection (monitors), so it
// neither waits for nor disturbs a statement running on the work
// connection.
func (t *Target) SideQuery(ctx context.Context, sql string, keep int) (QueryResult, error) {
	side, release := t.sideConn()
	defer release()
	return t.readOnly(ctx, side, sql, QueryOptions{KeepRows: keep, StatementTimeout: SideQueryTimeout})
}

func (t *Target) readOnly(ctx context.Context, conn *pgx.Conn, sql string, o QueryOptions) (res QueryResult, err error) {
	if conn == nil || conn.IsClosed() {
		return res, &ExecError{Err: pgconn.ErrConnClosed, Message: "not connected", ConnectionLost: true}
	}
	if err := ctx.Err(); err != nil {
		return res, &ExecError{Err: err, Cancelled: true}
	}
	sink := newRowSink(t, conn.TypeMap(), o.KeepRows, 0, true, o.OnRows)
	if err := readOnlyPipeline(ctx, conn.PgConn(), sql, o, sink); err != nil {
		e := t.classify(ctx, conn, 0, err)
		if conn.PgConn().TxStatus() != 'I' {
			t.rollback(ctx, conn)
		}
		e.RolledBack = true
		return res, e
	}
	return QueryResult{Columns: sink.cols, Rows: sink.kept, Total: sink.total}, nil
}

// readOnlySetup is the transaction setup of a read-only query, one
// statement each: BEGIN READ ONLY, the statement timeout, the role, and
// set_config(key, value, true) for each setting in key order (the values
// travel as parameters, never spliced into the text).
func readOnlySetup(o QueryOptions) (sqls []string, args [][][]byte) {
	add := func(sql string, a [][]byte) { sqls, args = append(sqls, sql), append(args, a) }
	add(probeBegin, nil)
	if o.StatementTimeout > 0 {
		add(strings.TrimPrefix(timeoutSettings("SET LOCAL", 0, o.StatementTimeout), "; "), nil)
	}
	if o.AsRole != "" {
		add("SET LOCAL ROLE "+pgx.Identifier{o.AsRole}.Sanitize(), nil)
	}
	for _, k := range slices.Sorted(maps.Keys(o.Settings)) {
		add("select set_config($1, $2, true)", [][]byte{[]byte(k), []byte(o.Settings[k])})
	}
	return sqls, args
}

// readOnlyPipeline sends a read-only query in one round trip (pipeline
// mode, the extended protocol) and reads its result into sink; see
// sendReadOnly and readReadOnly.
func readOnlyPipeline(ctx context.Context, pc *pgconn.PgConn, sql string, o QueryOptions, sink *rowSink) error {
	p := pc.StartPipeline(ctx)
	n := sendReadOnly(p, sql, o)
	err, broken := p.Flush(), false
	if err == nil {
		broken, err = readReadOnly(p, n, sink)
	}
	if cerr := p.Close(); err == nil && !broken {
		err = cerr
	}
	return err
}

// sendReadOnly queues a read-only query on p: the setup (readOnlySetup),
// the query, a sync, then ROLLBACK and a sync. The query is one
// extended-protocol statement, which cannot contain a second one (no
// "select 1; commit; delete ..."); it runs inside the READ ONLY
// transaction, or not at all: after any error the server skips the rest
// up to the sync, and the ROLLBACK after it always runs. It returns the
// number of setup statements.
func sendReadOnly(p *pgconn.Pipeline, sql string, o QueryOptions) int {
	sqls, args := readOnlySetup(o)
	for i, s := range sqls {
		p.SendQueryParams(s, args[i], nil, nil, nil)
	}
	p.SendQueryParams(sql, nil, nil, nil, nil)
	p.SendPipelineSync()
	p.SendQueryParams(probeRollback, nil, nil, nil, nil)
	p.SendPipelineSync()
	return len(sqls)
}

// readReadOnly reads what sendReadOnly queued: the query's rows go to
// sink (the result after nSetup others). err is the first error of the
// query's transaction (the server's, or the connection's); broken means
// the pipeline cannot be read further.
func readReadOnly(p *pgconn.Pipeline, nSetup int, sink *rowSink) (broken bool, err error) {
	broken, err = readGroup(p, func(n int, rr *pgconn.ResultReader) error {
		if n != nSetup {
			_, err := rr.Close()
			return err
		}
		sink.consume(rr)
		_, err := rr.Close()
		sink.endResult()
		return err
	})
	if broken {
		return true, err
	}
	broken, rerr := readGroup(p, func(_ int, rr *pgconn.ResultReader) error {
		_, err := rr.Close()
		return err
	})
	if err == nil {
		err = rerr
	}
	return broken, err
}

// readGroup reads the results of p up to the next sync, handing each to
// each, and returns the first error. After a server error the server
// skips the rest of the group; broken: an error that is not the server's
// (the connection's), after which nothing more can be read.
func readGroup(p *pgconn.Pipeline, each func(n int, rr *pgconn.ResultReader) error) (broken bool, first error) {
	note := func(err error) bool {
		if first == nil {
			first = err
		}
		var pgErr *pgconn.PgError
		return !errors.As(err, &pgErr)
	}
	for n := 0; ; {
		r, err := p.GetResults()
		if err != nil {
			if note(err) {
				return true, first
			}
			continue
		}
		switch r := r.(type) {
		case *pgconn.PipelineSync:
			return false, first
		case *pgconn.ResultReader:
			if err := each(n, r); err != nil && note(err) {
				return true, first
			}
			n++
		case nil:
			note(errors.New("read-only batch: the server sent no result where a query's was due (the connection is out of step); nothing was written: run the check again, and report it if it repeats"))
			return true, first
		}
	}
}

// ReadOnlyQuery is one query of QueryBatch.
type ReadOnlyQuery struct {
	SQL  string
	Opts QueryOptions // OnRows is not called
}

// QueryBatch runs queries as Query runs each (its own READ ONLY
// transaction, role, settings and timeout, always rolled back), all sent
// in one round trip: the server runs them one after the other, and a
// failing query affects only its own transaction. results[i] and errs[i]
// are query i's, errs being *ExecError.
func (t *Target) QueryBatch(ctx context.Context, queries []ReadOnlyQuery) (results []QueryResult, errs []error) {
	t.workMu.Lock()
	defer t.workMu.Unlock()
	conn := t.work
	results, errs = make([]QueryResult, len(queries)), make([]error, len(queries))
	fail := func(from int, err error) {
		for i := from; i < len(queries); i++ {
			e := t.classify(ctx, conn, 0, err)
			e.RolledBack = true
			errs[i] = e
		}
	}
	if conn == nil || conn.IsClosed() {
		fail(0, pgconn.ErrConnClosed)
		return results, errs
	}
	p := conn.PgConn().StartPipeline(ctx)
	nSetup := make([]int, len(queries))
	for i, q := range queries {
		nSetup[i] = sendReadOnly(p, q.SQL, q.Opts)
	}
	if err := p.Flush(); err != nil {
		fail(0, err)
		_ = p.Close()
		return results, errs
	}
	for i, q := range queries {
		sink := newRowSink(t, conn.TypeMap(), q.Opts.KeepRows, 0, true, nil)
		broken, err := readReadOnly(p, nSetup[i], sink)
		if broken {
			fail(i, err)
			_ = p.Close()
			return results, errs
		}
		if err != nil {
			e := t.classify(ctx, conn, 0, err)
			e.RolledBack = true
			errs[i] = e
			continue
		}
		results[i] = QueryResult{Columns: sink.cols, Rows: sink.kept, Total: sink.total}
	}
	_ = p.Close()
	if !conn.IsClosed() && conn.PgConn().TxStatus() != 'I' {
		t.rollback(ctx, conn)
	}
	return results, errs
}

// streamSimple sends sql as one simple-protocol query (it may hold several
// statements) and feeds every result to sink. tag is the last result's
// command tag; affected sums their row counts.
func streamSimple(ctx context.Context, conn *pgx.Conn, sql string, sink *rowSink) (tag string, affected int64, err error) {
	mrr := conn.PgConn().Exec(ctx, sql)
	for mrr.NextResult() {
		rr := mrr.ResultReader()
		sink.consume(rr)
		ct, rerr := rr.Close()
		sink.endResult()
		if rerr != nil {
			if err == nil {
				err = rerr
			}
			continue
		}
		tag = ct.String()
		affected += ct.RowsAffected()
	}
	if cerr := mrr.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return tag, affected, err
}

// rowSink keeps the first keep rows of each result, decoded by pgx's type
// map, counts all of them, and hands kept rows to onRows in batches.
type rowSink struct {
	t         *Target
	typeMap   *pgtype.Map
	keep      int
	batchRows int
	collect   bool // keep the kept rows in kept (Query), not only pass them on
	onRows    func(cols []string, batch [][]any, total int64)

	cols         []string
	kept         [][]any
	batch        [][]any
	nkept        int
	total        int64
	reported     int64 // total at the last onRows call
	reportedCols bool
	lastFlush    time.Time
	inResult     bool
}

func newRowSink(t *Target, m *pgtype.Map, keep, batchRows int, collect bool, onRows func([]string, [][]any, int64)) *rowSink {
	switch {
	case keep == 0:
		keep = DefaultKeepRows
	case keep < 0:
		keep = 0
	}
	if batchRows <= 0 {
		batchRows = defaultBatchRows
	}
	return &rowSink{t: t, typeMap: m, keep: keep, batchRows: batchRows, collect: collect, onRows: onRows}
}

// consume reads the rows of one result. Rows beyond keep are counted, not
// decoded or copied, so memory stays flat however many rows come back.
func (s *rowSink) consume(rr *pgconn.ResultReader) {
	fds := rr.FieldDescriptions()
	if fds == nil {
		// A command without a result set (DDL, INSERT without RETURNING).
		for rr.NextRow() {
		}
		return
	}
	s.cols = make([]string, len(fds))
	for i, fd := range fds {
		s.cols[i] = fd.Name
	}
	s.nkept, s.total, s.reported, s.reportedCols = 0, 0, 0, false
	s.lastFlush = time.Now()
	s.inResult = true
	if s.collect {
		s.kept = nil
	}
	for rr.NextRow() {
		s.total++
		if s.nkept < s.keep {
			row := decodeRow(s.typeMap, fds, rr.Values())
			s.nkept++
			if s.collect {
				s.kept = append(s.kept, row)
			}
			if s.onRows != nil {
				s.batch = append(s.batch, row)
			}
		}
		if s.onRows != nil && (len(s.batch) >= s.batchRows || s.total%64 == 0 && time.Since(s.lastFlush) >= rowFlushInterval) {
			s.flush()
		}
	}
}

// endResult reports what is left of the current result, and always once
// per result set so an empty result still shows its columns.
func (s *rowSink) endResult() {
	if !s.inResult {
		return
	}
	s.inResult = false
	if s.onRows != nil && (len(s.batch) > 0 || s.total != s.reported || !s.reportedCols) {
		s.flush()
	}
}

func (s *rowSink) flush() {
	if len(s.batch) == 0 && s.total == s.reported && s.reportedCols {
		s.lastFlush = time.Now()
		return
	}
	batch, cols, total := s.batch, s.cols, s.total
	s.batch = nil
	s.reported, s.reportedCols = total, true
	s.t.callback(func() { s.onRows(cols, batch, total) })
	s.lastFlush = time.Now()
}

// decodeRow turns a row's text-format values into Go values with pgx's
// codecs (int64, string, time.Time, pgtype.Numeric, ...); a type pgx does
// not know stays the text PostgreSQL sent.
func decodeRow(m *pgtype.Map, fds []pgconn.FieldDescription, raw [][]byte) []any {
	row := make([]any, len(raw))
	for i, buf := range raw {
		if buf == nil {
			continue
		}
		// The reader reuses its buffer for the next row. (make, not
		// append to nil: an empty value must stay non-nil, or '' would
		// decode as NULL.)
		own := make([]byte, len(buf))
		copy(own, buf)
		buf = own
		fd := fds[i]
		if dt, ok := m.TypeForOID(fd.DataTypeOID); ok {
			if v, err := dt.Codec.DecodeValue(m, fd.DataTypeOID, fd.Format, buf); err == nil {
				row[i] = v
				continue
			}
		}
		if fd.Format == pgtype.TextFormatCode {
			row[i] = string(buf)
		} else {
			row[i] = buf
		}
	}
	return row
}
