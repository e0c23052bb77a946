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
	return st.Status.Done() || (st.Status == StatusFailed && st.OnFail == "continue") || st.ExpectedInDryRun()
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
	if e.offline() {
		// Reconnect and re-verify before the step starts; if the target
		// is still out of reach, the step fails without sending anything
		// and waits for another retry.
		f, err := e.recoverConnection(ctx)
		if err != nil || (f != flowNext && f != flowFailed) {
			return f, err
		}
		if f == flowFailed {
			if err := e.emit(Event{Type: EvStepStarted, Step: id, Text: string(e.plan[i].step.Kind)}); err != nil {
				return flowQuit, err
			}
			return flowFailed, e.emit(Event{Type: EvStepFailed, Step: id, Error: &ErrorInfo{
				Message:    fmt.Sprintf("not started: %s is out of reach; nothing of this step was sent", e.host),
				RolledBack: true,
				Hint:       "retry when the server is back (handrail reconnects and verifies the target first), or quit",
			}})
		}
	}
	e.setNoticeStep(id)
	if err := e.emit(Event{Type: EvStepStarted, Step: id, Text: string(e.plan[i].step.Kind)}); err != nil {
		return flowQuit, err
	}
	if u := unitOf(e.plan[i].step.Kind); u != nil {
		return u.run(e, ctx, i, run)
	}
	return flowFailed, e.emit(Event{Type: EvStepFailed, Step: id, Error: &ErrorInfo{
		Message: fmt.Sprintf("unknown step kind %q", e.plan[i].step.Kind),
		Where:   e.stepWhere(i),
		Hint:    "fix the runbook (handrail lint), then resume",
	}})
}

// gate waits for CmdNext before step i runs, unless run is set. When ok
// is false the caller returns f, err: the operator skipped the step (with
// a reason; State.Admit says which steps may be), quit, or asked for the
// rollback.
func (e *Engine) gate(ctx context.Context, i int, run bool) (ok bool, f flow, err error) {
	if run {
		return true, flowNext, nil
	}
	skipped := false
	f, err = e.await(ctx, "before the step runs", handlers{
		CmdNext: func(Command) (flow, bool, error) { return flowNext, true, nil },
		CmdSkipStep: func(c Command) (flow, bool, error) {
			skipped = true
			return flowNext, true, e.skip(i, c)
		},
		CmdAcknowledge: func(c Command) (flow, bool, error) { return flowNext, false, e.acknowledge(i, c) },
	})
	if err != nil || f != flowNext || skipped {
		return false, f, err
	}
	return true, flowNext, nil
}

func (e *Engine) skip(i int, c Command) error {
	return e.emit(Event{Type: EvStepSkipped, Step: e.plan[i].info.ID, Text: "skipped by the operator: " + c.Text, Secret: c.Secret})
}

// afterFailure waits for the operator after a failed or cancelled step:
// retry it, skip it (with a reason, when nothing of it can remain in the
// database), drop the INVALID index a failed CONCURRENTLY build left,
// roll back, or quit.
func (e *Engine) afterFailure(ctx context.Context, i int) (flow, error) {
	return e.await(ctx, "after the step failed", handlers{
		CmdRetry: func(Command) (flow, bool, error) { return flowRetry, true, nil },
		CmdDropInvalid: func(Command) (flow, bool, error) {
			f, err := e.dropInvalid(ctx, i)
			return f, f != flowNext || err != nil, err
		},
		CmdSkipStep: func(c Command) (flow, bool, error) {
			return flowNext, true, e.skip(i, c)
		},
	})
}

// resolveUnknown waits for the operator to resolve an outcome-unknown
// step: mark it applied or not (with a reason), retry it explicitly, roll
// back, or quit. It is never re-run by itself.
func (e *Engine) resolveUnknown(ctx context.Context, i int) (flow, error) {
	return e.await(ctx, "while the step's outcome is unknown", handlers{
		CmdRetry: func(Command) (flow, bool, error) { return flowRetry, true, nil },
		CmdMark: func(c Command) (flow, bool, error) {
			pass := c.Pass
			if err := e.emit(Event{Type: EvStepMarked, Step: e.plan[i].info.ID, Pass: &pass, Text: c.Text, Secret: c.Secret}); err != nil {
				return flowQuit, true, err
			}
			if pass {
				return flowNext, true, nil
			}
			return flowFailed, true, nil
		},
	})
}

