package share

import (
	"context"
	"sync"

	"github.com/handrail-dev/handrail/steps"
)

// Hub hands the session's events to every partner's screen without ever
// making the engine wait for one.
//
// It keeps the session so far as one shared, append-only history, and each
// partner (a Sub) only a cursor into it: Publish appends and wakes the
// partners, in O(partners), never blocking; a partner takes what it has
// not seen when it is ready. So a partner's backlog costs no memory of its
// own, a slow terminal delays only its own screen, and a late joiner gets
// the session from its first event (the screen is the same fold as the
// operator's, so it must see everything).
//
// The history is bounded by HubConfig.MaxBytes (approximate). Past it,
// the oldest half is dropped from memory, and a partner that needs events
// no longer held (one that joins, or one so far behind that its cursor
// fell off the front) is redrawn from the session so far, read back from
// the journal the writer is writing (HubConfig.Replay): it gets a fresh
// start instead of every event it missed. Without Replay the history is
// never trimmed.
type Hub struct {
	cfg HubConfig

	mu      sync.Mutex
	hist    []steps.Event // hist[i].Seq == first+i
	first   int64         // seq of hist[0]; 0 while empty
	last    int64         // seq of the last event
	bytes   int64         // approximate size of hist
	trimmed bool          // events before first are no longer in memory
	began   bool          // this process published an event
	closed  bool
	subs    map[*Sub]struct{}
	started chan struct{} // closed at the first Publish
}

// HubConfig configures a Hub.
type HubConfig struct {
	// Prior are the events recorded before this process (a resumed
	// session), as the journal holds them.
	Prior []steps.Event
	// MaxBytes bounds the history kept in memory (approximate); 0 means
	// DefaultHistoryBytes.
	MaxBytes int64
	// Replay returns the recorded events with seq <= upTo, for a partner
	// that needs events no longer in memory. Nil: never trim.
	Replay func(upTo int64) ([]steps.Event, error)
	// MaxBatch bounds the events of one Feed, so a screen catching up
	// redraws as it goes; 0 means DefaultMaxBatch.
	MaxBatch int
}

// Defaults of HubConfig.
const (
	DefaultHistoryBytes = 64 << 20
	DefaultMaxBatch     = 512
)

// Feed is what a partner's screen is to fold next.
type Feed struct {
	// Events follow what the screen has folded so far; with Reset they
	// are the whole session so far, to fold from scratch.
	Events []steps.Event
	Reset  bool
	// Closed: the session's stream ended; nothing follows.
	Closed bool
}

// NewHub returns a hub holding cfg.Prior.
func NewHub(cfg HubConfig) *Hub {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultHistoryBytes
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	h := &Hub{cfg: cfg, subs: map[*Sub]struct{}{}, started: make(chan struct{})}
	for _, e := range cfg.Prior {
		h.appendLocked(e)
	}
	return h
}

// Started is closed once this process published its first event (the
// session's session_started or session_resumed).
func (h *Hub) Started() <-chan struct{} { return h.started }

// Publish appends e, the next event of the session as the journal
// recorded it. It never blocks on a partner.
func (h *Hub) Publish(e steps.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.appendLocked(e)
	if !h.began {
		h.began = true
		close(h.started)
	}
	h.trimLocked()
	h.wakeLocked()
}

// Close ends the stream: every partner gets a Feed with Closed.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	h.wakeLocked()
}

func (h *Hub) appendLocked(e steps.Event) {
	if len(h.hist) == 0 {
		h.first = e.Seq
	}
	h.hist = append(h.hist, e)
	h.last = e.Seq
	h.bytes += approxSize(e)
}

// trimLocked drops the oldest half of the history (by size) once it is
// over the budget. The kept events move to a new array: a partner may
// still read the old one (see take), which nothing writes again.
func (h *Hub) trimLocked() {
	if h.cfg.Replay == nil || h.bytes <= h.cfg.MaxBytes || len(h.hist) < 2 {
		return
	}
	var dropped int64
	n := 0
	for n < len(h.hist)-1 && dropped < h.bytes/2 {
		dropped += approxSize(h.hist[n])
		n++
	}
	kept := make([]steps.Event, len(h.hist)-n, 2*(len(h.hist)-n)) // room to grow back without a copy
	copy(kept, h.hist[n:])
	h.hist = kept
	h.first += int64(n)
	h.bytes -= dropped
	h.trimmed = true
}

