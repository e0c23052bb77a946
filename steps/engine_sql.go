package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/steps/expect"
)

// rowBatchSize is how many rows one rows event carries at most.
const rowBatchSize = 100

// runSQL shows the statements, waits for CmdNext, then runs them (apply)
// or records what would have run (dry run).
func (e *Engine) runSQL(ctx context.Context, i int, run bool) (flow, error) {
	id := e.plan[i].info.ID
	infos, err := e.rb.stepList(e.plan[i].step) // the runbook's list, shared read-only with the events
	if err != nil {
		return flowFailed, e.emit(Event{Type: EvStepFailed, Step: id, Error: &ErrorInfo{
			Message: "cannot read the step's statements: " + err.Error(),
			Where:   e.stepWhere(i),
			Hint:    "fix the runbook (handrail lint); nothing was run",
		}})
	}
	if f, err := e.weighLocks(ctx, i); err != nil || f != flowNext {
		return f, err
	}
	if err := e.emit(Event{Type: EvStepWouldRun, Step: id, Statements: infos}); err != nil {
		return flowQuit, err
	}
	if ok, f, err := e.gate(ctx, i, run); !ok {
		return f, err
	}
	if e.cfg.Rehearse {
		return e.rehearseSQL(ctx, i, infos)
	}
	if !e.cfg.Apply {
		return flowNext, e.emit(Event{Type: EvStepSkipped, Step: id,
			Text: fmt.Sprintf("dry run: would run %s", plural(infos.Len(), "statement"))})
	}
	if f, err := e.beforeWrite(ctx, i); err != nil || f != flowNext {
		return f, err
	}
	return e.execSQL(ctx, i, infos)
}

func statementInfos(stmts []Statement) []StatementInfo {
	infos := make([]StatementInfo, len(stmts))
	for k, s := range stmts {
		infos[k] = StatementInfo{Index: k, Count: len(stmts), SQL: s.SQL, File: s.File, Line: s.Line}
	}
	return infos
}

// execSQL records the intent (the sink has made it durable when emit
// returns), then sends the statements with live events, then records the
// result.
func (e *Engine) execSQL(ctx context.Context, i int, infos *StatementList) (flow, error) {
	id := e.plan[i].info.ID
	if err := e.emit(Event{Type: EvIntent, Step: id, Statements: infos}); err != nil {
		return flowQuit, err // never act unrecorded
	}
	e.mu.Lock()
	e.lastBlockers = nil
	e.mu.Unlock()
	opts := e.execOptions(id, infos)
	transactional := e.plan[i].step.IsTransactional()
	then, err := e.during(ctx, func(ctx context.Context) error {
		if transactional {
			return e.target.RunTransaction(ctx, infos, opts)
		}
		return e.target.RunEach(ctx, infos, opts)
	})
	if serr := e.sinkFailed(); serr != nil {
		return flowQuit, serr
	}
	f, ferr := e.sqlResult(ctx, i, infos, transactional, err)
	return afterDuring(f, ferr, then)
}

// execOptions wires the statement callbacks to events of step id.
func (e *Engine) execOptions(id string, infos *StatementList) db.ExecOptions {
	keep := e.rb.KeepRows()
	var mu sync.Mutex
	var rows *rowTracker
	return db.ExecOptions{
		LockTimeout:      e.rb.LockTimeout(),
		StatementTimeout: e.rb.StatementTimeout(),
		KeepRows:         keep,
		BatchRows:        rowBatchSize,
		OnStatementStart: func(k int) {
			mu.Lock()
			rows = newRowTracker(e, id, keep)
			mu.Unlock()
			st := infos.At(k)
			_ = e.emit(Event{Type: EvStatementStarted, Step: id, Statement: &st})
		},
		OnRows: func(k int, columns []string, batch [][]any, total int64) {
			mu.Lock()
			defer mu.Unlock()
			if rows == nil {
				rows = newRowTracker(e, id, keep)
			}
			rows.add(columns, batch, total)
		},
		OnStatementDone: func(k int, tag string, affected int64, elapsed time.Duration) {
			mu.Lock()
			if rows != nil {
				rows.flush()
			}
			rows = nil
			mu.Unlock()
			st := infos.At(k)
			st.Tag, st.RowsAffected, st.Elapsed = tag, affected, elapsed
			_ = e.emit(Event{Type: EvStatementFinished, Step: id, Statement: &st})
		},
		OnStatementNext: func(k int, tag string, affected int64, elapsed time.Duration) {
			mu.Lock()
			if rows != nil {
				rows.flush()
			}
			rows = newRowTracker(e, id, keep)
			mu.Unlock()
			done, next := infos.At(k), infos.At(k+1)
			done.Tag, done.RowsAffected, done.Elapsed = tag, affected, elapsed
			_ = e.emitTogether(Event{Type: EvStatementFinished, Step: id, Statement: &done},
				Event{Type: EvStatementStarted, Step: id, Statement: &next})
		},
		OnLockWait: func(k int, blockers []db.Blocker) {
			if len(blockers) > 0 {
				e.mu.Lock()
				e.lastBlockers = blockers
				e.mu.Unlock()
			}
			_ = e.emit(Event{Type: EvLockWait, Step: id, Blockers: blockers})
		},
	}
}

