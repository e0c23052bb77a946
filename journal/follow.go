package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/handrail-dev/handrail/steps"
)

// pollEvery is how often a follower looks for new lines: well under the
// 100 ms within which a watcher should see an event.
const pollEvery = 25 * time.Millisecond

// maxQueued bounds how many decoded events a follower holds, so catching
// up with a long journal does not hold it all in memory.
const maxQueued = 1024

// readChunk is how much a follower reads at once.
const readChunk = 256 << 10

// Follower reads a journal while it is being written, like tail -f, and
// verifies the chain as it goes. It polls the file (no inotify: it works
// on any file system and over NFS), reads only complete lines (a partial
// line waits for its newline), and notices a file truncated below what it
// already read. It is not safe for concurrent use.
type Follower struct {
	f     *os.File
	path  string
	c     chain
	off   int64 // end of the last accepted line
	buf   []byte
	q     []steps.Event
	ended bool  // the last lifecycle event read is session_ended
	err   error // why following must stop, held until q is taken
}

// OpenFollower opens the journal at path and waits (until ctx ends) for
// its header line; a missing file is an error at once.
func OpenFollower(ctx context.Context, path string) (*Follower, error) {
	fl, err := newFollower(path)
	if err != nil {
		return nil, err
	}
	f := fl.f
	for fl.c.lines == 0 {
		if err := fl.fill(); err != nil {
			f.Close()
			return nil, err
		}
		if fl.c.lines > 0 {
			break
		}
		if err := sleep(ctx, pollEvery); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: no journal header yet: %w", path, err)
		}
	}
	return fl, nil
}

// Header returns the journal's header.
func (fl *Follower) Header() Header { return fl.c.header }

// Head returns the hash of the last line read.
func (fl *Follower) Head() string { return fl.c.head() }

// Close closes the file.
func (fl *Follower) Close() error { return fl.f.Close() }

