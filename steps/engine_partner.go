package steps

import "errors"

// Pair partners (handrail run --share). The share server tells the engine
// who joins and leaves; the journal is the record, so these facts go
// through emit like every other one, from the share server's goroutines
// (emit is safe for that). Partners send the engine no command: observers
// are read-only. Second-person approval will add partner commands, answered
// by the engine on the record like the operator's.

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

// PartnerLeft records that p left the session, and why.
func (e *Engine) PartnerLeft(p Partner, why string) error {
	return e.emitPartnerFact(Event{Type: EvPartnerLeft, Partner: &p, Text: why})
}

func (e *Engine) emitPartnerFact(ev Event) error {
	e.mu.Lock()
	started := !e.start.IsZero() && e.state.Seq > 0
	e.mu.Unlock()
	if !started {
		return errNotStarted
	}
	return e.emit(ev)
}
