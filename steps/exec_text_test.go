package steps

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/handrail-dev/handrail/internal/redact"
)

// jsonText is what the journal records for s: encoding/json's text.
func jsonText(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// streamed is the text of data read in pieces cut at the given offsets.
func streamed(data []byte, cuts ...int) string {
	var x execText
	out, from := "", 0
	for _, c := range cuts {
		c = max(from, min(c, len(data)))
		out += x.next(data[from:c], false)
		from = c
	}
	return out + x.next(data[from:], true)
}

func TestExecTextKeepsRunesWholeAcrossReads(t *testing.T) {
	data := []byte("日本語 ok é\xff\xc3")
	for cut := range len(data) + 1 {
		got := streamed(data, cut)
		if want := jsonText(t, string(data)); got != want {
			t.Fatalf("cut at %d: %q, want %q", cut, got, want)
		}
	}
	if got := streamed([]byte("a\xe6\x97"), 2); got != "a\ufffd\ufffd" {
		t.Fatalf("an unfinished rune at the end: %q", got)
	}
}

func FuzzExecText(f *testing.F) {
	f.Add([]byte("日本語\xff\xc3\x9b ok"), 3, 7)
	f.Add([]byte("\xe2\x80\xae\xf0\x9f"), 1, 4)
	f.Fuzz(func(t *testing.T, data []byte, a, b int) {
		a, b = min(max(a, 0), len(data)), min(max(b, 0), len(data))
		got := streamed(data, min(a, b), max(a, b))
		if !utf8.ValidString(got) {
			t.Fatalf("invalid text %q", got)
		}
		if want := jsonText(t, string(data)); got != want {
			t.Fatalf("streamed %q, the journal would hold %q", got, want)
		}
	})
}

func TestOutputTailKeepsWholeRunes(t *testing.T) {
	s := Apply(NewState(), Event{Type: EvSessionStarted, Session: &SessionInfo{Plan: []PlannedStep{{ID: "x", Kind: KindExec}}}})
	s = Apply(s, Event{Type: EvExecOutput, Step: "x", Text: "é" + string(make([]byte, MaxOutputBytes-2))})
	s = Apply(s, Event{Type: EvExecOutput, Step: "x", Text: "x"}) // one byte over: the cut falls inside é
	if out := s.Steps[0].Output; !utf8.ValidString(out) || len(out) > MaxOutputBytes {
		t.Fatalf("tail of %d bytes, valid %v", len(out), utf8.ValidString(out))
	}
}

// A secret cut between two reads is held until it is whole: each
// exec_output event is redacted on its own, so a password split between
// two events reached the journal in two halves, and the screen, which
// joins the events' text, showed it whole.
func TestExecTextNeverSplitsASecret(t *testing.T) {
	const secret = "7d6d9240660001dba30e3403e449f755"
	red := redact.New([]string{secret})
	data := []byte("line 292 x\nline 293 " + secret + "\nline 294 " + secret[:10])
	for cut := range len(data) + 1 {
		x := execText{red: red}
		pieces := []string{x.next(data[:cut], false), x.next(data[cut:], true)}
		if got := pieces[0] + pieces[1]; got != string(data) {
			t.Fatalf("cut at %d: %q, want %q", cut, got, data)
		}
		if r := red.String(pieces[0]); strings.Contains(r, secret[:6]) {
			t.Fatalf("cut at %d: the first piece %q shows the start of the secret", cut, r)
		}
		if r := red.String(pieces[1]); strings.Contains(r, secret[len(secret)-6:]) {
			t.Fatalf("cut at %d: the second piece %q shows the end of the secret", cut, r)
		}
	}
}
