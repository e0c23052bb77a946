//go:build unix

package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/share"
	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/ui"
)

// Pair deploys over SSH (issue 16), end to end: handrail serves its
// session with --share on 127.0.0.1, and partners join with the real
// OpenSSH client, each in its own real terminal (a tmux session on a
// private socket), exactly as `ssh -p PORT host` from a partner's laptop.
// Every wait polls the screen or the journal against a deadline.

// requireOpenSSH skips, saying why, when the OpenSSH client is missing.
func requireOpenSSH(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipped: %s is not on PATH; install the OpenSSH client (apt-get install openssh-client) to run the pair-deploy tests", tool)
		}
	}
}

// sshPartner is a partner's key pair made with ssh-keygen.
type sshPartner struct {
	name, role, keyFile string
	fingerprint         string
}

func newSSHPartner(t *testing.T, dir, name, role string) sshPartner {
	t.Helper()
	p := sshPartner{name: name, role: role, keyFile: filepath.Join(dir, name)}
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name+"@laptop", "-f", p.keyFile).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(p.keyFile + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, err := gossh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	p.fingerprint = gossh.FingerprintSHA256(k)
	return p
}

// keysLine is the partner's line of the keys file: the public key with
// the name and role as its comment.
func (p sshPartner) keysLine(t *testing.T) string {
	t.Helper()
	pub, err := os.ReadFile(p.keyFile + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(pub))
	return f[0] + " " + f[1] + " " + p.name + " " + p.role
}

func writeKeysFile(t *testing.T, dir string, partners ...sshPartner) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# who may watch the session\n")
	for _, p := range partners {
		b.WriteString(p.keysLine(t) + "\n")
	}
	path := filepath.Join(dir, "partners")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sharedAt waits for the session's share_opened in the journal under
