package steps

import (
	"context"
	"errors"
)

// Pair partners (handrail run --share). The share server tells the engine
// who joins and leaves, and hands it what an approver asks (PartnerSend);
// the journal is the record, so these facts go through emit like every
// other one, from the share server's goroutines (emit is safe for that).
// A partner's command is answered on the record like the operator's:
// State.Admit decides (State.AcceptsFrom), the engine acts or records a
// command_refused naming the partner.

// errNotStarted refuses partner facts before the session's first event:
// the journal must open with session_started.
var errNotStarted = errors.New("the session has not started yet")

// ShareOpened records that the session is shared over SSH.
func (e *Engine) ShareOpened(s ShareInfo) error {
	return e.emitPartnerFact(Event{Type: EvShareOpened, Share: &s})
}

// PartnerJoined records that p joined the session. An error means the
// join was not recorded, so the partner must not be let in.
func (e *Engine) PartnerJoined(p Partner) error {
	return e.emitPartnerFact(Event{Type: EvPartnerJoined, Partner: &p})
}

// PartnerLeft records that p left the session, and why. A hold of p's
// ends with them (hold_released): a partner who is gone holds nothing.
func (e *Engine) PartnerLeft(p Partner, why string) error {
	if err := e.emitPartnerFact(Event{Type: EvPartnerLeft, Partner: &p, Text: why}); err != nil {
		return err
	}
	held := false
	e.with(func(s *State) { held = s.holding(p) })
	if held {
		return e.emitPartnerFact(Event{Type: EvHoldReleased, Partner: &p, Text: "the holder left: " + why})
	}
	return nil
}

// PartnerSend queues a command of partner p (approve, hold, release, ask
// for the rollback). It never blocks; the engine answers it on the record.
func (e *Engine) PartnerSend(p Partner, c Command) {
	c.By = &p
	c.Secret = false // a partner's typed project id is not secret
	e.Send(c)
}

func (e *Engine) emitPartnerFact(ev Event) error {
	e.mu.Lock()
	started := !e.start.IsZero() && e.state.Seq > 0
	e.mu.Unlock()
	if !started {
		return errNotStarted
	}
	err := e.emit(ev)
	e.poke() // a write waiting for its approvers looks again
	return err
}

// poke wakes the engine's wait without a command.
func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// actPartner acts on a partner's admitted command: a fact on the record.
func (e *Engine) actPartner(c Command) error {
	switch c.Type {
	case CmdApprove:
		step := ""
		e.with(func(s *State) { step = s.AwaitingApproval() })
		return e.emit(Event{Type: EvApprovalGiven, Step: step, Partner: c.By})
	case CmdHold:
		return e.emit(Event{Type: EvHoldPlaced, Partner: c.By, Text: c.Text})
	case CmdRelease:
		return e.emit(Event{Type: EvHoldReleased, Partner: c.By, Text: "released by the holder"})
	case CmdAskRollback:
		return e.emit(Event{Type: EvRollbackProposed, Partner: c.By, Text: c.Text})
	}
	return e.refuse(c, "a pair partner can only approve, hold, release or ask for the rollback; "+string(c.Type)+" is the operator's to send")
}

// writeGate waits, before the write of step i is sent, until nothing holds
// it back (State.WriteWaitFor): no partner holds the session, and, when
// the session requires approval, enough connected approvers approved this
// write. The operator may quit or roll back meanwhile; partners' commands
// and joins and leaves are answered as they come. Rollback steps pass.
func (e *Engine) writeGate(ctx context.Context, i int) (flow, error) {
	if e.plan[i].info.Rollback {
		return flowNext, nil
	}
	id := e.plan[i].info.ID
	said := ""
	for {
		why := ""
		e.with(func(s *State) { why = s.WriteWaitFor(id) })
		if why == "" {
			return flowNext, nil
		}
		if why != said {
			if err := e.emit(Event{Type: EvApprovalRequired, Step: id, Text: why}); err != nil {
				return flowQuit, err
			}
			said = why
		}
		if c, ok := e.pop(); ok {
			if f, done, err := e.answer(c, "while the write waits for approval", nil); done || err != nil {
				return f, err
			}
			continue
		}
		e.signalIdle()
		select {
		case <-e.wake:
		case <-ctx.Done():
			return flowQuit, ctx.Err()
		}
	}
}
