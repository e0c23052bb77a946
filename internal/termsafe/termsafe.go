// Package termsafe makes text that comes from data (result rows, notices,
// SQL files, command output, runbook text, error messages) safe to print on
// a terminal, and keeps what was there visible.
//
// A terminal acts on control characters: ESC and the C1 controls
// (U+0080–U+009F; U+009B is CSI, U+009D is OSC) start sequences that
// move the cursor, repaint the screen or retitle the window, and a bidi
// override (U+202E) makes text on screen read differently from the data.
// Every such rune is replaced by an escape that says what it was, in Go's
// notation (strconv.Quote):
//
//	\n \r \t               newline, carriage return, tab (where not kept)
//	\x00 … \x1f, \x7f      other C0 controls and DEL (ESC is \x1b)
//	\x80 … \xff            a byte that is not valid UTF-8
//	\u0080 … \u009f        C1 controls
//	\u202e, \u2066, …      bidi controls, invisible format characters,
//	                       line and paragraph separators
//
// Everything else passes unchanged, so text from ordinary data reads as it
// is. Only rendering escapes: the journal keeps the exact values.
//
// On the screen each escape is bracketed by markers (the Mark variants,
// then Highlight) so it is drawn in a style of its own: a reader can tell
// an escape from the same characters typed in the data.
package termsafe

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// TabWidth is the distance between tab stops where tabs are expanded.
const TabWidth = 4

// Markers bracket an escape in the Mark variants. They are themselves
// control characters (shift out, shift in), so they can never come from
// data: data holding them is escaped like any other control.
const (
	MarkOpen  = "\x0e"
	MarkClose = "\x0f"
)

// Line is s for one line of a terminal: newlines, tabs and every other
// control are escaped.
func Line(s string) string { return escapeString(s, false, false) }

// Text is s as lines of text: newlines are kept (a CR before a newline is
// dropped), tabs are expanded to stops of TabWidth, every other control is
// escaped.
func Text(s string) string { return escapeString(s, true, false) }

// MarkLine is Line with each escape bracketed by MarkOpen and MarkClose.
func MarkLine(s string) string { return escapeString(s, false, true) }

// MarkText is Text with each escape bracketed by MarkOpen and MarkClose.
func MarkText(s string) string { return escapeString(s, true, true) }

// Safe reports whether s prints as it is on one line (Line(s) == s).
func Safe(s string) bool { return safePrefix(s, false) == len(s) }

// FirstUnsafe is the byte offset in s of the first thing other than a
// newline that a terminal would act on, or that would not read as the
// data (a control, tab, invalid byte, bidi or format character), or -1 if
// there is none. Tests of every output path assert with it.
func FirstUnsafe(s string) int {
	if i := safePrefix(s, true); i < len(s) {
		return i
	}
	return -1
}

// Unsafe reports whether r is escaped wherever it appears (newline and tab
// are escaped on one line only, and not reported here).
func Unsafe(r rune) bool {
	switch {
	case r < 0x20 && r != '\n' && r != '\t', r >= 0x7f && r <= 0x9f:
		return true
	case r < 0xa0:
		return false
	case r == 0x200c, r == 0x200d:
		// Zero-width (non-)joiners shape Persian, Indic scripts and emoji.
		return false
	case r == 0x2028, r == 0x2029:
		return true
	case r < 0x600 && r != 0xad, r >= 0x2070 && r < 0xfeff:
		// No format character in Latin, Greek, Cyrillic, ..., nor in CJK:
		// the common text skips the table.
		return false
	}
	// Format characters: the bidi controls (U+202A–U+202E, U+2066–U+2069,
	// U+200E, U+200F, U+061C), zero-width spaces, the BOM, tag characters.
	return unicode.Is(unicode.Cf, r)
}

