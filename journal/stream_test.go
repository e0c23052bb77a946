package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/internal/termsafe"
	"github.com/handrail-dev/handrail/steps"
)

// awkwardSQL are statements whose encoding a piece boundary could split
// wrongly: multi-byte runes of every length, what encoding/json escapes
// (quotes, controls, U+2028, invalid bytes), what termsafe.JSON escapes
// after it (C1 controls, DEL, bidi controls), and a statement longer
// than the pieces.
func awkwardSQL() []string {
	return []string{
		"create table t (\n\tid int,\n\tname text\n)",
		"insert into t values (1, 'é'), (2, '€'), (3, '😀')",
		"select '\"quoted\" and \\backslash\\'",
		"select 'line\u2028sep\u2029para'",
		"select '\u0085c1\u009b[31m and \x7fdel'",
		"select 'bidi \u202eevil\u202c'",
		"select '\xff\xfe invalid \xe2\x82 cut'",
		"select '\x1b[2J'",
		strings.Repeat("insert into t values (42, 'ünïcödé 😀\u202e');", 9),
		strings.Repeat("x", 100),
		"select 1",
	}
}

// TestStreamedListingLine: a listing line streamed in pieces of any size
// is, joined, the line built whole, which is what encoding/json writes;
// each piece is bounded, never ends inside a UTF-8 sequence, and only the
// last one ends the line.
func TestStreamedListingLine(t *testing.T) {
	for _, noLines := range []bool{false, true} {
		el := listingEvent(awkwardSQL(), "dir/é\u202e.sql", noLines)
		want := slowLine(t, el)
		whole, ok := newEncoder().listingLine(el)
		if !ok || !bytes.Equal(whole, want) {
			t.Fatalf("the whole line is not encoding/json's:\n got %s\nwant %s", whole, want)
		}
		head, tail, ok := newEncoder().listingParts(el)
		if !ok {
			t.Fatal("listingParts refused a listing line")
		}
		for _, size := range append(seq(1, 80), 127, 128, 500, len(want)-1, len(want), 10*len(want)) {
			var got []byte
			pieces := 0
			err := streamListing(nil, head, el.Listing, tail, size, func(p []byte, last bool) error {
				pieces++
				if last != (len(got)+len(p) == len(want)) {
					t.Fatalf("size %d: piece %d: last %v at %d of %d bytes", size, pieces, last, len(got)+len(p), len(want))
				}
				if bytes.IndexByte(p, '\n') != map[bool]int{true: len(p) - 1, false: -1}[last] {
					t.Fatalf("size %d: piece %d has a newline where it does not end the line: %q", size, pieces, p)
				}
				if !bytes.Equal(termsafe.JSON(p), p) {
					t.Fatalf("size %d: piece %d is not escaped for a terminal: %q", size, pieces, p)
				}
				if limit := 6 * (max(size, 4) + 16); len(p) > limit {
					t.Fatalf("size %d: piece %d has %d bytes (more than %d)", size, pieces, len(p), limit)
				}
				got = append(got, p...)
				return nil
			})
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("size %d: streamed (%v):\n got %s\nwant %s", size, err, got, want)
			}
			if size < len(want)/2 && pieces < 2 {
				t.Fatalf("size %d: %d piece(s) for %d bytes", size, pieces, len(want))
			}
		}
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// FuzzStreamedListingLine: streamed in pieces of any size, a listing line
// is the line built whole.
func FuzzStreamedListingLine(f *testing.F) {
	f.Add("insert into t values ('😀é€')", "select '\u2028\u0085\u202e'", "m.sql", uint8(7))
	f.Add("select '\xff\xe2\x82'", "\x1b\x7f\"\\", "a\"b", uint8(1))
	f.Add(strings.Repeat("ü", 40), strings.Repeat("\xf0\x9f", 9), "", uint8(5))
	f.Fuzz(func(t *testing.T, a, b, file string, size uint8) {
		if a == "" || b == "" {
			return // an event's statement is never empty
		}
		el := listingEvent([]string{a, b, a + b}, file, false)
		whole, ok := newEncoder().listingLine(el)
		head, tail, ok2 := newEncoder().listingParts(el)
		if !ok || !ok2 {
			t.Fatal("not a listing line")
		}
		var got []byte
		err := streamListing(nil, head, el.Listing, tail, int(size), func(p []byte, _ bool) error {
			got = append(got, p...)
			return nil
		})
		if err != nil || !bytes.Equal(got, whole) {
			t.Fatalf("size %d: streamed (%v):\n got %q\nwant %q", size, err, got, whole)
		}
	})
}

// bigSession is a session whose step "migrate" lists n statements (the
// awkward ones among them): step_started, step_would_run, intent, the
// first statement, the end.
func bigSession(n int) [][]steps.Event {
	sqls := awkwardSQL()
	ss := make([]steps.StatementInfo, n)
	for k := range ss {
		ss[k] = steps.StatementInfo{Index: k, Count: n, SQL: sqls[k%len(sqls)], File: "migrations/big.sql", Line: 1 + 2*k}
	}
	t0 := time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)
	seq := int64(0)
	ev := func(e steps.Event) steps.Event {
		seq++
		e.Seq, e.Time, e.Mono = seq, t0.Add(time.Duration(seq)*time.Millisecond), time.Duration(seq)*time.Millisecond
		return e
	}
	list := steps.ListOf(ss)
	st := ss[0]
	fin := st
	fin.Tag, fin.Elapsed = "CREATE TABLE", time.Millisecond
	return [][]steps.Event{
		{ev(steps.Event{Type: steps.EvSessionStarted, Session: &steps.SessionInfo{SessionID: "s"}})},
		{ev(steps.Event{Type: steps.EvStepStarted, Step: "migrate"}), ev(steps.Event{Type: steps.EvStepWouldRun, Step: "migrate", Statements: list})},
		{ev(steps.Event{Type: steps.EvIntent, Step: "migrate", Statements: list})},
		{ev(steps.Event{Type: steps.EvStatementStarted, Step: "migrate", Statement: &st})},
		{ev(steps.Event{Type: steps.EvStatementFinished, Step: "migrate", Statement: &fin}), ev(steps.Event{Type: steps.EvStepSucceeded, Step: "migrate"})},
		{ev(steps.Event{Type: steps.EvSessionEnded})},
	}
}

