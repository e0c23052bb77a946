// Package queue is the one hand-off between handrail's goroutines: an
// ordered queue whose Push never blocks, drained onto a channel by a
// goroutine of its own. The engine hands events to the screens with one
// (a slow or gone screen never stops the engine), and the screen hands
// commands to the engine with another (Update never waits).
package queue

import "sync"

// Queue delivers what is pushed, in order, on Out.
type Queue[T any] struct {
	// superseded, when set, says whether a value still waiting may be
	// dropped when the next one pushed is b (NewCoalescing).
	superseded func(a, b T) bool

	mu     sync.Mutex
	buf    []T
	spare  []T // the pump's last batch, emptied, for buf to grow into again
	closed bool
	wake   chan struct{}
	out    chan T
}

// maxSpare is the largest batch whose array is kept for the next pushes:
// a flood's backlog is not held for the quiet that follows.
const maxSpare = 1 << 12

// New returns a queue whose Out channel buffers up to size items.
func New[T any](size int) *Queue[T] {
	q := &Queue[T]{wake: make(chan struct{}, 1), out: make(chan T, size)}
	go q.pump()
	return q
}

// NewCoalescing is New with a rule that keeps a slow reader's backlog
// small: when b is pushed while the value pushed before it, a, still
// waits in the queue (the pump has not taken it), and superseded(a, b)
// says the reader needs a no longer once b follows, b takes a's place.
// Only a value still waiting is dropped, never one handed to Out, and
// the order of the others is kept.
func NewCoalescing[T any](size int, superseded func(a, b T) bool) *Queue[T] {
	q := &Queue[T]{superseded: superseded, wake: make(chan struct{}, 1), out: make(chan T, size)}
	go q.pump()
	return q
}

// Push queues v. It never blocks. After Close it does nothing.
func (q *Queue[T]) Push(v T) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	pending := len(q.buf) > 0
	if n := len(q.buf); n > 0 && q.superseded != nil && q.superseded(q.buf[n-1], v) {
		q.buf[n-1] = v
	} else {
		q.buf = append(q.buf, v)
	}
	q.mu.Unlock()
	if !pending {
		// A push onto a non-empty buf needs no signal: the push that
		// made it non-empty signalled, and the pump takes buf whole.
		q.signal()
	}
}

// Close lets what was pushed drain, then closes Out.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

// Out delivers the pushed values in order; it is closed after Close once
// everything pushed before has been delivered.
func (q *Queue[T]) Out() <-chan T { return q.out }

func (q *Queue[T]) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *Queue[T]) pump() {
	for {
		q.mu.Lock()
		batch, closed := q.buf, q.closed
		q.buf, q.spare = q.spare, nil
		q.mu.Unlock()
		for _, v := range batch {
			q.out <- v
		}
		if cap(batch) > 0 && cap(batch) <= maxSpare {
			clear(batch) // let the values go
			q.mu.Lock()
			if q.buf == nil {
				q.buf = batch[:0]
			} else {
				q.spare = batch[:0]
			}
			q.mu.Unlock()
		}
		if closed && len(batch) == 0 {
			close(q.out)
			return
		}
		if len(batch) == 0 {
			<-q.wake
		}
	}
}
