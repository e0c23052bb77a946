package journal

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/handrail-dev/handrail/internal/termsafe"
)

// A step's first listing (format 2) holds every statement's SQL: for a
// migration file of 50 MB, a line of about 50 MB. Through encoding/json
// that line is built twice (its encode state, then the encoder's buffer),
// each grown by doubling, from a listing that copied the statements'
// SQL headers first: several times the file at once. listingLine writes
// the line once, into a buffer of its size, from the engine's statements
// (listing.from), byte for byte as encoding/json writes it
// (TestFastLineMatchesEncodingJSON, FuzzListingLine): the rest of the event
// through encoding/json, the listing spliced in before "prev".
//
// A listing line longer than lineChunk is not held whole at all: the
// writer streams it (streamListing) in pieces of about lineChunk bytes,
// once to hash it and look for secrets, once to write it (see
// Writer.bigLine). Both build it with the chunkWriter that builds a
// buffered line, so the bytes are the same (TestStreamedListingLine).

// lineChunk is the size of the pieces a long listing line is hashed and
// written in, and the length above which a listing line is streamed.
const lineChunk = 1 << 20

// listingParts is el's line without its listing, cut where the listing
// goes: head is the event's fields (through encoding/json), tail
// `,"prev":"..."}` and the newline. ok false when el carries no listing
// made by newListing, or the line is left to encoding/json.
func (e *encoder) listingParts(el eventLine) (head, tail []byte, ok bool) {
	lst := el.Listing
	if lst == nil || lst.from == nil || lst.SQL != nil || el.Kind != "" || el.Prev == nil || !plainJSON(*el.Prev) {
		return nil, nil, false
	}
	el.Listing = nil
	head, err := e.encode(el)
	if err != nil {
		return nil, nil, false // encoding/json reports it
	}
	tail = appendStr([]byte(`,"prev":`), *el.Prev)
	tail = append(tail, "}\n"...)
	if !bytes.HasSuffix(head, tail) {
		return nil, nil, false
	}
	return head[:len(head)-len(tail)], tail, true
}

// listingLine encodes el if it carries a listing made by newListing; ok
// false leaves it to encoding/json. The line is in one buffer.
func (e *encoder) listingLine(el eventLine) (line []byte, ok bool) {
	head, tail, ok := e.listingParts(el)
	if !ok {
		return nil, false
	}
	cw := chunkWriter{buf: make([]byte, 0, len(head)+len(tail)+listingSize(el.Listing))}
	_ = cw.line(head, el.Listing, tail) // no emit, no error
	return cw.whole, true
}

// streamListing writes the line listingParts cut into head and tail, with
// lst spliced in, to emit in pieces of about size bytes (at most size plus
// a statement's encoding, or 6 times size for a statement longer than
// size), building them in buf (made when too small; nil is fine). The
// pieces joined are the line listingLine returns; the last one ends with
// the newline. An error of emit stops it and is returned.
func streamListing(buf []byte, head []byte, lst *listing, tail []byte, size int, emit func(piece []byte, last bool) error) error {
	size = max(size, utf8.UTFMax) // room for a rune and the bytes held back
	if cap(buf) < size+size/8 {
		buf = make([]byte, 0, size+size/8)
	}
	cw := chunkWriter{buf: buf[:0], size: size, emit: emit}
	return cw.line(head, lst, tail)
}

// chunkWriter builds a line in pieces of about size bytes (size 0: in one
// piece), escapes each for a terminal (termsafe.JSON, as encode does) and
// hands it to emit. A piece never ends inside a UTF-8 sequence (its
// bytes wait for the next piece), and termsafe.JSON and encoding/json
// decide rune by rune, so the pieces joined are the line escaped whole.
type chunkWriter struct {
	buf  []byte
	size int
	emit func(piece []byte, last bool) error
	// whole is the line, when there is no emit (size 0).
	whole []byte
	err   error
	str   bytes.Buffer // encoding/json's spelling of one string
	enc   *json.Encoder
}

// line writes head, the listing and tail, and the last piece.
func (c *chunkWriter) line(head []byte, lst *listing, tail []byte) error {
	c.raw(head)
	c.raw([]byte(`,"listing":`))
	c.listing(lst)
	c.raw(tail)
	if c.err == nil {
		c.flush(true)
	}
	return c.err
}

