package journal

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/steps"
)

// batches cuts events into groups of 1, 2, 3, 1, 2, 3, ... events.
func batches(events []steps.Event) [][]steps.Event {
	var out [][]steps.Event
	for i, n := 0, 1; i < len(events); n = n%3 + 1 {
		k := min(i+n, len(events))
		out = append(out, events[i:k])
		i = k
	}
	return out
}

// writeBatches records the fixture with RecordAll, in batches, and
// returns the writer (open), the events as recorded and the file's size
// after each batch returned.
func writeBatches(t *testing.T, dir string) (*Writer, []steps.Event, []int64) {
	t.Helper()
	w, err := Create(dir, fixtureHeader(), []string{fixturePassword})
	if err != nil {
		t.Fatal(err)
	}
	var recs []steps.Event
	var sizes []int64
	for _, b := range batches(fixtureEvents()) {
		r, err := w.RecordAll(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(r) != len(b) {
			t.Fatalf("RecordAll of %d events returned %d", len(b), len(r))
		}
		recs = append(recs, r...)
		st, err := os.Stat(w.Path())
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, st.Size())
	}
	return w, recs, sizes
}

// A journal recorded in batches is, byte for byte, the journal recorded
// one event at a time (redaction, format 2's statement references and the
// chain included), and RecordAll returns what Record returns.
func TestRecordAllSameJournal(t *testing.T) {
	one, err := Create(t.TempDir(), fixtureHeader(), []string{fixturePassword})
	if err != nil {
		t.Fatal(err)
	}
	var want []steps.Event
	for _, e := range fixtureEvents() {
		rec, err := one.Record(e)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, rec)
	}
	one.Close()
	w, got, _ := writeBatches(t, t.TempDir())
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(one.Path())
	b, _ := os.ReadFile(w.Path())
	if !bytes.Equal(a, b) {
		t.Fatalf("the journal recorded in batches differs from the one recorded event by event")
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RecordAll returned other events than Record")
	}
	if r := Verify(w.Path()); !r.OK || !r.Ended {
		t.Errorf("Verify: %+v", r)
	}
}

