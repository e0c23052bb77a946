package ui

import (
	"github.com/handrail-dev/handrail/internal/queue"
	"github.com/handrail-dev/handrail/steps"
)

// outbox wraps a Send that might block (an engine busy delivering an event
// to this very screen) in the project's one queue, drained by one
// goroutine, so Update never waits on the engine and commands arrive in
// the order the operator gave them. steps.Engine.Send never blocks; Run
// still uses the outbox so any Send is safe.
type outbox struct {
	q    *queue.Queue[steps.Command]
	done chan struct{}
}

func newOutbox(send func(steps.Command)) *outbox {
	o := &outbox{q: queue.New[steps.Command](0), done: make(chan struct{})}
	go func() {
		defer close(o.done)
		for c := range o.q.Out() {
			send(c)
		}
	}()
	return o
}

// queue never blocks.
func (o *outbox) queue(c steps.Command) { o.q.Push(c) }

// stop delivers what is still queued, then ends the goroutine.
func (o *outbox) stop() { o.q.Close() }
