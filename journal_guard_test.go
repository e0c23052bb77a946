//go:build unix

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/ui"
)

// TestRunStopsWhenItsJournalIsTruncated: the real `handrail run --apply`
// (a scripted operator in place of the screen) against the sandbox
// PostgreSQL. After the first write step, at the gate of the second, the
// journal is truncated under the session (as `: > LOG` would). The session
// must notice on its next event and stop: the second step's statements
// never reach the database, the error says what happened, and no head
// hash that verify would reject is presented as the session's.
func TestRunStopsWhenItsJournalIsTruncated(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL sandbox")
	}
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rbDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(rbDir, steps.RunbookFile), []byte(crashRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := sb.CreateDatabase(ctx, "guard", "create table crash_knob (seconds float8 not null); insert into crash_knob values (0)"); err != nil {
		t.Fatal(err)
	}
	dsn := sb.DSN("guard")
	admin := crashConn(t, ctx, dsn)
	if _, err := db.Stamp(ctx, admin, crashProjectID, false); err != nil {
		t.Fatal(err)
	}

	var truncated bool
	frontend := func(eng *steps.Engine, rb *steps.Runbook, opts ui.Options) (steps.Outcome, error) {
		drained := make(chan struct{})
		go func() {
			for range opts.Events {
			}
			close(drained)
		}()
		intercept := func(s *steps.State) (steps.Command, bool) {
			st := s.CurrentStep()
			if !truncated && st != nil && st.ID == "slow" && st.Status == steps.StatusActive && st.WouldRun.Len() > 0 {
				if err := os.Truncate(opts.JournalPath, 0); err != nil {
					t.Error(err)
				}
				truncated = true
			}
			return steps.Command{}, false // the autopilot presses enter: run the step
		}
		err := steps.Drive(ctx, eng, rb, intercept)
		<-drained
		res := opts.Done()
		if err == nil {
			err = res.Err
		}
		return res.Outcome, err
	}
	var stdout, stderr bytes.Buffer
	c := &cli{stdout: &stdout, stderr: &stderr, environ: os.Environ(), frontend: frontend}
	logDir := t.TempDir()
	code := c.main([]string{"run", rbDir, "--db", dsn, "--apply", "--log-dir", logDir, "--operator", "guard-test"})
	out := stdout.String() + stderr.String()
	if !truncated {
		t.Fatalf("the session never reached the gate of step slow (exit %d):\n%s", code, out)
	}
	if code == steps.ExitOK {
		t.Errorf("the session succeeded with its journal truncated:\n%s", out)
	}
	for _, want := range []string{"was truncated to 0 bytes", "stops before the next write to the database"} {
		if !strings.Contains(out, want) {
			t.Errorf("the output does not say %q:\n%s", want, out)
		}
	}
	if !tableVisible(t, ctx, admin, "crash_audit") {
		t.Error("the first write step did not run: the test proves nothing")
	}
	if tableVisible(t, ctx, admin, "crash_slow") {
		t.Error("the step after the truncation wrote to the database")
	}
	// No head hash is printed for the ticket: the file does not end with it.
	if strings.Contains(stdout.String(), "head:    ") && !strings.Contains(stdout.String(), "head:    \n") {
		t.Errorf("a head hash was printed for a journal changed under the session:\n%s", stdout.String())
	}
	m, _ := filepath.Glob(filepath.Join(logDir, "*.jsonl"))
	if len(m) != 1 {
		t.Fatalf("journals: %v", m)
	}
	if r := journal.Verify(m[0]); r.Status == journal.Complete {
		t.Errorf("the truncated journal verifies as complete: %+v", r)
	}
	t.Logf("exit %d:\n%s", code, out)
}