// logDir and returns the port partners connect to.
func sharedAt(t *testing.T, logDir string) int {
	t.Helper()
	deadline := time.Now().Add(tmuxWait)
	for {
		if logs, _ := filepath.Glob(filepath.Join(logDir, "*.jsonl")); len(logs) == 1 {
			if log, err := journal.Read(logs[0]); err == nil {
				for _, e := range log.Events {
					if e.Type == steps.EvShareOpened && e.Share != nil {
						_, port, _ := strings.Cut(e.Share.Addr, ":")
						n, err := strconv.Atoi(port)
						if err != nil {
							t.Fatalf("share_opened address %q", e.Share.Addr)
						}
						return n
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no share_opened in a journal under %s after %s", logDir, tmuxWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// knownHosts writes a known_hosts file trusting the host key handrail
// keeps under stateDir, so ssh checks it strictly: the key partners are
// told about is the key the server shows.
func knownHosts(t *testing.T, dir, stateDir string, port int) string {
	t.Helper()
	pub, err := os.ReadFile(filepath.Join(stateDir, "handrail", share.HostKeyName+".pub"))
	if err != nil {
		t.Fatalf("the host key's public half: %v", err)
	}
	path := filepath.Join(dir, "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%d %s", port, pub)
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sshArgs is `ssh -p PORT 127.0.0.1` as partner p, touching nothing of the
// user's own ssh setup.
func sshArgs(p sshPartner, port int, knownHostsFile string, extra ...string) []string {
	args := []string{"-F", "/dev/null", "-p", strconv.Itoa(port), "-i", p.keyFile,
		"-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes",
		"-o", "UserKnownHostsFile=" + knownHostsFile, "-o", "StrictHostKeyChecking=yes",
		"-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"}
	args = append(args, extra...)
	return append(args, "127.0.0.1")
}

// sshTerm runs ssh as the only process of a new tmux session on its own
// server, so its pid is the pane's and it can be killed abruptly.
func sshTerm(t *testing.T, tmuxPath string, w, h int, args ...string) *tmuxTerm {
	t.Helper()
	dir, err := os.MkdirTemp("", "hr-ssh-")
	if err != nil {
		t.Fatal(err)
	}
	term := &tmuxTerm{t: t, tmux: tmuxPath, socket: filepath.Join(dir, "s"), session: "partner"}
	t.Cleanup(func() {
		_, _ = term.run("kill-server")
		os.RemoveAll(dir)
	})
	term.tmuxCmd(append([]string{"-f", "/dev/null", "new-session", "-d", "-s", term.session,
		"-x", strconv.Itoa(w), "-y", strconv.Itoa(h), "ssh"}, args...)...)
	return term
}

// killAbruptly SIGKILLs the pane's process: the partner's laptop lid
// closing, with no goodbye on the SSH connection.
func (tt *tmuxTerm) killAbruptly() {
	tt.t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(tt.tmuxCmd("display-message", "-p", "-t", tt.session, "#{pane_pid}")))
	if err != nil {
		tt.t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		tt.t.Fatalf("killing ssh (pid %d): %v", pid, err)
	}
}

// header2 is the second line of the screen: target, operator, partners.
func header2(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) < 2 {
		return ""
	}
	return lines[1]
}

// runSSH runs ssh to completion (no terminal) and returns its exit code
// and what it printed.
func runSSH(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), tmuxWait)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ssh", args...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("ssh: %v\n%s", err, out)
	return -1, ""
}

// TestTmuxShare: the operator runs the demo with --share in one terminal;
// an observer and, later, an approver join with OpenSSH in theirs. The
// observer sees the operator's steps as they happen; the late joiner sees
// the whole session so far; an unknown key and a command are refused; the
// observer's ssh is killed abruptly and the operator goes on; every join
// and leave is in the journal, which verifies, and in the transcript.
func TestTmuxShare(t *testing.T) {
	tmuxPath := requireTmux(t)
	requireOpenSSH(t)
	bin := buildHandrail(t)
	env, err := exec.LookPath("env")
	if err != nil {
		t.Fatal(err)
	}
	keysDir, stateDir, logDir := t.TempDir(), t.TempDir(), t.TempDir()
	alice := newSSHPartner(t, keysDir, "alice", "observer")
	bob := newSSHPartner(t, keysDir, "bob", "approver")
	mallory := newSSHPartner(t, keysDir, "mallory", "observer") // not in the keys file
	keys := writeKeysFile(t, keysDir, alice, bob)

	op := startTmux(t, tmuxPath, env, "XDG_STATE_HOME="+stateDir, bin, "demo",
		"--share", "127.0.0.1:0", "--share-keys", keys, "--log-dir", logDir)
	op.waitText("[checklist] Pre-deployment checklist", "shared, nobody watching")
	port := sharedAt(t, logDir)
	kh := knownHosts(t, keysDir, stateDir, port)

	// Refused: a key not in the keys file; a command.
	if code, out := runSSH(t, sshArgs(mallory, port, kh, "-T")...); code != 255 || !strings.Contains(out, "Permission denied (publickey)") {
		t.Errorf("an unknown key: exit %d\n%s", code, out)
	}
	if code, out := runSSH(t, append(sshArgs(alice, port, kh), "ls")...); code != 1 || !strings.Contains(out, `it runs no command (you asked for "ls")`) {
		t.Errorf("a command: exit %d\n%s", code, out)
	}

	// The observer joins and follows the operator's steps.
	obs := sshTerm(t, tmuxPath, 90, 26, sshArgs(alice, port, kh)...)
	obs.waitText("WATCHING as alice (observer) — read-only", "[checklist] Pre-deployment checklist", "alice watching")
	op.waitFor("the operator's header to show alice", func(s string) bool { return strings.Contains(header2(s), "alice watching") })
	// Four items ticked; the staging proof item (no staging journal in
	// the demo's log directory) skipped with a reason.
	op.keys("Space")
	obs.waitFor("the observer to see 1 ticked item", func(s string) bool { return strings.Count(s, "[x]") == 1 })
	op.keys("s")
	op.waitText("why skip this item?")
	op.typeText("share e2e: the sandbox has no staging run")
	op.keys("Enter")
	obs.waitText("[-] Migration 001 run on Connect-Staging")
	for i := 2; i <= 4; i++ {
		op.keys("Space")
		obs.waitFor(fmt.Sprintf("the observer to see %d ticked items", i), func(s string) bool { return strings.Count(s, "[x]") == i })
	}
	op.keys("Enter")
	obs.waitText("[message] Announce the deploy")

	// A late joiner, at another terminal size, sees the session so far.
	late := sshTerm(t, tmuxPath, 120, 35, sshArgs(bob, port, kh)...)
	s := late.waitText("WATCHING as bob (approver) — approver's keys: a h R", "[message] Announce the deploy", "alice, bob watching")
	mustShow(t, s, " ok   Pre-deployment checklist")
	op.waitFor("the operator's header to show both partners", func(s string) bool { return strings.Contains(header2(s), "alice, bob watching") })

	// The observer's ssh dies without a word; the operator goes on.
	obs.killAbruptly()
	op.waitFor("the operator's header to lose alice", func(s string) bool {
		return strings.Contains(header2(s), "bob watching") && !strings.Contains(header2(s), "alice")
	})
	op.keys("Enter")
	op.waitText("[confirm] Confirm the target")
	late.waitText("[confirm] Confirm the target")

	// bob leaves with q; then the operator quits.
	late.keys("q")
	op.waitFor("the operator's header to show nobody watching", func(s string) bool { return strings.Contains(header2(s), "shared, nobody watching") })
	op.keys("q")
	op.waitText("QUIT?", "Leave handrail?")
	op.keys("y")
	op.waitText("handrail exited with 1", ": aborted")

	logs, _ := filepath.Glob(filepath.Join(logDir, "*.jsonl"))
	if len(logs) != 1 {
		t.Fatalf("journals: %v", logs)
	}
	if rep := journal.Verify(logs[0]); !rep.OK || !rep.Ended {
		t.Fatalf("verify: %s", rep.Verdict)
	}
	log, err := journal.Read(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	var joined, left []steps.Event
	for _, e := range log.Events {
		switch e.Type {
		case steps.EvPartnerJoined:
			joined = append(joined, e)
		case steps.EvPartnerLeft:
			left = append(left, e)
		}
	}
	if len(joined) != 2 || len(left) != 2 {
		t.Fatalf("joins %d, leaves %d; want 2 and 2", len(joined), len(left))
	}
	for i, want := range []sshPartner{alice, bob} {
		p := joined[i].Partner
		if p.Name != want.name || string(p.Role) != want.role || p.Fingerprint != want.fingerprint || !strings.HasPrefix(p.Addr, "127.0.0.1:") {
			t.Errorf("join %d: %+v, want %s (%s) %s", i, p, want.name, want.role, want.fingerprint)
		}
	}
	if left[0].Partner.Name != "alice" || left[0].Text != share.LeftLost || left[1].Partner.Name != "bob" || left[1].Text != share.LeftQuit {
		t.Errorf("leaves: %s %q, %s %q", left[0].Partner.Name, left[0].Text, left[1].Partner.Name, left[1].Text)
	}
	var transcript bytes.Buffer
	if err := journal.Transcript(&transcript, log); err != nil {
		t.Fatal(err)
	}
	mustShow(t, transcript.String(),
		"session shared over SSH on 127.0.0.1:"+strconv.Itoa(port),
		"partner #1 alice (observer), key "+alice.fingerprint+" joined from 127.0.0.1:",
		"partner #1 alice (observer), key "+alice.fingerprint+" left: connection lost",
		"partner #2 bob (approver), key "+bob.fingerprint+" left: left (quit the screen)")
}

// pairRunbook: a checklist, a write, and a check of the write.
const pairRunbook = `
[runbook]
id = "pair-test"
title = "Pair test"
version = "1"

[target]
name = "Pair-Prod"
project_id = "pair-test-prod"
production = true
identity = ["stamp"]

[settings]
lock_timeout = "5s"
statement_timeout = "1m"

[[phase]]
title = "Preparation"

  [[phase.step]]
  kind = "checklist"
  id = "ready"
  title = "Ready to change Pair-Prod"

    [[phase.step.items]]
    text = "The change ticket is approved"

[[phase]]
title = "Execution"

  [[phase.step]]
  kind = "sql"
  id = "create"
  title = "Create and fill pair_audit"
  statements = ["create table pair_audit (x int)", "insert into pair_audit values (1)"]

  [[phase.step]]
  kind = "check"
  id = "verify"
  title = "pair_audit has its row"
  sql = "select count(*)::int as n from pair_audit"
  expect = [{ n = 1 }]
`

// heldOperator is a frontend for runSession without a screen: it waits
// for release, then runs the session with the autopilot to its end.
func heldOperator(release <-chan struct{}) func(*steps.Engine, *steps.Runbook, ui.Options) (steps.Outcome, error) {
	return func(eng *steps.Engine, rb *steps.Runbook, opts ui.Options) (steps.Outcome, error) {
		drained := make(chan struct{})
		go func() {
			for range opts.Events {
			}
			close(drained)
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var err error
		select {
		case <-release:
			err = steps.Drive(ctx, eng, rb, nil)
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			eng.Send(steps.Command{Type: steps.CmdQuit})
		}
		<-drained
		res := opts.Done()
		if err == nil {
			err = res.Err
		}
		return res.Outcome, err
	}
}

// TestShareObserverKilledLeavesTheSessionUnaffected: the same apply run
// against two copies of a database, once alone and once shared with an
// observer and an approver (OpenSSH in tmux) whose ssh are both SIGKILLed
// mid-session: the same outcome, exit code, database state and journal,
// but for the partners' events.
func TestShareObserverKilledLeavesTheSessionUnaffected(t *testing.T) {
	tmuxPath := requireTmux(t)
	requireOpenSSH(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	dsns := map[string]string{}
	for _, name := range []string{"alone", "shared"} {
		if err := sb.CreateDatabase(ctx, name); err != nil {
			t.Fatal(err)
		}
		dsns[name] = sb.DSN(name)
		if _, err := db.Stamp(ctx, crashConn(t, ctx, dsns[name]), "pair-test-prod", false); err != nil {
			t.Fatal(err)
		}
	}
	rbDir, keysDir, stateDir := t.TempDir(), t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(rbDir, steps.RunbookFile), []byte(pairRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	alice := newSSHPartner(t, keysDir, "alice", "observer")
	carol := newSSHPartner(t, keysDir, "carol", "approver")
	keys := writeKeysFile(t, keysDir, alice, carol)

	type result struct {
		code           int
		stdout, stderr string
		path           string
		log            *journal.Log
	}
	run := func(name string, release <-chan struct{}, extra ...string) (logDir string, done <-chan result) {
		logDir = t.TempDir()
		out := make(chan result, 1)
		go func() {
			var stdout, stderr bytes.Buffer
			c := &cli{stdout: &stdout, stderr: &stderr, environ: []string{"USER=olga", "XDG_STATE_HOME=" + stateDir, "HOME=" + stateDir},
				frontend: heldOperator(release)}
			args := append([]string{"run", rbDir, "--db", dsns[name], "--apply", "--log-dir", logDir}, extra...)
			code := c.main(args)
			r := result{code: code, stdout: stdout.String(), stderr: stderr.String()}
			if logs, _ := filepath.Glob(filepath.Join(logDir, "*.jsonl")); len(logs) == 1 {
				r.path = logs[0]
				r.log, _ = journal.Read(logs[0])
			}
			out <- r
		}()
		return logDir, out
	}
	wait := func(done <-chan result) result {
		t.Helper()
		select {
		case r := <-done:
			if r.log == nil {
				t.Fatalf("no journal; exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			return r
		case <-ctx.Done():
			t.Fatal("the session did not end")
		}
		return result{}
	}

	released := make(chan struct{})
	close(released)
	_, aloneDone := run("alone", released)
	alone := wait(aloneDone)

	release := make(chan struct{})
	logDir, sharedDone := run("shared", release, "--share", "127.0.0.1:0", "--share-keys", keys)
	port := sharedAt(t, logDir)
	kh := knownHosts(t, keysDir, stateDir, port)
	obs := sshTerm(t, tmuxPath, 100, 30, sshArgs(alice, port, kh)...)
	obs.waitText("WATCHING as alice (observer)", "[checklist] Ready to change Pair-Prod", "olga · alice watching")
	appr := sshTerm(t, tmuxPath, 100, 30, sshArgs(carol, port, kh)...)
	appr.waitText("WATCHING as carol (approver)", "olga · alice, carol watching")
	obs.killAbruptly()
	appr.killAbruptly()
	deadline := time.Now().Add(tmuxWait)
	for {
		logs, _ := filepath.Glob(filepath.Join(logDir, "*.jsonl"))
		log, err := journal.Read(logs[0])
		if err == nil && len(eventsOf(log, steps.EvPartnerLeft)) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the partners' dropped connections were never journaled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(release)
	shared := wait(sharedDone)

	if shared.code != steps.ExitOK || alone.code != steps.ExitOK {
		t.Fatalf("exit codes: shared %d, alone %d; want 0\n%s\n%s", shared.code, alone.code, shared.stderr, alone.stderr)
	}
	for _, r := range []result{alone, shared} {
		if rep := journal.Verify(r.path); !rep.OK || !rep.Ended || rep.Outcome != steps.OutcomeSucceeded {
			t.Errorf("%s: %s", r.path, rep.Verdict)
		}
	}
	if got, want := sessionShape(shared.log), sessionShape(alone.log); got != want {
		t.Errorf("the shared session's journal differs from the session alone's (partner events aside):\nshared: %s\nalone:  %s", got, want)
	}
	if n := len(eventsOf(shared.log, steps.EvPartnerJoined)); n != 2 {
		t.Errorf("%d joins journaled, want 2", n)
	}
	if l := eventsOf(shared.log, steps.EvPartnerLeft); len(l) != 2 || l[0].Text != share.LeftLost || l[1].Text != share.LeftLost {
		t.Errorf("leaves: %+v", l)
	}
	for name, dsn := range dsns {
		var n int
		if err := crashConn(t, ctx, dsn).QueryRow(ctx, "select count(*) from pair_audit").Scan(&n); err != nil || n != 1 {
			t.Errorf("database %s: pair_audit rows %d, %v", name, n, err)
		}
	}
	if !strings.Contains(shared.stderr, "sharing this session over SSH on 127.0.0.1:") {
		t.Errorf("the operator was not told where the session is shared:\n%s", shared.stderr)
	}
}

func eventsOf(log *journal.Log, typ steps.EventType) []steps.Event {
	var out []steps.Event
	for _, e := range log.Events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// sessionShape is the journal as the sequence of what happened (type,
// step, outcome), without the partners' events and what differs between
// any two runs (times, lock pids, session ids).
func sessionShape(log *journal.Log) string {
	var b strings.Builder
	for _, e := range log.Events {
		switch e.Type {
		case steps.EvShareOpened, steps.EvPartnerJoined, steps.EvPartnerLeft:
			continue
		}
		fmt.Fprintf(&b, "%s/%s/%s ", e.Type, e.Step, e.Outcome)
	}
	return b.String()
}

// TestShareMistakesRunNothing: a mistake in --share or --share-keys stops
// `handrail run` before anything is journaled or run, saying what is
// wrong and where.
func TestShareMistakesRunNothing(t *testing.T) {
	dir := t.TempDir()
	_, line := newKeyLine(t)
	good := filepath.Join(dir, "good")
	writeFileMode(t, good, line+" alice observer\n", 0o600)
	loose := filepath.Join(dir, "loose")
	writeFileMode(t, loose, line+" alice observer\n", 0o666)
	bad := filepath.Join(dir, "bad")
	writeFileMode(t, bad, "# partners\n"+line+" alice@laptop\n", 0o600)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"keys without an address", []string{"--share-keys", good}, "--share-keys needs --share ADDR"},
		{"an address without keys", []string{"--share", ":0"}, "--share needs --share-keys FILE"},
		{"not an address", []string{"--share", "nonsense", "--share-keys", good}, "want [HOST]:PORT"},
		{"a keys file others may write", []string{"--share", ":0", "--share-keys", loose}, "writable by others than its owner"},
		{"a bad keys line", []string{"--share", ":0", "--share-keys", bad}, "bad:2: \"alice@laptop\" does not end with a role"},
		{"a port in use", []string{"--share", busy.Addr().String(), "--share-keys", good}, "cannot listen"},
		{"approval without sharing", []string{"--apply", "--require-approval", "1"}, "add --share ADDR --share-keys FILE"},
		{"approval without an approver", []string{"--apply", "--require-approval", "1", "--share", ":0", "--share-keys", good}, "names 0 approver(s) other than the operator olga"},
		{"too many approvers", []string{"--require-approval", "9"}, "--require-approval 9: give a number of approvers from 0 to 8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			logDir := t.TempDir()
			var stdout, stderr bytes.Buffer
			cl := &cli{stdout: &stdout, stderr: &stderr, environ: []string{"USER=olga", "XDG_STATE_HOME=" + t.TempDir()},
				frontend: func(*steps.Engine, *steps.Runbook, ui.Options) (steps.Outcome, error) {
					t.Error("the session ran")
					return "", nil
				}}
			args := append([]string{"run", "connect-rls-hardening", "--db", "postgres://deploy@127.0.0.1:1/postgres", "--log-dir", logDir}, c.args...)
			if code := cl.main(args); code != steps.ExitUsage {
				t.Errorf("exit %d, want %d", code, steps.ExitUsage)
			}
			if !strings.Contains(stderr.String(), c.want) {
				t.Errorf("stderr lacks %q:\n%s", c.want, stderr.String())
			}
			if logs, _ := filepath.Glob(filepath.Join(logDir, "*")); len(logs) != 0 {
				t.Errorf("something was journaled: %v", logs)
			}
		})
	}
}

func newKeyLine(t *testing.T) (gossh.PublicKey, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k)))
}

func writeFileMode(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
