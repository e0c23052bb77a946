package db

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// manyInserts is a step of n statements (pipelined: n >= 64): a table, then
// inserts; extra replaces statement k (0-based) for each k in it.
func manyInserts(n int, extra map[int]string) []string {
	stmts := []string{"create table piped(id int primary key, note text)"}
	for i := 1; i < n; i++ {
		stmts = append(stmts, fmt.Sprintf("insert into piped values (%d, 'row; %d') -- a trailing comment", i, i))
	}
	for k, s := range extra {
		stmts[k] = s
	}
	return stmts
}

// A step of many statements goes to the server in chunks; every statement
// is still reported on its own, in order, with its rows, and the step
// commits entirely. With OnStatementNext, a statement's end and the next
// one's start inside a chunk come as one call, and the order is the same.
func TestRunTransactionPipelinedReportsEachStatement(t *testing.T) {
	t.Parallel()
	env := tgNewEnv(t, SandboxOptions{})
	for _, next := range []bool{false, true} {
		t.Run(fmt.Sprintf("OnStatementNext set %v", next), func(t *testing.T) {
			dbname := env.database(t)
			tg := env.connect(t, dbname, ConnectOptions{})
			const n = 300
			stmts := manyInserts(n, map[int]string{150: "/* mid-step look */ select id, note from piped where id <= 3 order by id"})
			var rec tgRecorder
			o := rec.options(ExecOptions{LockTimeout: time.Second, StatementTimeout: 10 * time.Second})
			var order []string // "s<i>" started, "d<i>" done, "r<i>" rows
			pairs := 0
			o.OnStatementStart = func(i int) { order = append(order, fmt.Sprint("s", i)); rec.started = append(rec.started, i) }
			done := o.OnStatementDone
			o.OnStatementDone = func(i int, tag string, n int64, d time.Duration) {
				order = append(order, fmt.Sprint("d", i))
				done(i, tag, n, d)
			}
			rows := o.OnRows
			o.OnRows = func(i int, cols []string, batch [][]any, total int64) {
				order = append(order, fmt.Sprint("r", i))
				rows(i, cols, batch, total)
			}
			if next {
				o.OnStatementNext = func(i int, tag string, n int64, d time.Duration) {
					pairs++
					o.OnStatementDone(i, tag, n, d)
					o.OnStatementStart(i + 1)
				}
			}
			if err := tg.RunTransaction(tgCtx(t), SQLs(stmts), o); err != nil {
				t.Fatal(err)
			}
			want := make([]int, n)
			var wantOrder []string
			for i := range want {
				want[i] = i
				wantOrder = append(wantOrder, fmt.Sprint("s", i))
				if i == 150 {
					wantOrder = append(wantOrder, "r150")
				}
				wantOrder = append(wantOrder, fmt.Sprint("d", i))
			}
			if !slices.Equal(rec.started, want) || len(rec.done) != n {
				t.Fatalf("started %d statements (in order: %v), done %d; want %d", len(rec.started), slices.Equal(rec.started, want), len(rec.done), n)
			}
			if !slices.Equal(order, wantOrder) {
				t.Errorf("callbacks in the order %v, want %v", order, wantOrder)
			}
			// 300 statements go in chunks of at most 128: every statement
			// but the last of a chunk is followed by the next at once.
			if next && (pairs < n-1-(n/chunkMaxStatements+1) || pairs > n-2) {
				t.Errorf("%d statements ended with the next one's start, want %d or so", pairs, n-3)
			}
			if rec.done[0] != "CREATE TABLE" || rec.done[1] != "INSERT 0 1" || rec.done[150] != "SELECT 3" {
				t.Errorf("tags: %q %q %q", rec.done[0], rec.done[1], rec.done[150])
			}
			if got := rec.rows[150]; len(got) != 3 || got[2][1] != "row; 3" || len(rec.rows) != 1 {
				t.Errorf("rows of statement 151: %v (rows reported for %d statements)", got, len(rec.rows))
			}
			var count int
			if err := env.admin(t, dbname).QueryRow(tgCtx(t), "select count(*) from piped").Scan(&count); err != nil || count != n-2 {
				t.Fatalf("committed %d rows (%v), want %d", count, err, n-2)
			}
		})
	}
}

// A failure in the middle of a chunk names that statement, with the error
// position counted within it, and nothing of the step remains.
func TestRunTransactionPipelinedFailureNamesTheStatement(t *testing.T) {
	t.Parallel()
	env := tgNewEnv(t, SandboxOptions{})
	dbname := env.database(t)
	tg := env.connect(t, dbname, ConnectOptions{})
	stmts := manyInserts(300, map[int]string{200: "insert into piped values (200, 'x'), (201, nosuchcolumn)"})
	var rec tgRecorder
	e := tgExecError(t, tg.RunTransaction(tgCtx(t), SQLs(stmts), rec.options(ExecOptions{})))
	if e.Index != 200 || !e.RolledBack || e.SQLState != "42703" {
		t.Fatalf("ExecError = %+v, want statement index 200, 42703, rolled back", e)
	}
	if want := strings.Index(stmts[200], "nosuchcolumn") + 1; e.Position != want {
		t.Errorf("error position %d, want %d (within the statement)", e.Position, want)
	}
	if len(rec.done) != 200 || rec.started[len(rec.started)-1] != 200 {
		t.Errorf("done %d, last started %d; want 200 done and 200 the last started", len(rec.done), rec.started[len(rec.started)-1])
	}
	if tgTableExists(t, env.admin(t, dbname), "piped") {
		t.Fatal("the failed step left its table")
	}
	if err := tg.RunTransaction(tgCtx(t), SQLs{"select 1"}, ExecOptions{}); err != nil {
		t.Fatalf("connection unusable after the rollback: %v", err)
	}
}

