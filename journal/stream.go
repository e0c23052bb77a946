package journal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/handrail-dev/handrail/steps"
)

// A step's first listing of a 50 MB migration is a line of about 57 MB.
// Built in one buffer and written with one write(2), it would add its
// size to the session's peak memory, at the moment the step starts and
// everything else about the step is live. RecordAll streams such a line
// instead (a listing line longer than the encoder's chunk, lineChunk):
//
//   - when the batch is encoded, the line is built in pieces of about a
//     chunk (streamListing) and each piece is hashed and searched for a
//     secret, then dropped: what is kept is its hash, for the next line's
//     prev, and its length. A listing that holds a secret is redacted
//     through encoding/json and written whole, as before.
//   - when the batch is written, the line is built again, the same way,
//     and written in write(2) calls of about a chunk, together with the
//     batch's other lines; before each write after the first the writer
//     checks that the file is still as it left it (unchanged), as before
//     every batch. A line that comes out another length than the first
//     time stops the writer (it would break the chain).
//
// What a crash, a follower, a changed file or a failed write then see is
// what they see of a line written with one write(2) that the kernel cut
// short (see the package documentation, "Torn tail"): the pieces before
// the newline are a line without a newline, which Read reports as a torn
// tail and drops, OpenAppend truncates, and a follower does not read
// (it waits for the newline); and the writer stops, as after any failed
// write, saying how far the line got.

// bigLine is a listing line that RecordAll streams: what it needs to
// build it again, what hashing it found, and where it goes.
type bigLine struct {
	head, tail []byte   // the line around the listing (listingParts)
	lst        *listing // the listing, made by newListing
	buf        []byte   // where its pieces are built, both times
	size       int64    // its bytes, newline included
	hash       string   // its lineHash
	at         int      // its place in the batch: before out[at:]
	seq        int64    // its event, and its line number, for errors
	typ        steps.EventType
	line       int
}

// bigLine hashes el's line and looks for secrets in it, piece by piece,
// if el is a listing line to stream (longer than the encoder's chunk, no
// secret in it); nil otherwise.
func (w *Writer) bigLine(el eventLine) *bigLine {
	lst := el.Listing
	if lst == nil || lst.from == nil || lst.SQL != nil || listingSize(lst) <= w.enc.chunk {
		return nil
	}
	head, tail, ok := w.enc.listingParts(el)
	if !ok {
		return nil
	}
	b := &bigLine{head: bytes.Clone(head), tail: bytes.Clone(tail), lst: lst}
	h, scan := sha256.New(), w.red.Scanner()
	b.buf = make([]byte, 0, w.enc.chunk+w.enc.chunk/8)
	_ = streamListing(b.buf, b.head, lst, b.tail, w.enc.chunk, func(p []byte, last bool) error {
		b.size += int64(len(p))
		scan.Write(p)
		if last {
			p = p[:len(p)-1] // the chain hashes a line without its newline
		}
		h.Write(p)
		return nil
	})
	if scan.Found() {
		return nil // redacted through encoding/json (encodeLine)
	}
	b.hash = hex.EncodeToString(h.Sum(nil))
	return b
}

// writeStreamed writes a batch whose lines bigs are streamed: out holds
// the others, bigs[i] goes before out[bigs[i].at:]. It counts what it
// wrote in w.size; the error says which line was cut, and where.
func (w *Writer) writeStreamed(out []byte, bigs []*bigLine, last steps.Event) error {
	chunk := w.enc.chunk
	var wb []byte // what goes into the next write(2) but a whole piece
	write := w.streamWrite
	if write == nil {
		write = w.f.Write
	}
	var (
		base = w.size // where the batch starts
		cur  *bigLine // the line being written
		off  int64    // where cur starts in the file
		done int64    // bytes of big lines before cur
	)
	cut := func() string {
		if cur == nil || w.size <= off || w.size >= off+cur.size {
			return ""
		}
		return fmt.Sprintf("line %d (event %d, %s) was cut after %d of its %d bytes: ", cur.line, cur.seq, cur.typ, w.size-off, cur.size)
	}
	put := func(p []byte) error {
		if w.size > base {
			if err := w.unchanged(false); err != nil {
				return fmt.Errorf("journal: not recording event %d (%s): %s%w", last.Seq, last.Type, cut(), err)
			}
		}
		n, err := write(p)
		w.size += int64(n)
		if err != nil {
			at := cut()
			if at != "" {
				at = "; " + at + "the journal ends with that torn line, which handrail run --resume drops; " +
					"handrail stops before the next write to the database"
			}
			return fmt.Errorf("journal: writing event %d (%s) to %s: %w%s", last.Seq, last.Type, w.path, err, at)
		}
		return nil
	}
	flush := func() error {
		if len(wb) == 0 {
			return nil
		}
		err := put(wb)
		wb = wb[:0]
		return err
	}
	pos := 0
	for _, b := range bigs {
		wb = append(wb, out[pos:b.at]...)
		cur, off, pos = b, base+int64(b.at)+done, b.at
		var n int64
		err := streamListing(b.buf, b.head, b.lst, b.tail, chunk, func(p []byte, _ bool) error {
			n += int64(len(p))
			if n > b.size {
				return errLineChanged
			}
			if len(wb) == 0 && len(p) >= chunk {
				return put(p) // a whole piece, as it is
			}
			wb = append(wb, p...)
			if len(wb) >= chunk {
				return flush()
			}
			return nil
		})
		if err == nil && n != b.size {
			err = errLineChanged
		}
		if errors.Is(err, errLineChanged) {
			err = fmt.Errorf("journal: writing event %d (%s) to %s: %sline %d came out %d bytes long when written, %d when hashed: "+
				"a fault of handrail, please report it; handrail stops before the next write to the database",
				last.Seq, last.Type, w.path, cut(), b.line, n, b.size)
		}
		if err != nil {
			return err
		}
		done += b.size
	}
	cur = nil
	wb = append(wb, out[pos:]...)
	return flush()
}

// lineEnd is where a line of a batch ends (bytes from the batch's start)
// and its hash.
type lineEnd struct {
	end  int64
	hash string
}

// headAt makes the head the last line of a batch (starting at file offset
// base) that a failed write left whole: what Read finds (it drops the
// torn line after it).
func (w *Writer) headAt(ends []lineEnd, base int64) {
	for _, l := range ends {
		if base+l.end > w.size {
			return
		}
		w.head = l.hash
	}
}

// errLineChanged: a streamed line came out otherwise when written than
// when hashed.
var errLineChanged = errors.New("journal: a streamed line changed between hashing and writing")
