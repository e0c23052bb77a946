package share

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/steps"
)

// hubWait bounds the waits of these tests (they wait on conditions).
const hubWait = 10 * time.Second

// session builds n events of a small session: started, then ticks and
// row batches of about size bytes each.
func session(n, size int) []steps.Event {
	plan := []steps.PlannedStep{{ID: "list", Kind: steps.KindChecklist, Items: []string{"a", "b"}}, {ID: "sql", Kind: steps.KindSQL}}
	evs := []steps.Event{{Type: steps.EvSessionStarted, Session: &steps.SessionInfo{RunbookID: "r", Plan: plan, KeepRows: 1000}}}
	evs = append(evs, steps.Event{Type: steps.EvStepStarted, Step: "sql"})
	for len(evs) < n {
		evs = append(evs, steps.Event{Type: steps.EvRows, Step: "sql", Rows: &steps.RowBatch{
			Rows: [][]string{{strings.Repeat("x", size)}}, Total: int64(len(evs))}})
	}
	for i := range evs {
		evs[i].Seq = int64(i + 1)
		evs[i].Mono = time.Duration(i) * time.Millisecond
	}
	return evs
}

func foldJSON(t *testing.T, evs []steps.Event) string {
	t.Helper()
	b, err := json.Marshal(steps.Fold(evs))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// screenOf is what a partner's screen folds: Feeds applied in order.
type screenOf struct {
	events []steps.Event
	resets int
	closed bool
}

func (s *screenOf) apply(t *testing.T, f Feed) {
	t.Helper()
	if err := s.fold(f); err != nil {
		t.Fatal(err)
	}
}

func (s *screenOf) fold(f Feed) error {
	if f.Reset {
		s.resets++
		s.events = append([]steps.Event(nil), f.Events...)
	} else {
		if n := len(s.events); n > 0 && len(f.Events) > 0 && f.Events[0].Seq != s.events[n-1].Seq+1 {
			return fmt.Errorf("a gap: the screen has seq %d, the feed starts at %d", s.events[n-1].Seq, f.Events[0].Seq)
		}
		s.events = append(s.events, f.Events...)
	}
	s.closed = s.closed || f.Closed
	return nil
}

func (s *screenOf) lastSeq() int64 {
	if len(s.events) == 0 {
		return 0
	}
	return s.events[len(s.events)-1].Seq
}

func next(t *testing.T, sub *Sub) Feed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hubWait)
	defer cancel()
	f, err := sub.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return f
}

func TestHubLateJoinerGetsTheWholeSession(t *testing.T) {
	evs := session(50, 10)
	h := NewHub(HubConfig{})
	select {
	case <-h.Started():
		t.Fatal("started before any event")
	default:
	}
	early := h.Subscribe()
	for _, e := range evs[:30] {
		h.Publish(e)
	}
	<-h.Started()
	late := h.Subscribe()
	var a, b screenOf
	a.apply(t, next(t, early))
	b.apply(t, next(t, late))
	if b.events[0].Seq != 1 || len(b.events) != 30 || b.resets != 1 {
		t.Fatalf("the late joiner got %d events (resets %d), want the 30 so far", len(b.events), b.resets)
	}
	for _, e := range evs[30:] {
		h.Publish(e)
	}
	h.Close()
	for _, s := range []struct {
		sub *Sub
		scr *screenOf
	}{{early, &a}, {late, &b}} {
		for !s.scr.closed {
			s.scr.apply(t, next(t, s.sub))
		}
		if got, want := foldJSON(t, s.scr.events), foldJSON(t, evs); got != want {
			t.Errorf("a partner's fold differs from the session's")
		}
	}
}

// TestHubSlowConsumerNeverBlocksTheProducer: a partner that reads nothing
// while the session produces far more than the hub keeps in memory costs
// the producer nothing; when it reads again it is redrawn from the
// journal (a Reset with the session so far), not fed every event, and
// then follows on.
func TestHubSlowConsumerNeverBlocksTheProducer(t *testing.T) {
	evs := session(20000, 200)
	var (
		mu      sync.Mutex
		journal []steps.Event // what the writer appended before Publish
		replays int
	)
	h := NewHub(HubConfig{MaxBytes: 64 << 10, Replay: func(upTo int64) ([]steps.Event, error) {
		mu.Lock()
		defer mu.Unlock()
		replays++
		return append([]steps.Event(nil), journal[:upTo]...), nil
	}})
	publish := func(e steps.Event) {
		mu.Lock()
		journal = append(journal, e)
		mu.Unlock()
		h.Publish(e)
	}
	publish(evs[0])
	fast, slow := h.Subscribe(), h.Subscribe()
	var fastScr, slowScr screenOf
	fastScr.apply(t, next(t, fast))
	slowScr.apply(t, next(t, slow))

	// The fast partner reads all along, while the hub trims: redrawn
	// whenever it falls behind what memory holds, it never sees a gap.
	fastDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), hubWait)
		defer cancel()
		for fastScr.lastSeq() < int64(len(evs)) {
			f, err := fast.Next(ctx)
			if err == nil {
				err = fastScr.fold(f)
			}
			if err != nil {
				fastDone <- err
				return
			}
		}
		fastDone <- nil
	}()
	published := make(chan struct{})
	go func() {
		defer close(published)
		for _, e := range evs[1:] {
			publish(e)
		}
	}()
	// The producer finishes while the slow partner reads nothing: Publish
	// never waits for a partner.
	select {
	case <-published:
	case <-time.After(hubWait):
		t.Fatal("the producer was blocked by a partner that does not read")
	}
	if err := <-fastDone; err != nil {
		t.Fatalf("the fast partner: %v", err)
	}
	// The slow partner's first read is a redraw with the session so far.
	f := next(t, slow)
	if !f.Reset || len(f.Events) != len(evs) {
		t.Fatalf("the slow partner got %d events, reset %v; want a redraw with all %d", len(f.Events), f.Reset, len(evs))
	}
	slowScr.apply(t, f)
	mu.Lock()
	if replays == 0 {
		t.Error("no redraw came from the journal")
	}
	mu.Unlock()
	h.Publish(steps.Event{Seq: int64(len(evs) + 1), Type: steps.EvStepSucceeded, Step: "sql"})
	h.Close()
	for _, s := range []struct {
		sub *Sub
		scr *screenOf
	}{{fast, &fastScr}, {slow, &slowScr}} {
		for !s.scr.closed {
			s.scr.apply(t, next(t, s.sub))
		}
		if n := len(s.scr.events); n != len(evs)+1 || s.scr.events[n-1].Type != steps.EvStepSucceeded {
			t.Errorf("a partner ended with %d events, want %d", n, len(evs)+1)
		}
	}
	h.mu.Lock()
	kept := h.bytes
	h.mu.Unlock()
	if kept > 2*(64<<10) {
		t.Errorf("the hub keeps %d bytes, over its budget", kept)
	}
}

