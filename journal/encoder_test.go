package journal

import (
	"strings"
	"testing"
)

// After a line larger than maxKeptBuffer the encoder lets go of its
// buffer, and the next line is encoded as before.
func TestEncoderShrinksAfterALargeLine(t *testing.T) {
	e := newEncoder()
	big := strings.Repeat("x", 2*maxKeptBuffer)
	if _, err := e.encode(map[string]string{"sql": big}); err != nil {
		t.Fatal(err)
	}
	e.shrink()
	if c := e.buf.Cap(); c > maxKeptBuffer {
		t.Errorf("buffer of %d bytes kept after shrink, want at most %d", c, maxKeptBuffer)
	}
	line, err := e.encode(map[string]string{"sql": "select 1"})
	if err != nil || string(line) != "{\"sql\":\"select 1\"}\n" {
		t.Errorf("after shrink: %q, %v", line, err)
	}
	e.shrink()
	if e.buf.Cap() == 0 {
		t.Error("a small buffer is not kept for the next line")
	}
}
