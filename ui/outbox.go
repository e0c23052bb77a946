package ui

import (
	"sync"

	"github.com/handrail-dev/handrail/steps"
)

// outbox wraps a Send that might block (an engine busy delivering an event
// to this very screen) in an ordered queue drained by one goroutine, so
// Update never waits on the engine and commands arrive in the order the
// operator gave them. steps.Engine.Send never blocks; Run still uses the
// outbox so any Send is safe.
type outbox struct {
	send    func(steps.Command)
	mu      sync.Mutex
	pending []steps.Command
	wake    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func newOutbox(send func(steps.Command)) *outbox {
	o := &outbox{send: send, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go o.drain()
	return o
}

// queue never blocks.
func (o *outbox) queue(c steps.Command) {
	o.mu.Lock()
	o.pending = append(o.pending, c)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) take() []steps.Command {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.pending
	o.pending = nil
	return out
}

func (o *outbox) drain() {
	for {
		select {
		case <-o.done:
			return
		case <-o.wake:
			for _, c := range o.take() {
				o.send(c)
			}
		}
	}
}

// stop ends the goroutine; commands still queued are dropped.
func (o *outbox) stop() { o.once.Do(func() { close(o.done) }) }
