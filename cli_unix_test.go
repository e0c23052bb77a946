//go:build unix

package main

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
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
	c := &cli{stdout: os.Stdout, stderr: os.Stderr, environ: os.Environ()}
	os.Exit(c.main(strings.Fields(args)))
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
