package steps

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/steps/expect"
)

// runCheck runs a read-only check (on CmdNext, or at once in the
// rollback) and applies on_fail when it fails.
func (e *Engine) runCheck(ctx context.Context, i int, run bool) (flow, error) {
	if ok, f, err := e.gate(ctx, i, run); !ok {
		return f, err
	}
	s := e.plan[i].step
	// The query is running: the step list says so and ctrl+c cancels it.
	q := StatementInfo{Index: 0, Count: 1, SQL: s.SQL, File: e.runbookFile(), Line: s.Line}
	if err := e.emit(Event{Type: EvStatementStarted, Step: e.plan[i].info.ID, Statement: &q}); err != nil {
		return flowQuit, err
	}
	var rep *CheckReport
	var pass bool
	var qerr error
	then, err := e.during(ctx, func(ctx context.Context) error {
		rep, pass, qerr = e.evaluate(ctx, e.plan[i].info.ID, s.SQL, s.AsRole, s.SessionVars, s.Expectation())
		return qerr
	})
	if serr := e.sinkFailed(); serr != nil {
		return flowQuit, serr
	}
	f, ferr := e.checkResult(ctx, i, rep, pass, err, then == flowNext)
	return afterDuring(f, ferr, then)
}

// afterDuring is what follows a step whose result f was recorded when the
// operator asked, while it ran, to quit or to roll back (then): that,
// unless the session cannot go on.
func afterDuring(f flow, err error, then flow) (flow, error) {
	if err != nil || f == flowEnd || then == flowNext {
		return f, err
	}
	return then, nil
}

// checkResult records the check's verdict and decides what follows. A
// passing report check shows its rows until the operator moves on (wait).
func (e *Engine) checkResult(ctx context.Context, i int, rep *CheckReport, pass bool, err error, wait bool) (flow, error) {
	id := e.plan[i].info.ID
	if isCancelled(err) {
		return flowFailed, e.emit(Event{Type: EvStepCancelled, Step: id, Error: &ErrorInfo{
			Message: "check cancelled " + e.cancelledBy(), Where: e.stepWhere(i), RolledBack: true,
			Hint: e.choices("retry the check", "skip it with a reason"),
		}})
	}
	typ := EvCheckPassed
	if !pass {
		typ = EvCheckFailed
	}
	if err := e.emit(Event{Type: typ, Step: id, Check: rep}); err != nil {
		return flowQuit, err
	}
	if pass {
		if wait && e.plan[i].step.Report {
			f, err := e.await(ctx, "while the report is shown", handlers{
				CmdNext: func(Command) (flow, bool, error) { return flowNext, true, nil },
			})
			if err != nil || f != flowNext {
				return f, err
			}
		}
		return e.succeed(i)
	}
	f, ferr := e.checkFailed(i, rep)
	if ferr == nil && err != nil && isConnLost(err) {
		if rf, rerr := e.recoverConnection(ctx); rerr != nil || rf != flowNext {
			return rf, rerr
		}
	}
	return f, ferr
}

// checkFailed records a failed check: as a dry run expects it, or by its
// on_fail.
func (e *Engine) checkFailed(i int, rep *CheckReport) (flow, error) {
	msg := "check failed: " + rep.Summary
	if f, ok, err := e.dryRunExpected(i, msg); ok {
		return f, err
	}
	return e.failByPolicy(i, msg, rep.Summary)
}

// failByPolicy records a failed check or manual step and applies on_fail:
// "continue" goes on; "rollback" offers the rollback (when anything was
// written) and waits; "stop" waits for retry, skip, rollback or quit.
func (e *Engine) failByPolicy(i int, msg, why string) (flow, error) {
	p := e.plan[i].info
	info := &ErrorInfo{Message: msg, Where: e.stepWhere(i)}
	switch p.OnFail {
	case "continue":
		info.Hint = "on_fail = continue: the runbook goes on; this failure is in the session's outcome"
	case "rollback":
		info.Hint = "on_fail = rollback: roll back now, or retry, skip with a reason, or quit"
	default:
		info.Hint = e.choices("retry", "skip with a reason")
	}
	if err := e.emit(Event{Type: EvStepFailed, Step: p.ID, Error: info}); err != nil {
		return flowQuit, err
	}
	switch p.OnFail {
	case "continue":
		return flowNext, nil
	case "rollback":
		can := false
		e.with(func(s *State) { can = s.CanRollback() })
		if can {
			if err := e.emit(Event{Type: EvRollbackOffered, Step: p.ID, Text: fmt.Sprintf("%s failed: %s", p.Title, why)}); err != nil {
				return flowQuit, err
			}
		}
	}
	return flowFailed, nil
}

