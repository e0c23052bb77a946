package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/ui"
)

// watchingOperator is a frontend that only reads the events, and leaves
// (q) once the session has ended: whatever ended it, not the operator.
func watchingOperator(_ *steps.Engine, _ *steps.Runbook, opts ui.Options) (steps.Outcome, error) {
	for e := range opts.Events {
		if e.Type == steps.EvSessionEnded {
			opts.Send(steps.Command{Type: steps.CmdQuit})
		}
	}
	res := opts.Done()
	return res.Outcome, res.Err
}

// A connection that fails is recorded as that failure (not as the
// operator quitting), and no resume is offered for a session that never
// connected.
func TestConnectionFailureIsRecordedAsSuch(t *testing.T) {
	rbDir, logDir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(rbDir, steps.RunbookFile), []byte(crashRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	c := &cli{stdout: &stdout, stderr: &stderr, environ: []string{"USER=tester"}, frontend: watchingOperator}
	code := c.main([]string{"run", rbDir, "--db", "postgres://nobody@127.0.0.1:1/nothing?connect_timeout=5", "--log-dir", logDir})
	if code != steps.ExitFailed {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, steps.ExitFailed, stdout.String(), stderr.String())
	}
	m, _ := filepath.Glob(filepath.Join(logDir, "*.jsonl"))
	if len(m) != 1 {
		t.Fatalf("journals: %v", m)
	}
	log, err := journal.Read(m[0])
	if err != nil {
		t.Fatal(err)
	}
	last := log.Events[len(log.Events)-1]
	if last.Type != steps.EvSessionEnded || last.Outcome != steps.OutcomeFailed ||
		!strings.Contains(last.Text, "cannot connect") || strings.Contains(last.Text, "quit") {
		t.Fatalf("last event %s %s %q, want session_ended failed saying it cannot connect", last.Type, last.Outcome, last.Text)
	}
	if log.Events[1].Type != steps.EvConnecting {
		t.Errorf("second event %s, want connecting", log.Events[1].Type)
	}
	if strings.Contains(stdout.String(), "resume:") {
		t.Errorf("a resume hint for a session that never connected:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "cannot connect") {
		t.Errorf("stderr does not say why:\n%s", stderr.String())
	}
}

// A hangup (SIGHUP: the terminal or the SSH connection went away) is
// recorded as one, not as "context canceled".
func TestHangupIsRecorded(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL sandbox and a handrail process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	if err := sb.CreateDatabase(ctx, "hangup", "create table crash_knob (seconds float8 not null); insert into crash_knob values (0)"); err != nil {
		t.Fatal(err)
	}
	dsn := sb.DSN("hangup")
	if _, err := db.Stamp(ctx, crashConn(t, ctx, dsn), crashProjectID, false); err != nil {
		t.Fatal(err)
	}
	rbDir, logDir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(rbDir, steps.RunbookFile), []byte(crashRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHelper(t, "audit", "run", rbDir, "--db", dsn, "--apply", "--log-dir", logDir)
	path := waitForJournal(t, ctx, logDir, h)
	waitFor(t, ctx, "the session to wait at the first step", func() (bool, bool) {
		log, err := journal.Read(path)
		if err != nil {
			return false, false
		}
		for _, e := range log.Events {
			if e.Type == steps.EvStepWouldRun && e.Step == "audit" {
				return true, true
			}
		}
		return false, false
	})
	if err := h.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	code, out := h.wait(t)
	if code != steps.ExitFailed {
		t.Fatalf("exit %d, want %d:\n%s", code, steps.ExitFailed, out)
	}
	log, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	last := log.Events[len(log.Events)-1]
	if last.Type != steps.EvSessionEnded || last.Outcome != steps.OutcomeAborted || !strings.Contains(last.Text, "the terminal hung up") {
		t.Fatalf("last event %s %s %q, want session_ended aborted saying the terminal hung up", last.Type, last.Outcome, last.Text)
	}
}