// beforeWrite holds the write of step i until it may be sent: the
// promotion gate and the production consent (first write), then the
// approvers and holds (every write; see writeGate).
func (e *Engine) beforeWrite(ctx context.Context, i int) (flow, error) {
	if f, err := e.consent(ctx, i); err != nil || f != flowNext {
		return f, err
	}
	return e.writeGate(ctx, i)
}

// consent asks, before the first write to a production target, for the
// project id typed by the operator. Rollback needs no new consent.
func (e *Engine) consent(ctx context.Context, i int) (flow, error) {
	if f, err := e.promotionGate(ctx, i); err != nil || f != flowNext {
		return f, err
	}
	need := false
	e.with(func(s *State) { need = e.rb.Target.Production && !s.Consent && !s.Rollback.Started })
	if !need {
		return flowNext, nil
	}
	id := e.plan[i].info.ID
	if err := e.emit(Event{Type: EvConsentRequired, Step: id}); err != nil {
		return flowQuit, err
	}
	return e.await(ctx, "at the consent", handlers{
		CmdConsent: func(c Command) (flow, bool, error) {
			if c.Text == e.rb.Target.ProjectID {
				return flowNext, true, e.emit(Event{Type: EvConsentGiven, Step: id})
			}
			return flowNext, false, e.emit(Event{Type: EvConsentRejected, Step: id, Text: c.Text, Secret: c.Secret})
		},
	})
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
			if !st.Rollback && !st.Status.Done() && !st.ExpectedInDryRun() {
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

// promotionGate holds the first write of a run against [target] of a
// runbook that names [staging] until a staging journal proves this
// runbook succeeded there, or the operator overrides the gate with a
// typed reason (journaled as an override). Rollback passes freely.
func (e *Engine) promotionGate(ctx context.Context, i int) (flow, error) {
	var proof *PromotionProof
	open := false
	e.with(func(s *State) {
		proof = s.Promotion
		open = s.Session.Promotion && s.PromotionOverride == "" && !s.Rollback.Started
	})
	if !open || (proof != nil && proof.OK) {
		return flowNext, nil
	}
	if proof == nil {
		f, err := e.checkPromotion(ctx)
		if err != nil || f != flowNext {
			return f, err
		}
		e.with(func(s *State) { proof = s.Promotion })
		if proof != nil && proof.OK {
			return flowNext, nil
		}
	}
	id := e.plan[i].info.ID
	if err := e.emit(Event{Type: EvPromotionRequired, Step: id, Text: "no proof that this runbook succeeded on staging: " + proof.Summary()}); err != nil {
		return flowQuit, err
	}
	return e.await(ctx, "at the promotion gate", handlers{
		CmdOverride: func(c Command) (flow, bool, error) {
			return flowNext, true, e.emit(Event{Type: EvPromotionOverridden, Step: id, Text: c.Text, Secret: c.Secret})
		},
	})
}

// checkPromotion looks for the staging proof (Config.ProveStaging) and
// records what it found. then is flowQuit or flowRollback when the
// operator asked for that meanwhile.
func (e *Engine) checkPromotion(ctx context.Context) (then flow, err error) {
	var proof *PromotionProof
	then, _ = e.during(ctx, func(ctx context.Context) error {
		if e.cfg.ProveStaging == nil {
			proof = &PromotionProof{Problems: []string{"this session was started without a way to find staging journals"}}
			return nil
		}
		proof = e.cfg.ProveStaging(ctx)
		return nil
	})
	if proof == nil {
		proof = &PromotionProof{Problems: []string{"the staging proof could not be looked for"}}
	}
	if err := e.emit(Event{Type: EvPromotionChecked, Promotion: proof}); err != nil {
		return flowQuit, err
	}
	return then, nil
}
