package lockcheck

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// holders lists the sessions holding or waiting for a lock on the
// relation (not ours, not the ignored ones), cached per relation.
func (w *weigher) holders(ctx context.Context, f *relFacts) ([]Session, error) {
	if f.holdersDone {
		return f.holders, nil
	}
	ignore := make([]int32, 0, len(w.o.IgnorePIDs))
	for _, p := range w.o.IgnorePIDs {
		ignore = append(ignore, int32(p))
	}
	rows, err := w.q.Query(ctx, `select l.pid, l.mode::text, l.granted, coalesce(a.state, ''), coalesce(a.application_name, ''),
  coalesce(a.usename::text, ''), coalesce(a.query, ''),
  coalesce(extract(epoch from now() - a.xact_start), 0)::float8, coalesce(extract(epoch from now() - a.state_change), 0)::float8
from pg_locks l left join pg_stat_activity a on a.pid = l.pid
where l.locktype = 'relation' and l.relation = $1::oid
  and l.database = (select oid from pg_database where datname = current_database())
  and l.pid is not null and l.pid <> pg_backend_pid() and l.pid <> all($2::int4[])
order by l.granted desc, l.pid`, f.oid, ignore)
	if err != nil {
		return nil, fmt.Errorf("listing the locks on %s: %w", f.rel, err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		var s Session
		var mode string
		var xact, state float64
		if err := rows.Scan(&s.PID, &mode, &s.Granted, &s.State, &s.ApplicationName, &s.User, &s.Query, &xact, &state); err != nil {
			return nil, err
		}
		m, ok := ParsePgLocksMode(mode)
		if !ok {
			continue
		}
		s.Mode, s.Rel = m, f.rel
		s.XactAge, s.StateAge = secs(xact), secs(state)
		out = append(out, s)
	}
	f.holders, f.holdersDone = out, true
	return out, rows.Err()
}

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// queue fills in, for each lock of statement i, the sessions it would
// wait for, and adds a lock-queue finding where one of them will not end
// soon. The statement's record may be shared with its neighbours: what
// changes is stored as a new one (setPrediction).
func (w *weigher) queue(ctx context.Context, an *Analysis, i int) error {
	p := an.Statements[i].Prediction
	locks := p.Locks // copied at the first lock whose Waits change
	changed := false
	var queueOn *relFacts // where a stuck session makes the request queue
	queueLock := 0
	for k, l := range p.Locks {
		if l.New || l.OnTableOf {
			continue
		}
		f, err := w.rel(ctx, l.Rel)
		if err != nil {
			return err
		}
		if !f.exists {
			continue
		}
		hs, err := w.holders(ctx, f)
		if err != nil {
			return err
		}
		info := an.Relations[f.rel.String()]
		info.Holders = hs
		an.Relations[f.rel.String()] = info
		var waits []Session
		for _, h := range hs {
			if !l.Mode.Conflicts(h.Mode) {
				continue
			}
			waits = append(waits, h)
			// One lock-queue finding per statement: on its first table
			// (an index's holders are its table's too).
			if w.stuck(h) && (queueOn == nil || (queueOn.kind == 'i' || queueOn.kind == 'I') && f.kind != 'i' && f.kind != 'I') {
				queueOn, queueLock = f, k
			}
		}
		if !slices.Equal(waits, l.Waits) {
			if !changed {
				locks, changed = slices.Clone(p.Locks), true
			}
			locks[k].Waits = waits
		}
	}
	if queueOn != nil {
		w.addQueueFinding(an, i, locks[queueLock])
	}
	waitsFor := p.WaitsFor
	if strings.Contains(p.Command, "CONCURRENTLY") && len(locks) > 0 {
		var table Rel
		for _, l := range locks {
			if l.Mode == ShareUpdateExclusive {
				table = l.Rel
			}
		}
		if !table.IsZero() {
			ws, err := ConcurrentWaiters(ctx, w.q, p.Command, table, w.o.IgnorePIDs)
			if err != nil {
				return err
			}
			waitsFor = ws
		}
	}
	if changed || !slices.Equal(waitsFor, p.WaitsFor) {
		np := *p
		np.Locks, np.WaitsFor = locks, waitsFor
		an.setPrediction(i, np)
	}
	return nil
}

// stuck reports whether a session will not let go soon: idle in its
// transaction, or in one for longer than LongTransaction.
func (w *weigher) stuck(s Session) bool {
	return strings.HasPrefix(s.State, "idle in transaction") || s.XactAge >= w.o.long()
}

// addQueueFinding adds statement i's lock-queue finding on lock l. It
// takes l by value: locks may still be the statement's stored record,
// which neighbours share and nothing may write into.
func (w *weigher) addQueueFinding(an *Analysis, i int, l Lock) {
	sl := an.Statements[i]
	var who []string
	for _, s := range l.Waits {
		if w.stuck(s) {
			who = append(who, s.Describe())
		}
	}
	bound := "lock_timeout"
	if w.o.LockTimeout > 0 {
		bound = fmt.Sprintf("lock_timeout (%s)", w.o.LockTimeout)
	}
	an.Findings = append(an.Findings, Finding{Rule: RuleLockQueue, Statement: i, File: sl.File, Line: sl.Line, Rel: l.Rel,
		Safer: rulesByID[RuleLockQueue].Safer, base: High,
		Why: fmt.Sprintf("%s needs %s on %s, which conflicts with a lock held now by %s: the request will wait for it until %s fails the step, and every later query on %s that conflicts with %s queues behind the request meanwhile",
			sl.Command, l.Mode, l.Rel, strings.Join(who, "; "), bound, l.Rel, l.Mode)})
}
