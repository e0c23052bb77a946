package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/handrail-dev/handrail/steps"
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
		label := "WATCHING"
		if m.viewer != "" {
			label += " as " + safe(m.viewer)
		}
		switch {
		case m.watchProblem != nil:
			label += " — stopped"
		case m.finished():
			label += " — read-only, ended"
		case m.writerGone:
			label += " — operator gone"
		case m.partnerMode() && m.partner.Role == steps.RoleApprover:
			label += " — approver's keys: a h R"
		default:
			label += " — read-only"
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
	m.aliveSeen = m.aliveSeen || !s.WriterGone
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
	if m.fed {
		// A pair partner's screen: the share ends with the operator's handrail.
		text = "! OPERATOR'S HANDRAIL IS GONE (noticed " + m.goneAt.Format("15:04:05") + "): " +
			"it stopped sharing without ending the session. " +
			"Nothing runs now. Resumable with handrail run --resume LOG; this connection closes."
	}
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

// FeedMsg feeds a Watch screen that has no Events channel: a pair
// partner's screen over SSH, fed by the share server from the session's
// events as the journal recorded them. Events follow what the screen has
// folded so far; with Reset they are the whole session so far, folded from
// scratch (a partner that fell behind is redrawn, not replayed event by
// event). Closed: the session's stream ended.
type FeedMsg struct {
	Events []steps.Event
	Reset  bool
	Closed bool
}

func (m Model) handleFeed(msg FeedMsg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	m.fed = true
	if msg.Reset {
		m = m.refold(msg.Events)
	} else if len(msg.Events) > 0 {
		var next tea.Model
		next, cmd = m.handleEvents(msg.Events)
		m = next.(Model)
	}
	if !msg.Closed {
		return m, cmd
	}
	// The stream ended. Like a journal's follower, the screen makes up no
	// session result: a session that ended says so already; one that did
	// not is the operator's handrail gone without ending it.
	m.events = nil
	if !m.state.Ended && !m.writerGone {
		m.writerGone, m.goneAt = true, m.clock
		m.layoutPane()
	}
	return m, cmd
}

// refold is the screen redrawn from events alone: the fold from scratch,
// keeping only what belongs to the terminal (size, colors, help, full
// screen), the event plumbing and what the watch learnt besides events.
func (m Model) refold(events []steps.Event) Model {
	r := New(Options{Mode: m.mode, Initial: events, Now: m.now, NoColor: m.noColor, Viewer: m.viewer, Partner: m.partner})
	r.send, r.events, r.stop, r.doneFn, r.headFn = m.send, m.events, m.stop, m.doneFn, m.headFn
	r.width, r.height, r.isDark = m.width, m.height, m.isDark
	r.showHelp, r.full, r.banner, r.clock = m.showHelp, m.full, m.banner, m.clock
	r.fed, r.watch, r.watchProblem, r.writerGone, r.goneAt, r.aliveSeen = m.fed, m.watch, m.watchProblem, m.writerGone, m.goneAt, m.aliveSeen
	r.restyle()
	r.layoutPane()
	return r
}

// partnerFlash says, for a few seconds, that a pair partner joined or
// left (the header keeps the count), approved, held, released, or asked
// for the rollback.
func (m Model) partnerFlash(events []steps.Event) (Model, tea.Cmd) {
	text := ""
	for _, e := range events {
		if p := e.Partner; p != nil {
			switch e.Type {
			case steps.EvPartnerJoined:
				text = fmt.Sprintf("%s (%s) joined, watching", p.Name, p.Role)
			case steps.EvPartnerLeft:
				text = fmt.Sprintf("%s (%s) left: %s", p.Name, p.Role, e.Text)
			case steps.EvApprovalGiven:
				text = fmt.Sprintf("%s approved the write of step %s", p.Name, e.Step)
			case steps.EvHoldPlaced:
				text = fmt.Sprintf("%s holds the session: no write starts until released", p.Name)
			case steps.EvHoldReleased:
				text = fmt.Sprintf("%s's hold is released", p.Name)
			case steps.EvRollbackProposed:
				text = fmt.Sprintf("%s asks for the rollback", p.Name)
			}
		}
	}
	if text == "" {
		return m, nil
	}
	return m.showFlash(text, false)
}

// partnersText is the header's word on pair partners: how many watch,
// or that the session is shared and nobody watches yet (names from the
// escaped fold, like everything drawn).
func (m Model) partnersText(short bool) string {
	n := len(m.shown.Partners)
	switch {
	case m.shown.Share == nil && n == 0:
		return ""
	case n == 0 && short:
		return "shared"
	case n == 0:
		return "shared, nobody watching"
	case short:
		return fmt.Sprintf("%d watching", n)
	case n == 1:
		return m.shown.Partners[0].Name + " watching"
	}
	names := make([]string, 0, n)
	for _, p := range m.shown.Partners {
		names = append(names, p.Name)
	}
	if s := strings.Join(names, ", ") + " watching"; len(s) <= 24 {
		return s
	}
	return fmt.Sprintf("%d watching", n)
}