// Next returns the next event, waiting for it to be appended. It returns
// ctx.Err() when ctx ends first, and a *VerifyError when the chain breaks.
func (fl *Follower) Next(ctx context.Context) (steps.Event, error) {
	for {
		if len(fl.q) > 0 {
			e := fl.q[0]
			fl.q[0] = steps.Event{}
			fl.q = fl.q[1:]
			return e, nil
		}
		if err := fl.fill(); err != nil {
			return steps.Event{}, err
		}
		if len(fl.q) > 0 {
			continue
		}
		if err := sleep(ctx, pollEvery); err != nil {
			return steps.Event{}, err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// fill polls, unless following already failed: the error is returned
// once the events read before the failing line have been taken.
func (fl *Follower) fill() error {
	if fl.err == nil {
		fl.err = fl.poll()
	}
	if len(fl.q) > 0 {
		return nil
	}
	return fl.err
}

// poll reads what was appended after the last accepted line and accepts
// the complete lines, queueing their events. Bytes after the last complete
// line are not kept: the next poll reads them again, so a torn line that
// a resuming writer truncates and overwrites is never mixed with the new
// one.
func (fl *Follower) poll() error {
	st, err := fl.f.Stat()
	if err != nil {
		return err
	}
	if st.Size() < fl.off {
		return &VerifyError{Line: fl.c.lines, Changed: true,
			Reason: fmt.Sprintf("the journal shrank to %d bytes, below the %d already read: it was truncated or rewritten", st.Size(), fl.off)}
	}
	fl.buf = fl.buf[:0]
	start := 0 // of unconsumed bytes in buf
	for len(fl.q) < maxQueued {
		// Read more after what buf holds.
		if start > 0 {
			n := copy(fl.buf, fl.buf[start:])
			fl.buf = fl.buf[:n]
			start = 0
		}
		if cap(fl.buf)-len(fl.buf) < readChunk/2 {
			nb := make([]byte, len(fl.buf), max(2*cap(fl.buf), readChunk))
			copy(nb, fl.buf)
			fl.buf = nb
		}
		n, rerr := fl.f.ReadAt(fl.buf[len(fl.buf):cap(fl.buf)], fl.off+int64(len(fl.buf)))
		fl.buf = fl.buf[:len(fl.buf)+n]
		eof := rerr == io.EOF
		if rerr != nil && !eof {
			return rerr
		}
		for len(fl.q) < maxQueued {
			rest := fl.buf[start:]
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				break
			}
			ev, isEvent, st, err := fl.c.accept(rest[:i])
			if err != nil {
				if st == lineBadJSON && i+1 == len(rest) {
					if eof {
						// Not valid JSON, and nothing after it yet: wait;
						// it is an error once more lines follow it.
						return nil
					}
					break // read on to find out
				}
				return err
			}
			fl.off += int64(i + 1)
			start += i + 1
			if isEvent {
				fl.q = append(fl.q, ev)
				switch ev.Type {
				case steps.EvSessionEnded:
					fl.ended = true
				case steps.EvSessionResumed, steps.EvSessionStarted:
					fl.ended = false
				}
			}
		}
		if eof || n == 0 {
			return nil
		}
	}
	return nil
}

// Follow sends the journal's events to out, those already written and
// then each new one as it is appended (within ~25 ms), verifying the chain
// as it goes. It returns nil when ctx ends, and an error when the file
// cannot be read or the chain breaks (a *VerifyError). It does not close
// out.
func Follow(ctx context.Context, path string, out chan<- steps.Event) error {
	fl, err := OpenFollower(ctx, path)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer fl.Close()
	return fl.send(ctx, out)
}

func (fl *Follower) send(ctx context.Context, out chan<- steps.Event) error {
	for {
		e, err := fl.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case out <- e:
		case <-ctx.Done():
			return nil
		}
	}
}

// WriterState says whether the process that writes a journal still holds
// it: a handrail session holds an exclusive lock on its journal from
// Create (or OpenAppend) to Close, and the lock dies with the process.
type WriterState int

const (
	// WriterUnknown: cannot tell (no advisory locks on this system or file
	// system; the writer then went on without one too).
	WriterUnknown WriterState = iota
	// WriterAlive: a handrail process holds the journal.
	WriterAlive
	// WriterGone: no process holds the journal and the session did not
	// end: its handrail crashed, was killed, or lost its terminal. The
	// session can be resumed (handrail run --resume), which holds it again.
	WriterGone
)

// probeEvery is how often an idle follower asks whether the writer is
// still there: a watcher learns that it is gone within about a second.
const probeEvery = 500 * time.Millisecond

// Writer probes the journal's writer. Once the session has ended (its
// last lifecycle event is session_ended) nobody holds the journal, as
// expected: the state is then WriterUnknown.
func (fl *Follower) Writer() WriterState {
	if fl.ended {
		return WriterUnknown
	}
	return probeWriter(fl.f)
}

// replaced reports, as an error, a journal whose path now names another
// file than the one followed (moved, or replaced by an editor's save):
// what the follower reads is no longer what others will read.
func (fl *Follower) replaced() error {
	at, err := os.Stat(fl.path)
	if err != nil {
		return &VerifyError{Line: fl.c.lines, Changed: true, Reason: fmt.Sprintf("the journal is no longer at %s (%v): it was moved or deleted", fl.path, err)}
	}
	cur, err := fl.f.Stat()
	if err == nil && !os.SameFile(at, cur) {
		return &VerifyError{Line: fl.c.lines, Changed: true, Reason: fmt.Sprintf("%s was replaced by another file: what was followed is no longer the journal there", fl.path)}
	}
	return nil
}

// Status is what FollowLog reports besides events.
type Status struct {
	// Writer is the writer's state, sent whenever it changes.
	Writer WriterState
	// Stopped: following stopped; this is the last Status sent. Err says
	// why (nil when ctx ended): the journal is missing or unreadable (an
	// *os.PathError), fails its chain (a *VerifyError), or is of a newer
	// format (a *FormatError).
	Stopped bool
	Err     error
}

// FollowLog is Follow for `handrail watch`. It returns at once: the
// journal is opened and read on a goroutine, which sends its events (those
// already written, then new ones as they are appended) on the first
// channel, and on the second the writer's state whenever it changes, then
// one final Status with Stopped set. Both channels close when following
// stops (ctx ended, or an error); the events channel first.
func FollowLog(ctx context.Context, path string) (<-chan steps.Event, <-chan Status) {
	events := make(chan steps.Event, 64)
	status := make(chan Status, 4)
	go func() {
		var err error
		fl, openErr := newFollower(path)
		if openErr == nil {
			err = fl.watch(ctx, events, status)
			fl.Close()
		} else {
			err = openErr
		}
		close(events)
		if ctx.Err() != nil {
			err = nil
		}
		status <- Status{Stopped: true, Err: err}
		close(status)
	}()
	return events, status
}

func newFollower(path string) (*Follower, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, &os.PathError{Op: "open", Path: path, Err: errors.New("is a directory, not a journal")}
	}
	return &Follower{f: f, path: path}, nil
}

// watch is FollowLog's loop: read what was appended, send it; when there
// is nothing new, ask now and then whether the writer is still there.
func (fl *Follower) watch(ctx context.Context, events chan<- steps.Event, status chan<- Status) error {
	last := WriterState(-1)
	var probed time.Time
	for {
		if err := fl.fill(); err != nil {
			return err
		}
		if len(fl.q) > 0 {
			for _, e := range fl.q {
				select {
				case events <- e:
				case <-ctx.Done():
					return nil
				}
			}
			clear(fl.q)
			fl.q = fl.q[:0]
			continue
		}
		if time.Since(probed) >= probeEvery {
			probed = time.Now()
			if err := fl.replaced(); err != nil {
				return err
			}
			if w := fl.Writer(); w != last {
				last = w
				select {
				case status <- Status{Writer: w}:
				case <-ctx.Done():
					return nil
				}
			}
		}
		if err := sleep(ctx, pollEvery); err != nil {
			return nil
		}
	}
}
