package steps

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/steps/lockcheck"
)

// Rehearsal is what `run --rehearse` measured of one sql step: it ran in
// a transaction that was always rolled back, while a second connection
// read pg_locks for the step's backend.
type Rehearsal struct {
	// Skipped says why the step was not rehearsed (a step with
	// transaction = false cannot be rolled back); nothing else is set.
	Skipped string `json:"skipped,omitempty"`
	// Elapsed is from BEGIN to the ROLLBACK.
	Elapsed time.Duration `json:"elapsed,omitempty"`
	// Locks are the table-level locks the step's backend held, the
	// strongest per relation.
	Locks []RehearsedLock `json:"locks,omitempty"`
	// Wrong lists the predictions the rehearsal proved wrong, one line
	// each (the relation, what was predicted, what was taken).
	Wrong []string `json:"wrong,omitempty"`
	// Error is the statement error that ended the rehearsal early (the
	// transaction was rolled back all the same).
	Error string `json:"error,omitempty"`
}

// RehearsedLock is one relation's lock as the rehearsal saw it.
type RehearsedLock struct {
	Rel  string `json:"rel"`
	Mode string `json:"mode"`
	// Predicted is the mode lockcheck predicted for the relation ("" when
	// it predicted none).
	Predicted string `json:"predicted,omitempty"`
	// Statement is the first statement (0-based) after which it was held.
	Statement int `json:"statement"`
	// Held is how long it was held: from the start of that statement to
	// the rollback.
	Held  time.Duration `json:"held"`
	Wrong bool          `json:"wrong,omitempty"`
}

// rehearseSQL runs sql step i in a rehearsal (run --rehearse): after the
// production consent and the approvals (it takes the same locks as the
// write), its statements run in one transaction that is always rolled back, with the
// usual live events; after each statement the side connection reads
// pg_locks for the work connection's backend. The locks seen (the
// strongest mode per relation, from the statement that first held it,
// and for how long: from that statement's start to the ROLLBACK) are
// compared with lockcheck's prediction and journaled (rehearsed). The
// step is then recorded as skipped (nothing of it stays), or failed when
// a statement failed. A step with transaction = false cannot be rolled
// back: it is skipped with the reason on the record.
func (e *Engine) rehearseSQL(ctx context.Context, i int, infos *StatementList) (flow, error) {
	id := e.plan[i].info.ID
	if !e.plan[i].step.IsTransactional() {
		if err := e.emit(Event{Type: EvRehearsed, Step: id, Rehearsal: &Rehearsal{
			Skipped: "transaction = false: its statements commit one by one and cannot be rolled back, so a rehearsal does not run them"}}); err != nil {
			return flowQuit, err
		}
		return flowNext, e.emit(Event{Type: EvStepSkipped, Step: id, Text: "dry run: not rehearsed (transaction = false)"})
	}
	if f, err := e.beforeWrite(ctx, i); err != nil || f != flowNext {
		return f, err
	}
	smp := &lockSampler{e: e, starts: make([]time.Time, infos.Len()), seen: map[string]*sampledLock{}}
	opts := e.execOptions(id, infos)
	opts.Rehearse = true
	start, done := opts.OnStatementStart, opts.OnStatementDone
	opts.OnStatementStart = func(k int) {
		smp.starts[k] = time.Now()
		start(k)
	}
	opts.OnStatementDone = func(k int, tag string, n int64, d time.Duration) {
		smp.sample(ctx, k)
		done(k, tag, n, d)
	}
	began := time.Now()
	then, err := e.during(ctx, func(ctx context.Context) error { return e.target.RunTransaction(ctx, infos, opts) })
	if serr := e.sinkFailed(); serr != nil {
		return flowQuit, serr
	}
	reh := smp.result(time.Now(), began, e.predictedLocks(i))
	if err != nil {
		reh.Error = err.Error()
	}
	if eerr := e.emit(Event{Type: EvRehearsed, Step: id, Rehearsal: reh}); eerr != nil {
		return flowQuit, eerr
	}
	if err == nil {
		f, ferr := flowNext, e.emit(Event{Type: EvStepSkipped, Step: id, Text: "dry run: rehearsed in a transaction that was rolled back; nothing of it stays"})
		return afterDuring(f, ferr, then)
	}
	// A failure is recorded as a write's (what, where, what to do; the
	// reconnect after a lost connection).
	f, ferr := e.sqlResult(ctx, i, infos, true, err)
	return afterDuring(f, ferr, then)
}

