//go:build linux

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/charmbracelet/x/ansi"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/steps"
)

// `handrail watch` in a real terminal (a pseudo-terminal this test holds
// the master side of), as a process of its own: when its terminal hangs
// up it must exit, not run on orphaned with nobody to see it.

// watchWait bounds every wait of these tests; each waits for a condition.
const watchWait = 30 * time.Second

// pty is a pseudo-terminal: the test holds master, the child gets tty.
type pty struct {
	master, tty *os.File
	mu          sync.Mutex
	out         bytes.Buffer // what the child drew
}

// openPTY opens a pseudo-terminal of 80x24.
func openPTY(t *testing.T) *pty {
	t.Helper()
	// Non-blocking, so that Go polls it and Close ends a pending Read:
	// a blocked Read would keep the master open, and no hangup would come.
	fd, err := syscall.Open("/dev/ptmx", syscall.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here (%v): the hangup test needs /dev/ptmx", err)
	}
	m := os.NewFile(uintptr(fd), "/dev/ptmx")
	ioctl := func(req uintptr, arg unsafe.Pointer) {
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), req, uintptr(arg)); errno != 0 {
			t.Fatalf("ioctl %#x on /dev/ptmx: %v", req, errno)
		}
	}
	var unlock int32
	ioctl(syscall.TIOCSPTLCK, unsafe.Pointer(&unlock))
	var n uint32
	ioctl(syscall.TIOCGPTN, unsafe.Pointer(&n))
	ws := struct{ rows, cols, x, y uint16 }{24, 80, 0, 0}
	ioctl(syscall.TIOCSWINSZ, unsafe.Pointer(&ws))
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	p := &pty{master: m, tty: tty}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { m.Close(); tty.Close() })
	return p
}

func (p *pty) drawn() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// startWatch runs `handrail watch LOG` (this test binary re-executed as
// the real command line) as the session leader of the terminal, as a
// login shell's child is.
func startWatch(t *testing.T, p *pty, log string) (*exec.Cmd, chan error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCLIHelperProcess$")
	cmd.Env = append(os.Environ(), cliHelperEnv+"=watch "+log, "TERM=xterm-256color")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = p.tty, p.tty, p.tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	p.waitDrawn(t, done, "WATCHING")
	return cmd, done
}

