package journal

import (
	"bytes"
	"encoding/json"
	"strconv"

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

// listingLine encodes el if it carries a listing made by newListing; ok
// false leaves it to encoding/json.
func (e *encoder) listingLine(el eventLine) (line []byte, ok bool) {
	lst := el.Listing
	if lst == nil || lst.from == nil || lst.SQL != nil || el.Kind != "" || el.Prev == nil || !plainJSON(*el.Prev) {
		return nil, false
	}
	el.Listing = nil
	head, err := e.encode(el)
	if err != nil {
		return nil, false // encoding/json reports it
	}
	tail := appendStr([]byte(`,"prev":`), *el.Prev)
	tail = append(tail, "}\n"...)
	if !bytes.HasSuffix(head, tail) {
		return nil, false
	}
	head = head[:len(head)-len(tail)]
	b := make([]byte, 0, len(head)+len(tail)+listingSize(lst))
	b = append(b, head...)
	b = appendListing(append(b, `,"listing":`...), lst)
	b = append(b, tail...)
	return termsafe.JSON(b), true
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

// appendListing appends l (made by newListing, not filled) as
// encoding/json writes its filled form.
func appendListing(b []byte, l *listing) []byte {
	b = strconv.AppendInt(append(b, `{"count":`...), int64(l.Count), 10)
	if l.File != "" {
		b = appendJSONString(append(b, `,"file":`...), l.File)
	}
	if l.from.Len() > 0 {
		b = append(b, `,"sql":[`...)
		for k := range l.from.Len() {
			if k > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, l.from.SQL(k))
		}
		b = append(b, ']')
	}
	if l.lines && l.from.Len() > 0 {
		b = append(b, `,"line":[`...)
		prev := 0
		for k := range l.from.Len() {
			if k > 0 {
				b = append(b, ',')
			}
			line := l.from.Line(k)
			b = strconv.AppendInt(b, int64(line-prev), 10)
			prev = line
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendJSONString appends s quoted as encoding/json (without HTML
// escaping) writes it: as it is when plainJSON, else through
// encoding/json.
func appendJSONString(b []byte, s string) []byte {
	if plainJSON(s) {
		return appendStr(b, s)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // writes to memory; a string always encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
