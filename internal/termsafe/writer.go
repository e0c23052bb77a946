package termsafe

import (
	"io"
	"unicode/utf8"
)

// Writer escapes what is written through it as Text does (newlines kept,
// tabs expanded, every other control escaped), for a command's standard
// output and error: whatever a message quotes (SQL, a server's error, a
// file's content) cannot act on the terminal. A rune or a CRLF split
// between two writes is held until the next write or Flush.
type Writer struct {
	w    io.Writer
	col  int
	held []byte
}

// NewWriter returns a Writer that writes escaped text to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write escapes p and writes it. It reports len(p) written when the
// escaped text was written in full.
func (w *Writer) Write(p []byte) (int, error) {
	data := p
	if len(w.held) > 0 {
		data = append(w.held, p...)
		w.held = nil
	}
	keep := incompleteTail(data)
	if keep > 0 {
		w.held = append([]byte(nil), data[len(data)-keep:]...)
		data = data[:len(data)-keep]
	}
	if len(data) == 0 {
		return len(p), nil
	}
	out, col := escape(string(data), true, false, w.col)
	w.col = col
	if _, err := io.WriteString(w.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is held (an incomplete rune, escaped byte by byte, or
// a lone CR).
func (w *Writer) Flush() error {
	if len(w.held) == 0 {
		return nil
	}
	out, col := escape(string(w.held), true, false, w.col)
	w.held, w.col = nil, col
	_, err := io.WriteString(w.w, out)
	return err
}

// incompleteTail is how many bytes at the end of p may belong to a rune
// or a CRLF that the next write completes.
func incompleteTail(p []byte) int {
	n := len(p)
	if n > 0 && p[n-1] == '\r' {
		return 1
	}
	for k := 1; k <= min(n, utf8.UTFMax-1); k++ {
		c := p[n-k]
		if c < 0x80 {
			return 0
		}
		if utf8.RuneStart(c) {
			if utf8.FullRune(p[n-k:]) {
				return 0
			}
			return k
		}
	}
	return 0
}
