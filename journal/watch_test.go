package journal

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/steps"
)

// The tests of what `handrail watch` learns besides events: each way the
// journal can fail to be followed ends following with an error that
// Explain names for the watcher's screen, and a writer that dies without
// ending its session is reported gone.

// watchWait bounds every wait of these tests; they wait for conditions.
const watchWait = 30 * time.Second

const helperEnv = "HANDRAIL_JOURNAL_HELPER" // writer DIR | follow PATH

// TestJournalHelperProcess is not a test: the tests below re-execute the
// test binary with helperEnv set to get a process of their own that
// writes a journal (and is killed) or follows one (as another user).
func TestJournalHelperProcess(t *testing.T) {
	role, arg, _ := strings.Cut(os.Getenv(helperEnv), " ")
	switch role {
	case "":
		t.Skip("helper process of the watch tests")
	case "writer":
		// A session that writes a few events and then waits at a gate
		// until it is killed.
		w, err := Create(arg, fixtureHeader(), nil)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		for _, e := range fixtureEvents()[:6] {
			if err := w.Append(e); err != nil {
				fmt.Println("error:", err)
				os.Exit(1)
			}
		}
		fmt.Println(w.Path())
		select {}
	case "follow":
		ctx, cancel := context.WithTimeout(context.Background(), watchWait)
		defer cancel()
		events, status := FollowLog(ctx, arg)
		for range events {
		}
		st := lastStatus(status)
		fmt.Printf("%s\n%v\n", Explain(arg, st.Err).Title, st.Err)
		os.Exit(0)
	}
}

// followToEnd follows path until following stops and returns the events
// seen and the final status.
func followToEnd(t *testing.T, path string, change func()) ([]steps.Event, Status) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), watchWait)
	defer cancel()
	events, status := FollowLog(ctx, path)
	var (
		got   []steps.Event
		final Status
	)
	changed := change == nil
	for {
		select {
		case e, ok := <-events:
			if !ok {
				if st := lastStatus(status); st.Stopped {
					final = st
				}
				if ctx.Err() != nil {
					t.Fatalf("following %s did not stop within %v", path, watchWait)
				}
				return got, final
			}
			got = append(got, e)
		case st := <-status:
			if st.Stopped { // else a writer state: not what these tests look at
				final = st
			}
		}
		if !changed && len(got) == len(fixtureEvents()) {
			change()
			changed = true
		}
	}
}

// TestFollowLogTroubles: every way the journal can fail ends following
// with an error Explain titles as the watch screen does, never as a
// session that ended.
func TestFollowLogTroubles(t *testing.T) {
	_, orig := writeTemp(t)
	ls := lines(orig)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, b, 0o600))
		return p
	}
	tampered := append([][]byte(nil), ls...)
	tampered[40] = []byte(strings.Replace(string(ls[40]), `"seq":40`, `"seq":40 `, 1))
	cases := []struct {
		name   string
		path   string
		change func(p string) func()
		events int // events delivered before the error
		title  string
	}{
		{"missing", filepath.Join(dir, "nope.jsonl"), nil, 0, "JOURNAL NOT FOUND"},
		{"directory", dir, nil, 0, "CANNOT READ JOURNAL"},
		{"not a journal", write("README.md", []byte("# handrail\n\nsome text\n")), nil, 0, "NOT A HANDRAIL JOURNAL"},
		{"newer format", write("future.jsonl", []byte(strings.Replace(string(orig), `"format":2`, `"format":4`, 1))), nil, 0, "JOURNAL FROM A NEWER HANDRAIL"},
		// Line 41 itself is delivered: only line 42's prev shows it altered.
		{"tampered", write("tampered.jsonl", join(tampered)), nil, 40, "JOURNAL TAMPERED at line 41"},
		{"truncated", write("cut.jsonl", orig), func(p string) func() {
			return func() { must(t, os.Truncate(p, int64(len(orig)/2))) }
		}, len(fixtureEvents()), "JOURNAL CHANGED after line"},
		{"replaced", write("swapped.jsonl", orig), func(p string) func() {
			return func() {
				must(t, os.WriteFile(p+".new", orig, 0o600))
				must(t, os.Rename(p+".new", p))
			}
		}, len(fixtureEvents()), "JOURNAL CHANGED after line"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var change func()
			if c.change != nil {
				change = c.change(c.path)
			}
			got, st := followToEnd(t, c.path, change)
			if len(got) != c.events {
				t.Errorf("%d events delivered before the error, want %d", len(got), c.events)
			}
			tr := Explain(c.path, st.Err)
			if !st.Stopped || st.Err == nil || !strings.HasPrefix(tr.Title, c.title) || tr.Detail == "" || tr.Advice == "" {
				t.Fatalf("final status %+v: %+v, want title %q", st, tr, c.title)
			}
			t.Logf("%s | %s | %s", tr.Title, tr.Detail, tr.Advice)
		})
	}
}

