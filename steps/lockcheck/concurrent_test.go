package lockcheck

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// Before a CREATE INDEX CONCURRENTLY, ConcurrentWaiters names the
// transactions it will wait for; the server's pg_blocking_pids, while it
// waits, names the same one. Ended, the build completes.
func TestConcurrentWaitersMatchTheServer(t *testing.T) {
	sb, conn := weighDB(t, `create table t (id int, x int); insert into t select g, g from generate_series(1, 100) g;
create table other (id int);`)
	ctx := context.Background()
	// A REPEATABLE READ transaction on another table: its snapshot alone
	// stalls the build.
	snap := connect(t, sb)
	if _, err := snap.Exec(ctx, "begin isolation level repeatable read; select count(*) from other"); err != nil {
		t.Fatal(err)
	}
	waitIdleInTransaction(t, conn, int(snap.PgConn().PID()))
	builder := connect(t, sb)
	ignore := []int{int(builder.PgConn().PID())}

	waiters, err := ConcurrentWaiters(ctx, conn, "CREATE INDEX CONCURRENTLY", Rel{Name: "t"}, ignore)
	if err != nil {
		t.Fatal(err)
	}
	if len(waiters) != 1 || waiters[0].PID != int(snap.PgConn().PID()) || !strings.Contains(waiters[0].Describe(), "idle in transaction") {
		t.Fatalf("waiters %+v", waiters)
	}

	// Weigh lists them on the statement.
	an := Analyze(sqlscan.SplitStatements("create index concurrently t_x on t (x)"), Options{})
	if err := Weigh(ctx, conn, WeighOptions{IgnorePIDs: ignore}, an); err != nil {
		t.Fatal(err)
	}
	if w := an.Statements[0].WaitsFor; len(w) != 1 || w[0].PID != waiters[0].PID {
		t.Fatalf("WaitsFor %+v", w)
	}

	done := make(chan error, 1)
	go func() { _, err := builder.Exec(ctx, "create index concurrently t_x on t (x)"); done <- err }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var blockers []int32
		if err := conn.QueryRow(ctx, "select pg_blocking_pids($1)", builder.PgConn().PID()).Scan(&blockers); err != nil {
			t.Fatal(err)
		}
		if len(blockers) > 0 {
			if len(blockers) != 1 || int(blockers[0]) != waiters[0].PID {
				t.Fatalf("the build waits for %v, predicted %d", blockers, waiters[0].PID)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the build never waited")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := snap.Exec(ctx, "rollback"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the build failed after the snapshot ended: %v", err)
	}
	if bad, err := InvalidIndexes(ctx, conn); err != nil || len(bad) != 0 {
		t.Fatalf("a finished build left invalid indexes: %+v %v", bad, err)
	}
}

// A failed CREATE UNIQUE INDEX CONCURRENTLY leaves an INVALID index:
// InvalidIndexes finds it, on its table or across the database, and its
// DropSQL removes it so the retry can run.
func TestInvalidIndexAfterAFailedConcurrentBuild(t *testing.T) {
	_, conn := weighDB(t, `create table dup (id int, x int); insert into dup values (1, 1), (2, 1);
create table clean (id int); create index clean_id on clean (id);`)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "create unique index concurrently dup_x on dup (x)"); err == nil {
		t.Fatal("the unique build over duplicates succeeded")
	}
	for _, tables := range [][]Rel{nil, {{Name: "dup"}}, {{Schema: "public", Name: "dup"}, {Name: "clean"}}} {
		bad, err := InvalidIndexes(ctx, conn, tables...)
		if err != nil {
			t.Fatal(err)
		}
		if len(bad) != 1 || bad[0].Index != (Rel{Schema: "public", Name: "dup_x"}) || bad[0].Table != (Rel{Schema: "public", Name: "dup"}) ||
			!strings.Contains(bad[0].Def, "UNIQUE") {
			t.Fatalf("InvalidIndexes(%v) = %+v", tables, bad)
		}
	}
	if bad, _ := InvalidIndexes(ctx, conn, Rel{Name: "clean"}); len(bad) != 0 {
		t.Fatalf("a valid index reported invalid: %+v", bad)
	}
	bad, _ := InvalidIndexes(ctx, conn)
	if got := bad[0].DropSQL(); got != "DROP INDEX CONCURRENTLY IF EXISTS public.dup_x" {
		t.Fatalf("DropSQL = %q", got)
	}
	if _, err := conn.Exec(ctx, bad[0].DropSQL()); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "delete from dup where id = 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "create unique index concurrently dup_x on dup (x)"); err != nil {
		t.Fatalf("the retry after dropping the invalid index: %v", err)
	}
	if bad, _ := InvalidIndexes(ctx, conn); len(bad) != 0 {
		t.Fatalf("still invalid: %+v", bad)
	}
}
