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
)

// approvalRunbook is pairRunbook with second-person approval and a
// second write after the check.
const approvalRunbook = pairRunbook + `
  [[phase.step]]
  kind = "sql"
  id = "more"
  title = "Add a second row"
  statements = ["insert into pair_audit values (2)"]

[approval]
required = 1
`

// waitJournal polls the one journal under logDir until ok holds.
func waitJournal(t *testing.T, logDir, what string, ok func(*journal.Log) bool) *journal.Log {
	t.Helper()
	deadline := time.Now().Add(tmuxWait)
	for {
		if logs, _ := filepath.Glob(filepath.Join(logDir, "*.jsonl")); len(logs) == 1 {
			if log, err := journal.Read(logs[0]); err == nil && ok(log) {
				return log
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the journal under %s never showed %s", logDir, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hasEvent: the log holds an event of typ (for step, when not "") whose
// text contains text.
func hasEvent(log *journal.Log, typ steps.EventType, step, text string) bool {
	for _, e := range log.Events {
		if e.Type == typ && (step == "" || e.Step == step) && strings.Contains(e.Text, text) {
			return true
		}
	}
	return false
}

// serverLogged reports whether the server's log (log_statement = all)
// holds text.
func serverLogged(t *testing.T, sb *db.Sandbox, text string) bool {
	t.Helper()
	b, err := os.ReadFile(sb.LogFile())
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(b), text)
}

// TestTmuxApproval: a runbook with [approval] required = 1 runs with
// --share on 127.0.0.1; the approver joins with OpenSSH in a real
// terminal (tmux). The PostgreSQL server's own log (log_statement = all)
// shows no write until the approver approved on their screen by typing
// the project id; the operator's name over SSH cannot approve; killing
// the approver's ssh pauses the run before the next write, until an
// approver is back and approves; verify passes and lists the approvals.
func TestTmuxApproval(t *testing.T) {
	tmuxPath := requireTmux(t)
	requireOpenSSH(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sb := db.NewTestSandbox(t, db.SandboxOptions{LogStatements: true})
	if err := sb.CreateDatabase(ctx, "pairdb"); err != nil {
		t.Fatal(err)
	}
	dsn := sb.DSN("pairdb")
	if _, err := db.Stamp(ctx, crashConn(t, ctx, dsn), "pair-test-prod", false); err != nil {
		t.Fatal(err)
	}
	rbDir, keysDir, stateDir, logDir := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(rbDir, steps.RunbookFile), []byte(approvalRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	bob := newSSHPartner(t, keysDir, "bob", "approver")
	olga := newSSHPartner(t, keysDir, "olga", "approver") // the operator's own name
	keys := writeKeysFile(t, keysDir, bob, olga)

	// The operator: the autopilot at the screen's place (it ticks, types
	// the consent, and waits while the approvers decide).
	released := make(chan struct{})
	close(released)
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		c := &cli{stdout: &stdout, stderr: &stderr, environ: []string{"USER=olga", "XDG_STATE_HOME=" + stateDir, "HOME=" + stateDir},
			frontend: heldOperator(released)}
		done <- c.main([]string{"run", rbDir, "--db", dsn, "--apply", "--log-dir", logDir,
			"--share", "127.0.0.1:0", "--share-keys", keys})
	}()
	port := sharedAt(t, logDir)
	kh := knownHosts(t, keysDir, stateDir, port)

	// The first write waits for its approval; nothing of it reached the server.
	waitJournal(t, logDir, "the first write waiting for approval", func(l *journal.Log) bool {
		return hasEvent(l, steps.EvApprovalRequired, "create", "")
	})
	// (The step's table name alone is no proof of a write: the lock
	// analysis looks it up in the catalog, read-only, before the step is
	// shown. The step's statement is.)
	if serverLogged(t, sb, "create table pair_audit") {
		t.Fatal("the server logged the write on pair_audit before any approval")
	}

	// olga, the operator, joins as an approver: her screen offers no approval.
	self := sshTerm(t, tmuxPath, 110, 30, sshArgs(olga, port, kh)...)
	self.waitText("WATCHING as olga (approver)", "APPROVAL of step create: 0 of 1; missing 1: no approver connected")
	self.keys("a")
	self.keys("?")
	self.waitText("the operator cannot approve their own change")
	self.keys("q")

	// bob approves on his screen.
	appr := sshTerm(t, tmuxPath, 110, 30, sshArgs(bob, port, kh)...)
	appr.waitText("WATCHING as bob (approver)", "APPROVAL of step create: 0 of 1; missing 1: waiting for bob",
		"Pair-Prod", "create table pair_audit", "a approve the write")
	if serverLogged(t, sb, "create table pair_audit") {
		t.Fatal("the server logged the write on pair_audit before the approval")
	}
	approveOnScreen(appr, "pair-test-prod")
	waitJournal(t, logDir, "the approved write done", func(l *journal.Log) bool {
		return hasEvent(l, steps.EvStepSucceeded, "create", "")
	})
	if !serverLogged(t, sb, "create table pair_audit") {
		t.Fatal("the approved write is not in the server's log")
	}

	// bob's ssh dies: the next write waits until an approver is back.
	appr.killAbruptly()
	waitJournal(t, logDir, "the second write paused with no approver", func(l *journal.Log) bool {
		return hasEvent(l, steps.EvApprovalRequired, "more", "no approver is connected")
	})
	if serverLogged(t, sb, "values (2)") {
		t.Fatal("the second write reached the server with no approver connected")
	}
	again := sshTerm(t, tmuxPath, 110, 30, sshArgs(bob, port, kh)...)
	again.waitText("APPROVAL of step more: 0 of 1", "insert into pair_audit values (2)")
	approveOnScreen(again, "pair-test-prod")

	var code int
	select {
	case code = <-done:
	case <-ctx.Done():
		t.Fatal("the session did not end")
	}
	if code != steps.ExitOK {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	log := waitJournal(t, logDir, "the end", func(l *journal.Log) bool { return hasEvent(l, steps.EvSessionEnded, "", "") })
	for _, e := range eventsOf(log, steps.EvApprovalGiven) {
		if e.Partner == nil || e.Partner.Name != "bob" || e.Partner.Fingerprint != bob.fingerprint {
			t.Errorf("approval by %+v", e.Partner)
		}
	}
	if n := len(eventsOf(log, steps.EvApprovalGiven)); n != 2 {
		t.Errorf("%d approvals journaled, want 2", n)
	}
	logs, _ := filepath.Glob(filepath.Join(logDir, "*.jsonl"))
	var out, errOut bytes.Buffer
	vc := &cli{stdout: &out, stderr: &errOut, environ: []string{"USER=olga"}}
	if code := vc.main([]string{"verify", logs[0]}); code != 0 {
		t.Fatalf("verify exit %d\n%s%s", code, out.String(), errOut.String())
	}
	mustShow(t, out.String(), "approval 1 approver(s) required per write; 2 write(s) checked",
		"the write of step create approved by bob (approver, key "+bob.fingerprint+")",
		"the write of step more approved by bob (approver, key "+bob.fingerprint+")")
	var transcript bytes.Buffer
	if err := journal.Transcript(&transcript, log); err != nil {
		t.Fatal(err)
	}
	mustShow(t, transcript.String(), "APPROVED the write of step create: partner #2 bob (approver), key "+bob.fingerprint)
}

// approveOnScreen approves the write waiting now on an approver's screen:
// a, then the project id typed at the question.
func approveOnScreen(term *tmuxTerm, projectID string) {
	term.keys("a")
	term.waitText("to approve the write of step")
	term.typeText(projectID)
	term.keys("Enter")
}
