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
			Message: "check cancelled by the operator", Where: e.stepWhere(i), RolledBack: true,
			Hint: "retry the check, skip it with a reason, roll back, or quit",
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
	f, ferr := e.failByPolicy(i, "check failed: "+rep.Summary, rep.Summary)
	if ferr == nil && err != nil && isConnLost(err) {
		if rf, rerr := e.recoverConnection(ctx); rerr != nil || rf != flowNext {
			return rf, rerr
		}
	}
	return f, ferr
}

// failByPolicy records a failed check or manual step and applies on_fail:
// "continue" goes on; "rollback" offers the rollback (when anything was
// written) and waits; "stop" waits for retry, skip, rollback or quit.
func (e *Engine) failByPolicy(i int, msg, why string) (flow, error) {
	p := e.plan[i].info
	if f, ok, err := e.dryRunExpected(i, msg); ok {
		return f, err
	}
	info := &ErrorInfo{Message: msg, Where: e.stepWhere(i)}
	switch p.OnFail {
	case "continue":
		info.Hint = "on_fail = continue: the runbook goes on; this failure is in the session's outcome"
	case "rollback":
		info.Hint = "on_fail = rollback: roll back now, or retry, skip with a reason, or quit"
	default:
		info.Hint = "retry, skip with a reason, roll back, or quit"
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
	if e.cfg.Apply || n == 0 || e.plan[i].step.Kind != KindCheck {
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

// runChecklist runs the self-ticking items at once, then takes the
// operator's ticks and skips; CmdNext passes only when every item is
// ticked or skipped.
func (e *Engine) runChecklist(ctx context.Context, i int) (flow, error) {
	items := e.plan[i].step.Items
	for j, it := range items {
		if it.SelfTicking() {
			if then, err := e.checkItem(ctx, i, j); err != nil || then != flowNext {
				return then, err
			}
		}
	}
	id := e.plan[i].info.ID
	return e.await(ctx, "in the checklist", handlers{
		CmdTick: func(c Command) (flow, bool, error) {
			then, err := e.toggleItem(ctx, i, c)
			return then, then != flowNext, err
		},
		CmdSkipItem: func(c Command) (flow, bool, error) {
			item := c.Item
			return flowNext, false, e.emit(Event{Type: EvItemSkipped, Step: id, Item: &item, Text: c.Text, Secret: c.Secret})
		},
		CmdNext: func(Command) (flow, bool, error) {
			f, err := e.succeed(i)
			return f, true, err
		},
	})
}

// toggleItem ticks or unticks item j. A self-ticking item is never ticked
// by hand: ticking it runs its query again (then: see checkItem).
func (e *Engine) toggleItem(ctx context.Context, i int, c Command) (then flow, err error) {
	j := c.Item
	var it ItemState
	e.with(func(s *State) { it = s.Steps[i].ItemStates[j] })
	item := j
	id := e.plan[i].info.ID
	switch {
	case it.Ticked:
		return flowNext, e.emit(Event{Type: EvItemUnticked, Step: id, Item: &item})
	case e.plan[i].step.Items[j].SelfTicking():
		return e.checkItem(ctx, i, j)
	}
	return flowNext, e.emit(Event{Type: EvItemTicked, Step: id, Item: &item, Text: c.Text, Secret: c.Secret})
}

// checkItem runs a self-ticking item's query: item_ticked (Auto) when it
// matches, item_check_failed otherwise. then is flowQuit or flowRollback
// when the operator asked for that while the query ran.
func (e *Engine) checkItem(ctx context.Context, i, j int) (then flow, err error) {
	it := e.plan[i].step.Items[j]
	id := e.plan[i].info.ID
	if it.StagingProof {
		return e.proofItem(ctx, i, j)
	}
	var rep *CheckReport
	var pass bool
	then, qerr := e.during(ctx, func(ctx context.Context) error {
		var err error
		rep, pass, err = e.evaluate(ctx, id, it.SQL, "", nil, it.Expectation())
		return err
	})
	if serr := e.sinkFailed(); serr != nil {
		return flowQuit, serr
	}
	item := j
	if pass {
		return then, e.emit(Event{Type: EvItemTicked, Step: id, Item: &item, Auto: true, Check: rep})
	}
	if err := e.emit(Event{Type: EvItemCheckFailed, Step: id, Item: &item, Check: rep}); err != nil {
		return flowQuit, err
	}
	if qerr != nil && isConnLost(qerr) {
		if f, rerr := e.recoverConnection(ctx); rerr != nil || f == flowEnd {
			return flowEnd, rerr
		}
	}
	return then, nil
}

// runConfirm waits for CmdConfirm, with the exact text when the step
// requires one.
func (e *Engine) runConfirm(ctx context.Context, i int) (flow, error) {
	id := e.plan[i].info.ID
	want := e.plan[i].step.Type
	return e.await(ctx, "at the confirmation", handlers{
		CmdConfirm: func(c Command) (flow, bool, error) {
			if want != "" && c.Text != want {
				return flowNext, false, e.emit(Event{Type: EvConfirmRejected, Step: id, Text: c.Text, Secret: c.Secret})
			}
			if err := e.emit(Event{Type: EvConfirmed, Step: id}); err != nil {
				return flowQuit, true, err
			}
			f, err := e.succeed(i)
			return f, true, err
		},
	})
}

// runManual waits for the operator's verdict (a failure needs a note).
func (e *Engine) runManual(ctx context.Context, i int) (flow, error) {
	id := e.plan[i].info.ID
	return e.await(ctx, "for the manual result", handlers{
		CmdManual: func(c Command) (flow, bool, error) {
			pass := c.Pass
			if err := e.emit(Event{Type: EvManualResult, Step: id, Pass: &pass, Text: c.Text, Secret: c.Secret}); err != nil {
				return flowQuit, true, err
			}
			if pass {
				f, err := e.succeed(i)
				return f, true, err
			}
			note := c.Text
			if c.Secret {
				note = "see the operator's note"
			}
			f, err := e.failByPolicy(i, "manual check failed: "+note, note)
			return f, true, err
		},
		CmdSkipStep: func(c Command) (flow, bool, error) {
			return flowNext, true, e.skip(i, c)
		},
	})
}

// isCancelled reports whether err is the operator's cancel.
func isCancelled(err error) bool {
	var ee *db.ExecError
	if errors.As(err, &ee) {
		return ee.Cancelled
	}
	return errors.Is(err, context.Canceled)
}

// proofItem ticks a staging_proof item when a staging journal proves the
// promotion (looked for again each time, so a journal copied in after a
// failure counts); otherwise it records what is missing. In a run of the
// staging environment itself there is nothing to prove: the item says so
// and ticks.
func (e *Engine) proofItem(ctx context.Context, i, j int) (flow, error) {
	id := e.plan[i].info.ID
	item := j
	rep := &CheckReport{Expect: "a verified journal of this runbook that succeeded on staging"}
	if !e.rb.PromotionGated() {
		rep.Summary = "this run is on " + e.rb.EnvName() + ": there is no staging run to prove"
		return flowNext, e.emit(Event{Type: EvItemTicked, Step: id, Item: &item, Auto: true, Check: rep})
	}
	then, err := e.checkPromotion(ctx)
	if err != nil {
		return then, err
	}
	var proof *PromotionProof
	e.with(func(s *State) { proof = s.Promotion })
	rep.Summary = proof.Summary()
	if proof != nil && proof.OK {
		return then, e.emit(Event{Type: EvItemTicked, Step: id, Item: &item, Auto: true, Check: rep})
	}
	return then, e.emit(Event{Type: EvItemCheckFailed, Step: id, Item: &item, Check: rep})
}
