package journal

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/steps"
)

// TestFollow: a writer appends while a follower receives every event, in
// order, intact; the delay is logged and only bounded loosely.
func TestFollow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := Create(t.TempDir(), fixtureHeader(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	events := fixtureEvents()
	// Part of the session is written before the follower starts.
	for _, e := range events[:10] {
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	fctx, stop := context.WithCancel(ctx)
	got, status := FollowLog(fctx, w.Path())
	appended := make(chan time.Time, len(events))
	wdone := make(chan struct{})
	defer func() { <-wdone }()
	go func() {
		defer close(wdone)
		for i, e := range events[10:] {
			if i%7 == 0 {
				time.Sleep(30 * time.Millisecond) // let the follower catch up and poll an idle file
			}
			if err := w.Append(e); err != nil {
				t.Error(err)
				return
			}
			appended <- time.Now()
		}
	}()
	want := roundTrip(t, events)
	var worst time.Duration
	for i := range want {
		if want[i].Secret {
			want[i].Text = Redacted
		}
		var e steps.Event
		select {
		case e = <-got:
		case <-ctx.Done():
			t.Fatalf("event %d never arrived", i+1)
		}
		if !reflect.DeepEqual(e, want[i]) {
			t.Fatalf("event %d: got %+v, want %+v", i+1, e, want[i])
		}
		if i >= 10 {
			if d := time.Since(<-appended); d > worst {
				worst = d
			}
		}
	}
	t.Logf("worst delivery delay %v (poll every %v)", worst, pollEvery)
	if worst > 5*time.Second {
		t.Errorf("an event took %v to arrive", worst)
	}
	stop()
	for range got {
	}
	if st := lastStatus(status); !st.Stopped || st.Err != nil {
		t.Errorf("follow ended with %+v after ctx was cancelled", st)
	}
}

// lastStatus reads a FollowLog status channel to its end.
func lastStatus(status <-chan Status) Status {
	var last Status
	for st := range status {
		last = st
	}
	return last
}

// TestFollowPartialLines copies a journal into the followed file a few
// bytes at a time: lines arrive in pieces, and only whole lines count.
func TestFollowPartialLines(t *testing.T) {
	_, src := writeTemp(t)
	path := filepath.Join(t.TempDir(), "live.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := make(chan steps.Event)
	done := make(chan error, 1)
	go func() { done <- Follow(ctx, path, out) }()
	wdone := make(chan struct{})
	defer func() { <-wdone }()
	go func() {
		defer close(wdone)
		for i := 0; i < len(src); {
			n := min(len(src)-i, 1+i%977)
			if _, err := f.Write(src[i : i+n]); err != nil {
				t.Error(err)
				return
			}
			i += n
			time.Sleep(time.Millisecond)
		}
	}()
	want := fixtureEvents()
	for i := range want {
		select {
		case e := <-out:
			if e.Seq != want[i].Seq || e.Type != want[i].Type || e.Step != want[i].Step {
				t.Fatalf("event %d: got %d %s %s", i+1, e.Seq, e.Type, e.Step)
			}
		case err := <-done:
			t.Fatalf("Follow returned %v after %d events", err, i)
		case <-ctx.Done():
			t.Fatalf("event %d never arrived", i+1)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Follow: %v", err)
	}
}

// TestFollowTamper: a line that breaks the chain stops the follower with
// a *VerifyError.
func TestFollowTamper(t *testing.T) {
	_, src := writeTemp(t)
	ls := lines(src)
	path := filepath.Join(t.TempDir(), "live.jsonl")
	os.WriteFile(path, join(ls[:20]), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events, status := FollowLog(ctx, path)
	for range 19 {
		<-events
	}
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(ls[21]) // line 21 skipped
	f.Close()
	for range events {
		t.Error("an event after the break was delivered")
	}
	var ve *VerifyError
	if st := lastStatus(status); !st.Stopped || !errors.As(st.Err, &ve) || ve.Line != 21 {
		t.Errorf("follow ended with %+v, want a *VerifyError at line 21", st)
	}
}

// TestFollowResumeAfterTornTail: the follower waits at a torn line; the
// resuming writer truncates it and goes on; the follower sees the new
// events, never the torn bytes.
func TestFollowResumeAfterTornTail(t *testing.T) {
	_, src := writeTemp(t)
	ls := lines(src)
	path := filepath.Join(t.TempDir(), "live.jsonl")
	os.WriteFile(path, append(join(ls[:30]), ls[30][:len(ls[30])/2]...), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fl, err := OpenFollower(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	for i := 1; i <= 29; i++ {
		e, err := fl.Next(ctx)
		if err != nil || e.Seq != int64(i) {
			t.Fatalf("event %d: %v %v", i, e.Seq, err)
		}
	}
	short, c2 := context.WithTimeout(ctx, 100*time.Millisecond)
	if _, err := fl.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next at a torn line: %v", err)
	}
	c2()

	w, prior, err := OpenAppend(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	last := prior[len(prior)-1]
	for i := range 3 {
		if err := w.Append(steps.Event{Seq: last.Seq + 1 + int64(i), Time: last.Time, Mono: last.Mono, Type: steps.EvReconnected, Text: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	for i := range 3 {
		e, err := fl.Next(ctx)
		if err != nil || e.Seq != last.Seq+1+int64(i) || e.Type != steps.EvReconnected {
			t.Fatalf("after resume: %+v %v", e, err)
		}
	}
	if fl.Head() != mustRead(t, path).Head {
		t.Error("the follower's head differs from the file's")
	}
}

// TestFollowTruncated: a journal cut below what was read is an error.
func TestFollowTruncated(t *testing.T) {
	path, src := writeTemp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fl, err := OpenFollower(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	for range fixtureEvents() {
		if _, err := fl.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	os.Truncate(path, int64(len(src)/2))
	var ve *VerifyError
	if _, err := fl.Next(ctx); !errors.As(err, &ve) || !bytes.Contains([]byte(ve.Reason), []byte("shrank")) {
		t.Errorf("Next after truncation: %v", err)
	}
}

// TestFollowWaitsForHeader: following a file that is still empty waits for
// its header; a missing file fails at once.
func TestFollowWaitsForHeader(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenFollower(context.Background(), filepath.Join(dir, "missing.jsonl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	_, src := writeTemp(t)
	path := filepath.Join(dir, "new.jsonl")
	os.WriteFile(path, nil, 0o600)
	go func() {
		time.Sleep(60 * time.Millisecond)
		os.WriteFile(path, src, 0o600)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fl, err := OpenFollower(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	if fl.Header().SessionID != fixtureHeader().SessionID {
		t.Errorf("header %+v", fl.Header())
	}
	events, status := FollowLog(ctx, filepath.Join(dir, "empty.jsonl"))
	for range events {
	}
	if st := lastStatus(status); !errors.Is(st.Err, os.ErrNotExist) {
		t.Errorf("FollowLog of a missing file: %+v", st)
	}
}
