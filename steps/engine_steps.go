package steps

import (
	"context"
	"fmt"
)

// runPhases runs the phase steps from the first one not settled.
func (e *Engine) runPhases(ctx context.Context) (flow, error) {
	for {
		i := e.nextUnsettled(false)
		if i < 0 {
			return flowNext, nil
		}
		f, err := e.runStep(ctx, i, false)
		if err != nil || f != flowNext {
			return f, err
		}
	}
}

// nextUnsettled returns the first step (of the phases, or of the
// rollback) that is not settled, or -1.
func (e *Engine) nextUnsettled(rollback bool) int {
	idx := -1
	e.with(func(s *State) {
		for i, st := range s.Steps {
			if st.Rollback == rollback && !settled(st) {
				idx = i
				return
			}
		}
	})
	return idx
}

// settled: the step needs nothing more (a failure with on_fail = continue
// is recorded and passed over).
func settled(st StepState) bool {
	return st.Status.Done() || (st.Status == StatusFailed && st.OnFail == "continue")
}

// runStep runs step i until it is settled or the operator leaves it
// (rollback, quit). auto runs it without waiting for CmdNext (rollback).
func (e *Engine) runStep(ctx context.Context, i int, auto bool) (flow, error) {
	var f flow
	var err error
	switch e.status(i) {
	case StatusUnknown:
		f = flowUnknown
	case StatusFailed, StatusCancelled:
		f = flowFailed
	default:
		f, err = e.attempt(ctx, i, auto)
	}
	for err == nil {
		switch f {
		case flowFailed:
			f, err = e.afterFailure(ctx, i)
		case flowUnknown:
			f, err = e.resolveUnknown(ctx, i)
		case flowRetry:
			f, err = e.attempt(ctx, i, true)
		default:
			return f, nil
		}
	}
	return f, err
}

// attempt starts step i and runs its kind. run: go ahead without waiting
// for CmdNext (a retry, or a rollback step).
func (e *Engine) attempt(ctx context.Context, i int, run bool) (flow, error) {
	id := e.plan[i].info.ID
	e.setNoticeStep(id)
	if err := e.emit(Event{Type: EvStepStarted, Step: id, Text: string(e.plan[i].step.Kind)}); err != nil {
		return flowQuit, err
	}
	switch e.plan[i].step.Kind {
	case KindChecklist:
		return e.runChecklist(ctx, i)
	case KindConfirm:
		return e.runConfirm(ctx, i)
	case KindSQL:
		return e.runSQL(ctx, i, run)
	case KindCheck:
		return e.runCheck(ctx, i, run)
	case KindManual:
		return e.runManual(ctx, i)
	case KindMonitor:
		return e.runMonitor(ctx, i, run)
	case KindExec:
		return e.runExec(ctx, i, run)
	case KindMessage:
		return e.runMessage(ctx, i, run)
	}
	return flowFailed, e.emit(Event{Type: EvStepFailed, Step: id, Error: &ErrorInfo{
		Message: fmt.Sprintf("unknown step kind %q", e.plan[i].step.Kind),
		Where:   e.stepWhere(i),
		Hint:    "fix the runbook (handrail lint), then resume",
	}})
}

// gate waits for CmdNext before step i runs, unless run is set. When ok
// is false the caller returns f, err: the operator skipped the step (with
// a reason; only non-writing steps other than the gates), quit, or asked
// for the rollback.
func (e *Engine) gate(ctx context.Context, i int, run bool) (ok bool, f flow, err error) {
	for !run {
		c, err := e.next(ctx)
		if err != nil {
			return false, flowQuit, err
		}
		switch c.Type {
		case CmdNext:
			run = true
		case CmdSkipStep:
			if skippable(e.plan[i].step.Kind) && c.Text != "" {
				return false, flowNext, e.skip(i, c)
			}
		default:
			if f, ok := e.common(c); ok {
				return false, f, nil
			}
		}
	}
	return true, flowNext, nil
}

// skippable kinds may be skipped, with a reason, before they run.
func skippable(k Kind) bool {
	return k == KindCheck || k == KindManual || k == KindMonitor || k == KindMessage
}

func (e *Engine) skip(i int, c Command) error {
	return e.emit(Event{Type: EvStepSkipped, Step: e.plan[i].info.ID, Text: "skipped by the operator: " + c.Text, Secret: c.Secret})
}

// afterFailure waits for the operator after a failed or cancelled step:
// retry it, skip it (with a reason, when nothing of it can remain in the
// database), roll back, or quit.
func (e *Engine) afterFailure(ctx context.Context, i int) (flow, error) {
	for {
		c, err := e.next(ctx)
		if err != nil {
			return flowQuit, err
		}
		switch c.Type {
		case CmdRetry:
			return flowRetry, nil
		case CmdSkipStep:
			if c.Text != "" && e.canSkipFailed(i) {
				return flowNext, e.skip(i, c)
			}
		default:
			if f, ok := e.common(c); ok {
				return f, nil
			}
		}
	}
}