// liveJournal is a journal of a session that has not ended (a prefix of
// the recorded one), so the watcher keeps following it.
func liveJournal(t *testing.T) string {
	t.Helper()
	whole, err := os.ReadFile(recordedSession)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(whole, []byte("\n"))
	p := filepath.Join(t.TempDir(), "live.jsonl")
	if err := os.WriteFile(p, bytes.Join(lines[:30], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestWatchExitsOnHangup: the two ways a terminal goes away. The terminal
// itself hangs up (the SSH connection dropped: the kernel signals the
// session leader), or SIGHUP is sent to the process (a shell passing on
// its own hangup). Either way handrail watch exits, and not by dying of
// the signal: it leaves its screen and stops following.
func TestWatchExitsOnHangup(t *testing.T) {
	for _, how := range []string{"terminal closed", "SIGHUP sent"} {
		t.Run(how, func(t *testing.T) {
			p := openPTY(t)
			cmd, done := startWatch(t, p, liveJournal(t))
			if how == "terminal closed" {
				p.tty.Close()    // the child holds its own copies
				p.master.Close() // the hangup: SIGHUP to the session leader
			} else if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				var exit *exec.ExitError
				if errors.As(err, &exit) {
					if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
						t.Errorf("handrail watch died of %v instead of leaving", ws.Signal())
					}
				}
			case <-time.After(watchWait):
				t.Fatalf("handrail watch still runs %v after its terminal hung up", watchWait)
			}
		})
	}
}

const watchWriterEnv = "HANDRAIL_WATCH_WRITER" // set: be an operator's handrail writing a journal in this directory

// TestWatchWriterHelperProcess is not a test: TestWatchSaysOperatorGone
// re-executes the test binary with watchWriterEnv set to get a process
// that writes a session's journal (the first events of the recorded one)
// and then waits at a gate, holding the journal, until it is killed.
func TestWatchWriterHelperProcess(t *testing.T) {
	dir := os.Getenv(watchWriterEnv)
	if dir == "" {
		t.Skip("helper process of TestWatchSaysOperatorGone")
	}
	log, err := journal.Read(recordedSession)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	w, err := journal.Create(dir, log.Header, nil)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	for _, e := range log.Events[:20] {
		if err := w.Append(e); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
	}
	fmt.Println(w.Path())
	select {}
}

// waitDrawn waits until the terminal shows every one of want (escape
// sequences stripped); done, when not nil, is the process exiting first.
func (p *pty) waitDrawn(t *testing.T, done <-chan error, want ...string) {
	t.Helper()
	deadline := time.Now().Add(watchWait)
	for {
		s := ansi.Strip(p.drawn())
		missing := ""
		for _, w := range want {
			if !strings.Contains(s, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("handrail watch exited (%v) before showing %q:\n%s", err, missing, s)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("handrail watch did not show %q within %v:\n%s", missing, watchWait, s)
		}
	}
}

// TestWatchSaysOperatorGone: the operator's handrail (a real process
// holding the journal) is killed with SIGKILL, so it cannot end the
// session; the watcher, in its terminal, says the operator is gone within
// seconds instead of running its clock on.
func TestWatchSaysOperatorGone(t *testing.T) {
	writer := exec.Command(os.Args[0], "-test.run=^TestWatchWriterHelperProcess$")
	writer.Env = append(os.Environ(), watchWriterEnv+"="+t.TempDir())
	out, err := writer.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = writer.Process.Kill(); _ = writer.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasSuffix(line, ".jsonl\n") {
		t.Fatalf("the writer did not start: %q %v", line, err)
	}
	p := openPTY(t)
	_, done := startWatch(t, p, strings.TrimSuffix(line, "\n"))
	p.waitDrawn(t, done, "WATCHING — read-only")
	if strings.Contains(ansi.Strip(p.drawn()), "GONE") {
		t.Fatal("the operator is reported gone while its handrail runs")
	}
	if err := writer.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.waitDrawn(t, done, "OPERATOR'S", "HANDRAIL", "GONE", "operator gone")
	if _, err := p.master.WriteString("q"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("handrail watch after q: %v, want exit 0", err)
		}
	case <-time.After(watchWait):
		t.Fatal("q did not end handrail watch")
	}
}

// TestWatchShowsJournalErrors: a journal that is missing, or fails its
// chain, is an error screen saying so (never a session that ABORTED); q
// leaves with exit 1 and the same words on stderr.
func TestWatchShowsJournalErrors(t *testing.T) {
	whole, err := os.ReadFile(recordedSession)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(whole, []byte("\n"))
	lines[10] = bytes.Replace(lines[10], []byte(`"seq":10`), []byte(`"seq":10 `), 1)
	tampered := filepath.Join(t.TempDir(), "tampered.jsonl")
	if err := os.WriteFile(tampered, bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, log, title string }{
		{"missing", filepath.Join(t.TempDir(), "nope.jsonl"), "JOURNAL NOT FOUND"},
		{"tampered", tampered, "JOURNAL TAMPERED at line 11"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := openPTY(t)
			_, done := startWatch(t, p, c.log)
			p.waitDrawn(t, done, c.title, "What to do:", "press q to quit")
			if s := ansi.Strip(p.drawn()); strings.Contains(s, "ABORTED") {
				t.Errorf("the watcher shows a session that ABORTED:\n%s", s)
			}
			if _, err := p.master.WriteString("q"); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != steps.ExitFailed {
					t.Errorf("handrail watch of a %s journal: %v, want exit %d", c.name, err, steps.ExitFailed)
				}
			case <-time.After(watchWait):
				t.Fatal("q did not end handrail watch")
			}
			// Its stderr is the terminal: read what is left there.
			p.waitDrawn(t, nil, "handrail watch: "+c.title)
		})
	}
}
