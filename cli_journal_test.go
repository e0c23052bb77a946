package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/ui"
)

// recordedSession is a journal of a whole session (it ended, rolled back).
const recordedSession = "testdata/sessions/rls-bad-day.jsonl"

// TestCLIVerifyExitCodes: handrail verify tells a script, by its exit
// code alone, whether the record is intact and complete (0), intact but
// the session did not end (3), damaged (1), or could not be checked (2);
// the head hash is printed whenever the chain holds.
func TestCLIVerifyExitCodes(t *testing.T) {
	whole, err := os.ReadFile(recordedSession)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lines := bytes.SplitAfter(whole, []byte("\n"))
	cases := []struct {
		name string
		path string
		code int
		want []string
	}{
		{"complete", write("complete.jsonl", whole), journal.ExitComplete,
			[]string{"verdict  OK: chain intact", "session ended: rolled_back"}},
		{"incomplete", write("crashed.jsonl", bytes.Join(lines[:40], nil)), journal.ExitIncomplete,
			[]string{"verdict  OK (incomplete)", "the session did not end"}},
		{"torn", write("torn.jsonl", append(bytes.Join(lines[:40], nil), lines[40][:20]...)), journal.ExitIncomplete,
			[]string{"torn last line 41 dropped"}},
		{"damaged", write("edited.jsonl", bytes.Replace(whole, []byte(`"operator":"alice"`), []byte(`"operator":"mallory"`), 1)), journal.ExitDamaged,
			[]string{"head     -", "FAILED: the journal was altered or damaged: line 1"}},
		{"newer format", write("future.jsonl", bytes.Replace(whole, []byte(`"format":2`), []byte(`"format":9`), 1)), journal.ExitUnchecked,
			[]string{"NOT CHECKED: journal format 9 (written by handrail 0.1.0) is newer than this handrail reads (format 2)"}},
		{"missing", filepath.Join(dir, "nope.jsonl"), journal.ExitUnchecked,
			[]string{"NOT CHECKED: cannot read the journal", "no such file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "verify", c.path)
			if code != c.code {
				t.Errorf("exit %d, want %d\n%s%s", code, c.code, stdout, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, stdout)
				}
			}
			if c.code == journal.ExitComplete || c.code == journal.ExitIncomplete {
				if r := journal.Verify(c.path); r.Head == "" || !strings.Contains(stdout, "head     "+r.Head) {
					t.Errorf("the head hash is not printed:\n%s", stdout)
				}
			}
		})
	}
	if code, _, _ := runCLI(t, "verify"); code != steps.ExitUsage {
		t.Errorf("verify without a journal: exit %d, want %d", code, steps.ExitUsage)
	}
}

// replay --plain answers a journal it cannot read as verify does: a
// missing file or one from a newer handrail is not checked (exit 2, with
// what to do), a damaged one is a failure (exit 1). It exited 1 for a
// missing file, where verify exits 2.
func TestCLIReplayUnreadableJournal(t *testing.T) {
	whole, err := os.ReadFile(recordedSession)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	future := filepath.Join(dir, "future.jsonl")
	if err := os.WriteFile(future, bytes.Replace(whole, []byte(`"format":2`), []byte(`"format":9`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(dir, "edited.jsonl")
	if err := os.WriteFile(edited, bytes.Replace(whole, []byte(`"operator":"alice"`), []byte(`"operator":"mallory"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		code int
		want string
	}{
		{filepath.Join(dir, "nope.jsonl"), steps.ExitUsage, "JOURNAL NOT FOUND"},
		{future, steps.ExitUsage, "JOURNAL FROM A NEWER HANDRAIL"},
		{edited, steps.ExitFailed, "line 1"},
	} {
		code, _, stderr := runCLI(t, "replay", "--plain", c.path)
		if code != c.code || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "What to do: ") {
			t.Errorf("replay --plain %s: exit %d, want %d, with %q and what to do:\n%s", filepath.Base(c.path), code, c.code, c.want, stderr)
		}
	}
}

// replay --speed out of the range the replay plays at is a usage error
// that says the range (it was clamped to it without a word); the bounds
// themselves are taken.
func TestCLIReplaySpeedOutOfRange(t *testing.T) {
	for _, speed := range []string{"0", "-2", "100", "0.1", "NaN", "+Inf"} {
		code, stdout, stderr := runCLI(t, "replay", "--plain", "--speed", speed, recordedSession)
		if code != steps.ExitUsage || stdout != "" || !strings.Contains(stderr, "--speed "+speed) ||
			!strings.Contains(stderr, fmt.Sprintf("from %g to %g", ui.MinSpeed, ui.MaxSpeed)) {
			t.Errorf("replay --speed %s: exit %d, want %d naming the range\nstdout:\n%s\nstderr:\n%s", speed, code, steps.ExitUsage, stdout, stderr)
		}
	}
	for _, speed := range []string{fmt.Sprint(ui.MinSpeed), "1", fmt.Sprint(ui.MaxSpeed)} {
		if code, _, stderr := runCLI(t, "replay", "--plain", "--speed", speed, recordedSession); code != steps.ExitOK {
			t.Errorf("replay --speed %s: exit %d\n%s", speed, code, stderr)
		}
	}
}
