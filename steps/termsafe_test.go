package steps

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/internal/termsafe"
	"github.com/handrail-dev/handrail/internal/termsafe/termsafetest"
)

// `handrail check` prints titles, the values its queries found and the
// server's errors; `handrail lint` quotes the runbook: nothing of that may
// act on the terminal (issue 13).

// hostileChecks is a report whose every string is one of strs.
func hostileChecks(strs ...string) ChecksReport {
	var rep ChecksReport
	termsafetest.Fill(&rep, termsafetest.Cycle(strs...))
	rep.Results = append(rep.Results, rep.Results[0]) // a second line: the table's alignment
	return rep
}

func checksOutput(t *testing.T, rep ChecksReport, asJSON bool) string {
	t.Helper()
	var out bytes.Buffer
	finishChecks(&out, asJSON, &rep, ExitFailed)
	s := out.String()
	if i := termsafe.FirstUnsafe(s); i >= 0 {
		t.Fatalf("raw %q at byte %d of the output (json %v):\n%s", s[i:min(len(s), i+12)], i, asJSON, s)
	}
	return s
}

func checkChecksOutput(t *testing.T, strs ...string) {
	t.Helper()
	rep := hostileChecks(strs...)
	checksOutput(t, rep, false)
	// The JSON keeps the exact values, as encoding/json gives them.
	out := checksOutput(t, rep, true)
	var got, want ChecksReport
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	raw, _ := json.Marshal(rep)
	_ = json.Unmarshal(raw, &want)
	want.ExitCode, want.Passed = ExitFailed, false
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("JSON values changed:\n got %+v\nwant %+v", got, want)
	}
}

func TestCheckOutputEscapesHostileValues(t *testing.T) {
	checkChecksOutput(t, "Bob\u009b2J\u009d0;x\u009c", "\x1b]0;title\x07\x1b[2J", "a\u202eb\xff\x7f", "two\nlines\ttab\r\n")
	out := checksOutput(t, hostileChecks("Bob\u009b2J", "\x1b[31m"), false)
	for _, want := range []string{`Bob\u009b2J`, `\x1b[31m`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The table is measured as printed: both result lines align.
	var rows []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "FAIL") || strings.Contains(l, "PASS") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 2 || strings.Index(rows[0], "FAIL") != strings.Index(rows[1], "FAIL") {
		t.Errorf("table not aligned:\n%s", out)
	}
}

func FuzzCheckOutputShowsNoControl(f *testing.F) {
	f.Add("Bob\u009b2J", "\x1b]0;x\x07", "\xff\u202e")
	f.Add("", "plain", "a\r\nb\tc")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		checkChecksOutput(t, a, b, c)
	})
}

func TestLintOutputEscapesWhatItQuotes(t *testing.T) {
	ps := Problems{
		{Path: "rb/\x1b]0;x\x07.toml", Line: 3, Col: 1, Msg: "unknown key \"ti\u009btle\"", Hint: "did you mean \u202etitle?"},
		{Path: "rb/m.sql", Line: 1, Severity: Warning, Msg: "statement quoted:\nselect '\x1b[2J'"},
	}
	var buf bytes.Buffer
	FormatProblems(&buf, ps)
	out := buf.String()
	if i := termsafe.FirstUnsafe(out); i >= 0 {
		t.Fatalf("raw %q in lint output:\n%s", out[i:], out)
	}
	if n := strings.Count(out, "\n"); n != 3 {
		t.Fatalf("%d lines for 2 problems and the summary:\n%s", n, out)
	}
	for _, want := range []string{`rb/\x1b]0;x\x07.toml:3:1: error: unknown key "ti\u009btle" (did you mean \u202etitle?)`, `quoted:\nselect '\x1b[2J'`} {
		if !strings.Contains(out, want) {
			t.Errorf("lint output lacks %q:\n%s", want, out)
		}
	}
}
