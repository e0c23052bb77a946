package db

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Inspect runs fn in a READ ONLY transaction on the side connection (the
// work connection of a Single target),
// with statement_timeout SideQueryTimeout, and always rolls it back: the
// catalog and pg_locks look-ups of the lock analysis run there, so they
// neither wait for nor disturb the work connection, and nothing they send
// can write. fn's error is returned as is.
func (t *Target) Inspect(ctx context.Context, fn func(tx pgx.Tx) error) error {
	side, release := t.sideConn()
	defer release()
	if side == nil || side.IsClosed() {
		return fmt.Errorf("inspect: %w", pgconn.ErrConnClosed)
	}
	tx, err := side.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = '%dms'", SideQueryTimeout.Milliseconds())); err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	return fn(tx)
}

// PIDs returns the backend process ids of the session's own connections
// (work, deploy lock, side), so that diagnostics never report handrail as
// being in its own way.
func (t *Target) PIDs() []int {
	var out []int
	if p := t.WorkPID(); p != 0 {
		out = append(out, p)
	}
	if p := t.LockPID(); p != 0 {
		out = append(out, p)
	}
	t.sideMu.Lock()
	if t.side != nil {
		out = append(out, int(t.side.PgConn().PID()))
	}
	t.sideMu.Unlock()
	return out
}
