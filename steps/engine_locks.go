package steps

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/steps/lockcheck"
)

// weighLocks analyses the locks of sql step i (package lockcheck), weighs
// them on the target, read-only on the side connection (sizes, who holds
// a conflicting lock now, what a CONCURRENTLY build would wait for, the
// INVALID indexes on its tables), and records it all (locks_weighed)
// before the step is shown: a high-severity finding that no allow comment
// accepts must then be acknowledged before the step runs (State.Accepts).
// A weighing that fails is recorded and the step goes on unweighed; only
// the end of ctx stops it (flowQuit).
func (e *Engine) weighLocks(ctx context.Context, i int) (flow, error) {
	p := e.plan[i]
	rep := &StepLocksReport{Step: p.info.ID, Title: p.info.Title, Rollback: p.info.Rollback}
	an, aerr := e.rb.StepLocks(p.step)
	rep.Analysis = an
	switch {
	case aerr != nil:
		rep.Error = "cannot analyse the step's statements: " + aerr.Error()
	case an == nil:
		return flowNext, nil
	default:
		// On the engine's goroutine, not in during: commands that arrive
		// meanwhile stay queued for the step's gate, which answers them
		// once the step is shown (the weighing is bounded by the side
		// connection's statement_timeout).
		if err := weighSteps(ctx, e.target, e.rb, rep); err != nil {
			if ctx.Err() != nil {
				return flowQuit, ctx.Err()
			}
			rep.Error = fmt.Sprintf("not weighed on the target: %v; the locks shown are what the text says", err)
			rep.InvalidIndexes = nil
		}
	}
	rep.Analysis = journaled(rep.Analysis)
	if err := e.emit(Event{Type: EvLocksWeighed, Step: p.info.ID, Locks: rep}); err != nil {
		return flowQuit, err
	}
	return flowNext, nil
}

// acknowledge records the operator's typed acknowledgement of a
// high-severity lock finding (State.Admit checked the rule id).
func (e *Engine) acknowledge(i int, c Command) error {
	return e.emit(Event{Type: EvLockAcknowledged, Step: e.plan[i].info.ID, Text: strings.TrimSpace(c.Text)})
}

// concurrentBuild reports whether a statement of this command (as
// lockcheck names it) builds an index CONCURRENTLY: when it fails it
// leaves an INVALID index behind.
func concurrentBuild(command string) bool {
	return strings.HasSuffix(command, " CONCURRENTLY") &&
		(strings.HasPrefix(command, "CREATE ") || strings.HasPrefix(command, "REINDEX "))
}

// findInvalidLeft runs after a statement of sql step i failed: when it
// was a CREATE INDEX or REINDEX CONCURRENTLY, it looks up the INVALID
// indexes on the statement's tables that were not there when the step
// was weighed (what the failed build left) and records them
// (invalid_index_found), so the operator is offered to drop exactly
// those before the retry (drop_invalid_index). A look-up that fails is
// recorded as a notice of the step and changes nothing.
func (e *Engine) findInvalidLeft(ctx context.Context, i int, failed StatementInfo) error {
	id := e.plan[i].info.ID
	var tables []lockcheck.Rel
	var before []lockcheck.InvalidIndex
	e.with(func(s *State) {
		st := &s.Steps[i]
		if st.Locks == nil || st.Locks.Analysis == nil {
			return
		}
		// The recorded analysis keeps only the statements that matter
		// (journaled), so the failed one is found by where it stands in
		// the source, not by its index in the step.
		k := slices.IndexFunc(st.Locks.Analysis.Statements, func(sl lockcheck.StatementLocks) bool {
			return sl.File == failed.File && sl.Line == failed.Line && concurrentBuild(sl.Command)
		})
		if k < 0 {
			return
		}
		for _, l := range st.Locks.Analysis.Statements[k].Locks {
			tables = append(tables, l.Rel)
		}
		before = st.Locks.InvalidIndexes
	})
	if len(tables) == 0 {
		return nil
	}
	var found []lockcheck.InvalidIndex
	err := e.target.Inspect(ctx, func(tx pgx.Tx) error {
		all, err := lockcheck.InvalidIndexes(ctx, tx, tables...)
		for _, ix := range all {
			if !slices.ContainsFunc(before, func(b lockcheck.InvalidIndex) bool { return b.Index == ix.Index }) {
				found = append(found, ix)
			}
		}
		return err
	})
	if err != nil {
		return e.emit(Event{Type: EvNotice, Step: id, Notice: &Notice{Severity: "WARNING",
			Message: fmt.Sprintf("could not look for the INVALID index the failed statement may have left: %v", err),
			Hint:    "look in pg_index for indisvalid = false on the table, and drop it with DROP INDEX CONCURRENTLY before retrying"}})
	}
	if len(found) == 0 {
		return nil
	}
	return e.emit(Event{Type: EvInvalidIndexFound, Step: id, Invalid: found})
}