// listing writes l (made by newListing, not filled) as encoding/json
// writes its filled form.
func (c *chunkWriter) listing(l *listing) {
	c.buf = strconv.AppendInt(append(c.buf, `{"count":`...), int64(l.Count), 10)
	if l.File != "" {
		c.buf = append(c.buf, `,"file":`...)
		c.string(l.File)
	}
	n := l.from.Len()
	if n > 0 {
		c.buf = append(c.buf, `,"sql":[`...)
		for k := range n {
			if c.err != nil {
				return // the rest would only grow buf
			}
			if k > 0 {
				c.buf = append(c.buf, ',')
			}
			c.string(l.from.SQL(k))
		}
		c.buf = append(c.buf, ']')
	}
	if l.lines && n > 0 {
		c.buf = append(c.buf, `,"line":[`...)
		prev := 0
		for k := range n {
			if c.err != nil {
				return
			}
			if k > 0 {
				c.buf = append(c.buf, ',')
			}
			line := l.from.Line(k)
			c.buf = strconv.AppendInt(c.buf, int64(line-prev), 10)
			prev = line
			c.check()
		}
		c.buf = append(c.buf, ']')
	}
	c.buf = append(c.buf, '}')
}

// raw writes b as it is (JSON already); nothing after an error of emit.
func (c *chunkWriter) raw(b []byte) {
	if c.err != nil {
		return
	}
	for c.size > 0 && len(c.buf)+len(b) > c.size && c.err == nil {
		k := max(c.size-len(c.buf), 0)
		c.buf = append(c.buf, b[:k]...)
		b = b[k:]
		c.flush(false)
	}
	c.buf = append(c.buf, b...)
}

// string writes s quoted as encoding/json (without HTML escaping) writes
// it: as it is when plainJSON, else through encoding/json, in pieces of
// at most size bytes of s cut between runes (encoding/json escapes rune by
// rune, an invalid byte as one).
func (c *chunkWriter) string(s string) {
	if plainJSON(s) {
		if c.size == 0 || len(c.buf)+len(s)+2 <= c.size {
			c.buf = appendStr(c.buf, s)
			c.check()
			return
		}
		c.buf = append(c.buf, '"')
		c.raw([]byte(s))
		c.buf = append(c.buf, '"')
		c.check()
		return
	}
	if c.enc == nil {
		c.enc = json.NewEncoder(&c.str)
		c.enc.SetEscapeHTML(false)
	}
	c.buf = append(c.buf, '"')
	for len(s) > 0 {
		part := s
		if c.size > 0 && len(part) > c.size {
			k := runeCut(s[:c.size])
			if k == 0 {
				_, k = utf8.DecodeRuneInString(s)
			}
			part = s[:k]
		}
		s = s[len(part):]
		c.str.Reset()
		_ = c.enc.Encode(part) // writes to memory; a string always encodes
		q := c.str.Bytes()     // "...."\n
		c.raw(q[1 : len(q)-2])
	}
	c.buf = append(c.buf, '"')
	c.check()
}

// check hands out a piece once the buffer holds size bytes.
func (c *chunkWriter) check() {
	if c.size > 0 && len(c.buf) >= c.size && c.err == nil {
		c.flush(false)
	}
}

// flush escapes and hands out the buffer, but for the bytes of a UTF-8
// sequence it may cut (unless last), which stay for the next piece.
func (c *chunkWriter) flush(last bool) {
	cut := len(c.buf)
	if !last {
		cut = runeCut(c.buf)
	}
	switch {
	case c.emit == nil:
		c.whole = termsafe.JSON(c.buf[:cut])
	case cut > 0 || last:
		c.err = c.emit(termsafe.JSON(c.buf[:cut]), last)
	}
	c.buf = c.buf[:copy(c.buf, c.buf[cut:])]
}

// runeCut is the length of the longest prefix of b that does not end
// inside a UTF-8 sequence that more bytes could complete: decoding that
// prefix alone gives the runes (and invalid bytes) that decoding b with
// what follows gives. A sequence is at most utf8.UTFMax bytes, so only
// the last three bytes can start an incomplete one.
func runeCut[T string | []byte](b T) int {
	for i := len(b) - 1; i >= 0 && i > len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRuneInString(string(b[i:])) { // at most 3 bytes, not allocated
				return i
			}
			break
		}
	}
	return len(b)
}

// listingSize is about the length of lst's JSON: exact when every string
// is plainJSON and no line delta has more than two digits.
func listingSize(l *listing) int {
	n := 64 + len(l.File)
	for k := range l.from.Len() {
		n += len(l.from.SQL(k)) + 3
	}
	if l.lines {
		n += 3 * l.from.Len()
	}
	return n
}
