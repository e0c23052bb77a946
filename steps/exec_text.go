package steps

import (
	"strings"
	"unicode/utf8"

	"github.com/handrail-dev/handrail/internal/redact"
)

// execText turns a command's output, read in pieces, into the text of
// exec_output events. A rune split between two reads is held for the next
// piece, and a byte that is not UTF-8 becomes U+FFFD, which is what the
// journal (JSON) would record for it: the live fold then holds exactly
// what a replay of the journal holds, and a rune cut by a read is not
// recorded as two replacement characters.
//
// The start of a secret at the end of a piece is held too (red says what
// a secret is): each piece becomes an event that the journal redacts on
// its own, so a secret split between two would be recorded in halves.
type execText struct {
	held []byte
	red  *redact.Redactor
}

// next is the text of p, less an incomplete rune at its end (held for the
// next call); final flushes what is held.
func (x *execText) next(p []byte, final bool) string {
	data := p
	if len(x.held) > 0 {
		data = append(x.held, p...)
		x.held = nil
	}
	if !final {
		if k := max(incompleteRune(data), x.red.Partial(data)); k > 0 {
			x.held = append([]byte(nil), data[len(data)-k:]...)
			data = data[:len(data)-k]
		}
	}
	return validText(data)
}

// incompleteRune is how many bytes at the end of p start a rune that the
// next bytes may complete.
func incompleteRune(p []byte) int {
	for k := 1; k <= min(len(p), utf8.UTFMax-1); k++ {
		c := p[len(p)-k]
		if c < utf8.RuneSelf {
			return 0
		}
		if utf8.RuneStart(c) {
			if utf8.FullRune(p[len(p)-k:]) {
				return 0
			}
			return k
		}
	}
	return 0
}

// validText is p with each byte that is not UTF-8 replaced by U+FFFD, as
// encoding/json does.
func validText(p []byte) string {
	if utf8.Valid(p) {
		return string(p)
	}
	var b strings.Builder
	b.Grow(len(p) + 8)
	for len(p) > 0 {
		r, n := utf8.DecodeRune(p)
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.Write(p[:n])
		}
		p = p[n:]
	}
	return b.String()
}
