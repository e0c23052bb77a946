package queue

import (
	"fmt"
	"testing"
	"time"
)

// Push never blocks, even when nobody reads; what was pushed comes out in
// order, and after Close the channel closes once it is drained.
func TestOrderAndNeverBlocking(t *testing.T) {
	q := New[int](1)
	done := make(chan struct{})
	go func() {
		for i := range 10000 {
			q.Push(i)
		}
		q.Close()
		q.Push(-1) // after Close: ignored
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Push blocked with no reader")
	}
	want := 0
	for v := range q.Out() {
		if v != want {
			t.Fatalf("got %d, want %d", v, want)
		}
		want++
	}
	if want != 10000 {
		t.Fatalf("%d values came out, want 10000", want)
	}
}

func TestCloseEmpty(t *testing.T) {
	q := New[string](0)
	q.Close()
	if _, ok := <-q.Out(); ok {
		t.Fatal("a closed empty queue delivered something")
	}
}

// A coalescing queue drops a waiting value the next one supersedes and
// keeps the order of the rest (the pump not running: everything waits).
func TestCoalescing(t *testing.T) {
	// An even value is superseded by the next even one (as a statement
	// start is by the next start); odd values are kept.
	even := func(a, b int) bool { return a%2 == 0 && b%2 == 0 }
	q := &Queue[int]{superseded: even, wake: make(chan struct{}, 1), out: make(chan int)}
	for _, v := range []int{1, 2, 4, 6, 3, 8, 10, 5, 12} {
		q.Push(v)
	}
	if got, want := fmt.Sprint(q.buf), "[1 6 3 10 5 12]"; got != want {
		t.Fatalf("waiting %s, want %s", got, want)
	}
}

// With its pump running, a coalescing queue hands out in order every
// value the rule does not drop (here: none), to the last.
func TestCoalescingOrder(t *testing.T) {
	even := func(a, b int) bool { return a%2 == 0 && b%2 == 0 }
	q := NewCoalescing[int](4, even)
	go func() {
		for i := range 10000 {
			q.Push(i / 3 * 2) // runs of three equal even values, then
			q.Push(2*i + 1)   // an odd one
		}
		q.Close()
	}()
	prev, odds, last := -1, 0, -1
	for v := range q.Out() {
		if v <= prev && v%2 == 1 {
			t.Fatalf("%d after %d", v, prev)
		}
		if v%2 == 1 {
			odds++
			prev = v
		}
		last = v
	}
	if odds != 10000 || last != 19999 {
		t.Fatalf("%d odd values, last %d; want 10000 and 19999", odds, last)
	}
}

// Without a reader, a coalescing queue's backlog of values the rule
// supersedes stays at one.
func TestCoalescingBoundsTheBacklog(t *testing.T) {
	q := NewCoalescing[int](0, func(a, b int) bool { return true })
	for i := range 100000 {
		q.Push(i)
	}
	q.mu.Lock()
	n := len(q.buf)
	q.mu.Unlock()
	if n > 1 {
		t.Errorf("backlog of %d values, want at most 1", n)
	}
	q.Close()
	var last int
	for v := range q.Out() {
		last = v
	}
	if last != 99999 {
		t.Errorf("last value %d, want 99999", last)
	}
}