// dryRunExpected records a check that failed in a dry run after writes
// were only shown: it most likely verifies what they would have changed,
// so it is marked as expected (not a real FAIL) and the run goes on.
func (e *Engine) dryRunExpected(i int, msg string) (flow, bool, error) {
	n := 0
	e.with(func(s *State) { n = s.DryRunSkippedWrites() })
	if e.cfg.Apply || n == 0 {
		return flowNext, false, nil
	}
	err := e.emit(Event{Type: EvStepFailed, Step: e.plan[i].info.ID, Error: &ErrorInfo{
		Message: fmt.Sprintf("%s; expected in a dry run: %s shown, not run, and this check may verify what they would have changed", msg, plural(n, "write step")),
		Where:   e.stepWhere(i),
		Hint:    "nothing to do in a dry run; with --apply the writes are made and this check must pass",
		DryRun:  true,
	}})
	return flowNext, true, err
}

// evaluate runs a read-only query (as role, with settings, always rolled
// back), streams its rows as events of step, and compares the result
// with exp. A query error is a failed check whose report says why.
func (e *Engine) evaluate(ctx context.Context, step, sql, asRole string, settings map[string]string, exp Expectation) (*CheckReport, bool, error) {
	keep := e.rb.KeepRows()
	var mu sync.Mutex
	rows := newRowTracker(e, step, keep)
	res, err := e.target.Query(ctx, sql, db.QueryOptions{
		AsRole: asRole, Settings: settings, KeepRows: keep,
		StatementTimeout: e.rb.StatementTimeout(),
		OnRows: func(columns []string, batch [][]any, total int64) {
			mu.Lock()
			defer mu.Unlock()
			rows.add(columns, batch, total)
		},
	})
	mu.Lock()
	rows.flush()
	mu.Unlock()
	rep := &CheckReport{SQL: sql, Expect: exp.String(), AsRole: asRole}
	if err != nil {
		rep.Summary = "query failed: " + queryError(err)
		return rep, false, err
	}
	return rep, fillReport(rep, exp, res, keep), nil
}

// queryError renders a query error with its SQLSTATE and hint.
func queryError(err error) string {
	var ee *db.ExecError
	if errors.As(err, &ee) {
		msg := ee.Message
		if ee.SQLState != "" {
			msg += " (SQLSTATE " + ee.SQLState + ")"
		}
		if ee.Hint != "" {
			msg += "; hint: " + ee.Hint
		}
		return msg
	}
	return err.Error()
}

// fillReport compares the kept rows (and the server's total) with exp and
// reports whether the check passed.
func fillReport(rep *CheckReport, exp Expectation, res db.QueryResult, keep int) bool {
	rep.Columns = res.Columns
	rows := res.Rows
	if len(rows) > keep {
		rows = rows[:keep]
	}
	rep.Actual = formatRows(rows)
	for _, r := range exp.Rows {
		rep.Expected = append(rep.Expected, expectedRow(r, res.Columns))
	}
	r := evaluateBounded(exp, res.Columns, rows, res.Total)
	rep.Summary = r.Summary
	for _, m := range r.Missing {
		rep.Missing = append(rep.Missing, expect.FormatRow(m))
	}
	for _, u := range r.Unexpected {
		rep.Unexpected = append(rep.Unexpected, expect.FormatRow(u))
	}
	return r.Pass
}

// expectedRow lays out an expected row in the result's column order (the
// columns it does not name are empty), then any columns the result lacks.
func expectedRow(r Row, columns []string) []string {
	out := make([]string, 0, len(columns))
	named := map[string]bool{}
	for _, c := range columns {
		if v, ok := r[c]; ok {
			out = append(out, expect.FormatValue(v))
			named[c] = true
		} else {
			out = append(out, "")
		}
	}
	for _, k := range expect.RowKeys(r) {
		if !named[k] {
			out = append(out, k+"="+expect.FormatValue(r[k]))
		}
	}
	return out
}

// evaluateBounded is expect.Evaluate when only the first kept rows of total
// are at hand: a row count is judged on the total; row matching and
// expect_empty need every row, so a result larger than keep_rows fails
// them with a clear reason instead of a wrong verdict.
func evaluateBounded(exp Expectation, columns []string, rows [][]any, total int64) expect.Result {
	if total <= int64(len(rows)) || exp.Report {
		r := expect.Evaluate(exp, columns, rows)
		if exp.Report && total > int64(len(rows)) {
			r.Summary = fmt.Sprintf("report: %d rows (first %d shown)", total, len(rows))
		}
		return r
	}
	if exp.Empty {
		return expect.Result{Summary: fmt.Sprintf("expected no rows, got %d", total)}
	}
	if exp.Rows != nil {
		return expect.Result{Summary: fmt.Sprintf("the query returned %d rows, more than keep_rows (%d) can compare; narrow the query or raise [settings] keep_rows", total, len(rows))}
	}
	if exp.RowCount != nil {
		if int64(*exp.RowCount) == total {
			return expect.Result{Pass: true, Summary: fmt.Sprintf("%d rows, as expected", total)}
		}
		return expect.Result{Summary: fmt.Sprintf("expected %s, got %d", expect.CountNoun(*exp.RowCount, "row"), total)}
	}
	return expect.Evaluate(exp, columns, rows)
}

// isCancelled reports whether err is the operator's cancel.
func isCancelled(err error) bool {
	var ee *db.ExecError
	if errors.As(err, &ee) {
		return ee.Cancelled
	}
	return errors.Is(err, context.Canceled)
}