// canSkipFailed: a failed step may be skipped unless it writes and may
// have left part of its work behind (a non-transactional step that failed
// midway: the operator must decide with retry or rollback).
func (e *Engine) canSkipFailed(i int) bool {
	if !e.plan[i].step.Kind.Writes() {
		return true
	}
	ok := false
	e.with(func(s *State) {
		st := s.Steps[i]
		ok = st.Error != nil && st.Error.RolledBack
	})
	return ok
}

// resolveUnknown waits for the operator to resolve an outcome-unknown
// step: mark it applied or not (with a reason), retry it explicitly, roll
// back, or quit. It is never re-run by itself.
func (e *Engine) resolveUnknown(ctx context.Context, i int) (flow, error) {
	for {
		c, err := e.next(ctx)
		if err != nil {
			return flowQuit, err
		}
		switch c.Type {
		case CmdMark:
			if c.Text == "" {
				continue
			}
			pass := c.Pass
			if err := e.emit(Event{Type: EvStepMarked, Step: e.plan[i].info.ID, Pass: &pass, Text: c.Text, Secret: c.Secret}); err != nil {
				return flowQuit, err
			}
			if pass {
				return flowNext, nil
			}
			return flowFailed, nil
		case CmdRetry:
			return flowRetry, nil
		default:
			if f, ok := e.common(c); ok {
				return f, nil
			}
		}
	}
}

// consent asks, before the first write to a production target, for the
// project id typed by the operator. Rollback needs no new consent.
func (e *Engine) consent(ctx context.Context, i int) (flow, error) {
	need := false
	e.with(func(s *State) { need = e.rb.Target.Production && !s.Consent && !s.Rollback.Started })
	if !need {
		return flowNext, nil
	}
	id := e.plan[i].info.ID
	if err := e.emit(Event{Type: EvConsentRequired, Step: id}); err != nil {
		return flowQuit, err
	}
	for {
		c, err := e.next(ctx)
		if err != nil {
			return flowQuit, err
		}
		switch c.Type {
		case CmdConsent:
			if c.Text == e.rb.Target.ProjectID {
				return flowNext, e.emit(Event{Type: EvConsentGiven, Step: id})
			}
			if err := e.emit(Event{Type: EvConsentRejected, Step: id, Text: c.Text, Secret: c.Secret}); err != nil {
				return flowQuit, err
			}
		default:
			if f, ok := e.common(c); ok {
				return f, nil
			}
		}
	}
}

// succeed emits step_succeeded.
func (e *Engine) succeed(i int) (flow, error) {
	return flowNext, e.emit(Event{Type: EvStepSucceeded, Step: e.plan[i].info.ID})
}

// phasesOutcome: succeeded unless a phase step failed (on_fail = continue).
func (e *Engine) phasesOutcome() Outcome {
	out := OutcomeSucceeded
	e.with(func(s *State) {
		for _, st := range s.Steps {
			if !st.Rollback && !st.Status.Done() {
				out = OutcomeFailed
			}
		}
	})
	return out
}

func (e *Engine) rollbackUnfinished() bool {
	v := false
	e.with(func(s *State) { v = s.Rollback.Started && !s.Rollback.Finished })
	return v
}

// runRollback runs the [rollback] steps at once, with the same events as
// any step; interactive kinds still wait for the operator. A failed
// rollback statement waits (retry, skip, quit); a failed rollback check is
// recorded and the rollback goes on, then reports failure.
func (e *Engine) runRollback(ctx context.Context) (Outcome, flow, error) {
	started := false
	e.with(func(s *State) { started = s.Rollback.Started })
	if !started {
		reason := e.rollbackReason
		if reason == "" {
			e.with(func(s *State) { reason = s.Rollback.Offered })
		}
		if reason == "" {
			reason = "rollback requested by the operator"
		}
		if err := e.emit(Event{Type: EvRollbackStarted, Text: reason}); err != nil {
			return OutcomeFailed, flowQuit, err
		}
	}
	for {
		i := e.nextUnsettled(true)
		if i < 0 {
			break
		}
		f, err := e.runStep(ctx, i, true)
		if err != nil || f == flowQuit || f == flowEnd {
			return OutcomeAborted, f, err
		}
	}
	pass := true
	e.with(func(s *State) {
		for _, st := range s.Steps {
			if st.Rollback && st.Status != StatusSucceeded {
				pass = false
			}
		}
	})
	if err := e.emit(Event{Type: EvRollbackFinished, Pass: &pass}); err != nil {
		return OutcomeFailed, flowQuit, err
	}
	if pass {
		return OutcomeRolledBack, flowNext, nil
	}
	return OutcomeFailed, flowNext, nil
}
