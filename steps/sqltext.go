package steps

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// textFault is the first place where SQL source is not text PostgreSQL
// can run: a NUL byte (the protocol ends the query there), bytes that are
// not UTF-8 (a UTF8 server rejects them), a byte order mark (a syntax
// error for the server), or a control character, which no editor or
// review shows and which the server refuses outside a string literal.
type textFault struct {
	Offset    int // byte offset in the source
	Line, Col int // 1-based; Col counts bytes, like every lint column
	What      string
	Hint      string
	// Count is how many bad bytes or characters the source holds in all
	// (at least 1), so a binary file is one problem, not thousands.
	Count int
}

// sqlTextFault returns the first fault of src, or nil when src is text.
// Tab, newline, carriage return and form feed are whitespace to
// PostgreSQL and allowed.
func sqlTextFault(src string) *textFault {
	var f *textFault
	note := func(off int, what, hint string) {
		if f != nil {
			f.Count++
			return
		}
		line := 1 + strings.Count(src[:off], "\n")
		col := off - (strings.LastIndexByte(src[:off], '\n') + 1) + 1
		f = &textFault{Offset: off, Line: line, Col: col, What: what, Hint: hint, Count: 1}
	}
	if utf16BOM(src) {
		note(0, "the file is UTF-16 (it starts with a UTF-16 byte order mark), not SQL text",
			"save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8)")
		return f
	}
	for off := 0; off < len(src); {
		if plainASCII[src[off]] {
			off++ // ASCII text: the common case, without decoding
			continue
		}
		r, size := utf8.DecodeRuneInString(src[off:])
		switch {
		case r == utf8.RuneError && size <= 1:
			note(off, fmt.Sprintf("byte 0x%02X is not UTF-8: this is not SQL text", src[off]),
				"handrail sends SQL as UTF-8: convert the file (e.g. iconv -f LATIN1 -t UTF-8), or check it is the file you meant")
			size = 1
		case r == 0:
			note(off, "NUL byte: this is not SQL text",
				"a binary file cannot run; a file saved as UTF-16 has a NUL in every other byte: save it as UTF-8")
		case r == '\uFEFF' && off == 0:
			note(off, "the file starts with a UTF-8 byte order mark, which PostgreSQL rejects as a syntax error",
				"save it as UTF-8 without BOM")
		case isControl(r):
			note(off, fmt.Sprintf("control character U+%04X in SQL text (invisible in an editor and in review)", r), controlHint(r))
		}
		off += size
	}
	if f != nil && f.Count > 1 {
		f.What += fmt.Sprintf(" (first of %d such bytes or characters)", f.Count)
	}
	return f
}

// plainASCII marks the ASCII bytes that are text to PostgreSQL.
var plainASCII = func() (t [256]bool) {
	for c := range utf8.RuneSelf {
		t[c] = !isControl(rune(c))
	}
	return t
}()

func utf16BOM(src string) bool {
	return strings.HasPrefix(src, "\xFF\xFE") || strings.HasPrefix(src, "\xFE\xFF")
}

// isControl reports a C0 or C1 control character (or DEL) that is not
// whitespace to PostgreSQL's scanner.
func isControl(r rune) bool {
	switch r {
	case '\t', '\n', '\r', '\f':
		return false
	}
	return r < 0x20 || (r >= 0x7F && r <= 0x9F)
}

func controlHint(r rune) string {
	esc := fmt.Sprintf(`E'\x%02x'`, r)
	if r > 0x7F {
		esc = fmt.Sprintf(`E'\u%04x'`, r)
	}
	return fmt.Sprintf("inside a string literal write it as an escape, e.g. %s or chr(%d)", esc, r)
}
