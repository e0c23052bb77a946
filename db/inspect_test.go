package db

import (
	"errors"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Inspect runs on the side connection in a READ ONLY transaction that is
// always rolled back; PIDs are the session's own three backends.
func TestInspectIsReadOnlyOnTheSideConnection(t *testing.T) {
	e := tgNewEnv(t, SandboxOptions{})
	name := e.database(t, "create table t (id int)")
	tg := e.connect(t, name, ConnectOptions{})
	ctx := tgCtx(t)

	var pid int
	var ro, timeout string
	err := tg.Inspect(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, "select pg_backend_pid(), current_setting('transaction_read_only'), current_setting('statement_timeout')").
			Scan(&pid, &ro, &timeout)
	})
	if err != nil {
		t.Fatal(err)
	}
	pids := tg.PIDs()
	if ro != "on" || timeout != "30s" || len(pids) != 3 || !slices.Contains(pids, pid) || pid == tg.WorkPID() || pid == tg.LockPID() {
		t.Fatalf("read_only %s, statement_timeout %s, inspect pid %d, session pids %v (work %d, lock %d)",
			ro, timeout, pid, pids, tg.WorkPID(), tg.LockPID())
	}

	err = tg.Inspect(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "insert into t values (1)")
		return err
	})
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "25006" {
		t.Fatalf("a write inside Inspect: %v, want a read-only transaction error", err)
	}
	// The connection is usable afterwards (the failed transaction was rolled back).
	if err := tg.Inspect(ctx, func(tx pgx.Tx) error { _, err := tx.Exec(ctx, "select 1"); return err }); err != nil {
		t.Fatalf("inspect after a failed one: %v", err)
	}
}
