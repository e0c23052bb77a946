package journal

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"

	"github.com/handrail-dev/handrail/steps"
)

// Log is a journal read back and verified.
type Log struct {
	Header Header
	Events []steps.Event
	// Head is the hash of the last good line: the value to compare with
	// the one pasted into the change ticket.
	Head string
	// TornTail reports that the last line was incomplete (a crash while
	// writing it) and was dropped; TornLine is its line number.
	TornTail bool
	TornLine int
	// Lines counts the good lines, the header included.
	Lines int

	size      int64     // bytes of the good lines
	tornBytes int64     // bytes of the torn line
	stmts     stmtTable // format 2: each step's last statement listing, for OpenAppend
}

// Read reads and verifies the journal at path. A torn last line is
// reported and dropped, never fatal. Anything else wrong (a broken chain,
// a line that is not valid JSON before the last, a seq gap or reorder) is
// a *VerifyError naming the line.
func Read(path string) (*Log, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadFrom(f)
}

// ReadFrom is Read from any reader.
func ReadFrom(r io.Reader) (*Log, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		c      chain
		lr     lineReader
		log    Log
		events eventList
	)
	for {
		line, err := lr.next(br)
		if err != nil && err != io.EOF {
			return nil, err
		}
		if len(line) == 0 {
			break
		}
		if line[len(line)-1] != '\n' {
			// The last line ends without a newline: the write of it
			// never completed.
			if c.lines == 0 {
				return nil, verr(1, "the header is incomplete (the journal was being created when the process died); it records nothing")
			}
			log.TornTail, log.TornLine, log.tornBytes = true, c.lines+1, int64(len(line))
			break
		}
		ev, isEvent, st, vErr := c.accept(line[:len(line)-1])
		if vErr != nil {
			if st == lineBadJSON && c.lines > 0 && atEOF(br) {
				log.TornTail, log.TornLine, log.tornBytes = true, c.lines+1, int64(len(line))
				break
			}
			if st == lineBrokenPrev {
				cur := append([]byte(nil), line[:len(line)-1]...)
				if next, _ := lr.next(br); len(next) > 0 {
					return nil, blame(c.lines+1, cur, bytes.TrimSuffix(next, []byte("\n")))
				}
			}
			return nil, vErr
		}
		if isEvent {
			events.add(ev)
		}
		log.size += int64(len(line))
	}
	if c.lines == 0 {
		return nil, emptyJournal()
	}
	log.Header, log.Head, log.Lines, log.stmts = c.header, c.head(), c.lines, c.stmts
	log.Events = events.all()
	return &log, nil
}

func atEOF(br *bufio.Reader) bool {
	_, err := br.Peek(1)
	return errors.Is(err, io.EOF)
}

// lineReader reads lines of any length, reusing its buffer.
type lineReader struct{ buf []byte }

// next returns the next line with its newline, or the unterminated rest of
// the input; the bytes are valid until the next call.
func (l *lineReader) next(br *bufio.Reader) ([]byte, error) {
	b, err := br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return b, err
	}
	l.buf = append(l.buf[:0], b...)
	for err == bufio.ErrBufferFull {
		b, err = br.ReadSlice('\n')
		l.buf = append(l.buf, b...)
	}
	return l.buf, err
}

// eventList collects events in chunks and copies them once at the end:
// appending to one slice would copy a long journal's events many times
// over (large slices grow by a quarter).
type eventList struct {
	full [][]steps.Event
	cur  []steps.Event
	n    int
}

const eventChunk = 4096

func (l *eventList) add(e steps.Event) {
	if len(l.cur) == cap(l.cur) {
		if len(l.cur) > 0 {
			l.full = append(l.full, l.cur)
		}
		l.cur = make([]steps.Event, 0, min(eventChunk, max(64, 2*len(l.cur))))
	}
	l.cur = append(l.cur, e)
	l.n++
}

func (l *eventList) all() []steps.Event {
	if len(l.full) == 0 {
		return l.cur
	}
	out := make([]steps.Event, 0, l.n)
	for _, c := range l.full {
		out = append(out, c...)
	}
	return append(out, l.cur...)
}