// dropInvalid drops, one by one, the INVALID indexes the failed step left
// (State: Steps[i].Invalid), each with DROP INDEX CONCURRENTLY IF EXISTS
// of exactly that index, outside a transaction as the build was. Each
// drop's statement is journaled (invalid_index_drop, fsynced) before it
// is sent, and its result after (invalid_index_dropped). The step stays
// failed: the operator retries it next. The flow is flowQuit or
// flowRollback when the operator asked for that meanwhile.
func (e *Engine) dropInvalid(ctx context.Context, i int) (flow, error) {
	id := e.plan[i].info.ID
	var bad []lockcheck.InvalidIndex
	e.with(func(s *State) { bad = slices.Clone(s.Steps[i].Invalid) })
	for _, ix := range bad {
		sql := ix.DropSQL()
		drop := ListOf([]StatementInfo{{Count: 1, SQL: sql}})
		if err := e.emit(Event{Type: EvInvalidIndexDrop, Step: id, Text: ix.Index.String(), Statements: drop}); err != nil {
			return flowQuit, err
		}
		f, derr := e.during(ctx, func(ctx context.Context) error {
			return e.target.RunEach(ctx, db.SQLs{sql}, db.ExecOptions{LockTimeout: e.rb.LockTimeout(), StatementTimeout: e.rb.StatementTimeout()})
		})
		pass := derr == nil
		ev := Event{Type: EvInvalidIndexDropped, Step: id, Pass: &pass, Text: ix.Index.String()}
		if derr != nil {
			ev.Error = e.sqlFailure(drop, false, derr).Error
			ev.Error.Hint = "the index is still there: retry the drop, or drop it by hand (" + sql + ")"
		}
		if err := e.emit(ev); err != nil {
			return flowQuit, err
		}
		if f != flowNext {
			return f, nil
		}
		if derr != nil {
			if isConnLost(derr) {
				return e.recoverConnection(ctx)
			}
			break
		}
	}
	return flowNext, nil
}

// journaled is the part of a weighed analysis the session records and
// shows: the statements that lock an existing relation, whose locks are
// unknown or depend on the catalog, that wait for other transactions, or
// that a finding is about (Finding.Statement renumbered). A long
// migration's statements on the tables it creates itself lock nobody:
// 20,000 inserts into them would otherwise be megabytes in the journal
// and in every screen's state, saying nothing.
func journaled(an *lockcheck.Analysis) *lockcheck.Analysis {
	if an == nil {
		return nil
	}
	about := map[int]bool{}
	for _, f := range an.Findings {
		about[f.Statement] = true
	}
	var kept []lockcheck.StatementLocks
	var from []int // from[j]: the index in an.Statements of kept[j]
	for k, sl := range an.Statements {
		if !about[k] && sl.Unknown == "" && len(sl.Maybe) == 0 && len(sl.WaitsFor) == 0 &&
			!slices.ContainsFunc(sl.Locks, func(l lockcheck.Lock) bool { return !l.New && l.Mode != lockcheck.NoLock }) {
			continue
		}
		from = append(from, k)
		kept = append(kept, sl)
	}
	if len(kept) == len(an.Statements) {
		return an
	}
	out := *an
	out.Statements = kept
	out.Findings = slices.Clone(an.Findings)
	for i := range out.Findings {
		// Every finding's statement is kept (about), so it is found in from.
		out.Findings[i].Statement, _ = slices.BinarySearch(from, out.Findings[i].Statement)
	}
	return &out
}