// sqlResult records how the statements ended and decides what follows.
func (e *Engine) sqlResult(ctx context.Context, i int, infos *StatementList, transactional bool, err error) (flow, error) {
	id := e.plan[i].info.ID
	if err == nil {
		return e.succeed(i)
	}
	ev := e.sqlFailure(infos, transactional, err)
	ev.Step = id
	if err := e.emit(ev); err != nil {
		return flowQuit, err
	}
	f := flowFailed
	if ev.Type == EvStepOutcomeUnknown {
		f = flowUnknown
	}
	var ee *db.ExecError
	if !transactional && ev.Type == EvStepFailed && !isConnLost(err) && errors.As(err, &ee) && ee.Index >= 0 && ee.Index < infos.Len() {
		if err := e.findInvalidLeft(ctx, i, infos.At(ee.Index)); err != nil {
			return flowQuit, err
		}
	}
	if isConnLost(err) {
		if rf, rerr := e.recoverConnection(ctx); rerr != nil || rf != flowNext {
			return rf, rerr
		}
	}
	return f, nil
}

// sqlFailure turns an execution error into the event that records it:
// what happened, where, what it left behind, and what to do.
func (e *Engine) sqlFailure(infos *StatementList, transactional bool, err error) Event {
	var ee *db.ExecError
	if !errors.As(err, &ee) {
		return Event{Type: EvStepFailed, Error: &ErrorInfo{
			Message: "the step could not run: " + err.Error(),
			Hint:    "nothing of this step was sent, or the server rolled it back; " + e.choices("retry the step"),
		}}
	}
	at, where := e.statementAt(infos, ee.Index)
	info := &ErrorInfo{
		SQLState: ee.SQLState, Detail: ee.Detail, Where: where,
		RolledBack: ee.RolledBack || (transactional && !ee.OutcomeUnknown),
	}
	left := leftBehind(transactional, ee.Index)
	switch {
	case ee.OutcomeUnknown:
		info.RolledBack = false
		info.Message = fmt.Sprintf("connection to %s lost during COMMIT; the server may or may not have committed the step", e.host)
		info.Hint = "handrail cannot know whether the step was applied: check the database, then mark the step applied or not applied (with a reason); it is never re-run automatically"
		return Event{Type: EvStepOutcomeUnknown, Error: info}
	case ee.Cancelled:
		info.Message = fmt.Sprintf("cancelled %s during %s; %s", e.cancelledBy(), at, left)
		if ee.ConnectionLost {
			info.Message += " (the server did not answer the cancel request in time, so the connection was closed)"
		}
		info.Hint = e.choices("retry the step")
		return Event{Type: EvStepCancelled, Error: info}
	case ee.ConnectionLost:
		info.Message = fmt.Sprintf("connection to %s lost during %s; %s", e.host, at, left)
		info.Hint = "handrail reconnects and verifies the target again; then " + e.choices("retry the step")
		return Event{Type: EvStepFailed, Error: info}
	case ee.LockTimeout || ee.SQLState == "55P03":
		info.Retryable = true
		info.Message = fmt.Sprintf("lock timeout (%s) during %s: %s; %s", e.rb.LockTimeout(), at, ee.Message, left)
		e.mu.Lock()
		info.Blockers = e.lastBlockers
		e.mu.Unlock()
		info.Hint = "another session holds a lock this statement needs: wait for it to finish or end it, then retry the step"
		if len(info.Blockers) > 0 {
			info.Hint = "another session holds a lock this statement needs (the sessions it waited for are listed below): wait for it to finish or end it, then retry the step"
		}
		return Event{Type: EvStepFailed, Error: info}
	case ee.StatementTimeout:
		info.Message = fmt.Sprintf("statement_timeout (%s) reached during %s: %s; %s", e.rb.StatementTimeout(), at, ee.Message, left)
		info.Hint = "the statement ran longer than statement_timeout; if that is expected, raise [settings] statement_timeout, then retry"
		return Event{Type: EvStepFailed, Error: info}
	}
	info.Message = fmt.Sprintf("%s failed: %s; %s", at, ee.Message, left)
	info.Hint = joinHint(ee.Hint, "fix the cause, then "+e.choices("retry the step"))
	if ee.Position > 0 {
		info.Detail = joinHint(info.Detail, fmt.Sprintf("at character %d of the statement", ee.Position))
	}
	return Event{Type: EvStepFailed, Error: info}
}