// TestFollowLogPermissionDenied: a watcher without read access to the
// journal is told so. Run as root, the follower is a child process of an
// unprivileged user (uid 65534), since root reads any file.
func TestFollowLogPermissionDenied(t *testing.T) {
	_, orig := writeTemp(t)
	if os.Geteuid() != 0 {
		p := filepath.Join(t.TempDir(), "private.jsonl")
		must(t, os.WriteFile(p, orig, 0o000))
		_, st := followToEnd(t, p, nil)
		if tr := Explain(p, st.Err); tr.Title != "CANNOT READ JOURNAL: permission denied" {
			t.Fatalf("%+v: %+v", st, tr)
		}
		return
	}
	// The binary and the journal go in a directory the other user can
	// enter; the journal keeps the mode a session gives it (0600).
	dir, err := os.MkdirTemp("", "handrail-watch-perm")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	self, err := os.Executable()
	must(t, err)
	bin, err := os.ReadFile(self)
	must(t, err)
	exe := filepath.Join(dir, "journal.test")
	must(t, os.WriteFile(exe, bin, 0o755))
	p := filepath.Join(dir, "private.jsonl")
	must(t, os.WriteFile(p, orig, 0o600))
	cmd := exec.Command(exe, "-test.run=^TestJournalHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"=follow "+p)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("follower as uid 65534: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "CANNOT READ JOURNAL: permission denied\n") {
		t.Fatalf("the follower without read access says:\n%s", out)
	}
}

// TestFollowLogWriterGone: a real process writes a journal and waits, as
// an operator's handrail at a gate does. While it lives the follower
// reports it alive; killed with SIGKILL (no chance to end the session),
// the follower reports it gone within seconds; a resume holds the
// journal again (alive); a session that ends is not reported gone.
func TestFollowLogWriterGone(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestJournalHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"=writer "+dir)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasSuffix(line, ".jsonl\n") {
		t.Fatalf("the writer did not start: %q %v", line, err)
	}
	path := strings.TrimSuffix(line, "\n")

	ctx, cancel := context.WithTimeout(context.Background(), watchWait)
	defer cancel()
	events, status := FollowLog(ctx, path)
	go func() {
		for range events {
		}
	}()
	waitWriter := func(want WriterState, why string) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			select {
			case st := <-status:
				if st.Stopped {
					t.Fatalf("following stopped (%v) while waiting for the writer to be %s", st.Err, why)
				}
				if st.Writer == want {
					return time.Since(start)
				}
			case <-ctx.Done():
				t.Fatalf("the follower never reported the writer %s", why)
			}
		}
	}
	waitWriter(WriterAlive, "alive")
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	t.Logf("writer killed; reported gone after %v", waitWriter(WriterGone, "gone"))

	// Resumed: alive again. Ended: not gone.
	w, prior, err := OpenAppend(path, nil)
	must(t, err)
	waitWriter(WriterAlive, "alive again after a resume")
	for _, e := range fixtureEvents()[len(prior):] {
		must(t, w.Append(e))
	}
	must(t, w.Close())
	select {
	case st := <-status:
		if st.Writer == WriterGone {
			t.Errorf("a writer that ended its session is reported gone")
		}
	case <-time.After(3 * probeEvery):
		// a quiet follower: what the watcher should see after the end
	}
}

// TestFollowerWriterProbe: in-process, with a writer held and closed: the
// probe needs only the follower's read-only descriptor.
func TestFollowerWriterProbe(t *testing.T) {
	w, err := Create(t.TempDir(), fixtureHeader(), nil)
	must(t, err)
	must(t, w.Append(fixtureEvents()[0]))
	ctx, cancel := context.WithTimeout(context.Background(), watchWait)
	defer cancel()
	fl, err := OpenFollower(ctx, w.Path())
	must(t, err)
	defer fl.Close()
	if _, err := fl.Next(ctx); err != nil {
		t.Fatal(err)
	}
	if s := fl.Writer(); s != WriterAlive {
		t.Errorf("with the writer open: %v, want alive", s)
	}
	// The probe never gets in a resuming writer's way.
	must(t, w.Close())
	if s := fl.Writer(); s != WriterGone {
		t.Errorf("with the writer closed before the session ended: %v, want gone", s)
	}
	w2, _, err := OpenAppend(w.Path(), nil)
	must(t, err)
	defer w2.Close()
	if s := fl.Writer(); s != WriterAlive {
		t.Errorf("after OpenAppend: %v, want alive", s)
	}
}

// An empty file is not a journal (nothing was ever written to it): replay
// and verify say so, instead of "JOURNAL TAMPERED at line 1: the lines
// before line 1 are intact".
func TestEmptyFileIsNotAJournal(t *testing.T) {
	p := filepath.Join(t.TempDir(), "empty.jsonl")
	must(t, os.WriteFile(p, nil, 0o600))
	_, err := Read(p)
	if tr := Explain(p, err); tr.Title != "NOT A HANDRAIL JOURNAL" {
		t.Errorf("replay of an empty file: %+v", tr)
	}
	if r := Verify(p); r.OK || !strings.Contains(r.Verdict, "not a handrail journal") {
		t.Errorf("verify of an empty file: %s", r.Verdict)
	}
}
