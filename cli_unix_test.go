//go:build unix

package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/steps"
)

const cliHelperEnv = "HANDRAIL_CLI_HELPER" // set: run as the helper; the command line, space-separated

// TestCLIHelperProcess is not a test: the tests below re-execute the test
// binary with cliHelperEnv set to run the real command line in a process
// of its own.
func TestCLIHelperProcess(t *testing.T) {
	args := os.Getenv(cliHelperEnv)
	if args == "" {
		t.Skip("helper process for the CLI tests")
	}
	c, flush := newCLI(os.Stdout, os.Stderr, os.Environ())
	code := c.main(strings.Fields(args))
	flush()
	os.Exit(code)
}

// `handrail sandbox 2>&1 | tee log` stopped with ctrl+c: tee is gone, so
// the "stopping" line hits a broken pipe. handrail must still stop the
// server and remove the data directory, not die of SIGPIPE on the spot.
func TestSandboxCleansUpWhenItsReaderIsGone(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandbox PostgreSQL")
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCLIHelperProcess$")
	cmd.Env = append(os.Environ(), cliHelperEnv+"=sandbox")
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	dirRE := regexp.MustCompile(`initdb in (\S+)/data `)
	var dir string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		if m := dirRE.FindStringSubmatch(line); m != nil {
			dir = m[1]
		}
		if strings.HasPrefix(line, "Press ctrl+c") {
			break
		}
	}
	if dir == "" {
		t.Fatalf("the sandbox did not start or did not say where (scan error %v)", sc.Err())
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("sandbox directory: %v", err)
	}
	pr.Close() // the reader goes away, as tee does on ctrl+c
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("handrail sandbox died of %v instead of cleaning up", ws.Signal())
		}
		_ = err // the exit code may say the pipe broke; the cleanup is what matters
	case <-time.After(60 * time.Second):
		t.Fatal("handrail sandbox did not exit within 60s of ctrl+c")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the sandbox directory %s is still there after exit (stat: %v)", dir, err)
	}
}

// withoutTerminal runs handrail with args (one string, split on spaces)
// in a new session without a controlling terminal (cron, a pipe, a
// detached job: /dev/tty cannot open) and returns its exit code (-1 when
// it did not exit) and stderr.
func withoutTerminal(t *testing.T, args string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCLIHelperProcess$")
	cmd.Env = append(os.Environ(), cliHelperEnv+"="+args)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stderr.String()
	}
	t.Fatalf("handrail %s: %v", args, err)
	return -1, ""
}

// Without a terminal (cron, a pipe, a detached job) the guided run refuses
// at once, before a journal or a connection exists, and points to check.
func TestRunWithoutTerminalRefusesBeforeJournaling(t *testing.T) {
	logDir := filepath.Join(t.TempDir(), "logs")
	code, stderr := withoutTerminal(t, "run connect-rls-hardening --db postgres://nobody@127.0.0.1:1/x --log-dir "+logDir)
	if code != steps.ExitUsage {
		t.Fatalf("run without a terminal: exit %d, want %d\n%s", code, steps.ExitUsage, stderr)
	}
	if !strings.Contains(stderr, "needs a terminal") || !strings.Contains(stderr, "handrail check") {
		t.Errorf("stderr does not explain:\n%s", stderr)
	}
	if _, err := os.Stat(logDir); !os.IsNotExist(err) {
		t.Errorf("a journal directory was created (%v)", err)
	}
}

// replay and watch without a terminal say so and what to do instead (exit
// 2), as run does: they printed bubbletea's "error opening TTY" and exited 1.
func TestReplayAndWatchWithoutTerminal(t *testing.T) {
	for _, c := range []struct{ args, want string }{
		{"replay " + recordedSession, "replay --plain"},
		{"watch " + recordedSession, "needs a terminal"},
	} {
		code, s := withoutTerminal(t, c.args)
		if code != steps.ExitUsage {
			t.Errorf("%s without a terminal: exit %d, want %d\n%s", c.args, code, steps.ExitUsage, s)
		}
		if !strings.Contains(s, "needs a terminal") || !strings.Contains(s, c.want) || strings.Contains(s, "bubbletea") {
			t.Errorf("%s: stderr does not explain:\n%s", c.args, s)
		}
	}
}

// The demo without a terminal says so before it starts a throwaway
// PostgreSQL (it started one, loaded the example databases, and only then
// refused), and does not send the reader to handrail check --db, which a
// demo has no use for.
func TestDemoWithoutTerminalRefusesFirst(t *testing.T) {
	code, s := withoutTerminal(t, "demo --log-dir "+t.TempDir())
	if code != steps.ExitUsage {
		t.Fatalf("demo without a terminal: exit %d, want %d\n%s", code, steps.ExitUsage, s)
	}
	if !strings.Contains(s, "needs a terminal") || strings.Contains(s, "starting a throwaway PostgreSQL") {
		t.Errorf("stderr:\n%s", s)
	}
}
