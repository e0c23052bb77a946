package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/steps"
)

// synthJournal is an n-event session (bench_test.go's synth) as bytes.
func synthJournal(t testing.TB, n int) []byte {
	t.Helper()
	w, err := Create(t.TempDir(), Header{RunbookID: "bench", SessionID: "bench"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.noSync = true
	s := &synth{t0: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	for range n {
		if err := w.Append(s.next(int64(n))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readReport is what Verify must say about data, computed the old way:
// Read every event, then check them.
func readReport(data []byte) Report {
	log, err := ReadFrom(bytes.NewReader(data))
	if err != nil {
		return failed(err)
	}
	return check(log)
}

// sameReport compares two reports. Of a damaged journal, the status and
// the line named must agree; the reason may differ, since Read decodes a
// line before it checks its place in the chain and Verify after (an edit
// to a value of line N is "not a valid event" to one and "altered" to the
// other, both at line N).
func sameReport(t *testing.T, what string, got, want Report) {
	t.Helper()
	if want.Status == Damaged && got.Status == Damaged && len(got.Problems) == 1 && len(want.Problems) == 1 {
		g, _, _ := strings.Cut(got.Problems[0], ":")
		w, _, _ := strings.Cut(want.Problems[0], ":")
		if g != w {
			t.Errorf("%s: streaming Verify names %q, Read %q", what, got.Problems[0], want.Problems[0])
		}
		return
	}
	if got.Status != want.Status || got.OK != want.OK || got.Head != want.Head || got.Lines != want.Lines ||
		got.Events != want.Events || got.Ended != want.Ended || got.Outcome != want.Outcome ||
		got.TornTail != want.TornTail || got.TornLine != want.TornLine || got.Verdict != want.Verdict ||
		!slices.Equal(got.Problems, want.Problems) || got.MoreProblems != want.MoreProblems {
		t.Errorf("%s: streaming Verify and Read disagree:\n got %+v\nwant %+v", what, got, want)
	}
}

// TestVerifyAgreesWithRead: on every prefix of the fixture, torn or not,
// and on every edit of TestTamper's kind, the streaming Verify says
// exactly what reading the whole journal and checking it says.
func TestVerifyAgreesWithRead(t *testing.T) {
	_, orig := writeTemp(t)
	ls := lines(orig)
	for n := 0; n <= len(ls); n++ {
		b := join(ls[:n])
		sameReport(t, "prefix", verifyFrom(bytes.NewReader(b)), readReport(b))
		if n > 0 {
			torn := b[:len(b)-len(ls[n-1])/2]
			sameReport(t, "torn prefix", verifyFrom(bytes.NewReader(torn)), readReport(torn))
		}
	}
	for k := range ls {
		if k > 3 && k < len(ls)-3 && k%9 != 0 {
			continue // the ends, and a sample of the middle
		}
		for _, edit := range []func([]byte) []byte{
			func(l []byte) []byte { return bytes.Replace(l, []byte(`"seq":`), []byte(`"seq":1`), 1) },
			func(l []byte) []byte { return bytes.Replace(l, []byte(`"type":"`), []byte(`"type":"x`), 1) },
			func(l []byte) []byte { return bytes.Replace(l, []byte(`"mono":`), []byte(`"mono":"`), 1) },
			func(l []byte) []byte { return bytes.Replace(l, []byte(`"prev":"`), []byte(`"prev":"0`), 1) },
			func(l []byte) []byte { return bytes.Replace(l, []byte(`"time":"`), []byte(`"time":"x`), 1) },
			func([]byte) []byte { return nil },
		} {
			cp := slices.Clone(ls)
			cp[k] = edit(slices.Clone(ls[k]))
			b := join(cp)
			sameReport(t, "edited line", verifyFrom(bytes.NewReader(b)), readReport(b))
		}
	}
	r := verifyFrom(bytes.NewReader(orig))
	if r.Status != Complete || r.Events != len(fixtureEvents()) {
		t.Errorf("the fixture: %+v", r)
	}
}

// TestVerifyLastLineTyped: a last line that is JSON but not an event (a
// value of the wrong type) was edited, not torn: a crash cuts a line, it
// does not retype a value. Read and Verify both say so, at that line.
func TestVerifyLastLineTyped(t *testing.T) {
	_, orig := writeTemp(t)
	ls := lines(orig)
	n := len(ls)
	ls[n-1] = bytes.Replace(ls[n-1], []byte(`"mono":`), []byte(`"mono":"1s","x":`), 1)
	b := join(ls)
	_, err := ReadFrom(bytes.NewReader(b))
	wantLine(t, err, n, "not a valid event")
	r := verifyFrom(bytes.NewReader(b))
	if r.Status != Damaged || r.TornTail || !strings.Contains(r.Verdict, "line "+strconv.Itoa(n)+": not a valid event") {
		t.Errorf("Verify: %+v", r)
	}
}

// TestVerifyNewerFormat: a journal from a newer handrail is not damaged:
// Verify says which format it is, who wrote it, what reads it, and exits 2
// (not checked), not 1.
func TestVerifyNewerFormat(t *testing.T) {
	_, orig := writeTemp(t)
	ls := lines(orig)
	ls[0] = bytes.Replace(ls[0], []byte(`"format":2`), []byte(`"format":7`), 1)
	ls[0] = bytes.Replace(ls[0], []byte(`"handrail_version":"0.1.0"`), []byte(`"handrail_version":"3.2.1"`), 1)
	p := filepath.Join(t.TempDir(), "future.jsonl")
	if err := os.WriteFile(p, join(ls), 0o600); err != nil {
		t.Fatal(err)
	}
	var fe *FormatError
	if _, err := Read(p); !errors.As(err, &fe) || fe.Format != 7 || fe.WrittenBy != "3.2.1" {
		t.Fatalf("Read: %v, want a *FormatError", err)
	}
	r := Verify(p)
	for _, want := range []string{"format 7", "written by handrail 3.2.1", "newer than this handrail reads (format 2)", "handrail 3.2.1 or newer"} {
		if !strings.Contains(r.Verdict, want) {
			t.Errorf("verdict %q does not say %q", r.Verdict, want)
		}
	}
	if strings.Contains(r.Verdict, "altered") || strings.Contains(r.Verdict, "damaged") || r.Status != Unchecked {
		t.Errorf("a newer journal is reported as damaged: %+v", r)
	}
	var out bytes.Buffer
	if code := VerifyCommand(&out, p); code != ExitUnchecked {
		t.Errorf("VerifyCommand = %d, want %d:\n%s", code, ExitUnchecked, out.String())
	}
}

// TestVerifyNotAJournal: a file that is not a journal says so, rather
// than that a journal was altered.
func TestVerifyNotAJournal(t *testing.T) {
	for _, content := range []string{"# handrail\n\nA README.\n", `{"name":"package.json"}` + "\n"} {
		p := filepath.Join(t.TempDir(), "x")
		os.WriteFile(p, []byte(content), 0o600)
		r := Verify(p)
		if r.Status != Damaged || !strings.Contains(r.Verdict, "not a handrail journal: line 1") {
			t.Errorf("%q: %+v", content, r)
		}
	}
}

// TestVerifyProblemsBounded: a journal full of problems keeps the first
// maxProblems and counts the rest.
func TestVerifyProblemsBounded(t *testing.T) {
	w, err := Create(t.TempDir(), fixtureHeader(), nil)
	if err != nil {
		t.Fatal(err)
	}
	w.noSync = true
	ev := fixtureEvents()[0]
	if err := w.Append(ev); err != nil {
		t.Fatal(err)
	}
	const bad = 100
	for i := range bad {
		if err := w.Append(steps.Event{Seq: int64(i + 2), Time: ev.Time, Type: "teleported"}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	r := Verify(w.Path())
	if r.Status != Damaged || len(r.Problems) != maxProblems || r.MoreProblems != bad-maxProblems ||
		!strings.Contains(r.Verdict, "(and 99 more)") {
		t.Errorf("Verify: %d problems, %d more, verdict %q", len(r.Problems), r.MoreProblems, r.Verdict)
	}
	var out bytes.Buffer
	VerifyCommand(&out, w.Path())
	if !strings.Contains(out.String(), "and 80 more not listed") {
		t.Errorf("VerifyCommand:\n%s", out.String())
	}
}

// TestVerifyConstantMemory: Verify allocates the same whatever the
// journal's length: nothing is kept per event.
func TestVerifyConstantMemory(t *testing.T) {
	small, large := synthJournal(t, 1_000), synthJournal(t, 10_000)
	allocs := func(b []byte) float64 {
		return testing.AllocsPerRun(1, func() {
			if r := verifyFrom(bytes.NewReader(b)); r.Status != Complete {
				t.Fatalf("%+v", r)
			}
		})
	}
	a1, a2 := allocs(small), allocs(large)
	t.Logf("allocations: %v for 1,000 events, %v for 10,000", a1, a2)
	if a2 > a1+10 {
		t.Errorf("Verify allocates with the journal's length: %v for 1,000 events, %v for 10,000", a1, a2)
	}
}

// TestScanLightTakesWrittenLines: the fast path decodes every line the
// writer produces (the fixture and the benchmark's session), exactly as
// encoding/json does: were it to give up on them, verify would be slow
// without any test failing.
func TestScanLightTakesWrittenLines(t *testing.T) {
	_, fixture := writeTemp(t)
	all := append(lines(fixture)[1:], lines(synthJournal(t, 200))[1:]...)
	for i, l := range all {
		l = bytes.TrimSuffix(l, []byte("\n"))
		var got lightFields
		if !scanLight(l, &got) {
			t.Fatalf("line %d: the fast path gave up on a line the writer wrote:\n%s", i, l)
		}
		var ll lightLine
		if err := json.Unmarshal(l, &ll); err != nil {
			t.Fatal(err)
		}
		if want := ll.fields(); !reflect.DeepEqual(got, want) {
			t.Fatalf("line %d: fast path %+v, encoding/json %+v", i, got, want)
		}
	}
}

// FuzzScanLight: the fast path never accepts what encoding/json rejects,
// and when it accepts, it decodes what encoding/json decodes.
func FuzzScanLight(f *testing.F) {
	_, fixture := writeTemp(f)
	for _, l := range lines(fixture)[1:12] {
		f.Add(bytes.TrimSuffix(l, []byte("\n")))
	}
	for _, s := range []string{
		`{"seq":1,"type":"x","prev":"ab"}`, `{"Seq":1,"seq":2}`, `{"seq":1,"seq":2}`, `{"seq":1.0}`, `{"seq":-0}`,
		`{"seq":99999999999999999999}`, `{"type":"a\u0062"}`, `{"t\u0079pe":"x"}`, `{"prev":null}`, `{"prev":""}`,
		`{"session":{"runbook_id":"r","RUNBOOK_HASH":"h"},"type":"session_started"}`, `{"session":null}`,
		`{"outcome":"ok","kind":"header"}`, `{"rows":[[1,2],[true,false,null]],"x":{"y":[{}]},"seq":3}`,
		`{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `{"a":1e5,"b":-0.5E-3}`, `{"a":01}`, `{"a":1.}`, ` { } `, `{}x`, `[]`,
		`{"seq":1,}`, `{"a":tru}`, "{\"type\":\"\x01\"}", `{"ſeq":1}`, `{"KIND":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got lightFields
		if !scanLight(data, &got) {
			return
		}
		var ll lightLine
		if err := json.Unmarshal(data, &ll); err != nil {
			t.Fatalf("the fast path accepted what encoding/json rejects (%v):\n%q", err, data)
		}
		want := ll.fields()
		if len(want.Prev) == 0 && len(got.Prev) == 0 {
			want.Prev, got.Prev = nil, nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("fast path %+v, encoding/json %+v:\n%q", got, want, data)
		}
	})
}
