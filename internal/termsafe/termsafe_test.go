package termsafe

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"plain text, 100% ok", "plain text, 100% ok"},
		{"héllo 日本語 emoji 👩‍💻", "héllo 日本語 emoji 👩‍💻"},
		{"a\x1b[31mred", `a\x1b[31mred`},
		{"\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"a\u009b2Jb", `a\u009b2Jb`},
		{"\u009d0;title\u009c", `\u009d0;title\u009c`},
		{"x\xffy\xc3", `x\xffy\xc3`},
		{"abc\u202edcba", `abc\u202edcba`},
		{"\u2066iso\u2069 \u200f \u061c", `\u2066iso\u2069 \u200f \u061c`},
		{"zero\u200bwidth\ufeff", `zero\u200bwidth\ufeff`},
		{"tag\U000e0041", `tag\U000e0041`},
		{"line\u2028sep", `line\u2028sep`},
		{"del\x7f nul\x00", `del\x7f nul\x00`},
		{"two\nlines\r\n\ttab", `two\nlines\r\n\ttab`},
		{"\x0e\x0f", `\x0e\x0f`},
		{`already \x1b escaped`, `already \x1b escaped`},
	} {
		if got := Line(c.in); got != c.want {
			t.Errorf("Line(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := Safe(c.in); got != (c.in == c.want) {
			t.Errorf("Safe(%q) = %v", c.in, got)
		}
	}
}

