package journal

import (
	"bytes"
	"os"
	"reflect"
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
	types := make([]string, 0, len(steps.EventTypes))
	for _, typ := range steps.EventTypes {
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
		"multi\n" + continuation + "12:00:00 +00:00.000 [s] check passed", "are shown\nescaped"} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
}

func TestTranscriptOfCleanDataSaysNothingEscaped(t *testing.T) {
	if out := checkTranscript(t, hostileLog("plain", "text")); strings.Contains(out, "are shown\nescaped") {
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

// The journal file is read with cat, less and tail -f: what JSON leaves
// raw but a terminal acts on is written as \u escapes, and the values read
// back are the values written.
func TestJournalFileHoldsNoRawControls(t *testing.T) {
	hostile := hostileLog("Bob\u009b2J\u009d0;x\u009c", "\x1b]0;t\x07\x7f", "abc\u202edcba\u2066\u2028", "tag\U000e0041 ok")
	w, err := Create(t.TempDir(), hostile.Header, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range hostile.Events {
		e.Secret = false
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	if i := termsafe.FirstUnsafe(string(raw)); i >= 0 {
		t.Fatalf("raw %q at byte %d of the journal file", raw[i:min(len(raw), i+12)], i)
	}
	log := mustRead(t, w.Path())
	want := roundTrip(t, hostile.Events)
	for i := range want {
		want[i].Secret = false
		if !reflect.DeepEqual(log.Events[i], want[i]) {
			t.Fatalf("event %d read back differs:\n got %+v\nwant %+v", i+1, log.Events[i], want[i])
		}
	}
	if log.Header.TargetName != hostile.Header.TargetName {
		t.Fatalf("header target %q, want %q", log.Header.TargetName, hostile.Header.TargetName)
	}
}