// safePrefix is the length of the longest prefix of s that needs no
// escape. text: newlines (not CR, not tabs) may stay.
func safePrefix(s string, text bool) int {
	for i := 0; i < len(s); {
		// Eight bytes at a time while they are printable ASCII: most data
		// is, and every frame of the screen scans all of it.
		for i+8 <= len(s) && printable8(load8(s[i:i+8])) {
			i += 8
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		if c == '\n' && text {
			i++
			continue
		}
		if c < 0x80 {
			return i
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || Unsafe(r) {
			return i
		}
		i += n
	}
	return len(s)
}

// load8 reads eight bytes as one little-endian word (the compiler makes
// it one load).
func load8(b string) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// printable8 reports whether the eight bytes of x are all printable ASCII
// (0x20 to 0x7e), with the usual SWAR tests for a byte below 0x20, a byte
// 0x7f and a byte with the high bit set.
func printable8(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	below := (x - 0x20*lo) &^ x
	del := x ^ (0x7f * lo)
	isDel := (del - lo) &^ del
	return (x|below|isDel)&hi == 0
}

// escapeString is escape for a whole string, with a fast path for the
// common case of nothing to escape.
func escapeString(s string, text, mark bool) string {
	if safePrefix(s, text) == len(s) {
		return s
	}
	out, _ := escape(s, text, mark, 0)
	return out
}

// escape escapes s; col is the column (in runes) at which s starts, for
// tab stops, and the column after it is returned.
func escape(s string, text, mark bool, col int) (string, int) {
	i := safePrefix(s, text)
	col = advance(col, s[:i])
	if i == len(s) {
		return s, col
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			col += writeEscape(&b, mark, `\x`, uint64(s[i]), 2)
		case text && r == '\n':
			b.WriteByte('\n')
			col = 0
		case text && r == '\r' && strings.HasPrefix(s[i+1:], "\n"):
			// a CRLF line end reads as a newline
		case text && r == '\t':
			pad := TabWidth - col%TabWidth
			b.WriteString(strings.Repeat(" ", pad))
			col += pad
		case r < 0x20 || r == 0x7f:
			col += writeControl(&b, mark, r)
		case Unsafe(r) && r < 0x10000:
			col += writeEscape(&b, mark, `\u`, uint64(r), 4)
		case Unsafe(r):
			col += writeEscape(&b, mark, `\U`, uint64(r), 8)
		default:
			b.WriteString(s[i : i+n])
			col++
		}
		i += n
	}
	return b.String(), col
}

// advance is the column after safe text s that starts at column col.
func advance(col int, s string) int {
	if nl := strings.LastIndexByte(s, '\n'); nl >= 0 {
		return utf8.RuneCountInString(s[nl+1:])
	}
	return col + utf8.RuneCountInString(s)
}

// writeControl writes the escape of a C0 control or DEL and returns its
// width.
func writeControl(b *strings.Builder, mark bool, r rune) int {
	switch r {
	case '\n':
		return writeMarked(b, mark, `\n`)
	case '\r':
		return writeMarked(b, mark, `\r`)
	case '\t':
		return writeMarked(b, mark, `\t`)
	}
	return writeEscape(b, mark, `\x`, uint64(r), 2)
}

func writeEscape(b *strings.Builder, mark bool, prefix string, v uint64, digits int) int {
	if mark {
		b.WriteString(MarkOpen)
	}
	b.WriteString(prefix)
	for i := digits - 1; i >= 0; i-- {
		b.WriteByte(hexDigits[v>>(4*i)&0xf])
	}
	if mark {
		b.WriteString(MarkClose)
	}
	return len(prefix) + digits
}

const hexDigits = "0123456789abcdef"

func writeMarked(b *strings.Builder, mark bool, esc string) int {
	if mark {
		b.WriteString(MarkOpen)
	}
	b.WriteString(esc)
	if mark {
		b.WriteString(MarkClose)
	}
	return len(esc)
}

// Highlight replaces the markers of escapes in s (a frame of several
// lines) by on and off, the terminal sequences of the escapes' style. An
// escape cut by truncation or wrapping is still closed at the end of its
// line, and a close without its open is dropped, so the style never
// bleeds into the text after it.
func Highlight(s, on, off string) string {
	if strings.IndexByte(s, MarkOpen[0]) < 0 && strings.IndexByte(s, MarkClose[0]) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 64)
	open := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == MarkOpen[0]:
			if !open {
				b.WriteString(on)
			}
			open = true
		case c == MarkClose[0]:
			if open {
				b.WriteString(off)
			}
			open = false
		case c == '\n':
			if open {
				b.WriteString(off)
			}
			open = false
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	if open {
		b.WriteString(off)
	}
	return b.String()
}

// JSON escapes, as JSON \u escapes, what a JSON encoder leaves raw but a
// terminal acts on: C1 controls, DEL, bidi and other format characters,
// line separators, and invalid UTF-8 (as U+FFFD). b must be the output of
// a JSON encoder: raw C0 controls can then only be whitespace between
// tokens, and are kept. The decoded values are unchanged.
func JSON(b []byte) []byte {
	i := 0
	for i < len(b) && (b[i] >= 0x20 && b[i] < 0x7f || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, 0, len(b)+32)
	out = append(out, b[:i]...)
	for i < len(b) {
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			out = append(out, `\ufffd`...)
		case r == '\n' || r == '\r' || r == '\t' || !Unsafe(r):
			out = append(out, b[i:i+n]...)
		default:
			out = appendJSONEscape(out, r)
		}
		i += n
	}
	return out
}

func appendJSONEscape(out []byte, r rune) []byte {
	if r >= 0x10000 {
		r1, r2 := utf16.EncodeRune(r)
		return appendJSONEscape(appendJSONEscape(out, r1), r2)
	}
	out = append(out, `\u`...)
	for i := 3; i >= 0; i-- {
		out = append(out, hexDigits[r>>(4*i)&0xf])
	}
	return out
}
