package ui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// Watch mode follows a live session from its journal (journal.FollowLog
// feeding Options.Events) and draws the same screen read-only: Model.canCommand
// is false outside Live, so every command key is inert and only quitting,
// scrolling, full screen, help and copying a message work.
//
// What the follower learns besides events arrives as WatchStatus on
// Options.Watch: that the operator's handrail is gone (a banner, and the
// clock stops), or that the journal cannot be followed (an error screen,
// never a session that "ended").

// WatchStatus is news about the followed journal other than its events.
type WatchStatus struct {
	// WriterGone: no handrail process holds the journal any more and the
	// session did not end: the operator's handrail crashed, was killed or
	// lost its terminal. False again when a resumed session holds it.
	WriterGone bool
	// Problem, when set, means following stopped: the journal is missing,
	// unreadable, of a newer format, or fails its chain.
	Problem *WatchProblem
}

// WatchProblem is why the journal cannot be followed, for a person
// (journal.Explain).
type WatchProblem struct {
	Title  string // e.g. "JOURNAL TAMPERED at line 41"
	Detail string
	Advice string // what to do
}

// sourceBadge marks a screen that is not the live session: a watcher or a
// replay must never be mistaken for the operator's own screen.
func (m Model) sourceBadge() string {
	switch m.mode {
	case Watch:
		label := "WATCHING — read-only"
		switch {
		case m.watchProblem != nil:
			label = "WATCHING — stopped"
		case m.finished():
			label = "WATCHING — read-only, ended"
		case m.writerGone:
			label = "WATCHING — operator gone"
		}
		return m.styles.Mode.Render(label)
	case Replay:
		return m.replayBadge()
	}
	return ""
}

// waitForWatch delivers the next WatchStatus.
func (m Model) waitForWatch() tea.Cmd {
	ch := m.watch
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		s, ok := <-ch
		if !ok {
			return watchClosedMsg{}
		}
		return s
	}
}

type watchClosedMsg struct{}

// handleWatchStatus takes the follower's news and keeps listening.
func (m Model) handleWatchStatus(s WatchStatus) (tea.Model, tea.Cmd) {
	if s.Problem != nil {
		p := *s.Problem
		m.watchProblem = &p
		m.overlay = screenNone
		return m, m.waitForWatch()
	}
	if s.WriterGone && !m.writerGone {
		m.goneAt = m.clock
	}
	m.writerGone = s.WriterGone
	m.layoutPane()
	return m, m.waitForWatch()
}

// handleWatchErrorKey: on the error screen only q and ctrl+c do anything:
// they leave.
func (m Model) handleWatchErrorKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if key.Matches(msg, m.keys.Quit, m.keys.Interrupt) {
		return m, tea.Quit
	}
	return m, nil
}

// watchStopped: nothing will move on the watched screen until the journal
// does again (or ever): its clock stops.
func (m Model) watchStopped() bool {
	return m.mode == Watch && (m.writerGone || m.watchProblem != nil)
}

// operatorGone: the banner applies, the session shown has not ended.
func (m Model) operatorGone() bool {
	return m.mode == Watch && m.writerGone && !m.finished() && m.watchProblem == nil
}

// goneBanner is the header lines of a watcher whose operator is gone,
// wrapped to the width.
func (m Model) goneBanner(w int) []string {
	text := "! OPERATOR'S HANDRAIL IS GONE (noticed " + m.goneAt.Format("15:04:05") + "): " +
		"it stopped without ending the session (crashed, was killed, or lost its terminal). " +
		"Nothing runs now. Resumable with handrail run --resume LOG; this screen keeps following."
	lines := wrapAll([]string{text}, max(1, w-2)) // Danger pads a cell on each side
	for i, l := range lines {
		lines[i] = m.styles.Danger.Render(fit(l, max(1, w-2)))
	}
	return lines
}

// watchErrorLines is the error screen of a journal that cannot be
// followed: what, the detail, and what to do. What was shown before stays
// on the record, not on this screen.
func (m Model) watchErrorLines() []string {
	p, s := m.watchProblem, m.styles
	lines := []string{s.Danger.Render(safe(p.Title)), "", safe(p.Detail), "", s.Bold.Render("What to do: ") + safe(p.Advice)}
	if n := m.state.Seq; n > 0 {
		lines = append(lines, "", s.Muted.Render(fmt.Sprintf("The screen had shown the session up to event %d.", n)))
	}
	return append(lines, "", "press q to quit")
}
