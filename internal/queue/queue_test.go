package queue

import (
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
