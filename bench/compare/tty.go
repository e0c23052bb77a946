package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/steps"
)

// The migration through `handrail run` with the real screen: the handrail
// binary in a tmux pane of a fixed size, driven by keys as an operator
// drives it (enter at the step's prompt, the project id typed at the
// production consent, q at the end), each screen waited for by polling
// the pane. Its time is the step's: from the intent to the step's result,
// as the journal records them (mono); CPU and peak RSS are the whole
// process's (the launcher runs inside the pane and reports to a file).

const (
	ttyWidth, ttyHeight = 160, 48
	ttyWait             = 10 * time.Minute // one screen; a whole round takes seconds
)

// ttyTerm is one tmux server on a private socket.
type ttyTerm struct {
	tmux, socket string
}

func (t *ttyTerm) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, t.tmux, append([]string{"-S", t.socket}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TMUX=") && !strings.HasPrefix(kv, "TMUX_PANE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// waitText polls the pane until it shows every one of texts.
func (t *ttyTerm) waitText(ctx context.Context, texts ...string) error {
	deadline := time.Now().Add(ttyWait)
	for {
		s, err := t.run(ctx, "capture-pane", "-p", "-t", "hr")
		if err != nil {
			return err
		}
		ok := true
		for _, x := range texts {
			ok = ok && strings.Contains(s, x)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("waited %s for %q; the screen:\n%s", ttyWait, texts, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Key to frame while the step runs (-keys): ? toggles the full help, whose
// lines of keys refused "not now" show only then, and the short help line
// ("? help •") only when it is closed. Each probe sends the key, then
// polls the pane until the frame shows its effect: the time is the key's
// trip through tmux, Update, the renderer's next frame and tmux again,
// measured at the resolution of a capture-pane (a few ms).
const (
	helpOpen   = "not now:"
	helpClosed = "? help •"
	// stepProbes and promptProbes: the most keys probed during a step
	// and at a prompt.
	stepProbes, promptProbes = 40, 20
)

// probeKeys toggles the help until the step ends (or n probes) and
// returns each key's time to its frame. n is even: the help ends closed.
func (t *ttyTerm) probeKeys(ctx context.Context, n int) ([]time.Duration, error) {
	if err := t.waitText(ctx, "statement", helpClosed); err != nil {
		return nil, err
	}
	var out []time.Duration
	want := helpOpen
	for len(out) < n {
		start := time.Now()
		if _, err := t.run(ctx, "send-keys", "-t", "hr", "?"); err != nil {
			return out, err
		}
		for {
			s, err := t.run(ctx, "capture-pane", "-p", "-t", "hr")
			if err != nil {
				return out, err
			}
			if strings.Contains(s, want) {
				break
			}
			if strings.Contains(s, "SUCCEEDED") || time.Since(start) > ttyWait {
				return out, nil // the step ended before the frame: not a sample
			}
		}
		out = append(out, time.Since(start))
		if want == helpOpen {
			want = helpClosed
		} else {
			want = helpOpen
		}
	}
	return out, nil
}

// handrailTTY is the handrail side of a tty workload.
func (r *runner) handrailTTY(ctx context.Context, w *workload) (sample, error) {
	tmux, err := exec.LookPath("tmux")
	if err != nil || r.binary == "" || r.launcher == "" {
		return sample{}, errors.New("the tty workload needs tmux, the handrail binary and the launcher (run inside the module with a Go toolchain)")
	}
	r.runs++
	dir, err := os.MkdirTemp("", "hr-tty-") // short: a socket path is limited
	if err != nil {
		return sample{}, err
	}
	defer os.RemoveAll(dir)
	t := &ttyTerm{tmux: tmux, socket: filepath.Join(dir, "s")}
	jdir, report := filepath.Join(dir, "j"), filepath.Join(dir, "report")
	script := fmt.Sprintf("%s %s run %s --db %s --apply --log-dir %s 3>%s; echo \"handrail exited with $?\"; exec sleep 3600",
		shq(r.launcher), shq(r.binary), shq(w.runbookDir), shq(w.dsn), shq(jdir), shq(report))
	if _, err := t.run(ctx, "-f", "/dev/null", "new-session", "-d", "-s", "hr",
		"-x", fmt.Sprint(ttyWidth), "-y", fmt.Sprint(ttyHeight), "sh", "-c", script); err != nil {
		return sample{}, err
	}
	defer t.run(context.WithoutCancel(ctx), "kill-server")
	steps := []func() error{
		func() error {
			return t.waitText(ctx, "WRITES", fmt.Sprintf("enter sends %d statement(s)", w.statements))
		},
		func() error {
			if !w.promptKeys {
				return nil
			}
			lat, err := t.probeKeys(ctx, promptProbes)
			r.promptKeys = append(r.promptKeys, lat...)
			return err
		},
		func() error { _, err := t.run(ctx, "send-keys", "-t", "hr", "Enter"); return err },
		func() error { return t.waitText(ctx, "TYPED CONSENT") },
		func() error { _, err := t.run(ctx, "send-keys", "-t", "hr", "-l", benchProjectID); return err },
		func() error { _, err := t.run(ctx, "send-keys", "-t", "hr", "Enter"); return err },
		func() error {
			if !r.o.keys {
				return nil
			}
			lat, err := t.probeKeys(ctx, stepProbes)
			r.keyLatency = append(r.keyLatency, lat...)
			return err
		},
		func() error { return t.waitText(ctx, "SUCCEEDED") },
		func() error { _, err := t.run(ctx, "send-keys", "-t", "hr", "q"); return err },
		func() error { return t.waitText(ctx, "handrail exited with 0") },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return sample{}, err
		}
	}
	s, err := readReport(report)
	if err != nil {
		return s, err
	}
	st, err := stepTiming(jdir)
	if err != nil {
		return s, err
	}
	s.wall = st.step
	s.child = &childResult{Events: st.events, JournalBytes: st.bytes, BeforeFirst: st.beforeFirst}
	return s, nil
}

// readReport reads the launcher's report line ("wall_ns cpu_ns maxrss_kb exit").
func readReport(p string) (sample, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return sample{}, err
	}
	var wall, cpu, rss int64
	var exit int
	if _, err := fmt.Sscan(string(b), &wall, &cpu, &rss, &exit); err != nil {
		return sample{}, fmt.Errorf("launcher report %q: %v", b, err)
	}
	if exit != 0 {
		return sample{}, fmt.Errorf("handrail exited with %d", exit)
	}
	return sample{wall: time.Duration(wall), cpu: time.Duration(cpu), maxRSS: rss << 10}, nil
}

// journalTiming is what stepTiming reads from a tty session's journal.
type journalTiming struct {
	step   time.Duration // intent to the step's result (mono)
	events int
	bytes  int64 // the file's size
	// beforeFirst: the journal's size when the first statement_started
	// was written (what the session recorded before sending anything).
	beforeFirst int64
}

// stepTiming reads the one journal in dir: the time from the intent to
// the step's result, its events and size, and its size before the first
// statement started.
func stepTiming(dir string) (journalTiming, error) {
	ms, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return journalTiming{}, fmt.Errorf("listing the tty session's journals in %s: %w", dir, err)
	}
	if len(ms) != 1 {
		return journalTiming{}, fmt.Errorf("the tty session left %d journals in %s (%v), want exactly one: with none, handrail did not start its session (run the workload's command by hand in a terminal to see why)", len(ms), dir, ms)
	}
	log, err := journal.Read(ms[0])
	if err != nil {
		return journalTiming{}, err
	}
	fi, err := os.Stat(ms[0])
	if err != nil {
		return journalTiming{}, err
	}
	jt := journalTiming{events: len(log.Events), bytes: fi.Size()}
	var intent, result time.Duration
	for _, e := range log.Events {
		switch {
		case e.Type == steps.EvIntent && e.Step == "migrate":
			intent = e.Mono
		case e.Type == steps.EvStepSucceeded && e.Step == "migrate":
			result = e.Mono
		}
	}
	if result == 0 {
		return journalTiming{}, errors.New("the journal has no step_succeeded for the migration")
	}
	jt.step = result - intent
	if jt.beforeFirst, err = offsetOf(ms[0], []byte(`"type":"`+string(steps.EvStatementStarted)+`"`)); err != nil {
		return journalTiming{}, err
	}
	return jt, nil
}

// offsetOf returns the offset of the first line of file p that holds
// marker (-1 when none does).
func offsetOf(p string, marker []byte) (int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var off int64
	for {
		line, err := br.ReadBytes('\n')
		if bytes.Contains(line, marker) {
			return off, nil
		}
		off += int64(len(line))
		if err == io.EOF {
			return -1, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