// TestHubBatchesAreBounded: a partner catching up gets the backlog in
// bounded Feeds, so its screen redraws as it goes.
func TestHubBatchesAreBounded(t *testing.T) {
	evs := session(1000, 10)
	h := NewHub(HubConfig{MaxBatch: 100})
	sub := h.Subscribe()
	h.Publish(evs[0])
	var scr screenOf
	scr.apply(t, next(t, sub))
	for _, e := range evs[1:] {
		h.Publish(e)
	}
	feeds := 0
	for len(scr.events) < len(evs) {
		f := next(t, sub)
		if len(f.Events) > 100 || f.Reset {
			t.Fatalf("a feed of %d events (reset %v)", len(f.Events), f.Reset)
		}
		scr.apply(t, f)
		feeds++
	}
	if feeds != 10 {
		t.Errorf("%d feeds, want 10", feeds)
	}
}

func TestHubPriorAndReplayErrors(t *testing.T) {
	evs := session(10, 10)
	h := NewHub(HubConfig{Prior: evs[:5]})
	sub := h.Subscribe()
	f := next(t, sub)
	if !f.Reset || len(f.Events) != 5 {
		t.Fatalf("a resumed session's partner gets the prior events: %d", len(f.Events))
	}
	select {
	case <-h.Started():
		t.Fatal("prior events are not this process's start")
	default:
	}
	h.Publish(evs[5])
	<-h.Started()

	boom := errors.New("journal unreadable")
	h2 := NewHub(HubConfig{MaxBytes: 1, Replay: func(int64) ([]steps.Event, error) { return nil, boom }})
	for _, e := range evs {
		h2.Publish(e)
	}
	if _, err := h2.Subscribe().Next(context.Background()); !errors.Is(err, boom) {
		t.Errorf("Next after a failed replay: %v", err)
	}
}

func TestHubSubCloseAndCancel(t *testing.T) {
	h := NewHub(HubConfig{})
	sub := h.Subscribe()
	done := make(chan Feed)
	go func() {
		f, _ := sub.Next(context.Background())
		done <- f
	}()
	sub.Close()
	select {
	case f := <-done:
		if !f.Closed {
			t.Errorf("a closed subscription's Next: %+v", f)
		}
	case <-time.After(hubWait):
		t.Fatal("Next did not return after Close")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Subscribe().Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next with a cancelled context: %v", err)
	}
	h.Close()
	h.Publish(steps.Event{Seq: 1, Type: steps.EvSessionStarted}) // after Close: ignored, no panic
	if f := next(t, h.Subscribe()); !f.Closed || !f.Reset || len(f.Events) != 0 {
		t.Errorf("joining a closed, empty hub: %+v", f)
	}
}

// BenchmarkHubPublish is the cost Publish adds to every event the engine
// emits, with 0 and 8 partners reading; the reference is appending the
// event to a slice, what the operator's own screen queue does.
func BenchmarkHubPublish(b *testing.B) {
	evs := session(4096, 100)
	b.Run("reference-append", func(b *testing.B) {
		q := make([]steps.Event, 0, 1<<16)
		i := 0
		for b.Loop() {
			if len(q) == cap(q) {
				q = q[:0] // drained, as the screen's queue is
			}
			q = append(q, evs[i%len(evs)])
			i++
		}
	})
	for _, partners := range []int{0, 8} {
		b.Run(fmt.Sprintf("partners-%d", partners), func(b *testing.B) {
			h := NewHub(HubConfig{MaxBytes: 8 << 20, Replay: func(upTo int64) ([]steps.Event, error) { return nil, nil }})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for range partners {
				sub := h.Subscribe()
				go func() {
					for {
						if _, err := sub.Next(ctx); err != nil {
							return
						}
					}
				}()
			}
			i := 0
			for b.Loop() {
				e := evs[i%len(evs)]
				e.Seq = int64(i + 1)
				h.Publish(e)
				i++
			}
		})
	}
}
