package journal

import (
	"bytes"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/internal/termsafe"
	"github.com/handrail-dev/handrail/internal/termsafe/termsafetest"
	"github.com/handrail-dev/handrail/steps"
)

// `replay --plain` writes the journal's data to a terminal: no control
// character other than a newline may come out, and a newline in a value
// cannot start a line that reads as an entry (issue 13).

// hostileLog is a journal with one event of every type, every string in
// the header and the events set from strs in turn, and the plan naming
// the steps so step entries show titles and items.
func hostileLog(strs ...string) *Log {
	pick := termsafetest.Cycle(strs...)
	log := &Log{}
	termsafetest.Fill(&log.Header, pick)
	types := make([]string, 0, len(knownTypes))
	for typ := range knownTypes {
		types = append(types, string(typ))
	}
	sort.Strings(types)
	for i, typ := range types {
		var e steps.Event
		termsafetest.Fill(&e, pick)
		e.Seq, e.Type, e.Step, e.Mono = int64(i+1), steps.EventType(typ), "s", time.Duration(i)*time.Second
		if e.Session != nil {
			e.Session.Plan[0].ID = "s"
		}
		*e.Item = 0
		log.Events = append(log.Events, e)
	}
	return log
}

func transcriptOf(t *testing.T, log *Log) string {
	t.Helper()
	var out bytes.Buffer
	if err := Transcript(&out, log); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// entry is how an entry line starts: wall time, then the offset.
var entry = regexp.MustCompile(`^\d\d:\d\d:\d\d \+`)

func checkTranscript(t *testing.T, log *Log) string {
	t.Helper()
	out := transcriptOf(t, log)
	if i := termsafe.FirstUnsafe(out); i >= 0 {
		t.Fatalf("raw %q at byte %d of the transcript:\n%s", out[i:min(len(out), i+12)], i, out)
	}
	entries := 0
	for _, l := range strings.Split(out, "\n") {
		if entry.MatchString(l) {
			entries++
		}
	}
	// Each event is one entry (row batches without columns are coalesced;
	// here every batch has columns).
	if entries != len(log.Events) {
		t.Fatalf("%d entries for %d events: a value started a line that reads as one:\n%s", entries, len(log.Events), out)
	}
	return out
}

func TestTranscriptEscapesHostileValues(t *testing.T) {
	out := checkTranscript(t, hostileLog(
		"Bob\u009b2J\u009d0;pwned\u009c",
		"\x1b]0;title\x07\x1b[2J\xff",
		"abc\u202edcba\u2066\t|",
		"multi\n12:00:00 +00:00.000 [s] check passed\r\nend",
	))
	for _, want := range []string{`Bob\u009b2J\u009d0;pwned\u009c`, `\x1b]0;title\x07\x1b[2J\xff`, `abc\u202edcba\u2066`,
		"multi\n" + continuation + "12:00:00 +00:00.000 [s] check passed", "shown escaped"} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
}

func TestTranscriptOfCleanDataSaysNothingEscaped(t *testing.T) {
	if out := checkTranscript(t, hostileLog("plain", "text")); strings.Contains(out, "shown escaped") {
		t.Fatalf("a note about escapes without any:\n%s", out)
	}
}

func FuzzTranscriptShowsNoControl(f *testing.F) {
	f.Add("Bob\u009b2J", "\x1b]0;x\x07", "a\nb")
	f.Add("\xff\xfe", "\u202e\u2066", "\r\n\t")
	f.Add("", "plain", "10:00:00 +00:00.000 x")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		checkTranscript(t, hostileLog(a, b, c))
	})
}
