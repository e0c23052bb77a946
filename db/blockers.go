package db

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Blockers returns the backends blocking pid (pg_blocking_pids) with what
// pg_stat_activity says of them, asked on the side connection so it works
// while the work connection waits. Waited is left zero: the caller knows
// how long it has been waiting.
func (t *Target) Blockers(ctx context.Context, pid int) ([]Blocker, error) {
	t.sideMu.Lock()
	defer t.sideMu.Unlock()
	if t.side == nil || t.side.IsClosed() {
		return nil, fmt.Errorf("blockers: %w", pgconn.ErrConnClosed)
	}
	rows, err := t.side.Query(ctx, fmt.Sprintf(`select a.pid, coalesce(a.state, ''), coalesce(a.query, ''),
  coalesce(a.application_name, ''), coalesce(a.usename::text, ''),
  coalesce(extract(epoch from now() - a.xact_start)::float8, 0)
from pg_stat_activity a
where a.pid = any(pg_blocking_pids(%d))
order by a.pid`, pid))
	if err != nil {
		return nil, fmt.Errorf("blockers: %w", err)
	}
	var out []Blocker
	for rows.Next() {
		var b Blocker
		var secs float64
		if err := rows.Scan(&b.PID, &b.State, &b.Query, &b.ApplicationName, &b.User, &secs); err != nil {
			rows.Close()
			return nil, fmt.Errorf("blockers: %w", err)
		}
		b.For = time.Duration(secs * float64(time.Second))
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("blockers: %w", err)
	}
	return out, nil
}

// watchLockWait polls Blockers for statement i while it runs and reports
// changes to OnLockWait. The first poll comes after lockPollInterval (the
// statement may well finish first), sooner if lock_timeout is so short
// that the operator would otherwise never see who blocked. The returned
// stop waits for the poller, then reports the end of a wait.
func (t *Target) watchLockWait(ctx context.Context, i int, o ExecOptions) (stop func()) {
	if o.OnLockWait == nil {
		return func() {}
	}
	interval := lockPollInterval
	if o.LockTimeout > 0 && o.LockTimeout < 3*lockPollInterval {
		interval = max(o.LockTimeout/3, 10*time.Millisecond)
	}
	pid := t.WorkPID()
	done := make(chan struct{})
	finished := make(chan struct{})
	var last []Blocker // owned by the poller until finished is closed
	go func() {
		defer close(finished)
		timer := time.NewTimer(interval)
		defer timer.Stop()
		var waitStart time.Time
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			bs, err := t.Blockers(pctx, pid)
			cancel()
			if err == nil {
				select {
				case <-done:
					return // the statement ended while we asked
				default:
				}
				if len(bs) > 0 && waitStart.IsZero() {
					waitStart = time.Now()
				}
				for j := range bs {
					bs[j].Waited = time.Since(waitStart)
				}
				if blockersChanged(last, bs) {
					if len(bs) == 0 {
						waitStart = time.Time{}
					}
					t.callback(func() { o.OnLockWait(i, bs) })
					last = bs
				}
			}
			timer.Reset(interval)
		}
	}()
	return func() {
		close(done)
		<-finished
		if len(last) > 0 {
			t.callback(func() { o.OnLockWait(i, nil) })
		}
	}
}

// blockersChanged compares who blocks and what they do, not the clocks.
func blockersChanged(a, b []Blocker) bool {
	return !slices.EqualFunc(a, b, func(x, y Blocker) bool {
		return x.PID == y.PID && x.State == y.State && x.Query == y.Query
	})
}