// Nothing RecordAll accepted is lost when handrail dies: every batch is
// in the file when RecordAll returns (no user-space buffer; the writer is
// never closed here). A crash of the machine in the middle of a batch's
// write leaves the batch's first lines whole and at most the last one cut:
// a torn tail, which Read drops, Verify reports and OpenAppend truncates
// before the session goes on.
func TestRecordAllCrashMidBatch(t *testing.T) {
	dir := t.TempDir()
	w, recs, sizes := writeBatches(t, dir)
	defer w.Close()
	b, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	// A crash of handrail: what the file holds is every accepted event.
	if log := mustRead(t, w.Path()); len(log.Events) != len(recs) || log.TornTail || log.Head != w.Head() {
		t.Fatalf("after the last batch returned: %d events of %d, torn %v", len(log.Events), len(recs), log.TornTail)
	}
	// A crash of the machine during the write of a batch of three.
	bs := batches(fixtureEvents())
	k := len(bs) - 1
	for len(bs[k]) != 3 {
		k--
	}
	before := int64(len(lines(b[:sizes[k-1]]))) - 1 // events before the batch (less the header)
	for cut := sizes[k-1] + 1; cut < sizes[k]; cut++ {
		if near := bytes.IndexByte(b[cut-2:min(cut+2, sizes[k])], '\n') >= 0; !near && (cut-sizes[k-1])%7 != 0 {
			continue // every byte around a line's end, every 7th elsewhere
		}
		path := filepath.Join(t.TempDir(), "cut.jsonl")
		if err := os.WriteFile(path, b[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		whole := int64(bytes.Count(b[sizes[k-1]:cut], []byte("\n")))
		log := mustRead(t, path)
		if int64(len(log.Events)) != before+whole || log.TornTail != (b[cut-1] != '\n') {
			t.Fatalf("cut at byte %d: %d events (want %d), torn %v", cut, len(log.Events), before+whole, log.TornTail)
		}
		if r := Verify(path); !r.OK || r.TornTail != log.TornTail {
			t.Fatalf("cut at byte %d: Verify: %+v", cut, r)
		}
		if !log.TornTail || ((cut-sizes[k-1])%32 != 1 && b[cut] != '\n') {
			continue // resume from some of the cuts: a line's first byte, its newline missing, every 32nd
		}
		ow, prior, err := OpenAppend(path, []string{fixturePassword})
		if err != nil {
			t.Fatalf("cut at byte %d: OpenAppend: %v", cut, err)
		}
		last := prior[len(prior)-1]
		_, err = ow.RecordAll([]steps.Event{{Seq: last.Seq + 1, Time: last.Time, Mono: last.Mono, Type: steps.EvSessionResumed,
			Session: &steps.SessionInfo{SessionID: "resumed"}}})
		ow.Close()
		if err != nil {
			t.Fatalf("cut at byte %d: resuming: %v", cut, err)
		}
		if log := mustRead(t, path); log.TornTail || int64(len(log.Events)) != before+whole+1 {
			t.Fatalf("cut at byte %d: after resuming %d events, torn %v", cut, len(log.Events), log.TornTail)
		}
	}
}

// A follower of a journal written in batches sees whole lines only: every
// event, in order, as recorded, and the writer's head.
func TestFollowBatches(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, fixtureHeader(), []string{fixturePassword})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fl, err := OpenFollower(ctx, w.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	want := make(chan steps.Event, len(fixtureEvents()))
	go func() {
		for _, b := range batches(fixtureEvents()) {
			recs, err := w.RecordAll(b)
			if err != nil {
				t.Error(err)
				return
			}
			for _, r := range recs {
				want <- r
			}
		}
	}()
	for range fixtureEvents() {
		got, err := fl.Next(ctx)
		if err != nil {
			t.Fatalf("follower: %v", err)
		}
		rec := <-want
		if !reflect.DeepEqual(roundTrip(t, []steps.Event{got}), roundTrip(t, []steps.Event{rec})) {
			t.Fatalf("follower read event %d as %+v, recorded %+v", rec.Seq, got, rec)
		}
	}
	if fl.Head() != w.Head() {
		t.Errorf("follower's head %s, writer's %s", fl.Head(), w.Head())
	}
}

// A batch is checked whole before anything is written: an event out of
// order anywhere in it writes none of it, and the writer goes on.
func TestRecordAllChecks(t *testing.T) {
	w, err := Create(t.TempDir(), fixtureHeader(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ev := fixtureEvents()
	size := func() int64 {
		st, err := os.Stat(w.Path())
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	start := size()
	if _, err := w.RecordAll([]steps.Event{ev[0], ev[2]}); err == nil {
		t.Error("a batch with a gap in seq was accepted")
	}
	if _, err := w.RecordAll([]steps.Event{ev[0], {Seq: 2}}); err == nil {
		t.Error("a batch with an event without a type was accepted")
	}
	if size() != start {
		t.Fatalf("a refused batch wrote %d bytes", size()-start)
	}
	if recs, err := w.RecordAll(nil); err != nil || recs != nil {
		t.Errorf("an empty batch: %v, %v", recs, err)
	}
	if _, err := w.RecordAll(ev[:3]); err != nil {
		t.Fatal(err)
	}
	if log := mustRead(t, w.Path()); len(log.Events) != 3 {
		t.Errorf("%d events recorded, want 3", len(log.Events))
	}
}

// A batch holding an fsynced event is fsynced once, after its write; a
// batch of statement lines is not fsynced.
func TestRecordAllSync(t *testing.T) {
	w, err := Create(t.TempDir(), Header{RunbookID: "sync"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	now := time.Now()
	ev := func(seq int64, typ steps.EventType) steps.Event {
		return steps.Event{Seq: seq, Time: now, Type: typ, Step: "s", Statement: &steps.StatementInfo{Index: int(seq), Count: 10}}
	}
	if _, err := w.RecordAll([]steps.Event{ev(1, steps.EvStatementFinished), ev(2, steps.EvStatementStarted)}); err != nil {
		t.Fatal(err)
	}
	if n := w.Syncs(); n != 0 {
		t.Errorf("a batch of statement lines was fsynced (%d)", n)
	}
	if _, err := w.RecordAll([]steps.Event{ev(3, steps.EvStatementFinished), {Seq: 4, Time: now, Type: steps.EvIntent, Step: "t"},
		{Seq: 5, Time: now, Type: steps.EvStepStarted, Step: "t"}}); err != nil {
		t.Fatal(err)
	}
	if n := w.Syncs(); n != 1 {
		t.Errorf("a batch holding an intent: %d fsyncs, want 1", n)
	}
}

// A batch refused before its write (here: a wrong seq after a new
// listing) leaves the writer's statement table as the file is: the next
// statement line keeps its own SQL rather than referring to a listing
// never written, which the reader would resolve to the older one's SQL.
func TestRecordAllRefusedLeavesNoListingBehind(t *testing.T) {
	w, err := Create(t.TempDir(), fixtureHeader(), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	list := func(sql string) *steps.StatementList {
		return steps.ListOf([]steps.StatementInfo{{Index: 0, Count: 1, SQL: sql}})
	}
	if _, err := w.Record(steps.Event{Seq: 1, Time: now, Type: steps.EvStepWouldRun, Step: "s", Statements: list("select 1")}); err != nil {
		t.Fatal(err)
	}
	_, err = w.RecordAll([]steps.Event{
		{Seq: 2, Time: now, Type: steps.EvStepWouldRun, Step: "s", Statements: list("drop table t")},
		{Seq: 9, Time: now, Type: steps.EvStepSkipped, Step: "s"},
	})
	if err == nil {
		t.Fatal("RecordAll with a wrong seq: no error")
	}
	started := steps.Event{Seq: 2, Time: now, Type: steps.EvStatementStarted, Step: "s", Statement: &steps.StatementInfo{Index: 0, Count: 1, SQL: "drop table t"}}
	if _, err := w.Record(started); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	log, err := Read(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	last := log.Events[len(log.Events)-1]
	if last.Statement == nil || last.Statement.SQL != "drop table t" {
		t.Fatalf("the statement read back: %+v, want drop table t", last.Statement)
	}
}
