package steps

import "slices"

// snapshot returns the engine's state for a reader that runs while the
// engine goes on (the autopilot reads one on every wait). It costs a copy
// of the step list, not of the session: Apply never writes through the
// pointers and slices a state holds, but for the elements of Steps,
// ItemStates and Monitor, which it updates in place (and the room past
// the end of Rows, Notices and Alerts, which it appends to and a copy's
// length never reaches), so copying those three is enough for the copy to
// share only memory that no longer changes. TestSnapshotIsStable holds
// Apply to this for every event type. Readers must not modify what they
// get; State returns a copy they may.
func (e *Engine) snapshot() State {
	var s State
	e.snapshotInto(&s)
	return s
}

// snapshotInto is snapshot into dst, reusing the room of dst.Steps: the
// autopilot takes one on every wait, and a fresh step list each time is
// most of what a session of many small steps allocates.
func (e *Engine) snapshotInto(dst *State) {
	e.mu.Lock()
	defer e.mu.Unlock()
	room := dst.Steps[:0]
	*dst = e.state
	dst.Steps = append(room, e.state.Steps...)
	for i := range dst.Steps {
		dst.Steps[i].ItemStates = slices.Clone(dst.Steps[i].ItemStates)
		dst.Steps[i].Monitor = slices.Clone(dst.Steps[i].Monitor)
	}
}
