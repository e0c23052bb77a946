package journal

import (
	"bytes"
	"context"
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
	f    *os.File
	path string
	c    chain
	off  int64 // end of the last accepted line
	buf  []byte
	q    []steps.Event
}

// OpenFollower opens the journal at path and waits (until ctx ends) for
// its header line; a missing file is an error at once.
func OpenFollower(ctx context.Context, path string) (*Follower, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fl := &Follower{f: f, path: path}
	for fl.c.lines == 0 {
		if err := fl.poll(); err != nil {
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
		if err := fl.poll(); err != nil {
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
		return verr(fl.c.lines, "the journal shrank to %d bytes, below the %d already read: it was truncated or rewritten", st.Size(), fl.off)
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

// FollowLog is Follow for `handrail watch`: it waits for the journal's
// header and returns it with a channel of events (those already written,
// then new ones as they are appended) and a channel that receives exactly
// one value, then closes, once the events channel is closed: nil when ctx
// ended, else why following stopped (a *VerifyError when the chain
// broke). When the header cannot be read, the events channel is closed at
// once and the error says why.
func FollowLog(ctx context.Context, path string) (Header, <-chan steps.Event, <-chan error) {
	events := make(chan steps.Event, 64)
	errc := make(chan error, 1)
	fl, err := OpenFollower(ctx, path)
	if err != nil {
		if ctx.Err() != nil {
			err = nil
		}
		errc <- err
		close(events)
		close(errc)
		return Header{}, events, errc
	}
	go func() {
		err := fl.send(ctx, events)
		fl.Close()
		errc <- err
		close(events)
		close(errc)
	}()
	return fl.Header(), events, errc
}
