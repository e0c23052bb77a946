package main

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/session"
	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/ui"
)

// The journal: replay, watch and verify.

func cmdReplay(c *cli, args []string) int {
	fs := c.flags("replay")
	speed := fs.Float64("speed", 1, fmt.Sprintf("playback speed, from %g to %g (the + and - keys change it)", ui.MinSpeed, ui.MaxSpeed))
	idle := fs.Duration("idle-limit", 2*time.Second, "cap on a pause between two events")
	plain := fs.Bool("plain", false, "print a readable transcript instead of the screen")
	arg, code, ok := parseOne(fs, args, "LOG (a session journal)")
	if !ok {
		return code
	}
	if !(*speed >= ui.MinSpeed && *speed <= ui.MaxSpeed) { // NaN too
		fmt.Fprintf(c.stderr, "handrail replay: --speed %g: give a speed from %g to %g (1 plays at the recorded pace; + and - change it while it plays)\n",
			*speed, ui.MinSpeed, ui.MaxSpeed)
		return steps.ExitUsage
	}
	log, err := journal.Read(arg)
	if err != nil {
		return replayUnread(c, arg, err)
	}
	if log.TornTail {
		fmt.Fprintf(c.stderr, "handrail replay: line %d was torn (the session crashed); it is not shown\n", log.TornLine)
	}
	if *plain {
		if err := journal.Transcript(c.stdout, log); err != nil {
			fmt.Fprintf(c.stderr, "handrail replay: %v\n", err)
			return steps.ExitFailed
		}
		return steps.ExitOK
	}
	screen, closeScreen, err := session.Screen()
	if err != nil {
		fmt.Fprintf(c.stderr, "handrail replay: the replay needs a terminal (%v).\n"+
			"Run it from an interactive shell (over SSH, inside tmux or screen), or print a transcript: handrail replay --plain %s\n", err, arg)
		return steps.ExitUsage
	}
	defer closeScreen()
	if _, err := ui.Run(ui.Options{Mode: ui.Replay, Initial: log.Events, Speed: *speed, IdleLimit: *idle}, screen...); err != nil {
		fmt.Fprintf(c.stderr, "handrail replay: %v\n", err)
		return steps.ExitFailed
	}
	return steps.ExitOK
}

// replayUnread says why replay cannot show the journal and what to do, and
// exits as verify does: 2 (not checked) for a file it cannot read or
// whose format is newer, 1 for a damaged one.
func replayUnread(c *cli, path string, err error) int {
	tr := journal.Explain(path, err)
	fmt.Fprintf(c.stderr, "handrail replay: %s: %s\nWhat to do: %s\n", tr.Title, tr.Detail, tr.Advice)
	var fe *journal.FormatError
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.As(err, &fe) {
		return steps.ExitUsage
	}
	return steps.ExitFailed
}

func cmdWatch(c *cli, args []string) int {
	fs := c.flags("watch")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(fs.Output(), `
Follows the journal as it is written and draws the operator's screen, read-only.
Says so when the operator's handrail is gone (crashed or killed without ending
the session), and shows an error screen when the journal is missing, cannot be
read, or fails its hash chain. Needs read access to the journal (the operator's
Unix user, or a group the operator shared it with). Exits when its terminal
hangs up. Exit codes: 0 left with q, 1 the journal could not be followed.
`)
	}
	arg, code, ok := parseOne(fs, args, "LOG (a session journal)")
	if !ok {
		return code
	}
	screen, closeScreen, err := session.Screen()
	if err != nil {
		fmt.Fprintf(c.stderr, "handrail watch: watching needs a terminal (%v).\n"+
			"Run it from an interactive shell: a second SSH login, or a tmux pane beside the operator's; "+
			"to read the session so far without one: handrail replay --plain %s\n", err, arg)
		return steps.ExitUsage
	}
	defer closeScreen()
	// A hangup (the watcher's SSH connection dropped) ends the context,
	// and with it the screen and the follower: no orphan keeps running.
	ctx, stop := signalContext()
	defer stop()
	events, follow := journal.FollowLog(ctx, arg)
	news := make(chan ui.WatchStatus)
	left := make(chan struct{})
	stopped := make(chan error, 1)
	go func() { stopped <- relayWatch(arg, follow, news, left) }()
	_, uiErr := ui.Run(ui.Options{Mode: ui.Watch, Events: events, Watch: news, Context: ctx, JournalPath: arg}, screen...)
	close(left)
	stop()
	err = <-stopped
	if uiErr != nil {
		fmt.Fprintf(c.stderr, "handrail watch: %v\n", uiErr)
		return steps.ExitFailed
	}
	if err != nil {
		tr := journal.Explain(arg, err)
		fmt.Fprintf(c.stderr, "handrail watch: %s: %s\nWhat to do: %s\n", tr.Title, tr.Detail, tr.Advice)
		return steps.ExitFailed
	}
	return steps.ExitOK
}

// relayWatch hands the follower's news to the watch screen in the
// screen's terms until the follower stops (or the screen has left), and
// returns why following stopped (nil when it was told to).
func relayWatch(path string, in <-chan journal.Status, out chan<- ui.WatchStatus, left <-chan struct{}) error {
	var stopErr error
	for st := range in {
		news := ui.WatchStatus{WriterGone: st.Writer == journal.WriterGone}
		if st.Stopped {
			if st.Err == nil {
				continue
			}
			stopErr = st.Err
			tr := journal.Explain(path, st.Err)
			news = ui.WatchStatus{Problem: &ui.WatchProblem{Title: tr.Title, Detail: tr.Detail, Advice: tr.Advice}}
		}
		select {
		case out <- news:
		case <-left:
		}
	}
	return stopErr
}

func cmdVerify(c *cli, args []string) int {
	fs := c.flags("verify")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprintf(fs.Output(), "\nPrints the journal's head hash (paste it into the change ticket) and a verdict.\n%s", journal.VerifyExitCodes)
	}
	arg, code, ok := parseOne(fs, args, "LOG (a session journal)")
	if !ok {
		return code
	}
	return journal.VerifyCommand(c.stdout, arg)
}
