package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"

	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/ui"
)

// signalContext ends when the terminal hangs up (SIGHUP) or handrail is
// told to stop (SIGTERM); its cause says which, so the journal records
// what happened rather than "context canceled".
func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		select {
		case sig := <-ch:
			cancel(signalCause(sig))
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(nil)
	}
}

func signalCause(sig os.Signal) error {
	switch sig {
	case syscall.SIGHUP:
		return errors.New("the terminal hung up (SIGHUP: its window was closed or the SSH connection dropped)")
	case syscall.SIGTERM:
		return errors.New("handrail was told to stop (SIGTERM)")
	}
	return fmt.Errorf("signal %v", sig)
}

// screenTTY is where the operator's screen is drawn and read: stdin and
// stdout when they are the terminal; the controlling terminal (/dev/tty)
// for whichever of them is redirected (| tee, > file), so that the screen
// is always seen where the keys are typed. No terminal at all is refused.
type screenTTY struct {
	opts          []tea.ProgramOption
	tty           *os.File
	width, height int
}

func openScreen() (*screenTTY, error) {
	s := &screenTTY{}
	inTTY, outTTY := term.IsTerminal(os.Stdin.Fd()), term.IsTerminal(os.Stdout.Fd())
	out := os.Stdout
	if !inTTY || !outTTY {
		tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
		if err != nil {
			return nil, errors.New("no terminal: stdin or stdout is redirected and /dev/tty cannot be opened")
		}
		s.tty = tty
		if !inTTY {
			s.opts = append(s.opts, tea.WithInput(tty))
		}
		if !outTTY {
			out = tty
			s.opts = append(s.opts, tea.WithOutput(tty))
		}
	}
	s.width, s.height, _ = term.GetSize(out.Fd())
	return s, nil
}

// Screen opens the terminal a replay or a watch is drawn on, as the
// operator's screen is (stdin and stdout when they are the terminal, else
// /dev/tty for whichever is redirected): the program options to draw on
// it, and a close to call after the program has returned. An error means
// there is no terminal at all.
func Screen() (opts []tea.ProgramOption, closeScreen func(), err error) {
	s, err := openScreen()
	if err != nil {
		return nil, func() {}, err
	}
	return s.opts, s.close, nil
}

// frontend is the operator's screen: the Bubble Tea program on the terminal.
func (s *screenTTY) frontend(_ *steps.Engine, _ *steps.Runbook, opts ui.Options) (steps.Outcome, error) {
	return ui.Run(opts, s.opts...)
}

func (s *screenTTY) close() {
	if s.tty != nil {
		s.tty.Close()
	}
}
