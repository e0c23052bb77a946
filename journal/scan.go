package journal

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/handrail-dev/handrail/steps"
)

// Verify's fast path. encoding/json validates a line in one pass and then
// decodes it in a second, through reflection; for a journal of a million
// lines that is most of verify's time. scanLight does both in one pass
// for the lines handrail writes, and gives up (ok false) on anything
// unusual, which then goes through encoding/json: an escaped, non-ASCII
// or differently cased key among the ones it picks out, a duplicate of
// one, a value that is not a plain string or integer, nesting deeper than
// maxScanDepth, or anything that is not valid JSON. It never accepts what
// encoding/json rejects, and when it accepts, it yields what
// json.Unmarshal into a lightLine yields (FuzzScanLight checks both).

// maxScanDepth is the nesting scanLight follows before giving up.
const maxScanDepth = 64

// lightKeys are the top-level members lightLine decodes.
var lightKeys = [...]string{"kind", "prev", "seq", "type", "session", "outcome"}

// scanLight decodes line into l (which must be zero) when it can. l.Prev
// points into line.
func scanLight(line []byte, l *lightFields) (ok bool) {
	s := scanner{b: line}
	var vals [len(lightKeys)][]byte
	s.ws()
	if !s.eat('{') {
		return false
	}
	s.ws()
	if !s.eat('}') {
		for {
			key, ok := s.plainString()
			if !ok {
				return false
			}
			s.ws()
			if !s.eat(':') {
				return false
			}
			s.ws()
			start := s.i
			if !s.value(0) {
				return false
			}
			if !s.keep(key, line[start:s.i], &vals) {
				return false
			}
			s.ws()
			if s.eat('}') {
				break
			}
			if !s.eat(',') {
				return false
			}
			s.ws()
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return false
	}
	return decodeLight(&vals, l)
}

// decodeLight fills l from the raw values of its members.
func decodeLight(vals *[len(lightKeys)][]byte, l *lightFields) bool {
	var ok bool
	if v := vals[0]; v != nil {
		k, ok := plainBytes(v)
		if !ok {
			return false
		}
		l.Kind = string(k)
	}
	if v := vals[1]; v != nil {
		if l.Prev, ok = plainBytes(v); !ok {
			return false
		}
		l.HasPrev = true
	}
	if v := vals[2]; v != nil {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return false // a fraction, an exponent or out of range: encoding/json says which
		}
		l.Seq = n
	}
	if v := vals[3]; v != nil {
		t, ok := plainBytes(v)
		if !ok {
			return false
		}
		l.Type = eventType(t)
	}
	if v := vals[4]; v != nil {
		// Only session_started and session_resumed carry it: rare enough
		// for encoding/json.
		var ses *sessionIDs
		if json.Unmarshal(v, &ses) != nil {
			return false
		}
		l.Session = ses
	}
	if v := vals[5]; v != nil {
		o, ok := plainBytes(v)
		if !ok {
			return false
		}
		l.Outcome = steps.Outcome(o)
	}
	return true
}

// plainBytes is the contents of a JSON string value without escapes, all
// ASCII: what encoding/json decodes it to.
func plainBytes(v []byte) ([]byte, bool) {
	if len(v) < 2 || v[0] != '"' {
		return nil, false
	}
	in := v[1 : len(v)-1]
	for _, c := range in {
		if c == '\\' || c >= utf8.RuneSelf {
			return nil, false
		}
	}
	return in, true
}

// typeNames maps the known event types' names to their constants, so a
// known type costs no allocation.
var typeNames = func() map[string]steps.EventType {
	m := make(map[string]steps.EventType, len(steps.EventTypes))
	for _, t := range steps.EventTypes {
		m[string(t)] = t
	}
	return m
}()

func eventType(b []byte) steps.EventType {
	if t, ok := typeNames[string(b)]; ok {
		return t
	}
	return steps.EventType(b)
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// keep records the value of a member lightLine decodes. It refuses what
// encoding/json would match differently: a key that is another spelling
// of one of them (case), and a second occurrence.
func (s *scanner) keep(key, val []byte, vals *[len(lightKeys)][]byte) bool {
	for i, k := range lightKeys {
		if string(key) == k {
			if vals[i] != nil {
				return false
			}
			vals[i] = val
			return true
		}
		if bytes.EqualFold(key, []byte(k)) {
			return false
		}
	}
	return true
}

// plainString reads a string without escapes or non-ASCII bytes (a key
// compared as is) and returns its contents.
func (s *scanner) plainString() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c < 0x20 || c == '\\' || c >= utf8.RuneSelf:
			return nil, false
		}
		s.i++
	}
	return nil, false
}

// value skips one JSON value, validating it.
func (s *scanner) value(depth int) bool {
	if s.i >= len(s.b) || depth > maxScanDepth {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.str()
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// str skips a string: no control characters, only JSON's escapes. Other
// bytes pass as encoding/json lets them (invalid UTF-8 included).
func (s *scanner) str() bool {
	s.i++ // the quote
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return false
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if !isHex(h) {
						return false
					}
				}
				s.i += 6
			default:
				return false
			}
		default:
			s.i++
		}
	}
	return false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// number skips -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	s.eat('-')
	switch {
	case s.eat('0'):
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.eat('.') && !s.digits() {
		return false
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if !s.eat('+') {
			s.eat('-')
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits skips [0-9]+ and reports whether there was one.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

func (s *scanner) object(depth int) bool {
	s.i++ // {
	s.ws()
	if s.eat('}') {
		return true
	}
	for {
		if s.i >= len(s.b) || s.b[s.i] != '"' || !s.str() {
			return false
		}
		s.ws()
		if !s.eat(':') {
			return false
		}
		s.ws()
		if !s.value(depth) {
			return false
		}
		s.ws()
		if s.eat('}') {
			return true
		}
		if !s.eat(',') {
			return false
		}
		s.ws()
	}
}

func (s *scanner) array(depth int) bool {
	s.i++ // [
	s.ws()
	if s.eat(']') {
		return true
	}
	for {
		if !s.value(depth) {
			return false
		}
		s.ws()
		if s.eat(']') {
			return true
		}
		if !s.eat(',') {
			return false
		}
		s.ws()
	}
}
