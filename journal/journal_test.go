package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/internal/redact"
	"github.com/handrail-dev/handrail/steps"
)

// roundTrip is what events look like after a trip through JSON.
func roundTrip(t testing.TB, events []steps.Event) []steps.Event {
	t.Helper()
	b, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	var out []steps.Event
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustRead(t testing.TB, path string) *Log {
	t.Helper()
	log, err := Read(path)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return log
}

// lines splits a journal into its lines, newlines kept.
func lines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i+1])
		b = b[i+1:]
	}
	return out
}

func join(ls [][]byte) []byte { return bytes.Join(ls, nil) }

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	events := fixtureEvents()
	w, err := Create(dir, fixtureHeader(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	head := w.Head()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	log := mustRead(t, w.Path())
	want := roundTrip(t, events)
	for i := range want {
		if want[i].Secret {
			want[i].Text = Redacted // masked input is never recorded
		}
	}
	if len(log.Events) != len(want) {
		t.Fatalf("read %d events, wrote %d", len(log.Events), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(log.Events[i], want[i]) {
			g, _ := json.Marshal(log.Events[i])
			x, _ := json.Marshal(want[i])
			t.Fatalf("event %d:\n got %s\nwant %s", i+1, g, x)
		}
	}
	if log.Head != head || log.Lines != len(events)+1 || log.TornTail {
		t.Errorf("head %s lines %d torn %v; want head %s lines %d", log.Head, log.Lines, log.TornTail, head, len(events)+1)
	}
	h := fixtureHeader()
	if log.Header.RunbookID != h.RunbookID || !log.Header.Started.Equal(h.Started) || log.Header.Format != FormatVersion || log.Header.SSHClient != h.SSHClient {
		t.Errorf("header %+v", log.Header)
	}
	// The fold of the journal is the fold of the live events.
	// (The masked text is the one difference, and the fold keeps no
	// confirm_rejected text.)
	live := steps.Fold(fixtureEvents())
	if got := steps.Fold(log.Events); !reflect.DeepEqual(got, live) {
		g, _ := json.Marshal(got)
		x, _ := json.Marshal(live)
		t.Errorf("fold of the journal differs from the live fold:\n got %s\nwant %s", g, x)
	}
}

func TestRedaction(t *testing.T) {
	dir := t.TempDir()
	quoted := `pa"ss\w0rd<&>`
	events := fixtureEvents()
	// A key/value DSN with the second secret in an error, and a short
	// "secret" that must be ignored.
	for i := range events {
		if events[i].Type == steps.EvStepFailed && events[i].Error != nil && events[i].Error.SQLState == "55P03" {
			events[i].Error.Detail = "connect: host=db user=deploy password='" + strings.ReplaceAll(quoted, `\`, `\\`) + "' raw " + quoted
		}
	}
	// A secret in a statement's SQL: format 2 writes it once (redacted),
	// and Record must redact the events that refer to it as well.
	for i := range events {
		if l := events[i].Statements; l != nil {
			ss := l.Infos()
			for k := range ss {
				if ss[k].Index == 0 {
					ss[k].SQL += " -- " + fixturePassword
				}
			}
			events[i].Statements = steps.ListOf(ss)
		}
		if s := events[i].Statement; s != nil && s.Index == 0 {
			cp := *s
			cp.SQL += " -- " + fixturePassword
			events[i].Statement = &cp
		}
	}
	before := roundTrip(t, events)
	h := fixtureHeader()
	w, err := Create(dir, h, []string{fixturePassword, quoted, "abc"})
	if err != nil {
		t.Fatal(err)
	}
	var recorded []steps.Event // what a screen is given to show
	for _, e := range events {
		rec, err := w.Record(e)
		if err != nil {
			t.Fatal(err)
		}
		recorded = append(recorded, rec)
	}
	w.Close()
	// Redaction copies: the events the engine keeps are unchanged.
	if !reflect.DeepEqual(roundTrip(t, events), before) {
		t.Fatal("Append modified the caller's event")
	}
	b, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fixturePassword, url.QueryEscape(fixturePassword), url.PathEscape(fixturePassword),
		quoted, string(redact.JSONString(quoted)), strings.ReplaceAll(quoted, `\`, `\\`), "w0rd"} {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("the journal contains the secret spelled %q", s)
		}
	}
	if !bytes.Contains(b, []byte("abc")) {
		t.Error(`a secret shorter than 4 bytes ("abc") was redacted`)
	}
	log := mustRead(t, w.Path())
	// Record returns exactly what the journal holds: a screen fed from it
	// shows what a replay shows, and never a secret.
	if got := roundTrip(t, recorded); !reflect.DeepEqual(got, log.Events) {
		t.Error("the events Record returned differ from the journal's")
	}
	if got := log.Header.DSN; got != "postgres://deploy:[redacted]@db.rxlqtyfhsocxnsnnnlwl.supabase.co:5432/postgres?sslmode=require" {
		t.Errorf("header DSN %q", got)
	}
	if got := log.Events[0].Session.DSN; !strings.Contains(got, "deploy:[redacted]@") {
		t.Errorf("session DSN %q", got)
	}
	var secretSeen, outputSeen bool
	for _, e := range log.Events {
		if e.Secret {
			secretSeen = true
			if e.Text != Redacted {
				t.Errorf("secret text recorded as %q", e.Text)
			}
		}
		if e.Type == steps.EvExecOutput && strings.Contains(e.Text, "PGPASSWORD=[redacted]") {
			outputSeen = true
		}
	}
	if !secretSeen || !outputSeen {
		t.Errorf("secret event seen %v, redacted exec output seen %v", secretSeen, outputSeen)
	}
	if r := Verify(w.Path()); !r.OK {
		t.Errorf("a redacted journal does not verify: %s", r.Verdict)
	}
}

func TestFileMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "sessions")
	w, err := Create(dir, fixtureHeader(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	fi, err := os.Stat(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("journal mode %04o, want 0600", m)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m := di.Mode().Perm(); m != 0o700 {
		t.Errorf("directory mode %04o, want 0700", m)
	}
	if got := filepath.Base(w.Path()); got != "20250304T140506Z-connect-rls-hardening.jsonl" {
		t.Errorf("file name %q", got)
	}
	// The same second and runbook: a second file, not a clash.
	w2, err := Create(dir, fixtureHeader(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if got := filepath.Base(w2.Path()); got != "20250304T140506Z-connect-rls-hardening-2.jsonl" {
		t.Errorf("second file name %q", got)
	}
	h := fixtureHeader()
	h.RunbookID = "../../etc/passwd"
	w3, err := Create(dir, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w3.Close()
	if filepath.Dir(w3.Path()) != dir {
		t.Errorf("runbook id escaped the directory: %s", w3.Path())
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/var/state")
	if d, _ := DefaultDir(); d != "/var/state/handrail/sessions" {
		t.Errorf("with XDG_STATE_HOME: %s", d)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/op")
	if d, _ := DefaultDir(); d != "/home/op/.local/state/handrail/sessions" {
		t.Errorf("without XDG_STATE_HOME: %s", d)
	}
}

// Demo sessions have a directory of their own, beside the real ones.
func TestDemoDir(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/var/state")
	if d, _ := DemoDir(); d != "/var/state/handrail/demo-sessions" {
		t.Errorf("with XDG_STATE_HOME: %s", d)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/op")
	if d, _ := DemoDir(); d != "/home/op/.local/state/handrail/demo-sessions" {
		t.Errorf("without XDG_STATE_HOME: %s", d)
	}
}

func TestAppendChecks(t *testing.T) {
	w, err := Create(t.TempDir(), fixtureHeader(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := fixtureEvents()
	if err := w.Append(ev[1]); err == nil {
		t.Error("an event out of seq order was accepted")
	}
	if err := w.Append(ev[0]); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(ev[0]); err == nil {
		t.Error("a repeated seq was accepted")
	}
	sink := w.Sink()
	if err := sink(ev[1]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(ev[2]); !errors.Is(err, ErrClosed) {
		t.Errorf("append after close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if log := mustRead(t, w.Path()); len(log.Events) != 2 {
		t.Errorf("%d events recorded, want 2", len(log.Events))
	}
}

func TestSyncPolicy(t *testing.T) {
	for _, typ := range []steps.EventType{steps.EvIntent, steps.EvStepOutcomeUnknown, steps.EvStepMarked,
		steps.EvConsentRequired, steps.EvConsentGiven, steps.EvConsentRejected,
		steps.EvRollbackOffered, steps.EvRollbackStarted, steps.EvRollbackFinished, steps.EvIdentityVerified,
		steps.EvIdentityMismatch, steps.EvLockAcquired, steps.EvLockHeld, steps.EvSessionStarted,
		steps.EvSessionResumed, steps.EvSessionEnded} {
		if !Synced(typ) {
			t.Errorf("%s is not fsynced", typ)
		}
	}
	for _, typ := range []steps.EventType{steps.EvStepStarted, steps.EvRows, steps.EvNotice, steps.EvStatementStarted, steps.EvStatementFinished,
		steps.EvCheckPassed, steps.EvCheckFailed, steps.EvItemTicked, steps.EvManualResult, steps.EvLockWait,
		steps.EvStepSucceeded, steps.EvStepFailed, steps.EvStepSkipped} {
		if Synced(typ) {
			t.Errorf("%s is fsynced on its own", typ)
		}
	}
}

// The result of a writing step (an intent in flight) is fsynced before
// Append returns, that of a read-only step waits for the next boundary;
// the intent itself always is. A resumed journal knows its intents in
// flight.
func TestSyncPolicyFollowsIntents(t *testing.T) {
	w, err := Create(t.TempDir(), Header{RunbookID: "sync"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	seq := int64(0)
	appendEv := func(typ steps.EventType, step string) (synced bool) {
		t.Helper()
		before := w.Syncs()
		seq++
		if err := w.Append(steps.Event{Seq: seq, Type: typ, Step: step}); err != nil {
			t.Fatal(err)
		}
		return w.Syncs() > before
	}
	for _, c := range []struct {
		typ  steps.EventType
		step string
		want bool
	}{
		{steps.EvSessionStarted, "", true},
		{steps.EvStepStarted, "check", false},
		{steps.EvCheckPassed, "check", false},
		{steps.EvStepSucceeded, "check", false},
		{steps.EvStepStarted, "migrate", false},
		{steps.EvIntent, "migrate", true},
		{steps.EvStatementStarted, "migrate", false},
		{steps.EvStatementFinished, "migrate", false},
		{steps.EvStepFailed, "migrate", true},
		{steps.EvStepStarted, "migrate", false},
		{steps.EvIntent, "migrate", true},
		{steps.EvStepSucceeded, "migrate", true},
		{steps.EvStepStarted, "vacuum", false},
		{steps.EvIntent, "vacuum", true},
	} {
		if got := appendEv(c.typ, c.step); got != c.want {
			t.Errorf("%s of %s: fsynced %v, want %v", c.typ, c.step, got, c.want)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, _, err = OpenAppend(w.Path(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	seq = w.seq
	if !appendEv(steps.EvStepOutcomeUnknown, "vacuum") {
		t.Error("the resolution of the resumed intent was not fsynced")
	}
}

// Events left unsynced are fsynced by a timer when nothing else comes.
func TestUnsyncedEventsAreSyncedSoon(t *testing.T) {
	w, err := Create(t.TempDir(), Header{RunbookID: "sync"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i, typ := range []steps.EventType{steps.EvSessionStarted, steps.EvRows} {
		if err := w.Append(steps.Event{Seq: int64(i + 1), Type: typ, Step: "s"}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		w.mu.Lock()
		unsynced := w.unsynced
		w.mu.Unlock()
		if !unsynced {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the rows event is still unsynced after 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// writeTemp records the fixture (no secrets) and returns its path and bytes.
func writeTemp(t testing.TB) (string, []byte) {
	t.Helper()
	path := writeFixture(t, t.TempDir())
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

func wantLine(t *testing.T, err error, line int, reason string) {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v, want a *VerifyError naming line %d", err, line)
	}
	if ve.Line != line || !strings.Contains(ve.Reason, reason) {
		t.Errorf("error %q, want line %d and %q", ve, line, reason)
	}
}

func TestTamper(t *testing.T) {
	path, orig := writeTemp(t)
	ls := lines(orig)
	edit := func(k int, from, to string) func([][]byte) [][]byte {
		return func(ls [][]byte) [][]byte {
			if !bytes.Contains(ls[k-1], []byte(from)) {
				t.Fatalf("line %d has no %q", k, from)
			}
			ls[k-1] = bytes.Replace(ls[k-1], []byte(from), []byte(to), 1)
			return ls
		}
	}
	cases := []struct {
		name   string
		mutate func([][]byte) [][]byte
		line   int
		reason string
	}{
		{"edited value", edit(10, `"item":1`, `"item":2`), 10, "altered"},
		{"edited text", edit(12, "nightly", "Nightly"), 12, "altered"},
		{"edited header", edit(1, `"operator":"alice"`, `"operator":"bob__"`), 1, "altered"},
		{"edited prev", func(ls [][]byte) [][]byte {
			i := bytes.Index(ls[19], []byte(`"prev":"`)) + 8
			ls[19][i] ^= 1
			return ls
		}, 20, "its prev does not match"},
		{"edited seq", edit(15, `"seq":14`, `"seq":15`), 15, "seq 15, want 14"},
		{"invalid JSON in the middle", edit(12, `"type"`, `"type`), 12, "not valid JSON"},
		{"deleted line", func(ls [][]byte) [][]byte { return slices.Delete(ls, 30, 31) }, 31, "deleted or reordered"},
		{"swapped lines", func(ls [][]byte) [][]byte { ls[40], ls[41] = ls[41], ls[40]; return ls }, 41, "deleted or reordered"},
		{"inserted copy", func(ls [][]byte) [][]byte { return slices.Insert(ls, 50, ls[20]) }, 51, "inserted"},
		{"duplicated line", func(ls [][]byte) [][]byte { return slices.Insert(ls, 50, ls[50]) }, 52, "inserted, duplicated or moved"},
		{"moved last line", func(ls [][]byte) [][]byte {
			last := ls[len(ls)-1]
			return slices.Insert(ls[:len(ls)-1], 25, last)
		}, 26, "deleted or reordered"},
		{"truncated middle line", func(ls [][]byte) [][]byte {
			ls[60] = append(ls[60][:len(ls[60])/2:len(ls[60])/2], '\n')
			return ls
		}, 61, "not valid JSON"},
		{"second header", func(ls [][]byte) [][]byte { return slices.Insert(ls, 5, ls[0]) }, 6, "second header"},
		{"line without prev", func(ls [][]byte) [][]byte {
			return slices.Insert(ls, 5, []byte(`{"seq":5,"time":"2025-03-04T14:05:06Z","mono":0,"type":"reconnected"}`+"\n"))
		}, 6, "no prev"},
		{"first line not a header", func(ls [][]byte) [][]byte { return ls[1:] }, 1, "not a journal header"},
		{"no header at all", func([][]byte) [][]byte { return nil }, 1, "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cp := make([][]byte, len(ls))
			for i := range ls {
				cp[i] = slices.Clone(ls[i])
			}
			b := join(c.mutate(cp))
			_, err := ReadFrom(bytes.NewReader(b))
			wantLine(t, err, c.line, c.reason)
			p := filepath.Join(t.TempDir(), "j.jsonl")
			os.WriteFile(p, b, 0o600)
			r := Verify(p)
			if r.OK || len(r.Problems) == 0 || !strings.Contains(r.Verdict, "line "+strconv.Itoa(c.line)) {
				t.Errorf("Verify: %+v", r)
			}
		})
	}
	// The last line is pinned by the head hash only.
	old := []byte(`"outcome":"rolled_back"`)
	i := bytes.LastIndex(orig, old)
	cp := slices.Concat(orig[:i], []byte(`"outcome":"succeeded"`), orig[i+len(old):])
	log, err := ReadFrom(bytes.NewReader(cp))
	if err != nil {
		t.Fatal(err)
	}
	if log.Head == mustRead(t, path).Head {
		t.Error("editing the last line left the head hash unchanged")
	}
}

// TestEveryLineEdit edits bytes all over every line: Read must fail naming
// that line; for the last lines, at least the head hash must change.
func TestEveryLineEdit(t *testing.T) {
	path, orig := writeTemp(t)
	head := mustRead(t, path).Head
	ls := lines(orig)
	n := len(ls)
	start := 0
	for k := 1; k <= n; k++ {
		l := ls[k-1]
		positions := []int{0, len(l) - 1, len(l) - 2}
		for p := 1; p < len(l); p += len(l)/9 + 1 {
			positions = append(positions, p)
		}
		for _, p := range positions {
			b := slices.Clone(orig)
			at := start + p
			if b[at] == 'x' {
				b[at] = 'y'
			} else {
				b[at] = 'x'
			}
			log, err := ReadFrom(bytes.NewReader(b))
			if k <= n-2 || (k == n-1 && p < len(l)-1) {
				var ve *VerifyError
				if !errors.As(err, &ve) || ve.Line != k {
					t.Errorf("byte %d of line %d edited: %v", p, k, err)
				}
				continue
			}
			if err == nil && log.Head == head && !log.TornTail {
				t.Errorf("byte %d of line %d edited: not detected", p, k)
			}
		}
		start += len(l)
	}
}

func TestTornTail(t *testing.T) {
	for _, tail := range []string{
		`{"seq":102,"time":"2025-03-04T14:`, // half a line
		"\x00\x00\x00\x00\x00\x00",          // zeroes after a power loss
		"{\"seq\":102,\"ti\n",               // invalid JSON, with a newline, at the end
	} {
		path, orig := writeTemp(t)
		n := len(lines(orig))
		want := mustRead(t, path)
		f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		f.WriteString(tail)
		f.Close()

		log := mustRead(t, path)
		if !log.TornTail || log.TornLine != n+1 || len(log.Events) != len(want.Events) || log.Head != want.Head {
			t.Fatalf("tail %q: torn %v line %d, %d events", tail, log.TornTail, log.TornLine, len(log.Events))
		}
		r := Verify(path)
		if !r.OK || !r.TornTail || !strings.Contains(r.Verdict, "torn last line") {
			t.Errorf("Verify with a torn tail: %+v", r)
		}

		w, prior, err := OpenAppend(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if line, dropped := w.TornTail(); line != n+1 || dropped != int64(len(tail)) {
			t.Errorf("TornTail() = %d, %d", line, dropped)
		}
		if len(prior) != len(want.Events) || w.Head() != want.Head {
			t.Fatalf("OpenAppend: %d events, head %s", len(prior), w.Head())
		}
		last := prior[len(prior)-1]
		if err := w.Append(steps.Event{Seq: last.Seq + 1, Time: last.Time.Add(time.Minute), Mono: last.Mono, Type: steps.EvSessionResumed,
			Session: &steps.SessionInfo{SessionID: "resumed"}, Text: "resumed after a crash"}); err != nil {
			t.Fatal(err)
		}
		w.Close()
		log = mustRead(t, path)
		if log.TornTail || len(log.Events) != len(want.Events)+1 {
			t.Errorf("after OpenAppend: torn %v, %d events", log.TornTail, len(log.Events))
		}
		if r := Verify(path); !r.OK || r.TornTail || r.Ended {
			t.Errorf("Verify after resume: %+v", r)
		}
	}
}

func TestTornHeader(t *testing.T) {
	_, orig := writeTemp(t)
	_, err := ReadFrom(bytes.NewReader(orig[:40]))
	wantLine(t, err, 1, "header is incomplete")
}

func TestOpenAppend(t *testing.T) {
	dir := t.TempDir()
	events := fixtureEvents()
	w, err := Create(dir, fixtureHeader(), []string{fixturePassword})
	if err != nil {
		t.Fatal(err)
	}
	half := len(events) / 2
	for _, e := range events[:half] {
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	// One writer per journal.
	if _, _, err := OpenAppend(w.Path(), nil); err == nil || !strings.Contains(err.Error(), "another handrail process") {
		t.Errorf("a second writer on a journal in use: %v", err)
	}
	head := w.Head()
	w.Close()

	w2, prior, err := OpenAppend(w.Path(), []string{fixturePassword})
	if err != nil {
		t.Fatal(err)
	}
	if len(prior) != half || w2.Head() != head || w2.Header().RunbookID != fixtureHeader().RunbookID {
		t.Fatalf("OpenAppend: %d prior events, head %s", len(prior), w2.Head())
	}
	if line, _ := w2.TornTail(); line != 0 {
		t.Errorf("TornTail on a clean journal: %d", line)
	}
	for _, e := range events[half:] {
		if err := w2.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	w2.Close()
	got, _ := os.ReadFile(w.Path())
	want, _ := os.ReadFile(writeFixture(t, t.TempDir()))
	if !bytes.Equal(got, want) {
		t.Error("a journal written in two sessions differs from one written at once")
	}

	// A journal that does not verify is not resumed.
	b := bytes.Replace(got, []byte("nightly"), []byte("Nightly"), 1)
	p := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(p, b, 0o600)
	if _, _, err := OpenAppend(p, nil); err == nil || !strings.Contains(err.Error(), "cannot resume") {
		t.Errorf("OpenAppend of a tampered journal: %v", err)
	}
}

func TestPendingIntents(t *testing.T) {
	events := fixtureEvents()
	for n := 0; n <= len(events); n++ {
		prefix := events[:n]
		got := PendingIntents(prefix)
		var want []string
		st := steps.Fold(prefix)
		for _, s := range st.Steps {
			if s.InFlight {
				want = append(want, s.ID)
			}
		}
		slices.Sort(want)
		g := slices.Sorted(slices.Values(got))
		if !slices.Equal(g, want) {
			t.Fatalf("after %d events: PendingIntents %v, fold in flight %v", n, got, want)
		}
	}
	// After the intent of the retried migration, before its result.
	for i, e := range events {
		if e.Type == steps.EvIntent && e.Step == "vacuum" {
			if got := PendingIntents(events[:i+2]); !slices.Equal(got, []string{"vacuum"}) {
				t.Errorf("PendingIntents = %v, want [vacuum]", got)
			}
		}
	}
	if got := PendingIntents(events); got != nil {
		t.Errorf("PendingIntents of a finished session = %v", got)
	}
}

func TestVerify(t *testing.T) {
	path, orig := writeTemp(t)
	r := Verify(path)
	if !r.OK || !r.Ended || r.Outcome != steps.OutcomeRolledBack || r.Events != len(fixtureEvents()) || r.Lines != r.Events+1 || r.Head == "" || len(r.Problems) != 0 {
		t.Errorf("Verify: %+v", r)
	}
	var out bytes.Buffer
	if code := VerifyCommand(&out, path); code != 0 || !strings.Contains(out.String(), "head     "+r.Head) ||
		!strings.Contains(out.String(), fmt.Sprintf("verdict  OK: chain intact, %d events, session ended: rolled_back", r.Events)) {
		t.Errorf("VerifyCommand = %d:\n%s", code, out.String())
	}

	// An unended session: incomplete, not tampered.
	ls := lines(orig)
	p := filepath.Join(t.TempDir(), "crashed.jsonl")
	os.WriteFile(p, join(ls[:70]), 0o600)
	r = Verify(p)
	if !r.OK || r.Ended || !strings.Contains(r.Verdict, "incomplete") {
		t.Errorf("Verify of an unended session: %+v", r)
	}
	out.Reset()
	if code := VerifyCommand(&out, p); code != ExitIncomplete || r.Status != Incomplete ||
		!strings.Contains(out.String(), "head     "+r.Head) {
		t.Errorf("VerifyCommand of an unended session = %d, want %d with its head:\n%s", code, ExitIncomplete, out.String())
	}

	// Tampered: exit 1, the line named.
	os.WriteFile(p, bytes.Replace(orig, []byte("Acme Bakery"), []byte("Acme Bakerx"), 1), 0o600)
	out.Reset()
	if code := VerifyCommand(&out, p); code != ExitDamaged || !strings.Contains(out.String(), "FAILED: the journal was altered or damaged: line ") {
		t.Errorf("VerifyCommand of a tampered journal = %d:\n%s", code, out.String())
	}
	t.Logf("tampered:\n%s", out.String())

	// Structure: an unknown event type (with a valid chain).
	dir := t.TempDir()
	w, _ := Create(dir, fixtureHeader(), nil)
	ev := fixtureEvents()
	w.Append(ev[0])
	w.Append(steps.Event{Seq: 2, Time: ev[1].Time, Type: "teleported"})
	w.Close()
	r = Verify(w.Path())
	if r.OK || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], `line 3: unknown event type "teleported"`) {
		t.Errorf("Verify with an unknown type: %+v", r)
	}
	// A missing file.
	if r := Verify(filepath.Join(dir, "nope.jsonl")); r.OK || r.Status != Unchecked || !strings.Contains(r.Verdict, "cannot read") {
		t.Errorf("Verify of a missing file: %+v", r)
	}
	out.Reset()
	if code := VerifyCommand(&out, filepath.Join(dir, "nope.jsonl")); code != ExitUnchecked {
		t.Errorf("VerifyCommand of a missing file = %d, want %d", code, ExitUnchecked)
	}
}