func (h *Hub) wakeLocked() {
	for s := range h.subs {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Sub is one partner's subscription: a cursor into the hub's history.
type Sub struct {
	h    *Hub
	next int64 // seq of the first event the screen has not folded
	wake chan struct{}
	gone bool
}

// Subscribe returns a subscription whose first Feed is the whole session
// so far (Reset), then what follows.
func (h *Hub) Subscribe() *Sub {
	s := &Sub{h: h, wake: make(chan struct{}, 1)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	s.wake <- struct{}{}
	return s
}

// Close ends the subscription; a Next waiting returns a Closed Feed.
func (s *Sub) Close() {
	s.h.mu.Lock()
	delete(s.h.subs, s)
	s.gone = true
	s.h.mu.Unlock()
	s.wakeSelf()
}

// Next waits until there is something for the screen, or ctx ends.
func (s *Sub) Next(ctx context.Context) (Feed, error) {
	for {
		f, upTo, ok := s.take()
		if ok {
			return f, nil
		}
		if upTo > 0 {
			return s.replay(upTo)
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return Feed{}, ctx.Err()
		}
	}
}

// take returns the next Feed from memory; when the screen needs events no
// longer held it returns upTo, the seq to replay the journal to.
func (s *Sub) take() (f Feed, upTo int64, ok bool) {
	h := s.h
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case s.gone:
		return Feed{Closed: true}, 0, true
	case s.next == 0 && h.last == 0:
		// Nothing recorded yet: the first Feed is an empty reset.
		if h.closed {
			return Feed{Reset: true, Closed: true}, 0, true
		}
		return Feed{}, 0, false
	case s.next == 0 || s.next < h.first:
		if h.trimmed {
			return Feed{}, h.last, false
		}
		// The whole history: a slice of the shared array, which Publish
		// only appends past (never rewrites) and trim replaces.
		s.next = h.last + 1
		return Feed{Events: h.hist[:len(h.hist):len(h.hist)], Reset: true, Closed: h.closed}, 0, true
	case s.next <= h.last:
		from := s.next - h.first
		to := min(int64(len(h.hist)), from+int64(h.cfg.MaxBatch))
		s.next = h.first + to
		if s.next <= h.last {
			s.wakeSelf()
		}
		return Feed{Events: h.hist[from:to:to], Closed: h.closed && s.next > h.last}, 0, true
	case h.closed:
		return Feed{Closed: true}, 0, true
	}
	return Feed{}, 0, false
}

func (s *Sub) wakeSelf() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// replay redraws the screen from the journal: the session up to upTo.
func (s *Sub) replay(upTo int64) (Feed, error) {
	events, err := s.h.cfg.Replay(upTo)
	if err != nil {
		return Feed{}, err
	}
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	s.next = upTo + 1
	if n := len(events); n > 0 && events[n-1].Seq < upTo {
		s.next = events[n-1].Seq + 1
	}
	s.wakeSelf()
	return Feed{Events: events, Reset: true}, nil
}

// approxSize estimates what an event holds in memory: its strings, which
// is where a session's size is (rows, output, SQL, messages).
func approxSize(e steps.Event) int64 {
	n := int64(200 + len(e.Text))
	if r := e.Rows; r != nil {
		n += cellsSize(r.Rows) + stringsSize(r.Columns)
	}
	for _, st := range e.Statements.All() {
		n += int64(len(st.SQL)) + 64
	}
	if st := e.Statement; st != nil {
		n += int64(len(st.SQL))
	}
	if c := e.Check; c != nil {
		n += int64(len(c.SQL)) + cellsSize(c.Actual) + cellsSize(c.Expected) + stringsSize(c.Missing) + stringsSize(c.Unexpected)
	}
	if m := e.Monitor; m != nil {
		n += cellsSize(m.Rows)
	}
	if m := e.Message; m != nil {
		n += int64(len(m.Body))
	}
	if no := e.Notice; no != nil {
		n += int64(len(no.Message) + len(no.Detail) + len(no.Hint))
	}
	if s := e.Session; s != nil {
		n += int64(len(s.Plan)) * 256
	}
	return n
}

func stringsSize(ss []string) int64 {
	n := int64(24 * len(ss))
	for _, s := range ss {
		n += int64(len(s))
	}
	return n
}

func cellsSize(rows [][]string) int64 {
	n := int64(0)
	for _, r := range rows {
		n += stringsSize(r) + 24
	}
	return n
}