// choices lists what the operator may do after a failure, "a, b, or
// quit": roll back only when the runbook has [rollback] steps (R is
// refused otherwise).
func choices(rollback bool, first ...string) string {
	c := slices.Clone(first)
	if rollback {
		c = append(c, "roll back")
	}
	c = append(c, "quit")
	if len(c) == 2 {
		return c[0] + " or " + c[1]
	}
	return strings.Join(c[:len(c)-1], ", ") + ", or " + c[len(c)-1]
}

func (e *Engine) choices(first ...string) string {
	return choices(len(e.rb.Rollback.Steps) > 0, first...)
}

// statementAt names statement k: "statement 2 of 5 (migrations/001.sql:14)".
func (e *Engine) statementAt(infos *StatementList, k int) (at, where string) {
	switch {
	case k == infos.Len():
		return "COMMIT", ""
	case k < 0 || k > infos.Len():
		return "the step's setup (BEGIN, SET)", ""
	}
	s := infos.At(k)
	where = Statement{File: s.File, Line: s.Line}.Where()
	if s.File == "" && s.Line == 0 {
		where = ""
	}
	at = fmt.Sprintf("statement %d of %d", k+1, infos.Len())
	if where != "" {
		at += " (" + where + ")"
	}
	return at, where
}

// leftBehind says what the failure left in the database.
func leftBehind(transactional bool, k int) string {
	if transactional {
		return "the transaction was rolled back by the server: nothing of this step remains"
	}
	if k <= 0 {
		return "no statement of this step had completed"
	}
	if k == 1 {
		return "statement 1 had completed and stays (transaction = false)"
	}
	return fmt.Sprintf("statements 1 to %d had completed and stay (transaction = false)", k)
}

func joinHint(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return strings.TrimSuffix(a, ".") + "; " + b
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// rowTracker turns one result's row callbacks into rows events, keeping at
// most keep rows in events; past that it only reports the running total,
// at most every rowTotalEvery, and once more at the end (flush).
type rowTracker struct {
	e        *Engine
	step     string
	keep     int
	kept     int
	total    int64
	reported int64
	cols     bool
	last     time.Time
}

const rowTotalEvery = 500 * time.Millisecond

func newRowTracker(e *Engine, step string, keep int) *rowTracker {
	return &rowTracker{e: e, step: step, keep: keep, reported: -1}
}

func (r *rowTracker) add(columns []string, batch [][]any, total int64) {
	r.total = total
	b := &RowBatch{Total: total}
	if !r.cols && columns != nil {
		b.Columns = columns
		r.cols = true
	}
	if room := r.keep - r.kept; room > 0 {
		n := min(room, len(batch))
		b.Rows = formatRows(batch[:n])
		r.kept += n
	}
	b.Dropped = total - int64(r.kept)
	if b.Columns == nil && b.Rows == nil && time.Since(r.last) < rowTotalEvery {
		return
	}
	r.send(b)
}

// flush reports the final total if the last event did not.
func (r *rowTracker) flush() {
	if r.reported != r.total && (r.cols || r.total > 0) {
		r.send(&RowBatch{Total: r.total, Dropped: r.total - int64(r.kept)})
	}
}

func (r *rowTracker) send(b *RowBatch) {
	r.reported = b.Total
	r.last = time.Now()
	_ = r.e.emit(Event{Type: EvRows, Step: r.step, Rows: b})
}

func formatRows(rows [][]any) [][]string {
	out := make([][]string, len(rows))
	for k, row := range rows {
		out[k] = make([]string, len(row))
		for c, v := range row {
			out[k][c] = expect.FormatValue(v)
		}
	}
	return out
}