// Cancel while a statement in the middle of a chunk runs: the cancel
// request stops it, the rest of the chunk is skipped, the step rolls back.
func TestRunTransactionPipelinedCancel(t *testing.T) {
	t.Parallel()
	env := tgNewEnv(t, SandboxOptions{})
	dbname := env.database(t)
	tg := env.connect(t, dbname, ConnectOptions{})
	admin := env.admin(t, dbname)
	ctx, cancel := context.WithCancel(tgCtx(t))
	defer cancel()
	stmts := manyInserts(100, map[int]string{80: "select pg_sleep(60)"})
	result := make(chan error, 1)
	var rec tgRecorder
	opts := rec.options(ExecOptions{})
	go func() { result <- tg.RunTransaction(ctx, SQLs(stmts), opts) }()
	pid := tg.WorkPID()
	tgWaitUntil(t, "pg_sleep to run", 20*time.Second, func() bool {
		var n int
		err := admin.QueryRow(tgCtx(t), `select count(*) from pg_stat_activity
where pid = $1 and state = 'active' and wait_event = 'PgSleep'`, pid).Scan(&n)
		return err == nil && n == 1
	})
	cancel()
	e := tgExecError(t, <-result)
	if !e.Cancelled || !e.RolledBack || e.Index != 80 || e.SQLState != "57014" {
		t.Fatalf("ExecError = %+v, want cancelled statement index 80", e)
	}
	if tgTableExists(t, admin, "piped") {
		t.Fatal("the cancelled step left its table")
	}
}

func TestChunkLen(t *testing.T) {
	stmts := manyInserts(300, map[int]string{
		130: "/* end of part one */ -- really\n COMMIT",
	})
	if got := chunkLen(SQLs(stmts), 0, true); got != chunkMaxStatements {
		t.Errorf("first chunk %d, want %d", got, chunkMaxStatements)
	}
	if got := chunkLen(SQLs(stmts), 128, true); got != 2 {
		t.Errorf("chunk before COMMIT %d, want 2", got)
	}
	if got := chunkLen(SQLs(stmts), 130, true); got != 1 {
		t.Errorf("COMMIT goes alone: chunk %d", got)
	}
	if got := chunkLen(SQLs(stmts), 0, false); got != 1 {
		t.Errorf("without pipelining: chunk %d", got)
	}
	big := []string{strings.Repeat("x", chunkMaxBytes), "select 1"}
	if got := chunkLen(SQLs(big), 0, true); got != 1 {
		t.Errorf("a statement of chunkMaxBytes goes alone: chunk %d", got)
	}
	for stmt, want := range map[string]bool{
		"commit":                        true,
		"  -- c\n/* a /* b */ */ END;":  true,
		"Rollback to savepoint a":       true, // broad on purpose
		"prepare transaction 'x'":       true,
		"insert into commits values(1)": false,
		"/* commit */ select 1":         false,
		"-- commit":                     false,
		"/* unterminated":               false,
	} {
		if got := mayEndTransaction(stmt); got != want {
			t.Errorf("mayEndTransaction(%q) = %v, want %v", stmt, got, want)
		}
	}
}

// statement_timeout applies to each statement of a chunk, not to the
// chunk: many quick statements together take longer than the timeout and
// pass; the one slow statement is stopped, named, and the step rolls back.
func TestRunTransactionPipelinedStatementTimeout(t *testing.T) {
	t.Parallel()
	env := tgNewEnv(t, SandboxOptions{})
	dbname := env.database(t)
	tg := env.connect(t, dbname, ConnectOptions{})
	stmts := manyInserts(100, map[int]string{})
	for i := 10; i < 70; i++ {
		stmts[i] = "select pg_sleep(0.02)" // 60 x 20 ms: longer than the timeout together
	}
	stmts[80] = "select pg_sleep(5)"
	e := tgExecError(t, tg.RunTransaction(tgCtx(t), SQLs(stmts), ExecOptions{StatementTimeout: 500 * time.Millisecond}))
	if !e.StatementTimeout || e.Index != 80 || !e.RolledBack {
		t.Fatalf("ExecError = %+v, want statement_timeout at statement index 80, rolled back", e)
	}
	if tgTableExists(t, env.admin(t, dbname), "piped") {
		t.Fatal("the timed-out step left its table")
	}
}