// lockSampler collects what pg_locks shows of the work connection's
// backend after each statement of a rehearsal.
type lockSampler struct {
	e      *Engine
	starts []time.Time
	seen   map[string]*sampledLock
	order  []string
	err    error
}

type sampledLock struct {
	mode      lockcheck.Mode
	statement int
	kind      string
}

// sample reads the relation locks the work backend holds now.
func (smp *lockSampler) sample(ctx context.Context, k int) {
	pid := smp.e.target.WorkPID()
	err := smp.e.target.Inspect(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `select coalesce(quote_ident(n.nspname) || '.' || quote_ident(c.relname), 'relation ' || l.relation::text || ' (created by the step)'),
  coalesce(c.relkind::text, ''), l.mode,
  coalesce(n.nspname in ('pg_catalog', 'information_schema', 'pg_toast') or n.nspname like 'pg_temp%' or n.nspname like 'pg_toast_temp%', false)
from pg_locks l left join pg_class c on c.oid = l.relation left join pg_namespace n on n.oid = c.relnamespace
where l.pid = $1 and l.locktype = 'relation' and l.granted
  and l.database = (select oid from pg_database where datname = current_database())`, pid)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name, kind, mode string
			var system bool
			if err := rows.Scan(&name, &kind, &mode, &system); err != nil {
				return err
			}
			m, ok := lockcheck.ParsePgLocksMode(mode)
			if !ok || system {
				continue
			}
			if s := smp.seen[name]; s != nil {
				s.mode = max(s.mode, m)
				continue
			}
			smp.seen[name] = &sampledLock{mode: m, statement: k, kind: kind}
			smp.order = append(smp.order, name)
		}
		return rows.Err()
	})
	if err != nil && smp.err == nil {
		smp.err = err
	}
}

// predicted is lockcheck's prediction for one relation of a step.
type predicted struct {
	mode    lockcheck.Mode
	exists  bool
	excused bool // the statement's locks are not fully known
}

// predictedLocks is the weighed prediction of step i, per relation.
func (e *Engine) predictedLocks(i int) map[string]predicted {
	out := map[string]predicted{}
	e.with(func(s *State) {
		r := s.Steps[i].Locks
		if r == nil || r.Analysis == nil {
			return
		}
		for _, sl := range r.Analysis.Statements {
			for _, l := range sl.Locks {
				if l.Mode == lockcheck.NoLock {
					continue
				}
				k := l.Rel.String()
				p := out[k]
				p.mode = max(p.mode, l.Mode)
				p.exists = p.exists || (r.Analysis.Relations[k].Exists && !l.New)
				out[k] = p
			}
			for _, m := range sl.Maybe {
				k := m.Rel.String()
				p := out[k]
				p.excused = true
				out[k] = p
			}
			if sl.Unknown != "" {
				out[""] = predicted{excused: true}
			}
		}
	})
	return out
}

// result compares what was seen with the prediction.
func (smp *lockSampler) result(end, began time.Time, pred map[string]predicted) *Rehearsal {
	r := &Rehearsal{Elapsed: end.Sub(began)}
	for _, name := range smp.order {
		s := smp.seen[name]
		rl := RehearsedLock{Rel: name, Mode: s.mode.String(), Statement: s.statement}
		if t := smp.starts[s.statement]; !t.IsZero() {
			rl.Held = end.Sub(t)
		}
		p, ok := pred[name]
		if ok && p.mode != lockcheck.NoLock {
			rl.Predicted = p.mode.String()
		}
		table := strings.Contains("rpmvf", s.kind) && s.kind != ""
		switch {
		case ok && p.mode != lockcheck.NoLock && p.mode != s.mode:
			rl.Wrong = true
			r.Wrong = append(r.Wrong, fmt.Sprintf("%s: predicted %s, the server held %s", name, p.mode, s.mode))
		case table && (!ok || p.mode == lockcheck.NoLock) && !p.excused && !pred[""].excused:
			rl.Wrong = true
			r.Wrong = append(r.Wrong, fmt.Sprintf("%s: the server held %s, which the prediction does not name", name, s.mode))
		}
		r.Locks = append(r.Locks, rl)
	}
	var missing []string
	for name, p := range pred {
		if name != "" && p.exists && p.mode != lockcheck.NoLock && smp.seen[name] == nil && smp.err == nil {
			missing = append(missing, fmt.Sprintf("%s: predicted %s, the server held no lock on it", name, p.mode))
		}
	}
	slices.Sort(missing)
	r.Wrong = append(r.Wrong, missing...)
	if smp.err != nil {
		r.Wrong = append(r.Wrong, "pg_locks could not be read after every statement: "+smp.err.Error())
	}
	return r
}