func TestText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"select 1;\nselect 2;\n", "select 1;\nselect 2;\n"},
		{"crlf\r\nends\r\n", "crlf\nends\n"},
		{"lone\rcr", `lone\rcr`},
		{"\tx", "    x"},
		{"ab\tx\n\tyz\tw", "ab  x\n    yz  w"},
		{"\x1b\tx", `\x1b` + "    x"}, // the escape is 4 wide: the tab goes to 8
		{"é\tx", "é   x"},
		{"a\u009bb\nc\x1bd", `a\u009bb` + "\n" + `c\x1bd`},
	} {
		if got := Text(c.in); got != c.want {
			t.Errorf("Text(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMarkBracketsEachEscape(t *testing.T) {
	got := MarkLine("a\x1bb\u202ec")
	want := "a" + MarkOpen + `\x1b` + MarkClose + "b" + MarkOpen + `\u202e` + MarkClose + "c"
	if got != want {
		t.Fatalf("MarkLine = %q, want %q", got, want)
	}
	// Markers in the data are escaped, so only the escaper makes them.
	if got := MarkLine(MarkOpen + "x" + MarkClose); strings.Count(got, MarkOpen) != 2 || !strings.Contains(got, `\x0e`) {
		t.Fatalf("markers in data: %q", got)
	}
	if got := MarkText("a\nb\x07"); got != "a\nb"+MarkOpen+`\x07`+MarkClose {
		t.Fatalf("MarkText = %q", got)
	}
}

func TestHighlight(t *testing.T) {
	o, c := MarkOpen, MarkClose
	for _, tc := range []struct{ in, want string }{
		{"no escapes", "no escapes"},
		{"a" + o + `\x1b` + c + "b", "a<" + `\x1b` + ">b"},
		{"cut " + o + `\u00`, "cut <" + `\u00` + ">"},                               // truncated: closed at the end
		{"wrapped " + o + `\u0` + "\n" + `09b` + c + " x", "wrapped <\\u0>\n09b x"}, // closed at the line end; the stray close is dropped
		{o + o + "x" + c + c, "<x>"},
	} {
		if got := Highlight(tc.in, "<", ">"); got != tc.want {
			t.Errorf("Highlight(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestJSONKeepsValuesAndEscapesWhatATerminalActsOn(t *testing.T) {
	in := map[string]string{"name": "Bob\u009b2J\u009d0;x\u009c \u202eevil\x7f \x1b[1m 🎉 \U000e0041", "bad": "a\xffb"}
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out := JSON(raw)
	if i := FirstUnsafe(string(out)); i >= 0 {
		t.Fatalf("unsafe at %d: %q", i, out)
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("not JSON any more: %v\n%s", err, out)
	}
	if back["name"] != in["name"] || back["bad"] != "a\ufffdb" {
		t.Fatalf("values changed: %q", back)
	}
	if plain := []byte(`{"a": "b"}` + "\n"); &JSON(plain)[0] != &plain[0] {
		t.Fatal("ASCII JSON is copied")
	}
}

func TestWriterCarriesRunesColumnsAndCRLFAcrossWrites(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, p := range []string{"ab", "\tc\r", "\nd\xe2\x80", "\xae e\xc2", "\x9b", "\xe2"} {
		if n, err := w.Write([]byte(p)); err != nil || n != len(p) {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "ab  c\nd" + `\u202e e\u009b\xe2`
	if buf.String() != want {
		t.Fatalf("got %q, want %q", buf.String(), want)
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "plain", "a\x1b[2Jb", "\u009b31m", "\xff\xfe", "\u202e", "x\ty\r\nz", "é\t\U000e0041\u2028", MarkOpen, "\r"} {
		f.Add(s, 1)
	}
	f.Fuzz(func(t *testing.T, s string, split int) {
		line, text := Line(s), Text(s)
		for _, out := range []string{line, text, Highlight(MarkLine(s), "", ""), Highlight(MarkText(s), "", "")} {
			if !utf8.ValidString(out) {
				t.Fatalf("invalid UTF-8 out of %q: %q", s, out)
			}
			if i := FirstUnsafe(out); i >= 0 {
				t.Fatalf("unsafe at %d in %q (from %q)", i, out, s)
			}
		}
		if strings.Contains(line, "\n") {
			t.Fatalf("Line(%q) has a newline: %q", s, line)
		}
		if Safe(s) != (line == s) {
			t.Fatalf("Safe(%q) = %v but Line = %q", s, Safe(s), line)
		}
		if got := Highlight(MarkLine(s), "", ""); got != line {
			t.Fatalf("marks removed %q, Line %q", got, line)
		}
		if got := Highlight(MarkText(s), "", ""); got != text {
			t.Fatalf("marks removed %q, Text %q", got, text)
		}
		if strings.Count(text, "\n") != strings.Count(s, "\n") {
			t.Fatalf("Text(%q) changed the line count: %q", s, text)
		}
		// Written in two parts, the Writer gives what Text gives.
		k := min(max(split, 0), len(s))
		var buf bytes.Buffer
		w := NewWriter(&buf)
		_, _ = w.Write([]byte(s[:k]))
		_, _ = w.Write([]byte(s[k:]))
		_ = w.Flush()
		if buf.String() != text {
			t.Fatalf("Writer(%q | %q) = %q, Text = %q", s[:k], s[k:], buf.String(), text)
		}
	})
}

func TestPrintable8MatchesBytewise(t *testing.T) {
	for c := range 256 {
		for pos := range 8 {
			b := []byte("abcdefgh")
			b[pos] = byte(c)
			want := c >= 0x20 && c < 0x7f
			if got := printable8(binary.LittleEndian.Uint64(b)); got != want {
				t.Fatalf("byte %#x at %d: %v, want %v", c, pos, got, want)
			}
		}
	}
}

// BenchmarkScan: escaping clean text is a scan; utf8.ValidString over the
// same bytes is the reference (the least any check of text must do).
func BenchmarkScan(b *testing.B) {
	clean := strings.Repeat("user-000123@example.com 2025-03-14 09:30:00+00 ", 22) // ~1 KiB
	mixed := strings.Repeat("Zoë 日本語 ok, ", 64)
	hostile := strings.Repeat("Bob\u009b2J \x1b]0;x\x07 ", 64)
	for _, c := range []struct {
		name string
		f    func(string) string
		s    string
	}{
		{"reference-utf8.ValidString", func(s string) string { _ = utf8.ValidString(s); return s }, clean},
		{"Line-clean-ascii", Line, clean},
		{"Line-clean-utf8", Line, mixed},
		{"Line-hostile", Line, hostile},
		{"MarkText-hostile", MarkText, hostile},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.s)))
			for b.Loop() {
				_ = c.f(c.s)
			}
		})
	}
}

// Unsafe's shortcuts agree with the Unicode table.
func TestUnsafeMatchesTheTable(t *testing.T) {
	for r := rune(0xa0); r <= unicode.MaxRune; r++ {
		want := unicode.Is(unicode.Cf, r) && r != 0x200c && r != 0x200d || r == 0x2028 || r == 0x2029
		if Unsafe(r) != want {
			t.Fatalf("Unsafe(%U) = %v, want %v", r, !want, want)
		}
	}
}