// recordBig writes batches with a writer whose chunk is chunk (0: the
// default), each batch with RecordAll, or event by event; write, when not
// nil, is the writer's streamWrite.
func recordBig(t *testing.T, batches [][]steps.Event, chunk int, oneByOne bool, write func(w *Writer, p []byte) (int, error)) *Writer {
	t.Helper()
	w, err := Create(t.TempDir(), fixtureHeader(), []string{fixturePassword})
	if err != nil {
		t.Fatal(err)
	}
	w.noSync = true
	if chunk > 0 {
		w.enc.chunk = chunk
	}
	if write != nil {
		w.streamWrite = func(p []byte) (int, error) { return write(w, p) }
	}
	for _, b := range batches {
		if oneByOne {
			for _, e := range b {
				if err := w.Append(e); err != nil {
					t.Fatal(err)
				}
			}
		} else if _, err := w.RecordAll(b); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// TestStreamedJournalIsTheSame: a journal whose listing lines are
// streamed in pieces (of 7 bytes, of 64, of 1000) is byte for byte the
// journal written with whole lines, recorded event by event and in
// batches (the listing line between others in one batch), the fixture
// session (redaction included) as well; and the writes of a streamed
// batch are bounded by the piece size.
func TestStreamedJournalIsTheSame(t *testing.T) {
	big := bigSession(300)
	var fixture [][]steps.Event
	for _, e := range fixtureEvents() {
		fixture = append(fixture, []steps.Event{e})
	}
	secret := bigSession(300)
	ss := secret[1][1].Statements.All()
	var withSecret []steps.StatementInfo
	for k, s := range ss {
		if k == 150 {
			s.SQL = "alter role app password '" + fixturePassword + "'"
		}
		withSecret = append(withSecret, s)
	}
	secret[1][1].Statements = steps.ListOf(withSecret)
	secret[2][0].Statements = secret[1][1].Statements
	for name, batches := range map[string][][]steps.Event{"big": big, "big with a secret": secret, "fixture": fixture, "fixture in batches": batches(fixtureEvents())} {
		ref := recordBig(t, batches, 0, false, nil)
		ref.Close()
		want := fileBytes(ref.Path())
		small := 0 // the longest line but the listing's
		for _, l := range lines(want) {
			if !bytes.Contains(l, []byte(`"listing":{"count":300,"file"`)) {
				small = max(small, len(l))
			}
		}
		if bytes.Contains(want, []byte(fixturePassword)) || (name == "big with a secret") != bytes.Contains(want, []byte("password '"+Redacted+"'")) {
			t.Fatalf("%s: the secret is not redacted, or redacted where there is none", name)
		}
		for _, chunk := range []int{7, 64, 1000} {
			for _, oneByOne := range []bool{false, true} {
				largest := 0
				w := recordBig(t, batches, chunk, oneByOne, func(w *Writer, p []byte) (int, error) {
					largest = max(largest, len(p))
					return w.f.Write(p)
				})
				w.Close()
				if got := fileBytes(w.Path()); !bytes.Equal(got, want) {
					t.Fatalf("%s, pieces of %d, one by one %v: the journal differs from the one written whole", name, chunk, oneByOne)
				}
				if name == "big" && (largest == 0 || largest > small+8*chunk+6*16) {
					t.Fatalf("%s, pieces of %d: largest write %d bytes", name, chunk, largest)
				}
				if r := Verify(w.Path()); !r.OK || !r.Ended {
					t.Fatalf("%s: Verify: %+v", name, r)
				}
			}
		}
	}
}

// streamCase writes bigSession(300) in pieces of 64 bytes, calling at
// after each write(2) of a streamed batch with the number of writes so
// far; it returns the writer (closed when the test ends) and the error
// of the batch holding the listing line.
func streamCase(t *testing.T, at func(w *Writer, writes int, p []byte) (int, error)) (*Writer, error) {
	t.Helper()
	w, err := Create(t.TempDir(), fixtureHeader(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	w.noSync = true
	w.enc.chunk = 64
	writes := 0
	w.streamWrite = func(p []byte) (int, error) {
		writes++
		return at(w, writes, p)
	}
	big := bigSession(300)
	if _, err := w.RecordAll(big[0]); err != nil {
		t.Fatal(err)
	}
	_, err = w.RecordAll(big[1])
	return w, err
}

// TestStreamedLineCrash: handrail or the machine dying after any write of
// a streamed line leaves what a line written with one write(2) cut short
// leaves: Read drops the torn line (the events before it are whole),
// Verify says the journal is intact with a torn last line, OpenAppend
// truncates it and the session goes on.
func TestStreamedLineCrash(t *testing.T) {
	var snaps [][]byte
	w, err := streamCase(t, func(w *Writer, _ int, p []byte) (int, error) {
		n, err := w.f.Write(p)
		snaps = append(snaps, fileBytes(w.Path()))
		return n, err
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if len(snaps) < 100 {
		t.Fatalf("%d writes for a line of 300 statements in pieces of 64 bytes", len(snaps))
	}
	for i, b := range snaps {
		path := filepath.Join(t.TempDir(), "crash.jsonl")
		must(t, os.WriteFile(path, b, 0o600))
		log := mustRead(t, path)
		complete := i == len(snaps)-1
		whole := bytes.Count(b[bytes.IndexByte(b, '\n')+1:], []byte("\n")) // session_started, step_started, then the listing
		if log.TornTail == complete || len(log.Events) != whole || log.Lines != whole+1 {
			t.Fatalf("after write %d of %d: torn %v, %d events (want %d)", i+1, len(snaps), log.TornTail, len(log.Events), whole)
		}
		if r := Verify(path); !r.OK || r.TornTail == complete {
			t.Fatalf("after write %d: Verify: %+v", i+1, r)
		}
		if complete || i%7 != 0 {
			continue
		}
		ow, prior, err := OpenAppend(path, nil)
		if err != nil {
			t.Fatalf("after write %d: OpenAppend: %v", i+1, err)
		}
		if line, dropped := ow.TornTail(); line != whole+2 || dropped == 0 {
			t.Fatalf("after write %d: TornTail %d, %d", i+1, line, dropped)
		}
		last := prior[len(prior)-1]
		_, err = ow.RecordAll([]steps.Event{{Seq: last.Seq + 1, Time: last.Time, Type: steps.EvSessionResumed, Session: &steps.SessionInfo{SessionID: "r"}}})
		ow.Close()
		if err != nil {
			t.Fatalf("after write %d: resuming: %v", i+1, err)
		}
		if log := mustRead(t, path); log.TornTail || len(log.Events) != whole+1 {
			t.Fatalf("after write %d: resumed: torn %v, %d events", i+1, log.TornTail, len(log.Events))
		}
	}
}

// TestStreamedLineFollower: a follower polling while a streamed line is
// half written reads the lines before it and waits for its newline;
// then it reads the line, with every statement's SQL.
func TestStreamedLineFollower(t *testing.T) {
	var fl *Follower
	var seen []steps.EventType
	listedAt, writes := 0, 0
	poll := func(when string) {
		if err := fl.fill(); err != nil {
			t.Fatalf("%s: follower: %v", when, err)
		}
		for _, e := range fl.q {
			seen = append(seen, e.Type)
			if e.Type == steps.EvStepWouldRun {
				listedAt = writes
			}
		}
		fl.q = fl.q[:0]
	}
	w, err := streamCase(t, func(w *Writer, k int, p []byte) (int, error) {
		if fl == nil {
			var err error
			if fl, err = OpenFollower(context.Background(), w.Path()); err != nil {
				t.Fatal(err)
			}
		}
		n, err := w.f.Write(p)
		writes = k
		poll(fmt.Sprintf("write %d", k))
		return n, err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer fl.Close()
	// Until the last write, the follower saw the step start (the batch's
	// first line, whole after the first write) and not the listing.
	if len(seen) != 3 || seen[0] != steps.EvSessionStarted || seen[1] != steps.EvStepStarted || seen[2] != steps.EvStepWouldRun ||
		writes < 100 || listedAt != writes {
		t.Fatalf("the follower saw %v, the listing after write %d of %d", seen, listedAt, writes)
	}
	e, err := OpenFollower(context.Background(), w.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 2 {
		if _, err := e.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	wr, err := e.Next(ctx)
	if err != nil || wr.Type != steps.EvStepWouldRun || wr.Statements.Len() != 300 || wr.Statements.SQL(4) != awkwardSQL()[4] {
		t.Fatalf("the listing read back: %v %+v", err, wr)
	}
}

// TestStreamedLineStopsOnChange: the journal truncated, or written to by
// another process, while a streamed line is written: the writer stops
// before its next piece, says which line was cut where and what happened
// (ErrJournalChanged), writes nothing more, and has no head to offer.
func TestStreamedLineStopsOnChange(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(path string)
		want   string
	}{
		{"truncated", func(p string) { must(t, os.Truncate(p, 100)) }, "was truncated to 100 bytes"},
		{"written to", func(p string) {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			must(t, err)
			_, err = f.WriteString("junk")
			must(t, err)
			must(t, f.Close())
		}, "another process wrote to it"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var size int64
			w, err := streamCase(t, func(w *Writer, k int, p []byte) (int, error) {
				n, err := w.f.Write(p)
				if k == 5 {
					c.change(w.Path())
					size = int64(len(fileBytes(w.Path())))
				}
				if k > 5 {
					t.Errorf("write %d after the journal changed", k)
				}
				return n, err
			})
			if !errors.Is(err, ErrJournalChanged) || !strings.Contains(err.Error(), c.want) ||
				!strings.Contains(err.Error(), "line 4 (event 3, step_would_run) was cut after ") ||
				!strings.Contains(err.Error(), "stops before the next write to the database") || !strings.Contains(err.Error(), w.Path()) {
				t.Fatalf("the journal %s mid-line: %v", c.name, err)
			}
			if err2 := w.Append(steps.Event{Seq: 4, Time: time.Now(), Type: steps.EvIntent, Step: "migrate"}); !errors.Is(err2, ErrJournalChanged) {
				t.Errorf("a later Append: %v", err2)
			}
			if got := int64(len(fileBytes(w.Path()))); got != size {
				t.Errorf("the writer wrote after the change: %d bytes, %d when changed", got, size)
			}
			if h := w.Head(); h != "" {
				t.Errorf("Head() = %s after the journal changed", h)
			}
		})
	}
}

// TestStreamedLineWriteError: a write failing in the middle of a streamed
// line stops the writer: the error says which line was cut where, that
// the journal ends with a torn line and what to do; later Appends fail;
// the head is the last whole line, which is what Read finds, and the
// session resumes from it.
func TestStreamedLineWriteError(t *testing.T) {
	full := errors.New("no space left on device")
	w, err := streamCase(t, func(w *Writer, k int, p []byte) (int, error) {
		if k == 9 {
			n, _ := w.f.Write(p[:len(p)/2])
			return n, full
		}
		return w.f.Write(p)
	})
	if !errors.Is(err, full) || !strings.Contains(err.Error(), "line 4 (event 3, step_would_run) was cut after ") ||
		!strings.Contains(err.Error(), "torn line, which handrail run --resume drops") || !strings.Contains(err.Error(), w.Path()) {
		t.Fatalf("a write failing mid-line: %v", err)
	}
	if err2 := w.Append(steps.Event{Seq: 4, Time: time.Now(), Type: steps.EvIntent, Step: "migrate"}); !errors.Is(err2, full) {
		t.Errorf("a later Append: %v", err2)
	}
	log := mustRead(t, w.Path())
	if !log.TornTail || log.TornLine != 4 || len(log.Events) != 2 || log.Head != w.Head() {
		t.Fatalf("read back: torn %v line %d, %d events, head %s (writer %s)", log.TornTail, log.TornLine, len(log.Events), log.Head, w.Head())
	}
	w.Close()
	ow, _, err := OpenAppend(w.Path(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ow.Close()
}

// TestStreamStopsAtError: an error of emit stops the line at once: no
// further piece, and the rest is not built (buf does not grow).
func TestStreamStopsAtError(t *testing.T) {
	el := listingEvent(bigSQL(2000), "m.sql", false)
	head, tail, _ := newEncoder().listingParts(el)
	stop := errors.New("stop")
	calls := 0
	cw := chunkWriter{buf: make([]byte, 0, 80), size: 64}
	cw.emit = func([]byte, bool) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	}
	if err := cw.line(head, el.Listing, tail); err != stop || calls != 3 || cap(cw.buf) > 1024 {
		t.Fatalf("error %v after %d pieces, buf of %d bytes", err, calls, cap(cw.buf))
	}
}

func bigSQL(n int) []string {
	sqls := awkwardSQL()
	out := make([]string, n)
	for k := range out {
		out[k] = sqls[k%len(sqls)]
	}
	return out
}
