package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/internal/redact"
)

// execChunk is the largest piece of output one exec_output event carries.
const execChunk = 4 << 10

// runExec shows the command, waits for CmdNext, then (apply) runs it with
// `sh -c` in the runbook directory, the target's PG* environment and its
// output streamed as events; or (dry run) records that it would have run.
func (e *Engine) runExec(ctx context.Context, i int, run bool) (flow, error) {
	id := e.plan[i].info.ID
	s := e.plan[i].step
	cmdInfo := ListOf([]StatementInfo{{Index: 0, Count: 1, SQL: s.Command, File: e.runbookFile(), Line: s.Line}})
	if err := e.emit(Event{Type: EvStepWouldRun, Step: id, Statements: cmdInfo}); err != nil {
		return flowQuit, err
	}
	if ok, f, err := e.gate(ctx, i, run); !ok {
		return f, err
	}
	if !e.cfg.Apply {
		return flowNext, e.emit(Event{Type: EvStepSkipped, Step: id, Text: "dry run: would run the command"})
	}
	if f, err := e.beforeWrite(ctx, i); err != nil || f != flowNext {
		return f, err
	}
	if err := e.emit(Event{Type: EvIntent, Step: id, Statements: cmdInfo}); err != nil {
		return flowQuit, err // never act unrecorded
	}
	var code int
	then, err := e.during(ctx, func(ctx context.Context) error {
		var err error
		code, err = e.runCommand(ctx, i)
		return err
	})
	if serr := e.sinkFailed(); serr != nil {
		return flowQuit, serr
	}
	f, ferr := e.execResult(i, code, err)
	return afterDuring(f, ferr, then)
}

// runCommand runs the step's command to its end and returns its exit code.
// Cancelling ctx kills its whole process group.
func (e *Engine) runCommand(ctx context.Context, i int) (int, error) {
	s := e.plan[i].step
	if s.Timeout.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout.Duration)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", s.Command)
	cmd.Dir = e.execDir()
	cmd.Env = execEnv(e.cfg.Environ, e.target.PGEnv())
	setProcessGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	pr, pw, err := os.Pipe()
	if err != nil {
		return -1, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return -1, err
	}
	pw.Close()
	copyDone := make(chan struct{})
	go func() {
		defer close(copyDone)
		e.streamOutput(e.plan[i].info.ID, pr)
	}()
	werr := cmd.Wait()
	select {
	case <-copyDone:
	case <-time.After(cmd.WaitDelay):
		// A process that left the group still holds the output open.
	}
	pr.Close()
	<-copyDone
	if ctx.Err() != nil {
		return exitCode(cmd), ctx.Err()
	}
	var xerr *exec.ExitError
	if werr != nil && !errors.As(werr, &xerr) {
		return -1, werr
	}
	return exitCode(cmd), nil
}

func exitCode(cmd *exec.Cmd) int {
	if cmd.ProcessState == nil {
		return -1
	}
	return cmd.ProcessState.ExitCode()
}

// streamOutput turns the command's output into exec_output events.
func (e *Engine) streamOutput(step string, r io.Reader) {
	buf := make([]byte, execChunk)
	var secrets []string
	if e.cfg.Target != nil {
		secrets = e.cfg.Target.Secrets()
	}
	text := execText{red: redact.New(secrets)}
	for {
		n, err := r.Read(buf)
		if t := text.next(buf[:n], err != nil); t != "" {
			_ = e.emit(Event{Type: EvExecOutput, Step: step, Text: t})
		}
		if err != nil {
			return
		}
	}
}

// execResult records the exit and decides what follows.
func (e *Engine) execResult(i int, code int, err error) (flow, error) {
	id := e.plan[i].info.ID
	s := e.plan[i].step
	c := code
	if err := e.emit(Event{Type: EvExecExited, Step: id, ExitCode: &c}); err != nil {
		return flowQuit, err
	}
	where := e.stepWhere(i)
	switch {
	case errors.Is(err, context.Canceled):
		return flowFailed, e.emit(Event{Type: EvStepCancelled, Step: id, Error: &ErrorInfo{
			Message: "command cancelled " + e.cancelledBy() + ": its process group was killed",
			Where:   where,
			Hint:    "whatever the command did before it was killed stays; check, then " + e.choices("retry"),
		}})
	case errors.Is(err, context.DeadlineExceeded):
		return flowFailed, e.emit(Event{Type: EvStepFailed, Step: id, Error: &ErrorInfo{
			Message: fmt.Sprintf("command killed after its timeout (%s)", s.Timeout.Duration),
			Where:   where,
			Hint:    "raise the step's timeout if the command needs longer, then " + e.choices("retry"),
		}})
	case err != nil:
		return flowFailed, e.emit(Event{Type: EvStepFailed, Step: id, Error: &ErrorInfo{
			Message: "cannot run the command: " + err.Error(),
			Where:   where,
			Hint:    "check that sh and the command exist on this host, then retry",
		}})
	case code != 0:
		return flowFailed, e.emit(Event{Type: EvStepFailed, Step: id, Error: &ErrorInfo{
			Message: fmt.Sprintf("command exited with code %d", code),
			Where:   where,
			Hint:    "read its output above; fix the cause, then " + e.choices("retry"),
		}})
	}
	return e.succeed(i)
}

// execDir is the runbook directory when it exists on disk (an embedded
// runbook has none: the command then runs in the current directory).
func (e *Engine) execDir() string {
	if fi, err := os.Stat(e.rb.Dir); err == nil && fi.IsDir() {
		return e.rb.Dir
	}
	return ""
}

// execEnv is base without any libpq variable or DATABASE_URL (they could
// name another database), plus the target's.
func execEnv(base, pg []string) []string {
	out := make([]string, 0, len(base)+len(pg))
	for _, kv := range base {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "DATABASE_URL=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, pg...)
}
