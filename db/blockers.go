package db

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Blockers returns the backends blocking pid (pg_blocking_pids) with what
// pg_stat_activity says of them, asked on the side connection so it works
// while the work connection waits. Waited is left zero: the caller knows
// how long it has been waiting.
func (t *Target) Blockers(ctx context.Context, pid int) ([]Blocker, error) {
	side, release := t.sideConn()
	defer release()
	if side == nil || side.IsClosed() {
		return nil, fmt.Errorf("blockers: %w", pgconn.ErrConnClosed)
	}
	rows, err := side.Query(ctx, fmt.Sprintf(`select a.pid, coalesce(a.state, ''), coalesce(a.query, ''),
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

// lockWatcher polls Blockers while a statement of one RunTransaction or
// RunEach call runs and reports changes to OnLockWait. The first poll for
// a statement comes once it has run for interval (lockPollInterval; it
// may well finish first), sooner if lock_timeout is so short that the
// operator would otherwise never see who blocked.
//
// One goroutine with one ticker serves every statement of the call: a
// timer set and stopped per statement wakes the runtime's network poller
// each time, which costs a 20,000-statement migration a measurable share
// of its time; the ticker costs a wake-up every interval/2.
type lockWatcher struct {
	t        *Target
	o        ExecOptions
	interval time.Duration
	pid      int

	mu        sync.Mutex
	idle      sync.Cond // signalled when a poll ends
	stmt      int       // the running statement; -1 between statements
	started   time.Time // when it started
	gen       uint64    // bumped when a statement starts or ends
	polling   bool      // a poll (and its report) is in progress
	last      []Blocker // the last report for the running statement
	waitStart time.Time

	stop chan struct{}
	done chan struct{}
}

// newLockWatcher starts the watcher of one run (nil without OnLockWait).
// The caller must close it.
func (t *Target) newLockWatcher(ctx context.Context, o ExecOptions) *lockWatcher {
	if o.OnLockWait == nil {
		return nil
	}
	w := &lockWatcher{t: t, o: o, interval: lockPollInterval, pid: t.WorkPID(), stmt: -1,
		stop: make(chan struct{}), done: make(chan struct{})}
	if o.LockTimeout > 0 && o.LockTimeout < 3*lockPollInterval {
		w.interval = max(o.LockTimeout/3, 10*time.Millisecond)
	}
	w.idle.L = &w.mu
	go w.loop(ctx)
	return w
}

// begin marks statement i as running.
func (w *lockWatcher) begin(i int) {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.stmt, w.started, w.last, w.waitStart = i, time.Now(), nil, time.Time{}
	w.gen++
	w.mu.Unlock()
}

// end marks statement i as ended: it waits for a poll in progress (so no
// report of i comes after end), then reports the end of a wait.
func (w *lockWatcher) end(i int) {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.stmt = -1
	w.gen++
	for w.polling {
		w.idle.Wait()
	}
	last := w.last
	w.last = nil
	w.mu.Unlock()
	if len(last) > 0 {
		w.t.callback(func() { w.o.OnLockWait(i, nil) })
	}
}

// close stops the watcher and waits for it.
func (w *lockWatcher) close() {
	if w == nil {
		return
	}
	close(w.stop)
	<-w.done
}

func (w *lockWatcher) loop(ctx context.Context) {
	defer close(w.done)
	tick := time.NewTicker(max(w.interval/2, 5*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		w.mu.Lock()
		if w.stmt < 0 || time.Since(w.started) < w.interval {
			w.mu.Unlock()
			continue
		}
		i, gen := w.stmt, w.gen
		w.polling = true
		w.mu.Unlock()
		w.poll(ctx, i, gen)
		w.mu.Lock()
		w.polling = false
		w.idle.Broadcast()
		w.mu.Unlock()
	}
}

// poll asks who blocks the work connection and reports a change, unless
// statement i ended meanwhile.
func (w *lockWatcher) poll(ctx context.Context, i int, gen uint64) {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	bs, err := w.t.Blockers(pctx, w.pid)
	cancel()
	if err != nil {
		return
	}
	w.mu.Lock()
	if gen != w.gen {
		w.mu.Unlock()
		return // the statement ended while we asked
	}
	if len(bs) > 0 && w.waitStart.IsZero() {
		w.waitStart = time.Now()
	}
	for j := range bs {
		bs[j].Waited = time.Since(w.waitStart)
	}
	changed := blockersChanged(w.last, bs)
	if changed {
		if len(bs) == 0 {
			w.waitStart = time.Time{}
		}
		w.last = bs
	}
	w.mu.Unlock()
	if changed {
		// Still polling: end waits for this report before it returns.
		w.t.callback(func() { w.o.OnLockWait(i, bs) })
	}
}

// blockersChanged compares who blocks and what they do, not the clocks.
func blockersChanged(a, b []Blocker) bool {
	return !slices.EqualFunc(a, b, func(x, y Blocker) bool {
		return x.PID == y.PID && x.State == y.State && x.Query == y.Query
	})
}
