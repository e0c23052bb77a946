package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/handrail-dev/handrail/internal/termsafe"
	"github.com/handrail-dev/handrail/steps"
)

// layout is the geometry of one frame.
type layout struct {
	width, height int
	headerH       int
	bodyH         int
	listW, paneW  int // listW is 0 when the pane is full screen
}

// Fallback geometry before the first WindowSizeMsg.
const (
	defaultWidth  = 80
	defaultHeight = 24
)

func (m Model) layout() layout {
	w, h := m.width, m.height
	if w <= 0 || h <= 0 {
		w, h = defaultWidth, defaultHeight
	}
	l := layout{width: w, height: h, headerH: 3 + len(m.bannerLines(w)) + len(m.approvalLines(w))}
	if m.operatorGone() {
		l.headerH += len(m.goneBanner(w))
	}
	l.bodyH = max(1, h-l.headerH-m.footerHeight(w))
	l.listW = max(22, min(36, w/3))
	if m.full {
		l.listW = 0
	}
	l.paneW = w - l.listW
	if l.listW > 0 {
		l.paneW-- // the separator
	}
	return l
}

// layoutPane sizes the widgets that keep their own geometry.
func (m *Model) layoutPane() {
	l := m.layout()
	follow := m.execView.AtBottom() || m.execView.PastBottom()
	m.execView = clone(m.execView)
	m.execView.SetWidth(l.paneW)
	m.execView.SetHeight(max(1, l.bodyH-execFixedLines-1))
	if follow {
		m.execView.GotoBottom()
	}
}

func (m Model) render() string {
	scr := m.screen()
	if scr == screenTooSmall {
		msg := fmt.Sprintf("terminal too small: need %dx%d, have %dx%d; enlarge the window (q quits)", minWidth, minHeight, m.width, m.height)
		lines := []string{msg}
		switch m.question() {
		case screenConfirmCancel:
			lines = append(lines, "", m.cancelQuestion()+" y cancels it, n goes back")
		case screenConfirmQuit:
			lines = append(lines, "", m.quitQuestion()+" y quits, n goes back")
		}
		return strings.Join(wrapAll(lines, max(10, m.width)), "\n")
	}
	m = m.drawn()
	l := m.layout()
	out := make([]string, 0, l.height)
	out = append(out, m.headerLines(l.width)...)
	out = append(out, m.bodyLines(scr, l)...)
	out = append(out, m.footerLines(scr, l.width)...)
	return termsafe.Highlight(strings.Join(out, "\n"), m.styles.EscapeOn, m.styles.EscapeOff)
}

// drawn is the model the views draw: its fold escaped (see termsafe.go).
func (m Model) drawn() Model {
	m.state = m.shown
	return m
}

// bodyLines renders exactly l.bodyH lines of width l.width.
func (m Model) bodyLines(scr screen, l layout) []string {
	w, h := l.width, l.bodyH
	switch scr {
	case screenLoading:
		if m.mode == Watch {
			return block([]string{"", "  waiting for the session's first events in its journal..."}, w, h)
		}
		return block(wrapAll(m.loadingLines(), w), w, h)
	case screenHardStop:
		return block(wrapAll(m.hardStopLines(), w), w, h)
	case screenLockHeld:
		return block(wrapAll(m.lockHeldLines(), w), w, h)
	case screenWatchError:
		return block(wrapAll(m.watchErrorLines(), w), w, h)
	case screenEnded:
		if !m.browsing() {
			return m.scrolled(m.summaryLines(w), w, h)
		}
	}
	body := m.splitBody(l)
	switch scr {
	case screenRollbackDialog, screenConfirmQuit, screenConfirmCancel, screenInput:
		return overlay(body, m.viewDialog(scr), w)
	}
	return body
}

// splitBody is the step list beside the current step's pane.
func (m Model) splitBody(l layout) []string {
	pane := m.paneLines(l.paneW, l.bodyH)
	if l.listW == 0 {
		return pane
	}
	list := m.stepListLines(l.listW, l.bodyH)
	sep := m.styles.Rule.Render("│")
	out := make([]string, l.bodyH)
	for i := range out {
		out[i] = list[i] + sep + pane[i]
	}
	return out
}

// scrolled shows lines from the pane scroll offset.
func (m Model) scrolled(lines []string, w, h int) []string {
	off := max(0, min(m.scroll, len(lines)-h))
	return block(lines[off:], w, h)
}

// headerLines: mode badge, runbook, source badge; target with its
// verification state, operator, elapsed; a rule; the SSH banner.
func (m Model) headerLines(w int) []string {
	s, ses := m.styles, m.state.Session
	left := m.modeBadge() + " " + s.Title.Render(orDash(ses.RunbookTitle))
	if ses.RunbookVer != "" {
		left += s.Muted.Render(" v" + ses.RunbookVer)
	}
	right := m.sourceBadge()
	if rb := m.rollbackBadge(); rb != "" {
		right = strings.TrimSpace(rb + " " + right)
	}
	// The badges on the right (ROLLING BACK, REPLAY ... PAUSED, WATCHING)
	// matter more than the end of the title: cut the title, not them.
	if room := w - width(right) - 1; width(left) > room && room >= w/3 {
		left = ansi.Truncate(left, room, "…")
	}
	lines := []string{spread(left, right, w), m.targetLine(w), s.Rule.Render(strings.Repeat("─", w))}
	for _, l := range m.bannerLines(w) {
		lines = append(lines, s.Banner.Render(fit(l, w)))
	}
	for _, l := range m.approvalLines(w) {
		lines = append(lines, s.Banner.Render(fit(l, w)))
	}
	if m.operatorGone() {
		lines = append(lines, m.goneBanner(w)...)
	}
	return lines
}

// bannerLines: the SSH warning, wrapped to the width, ending with how to
// dismiss it.
func (m Model) bannerLines(w int) []string {
	if m.banner == "" {
		return nil
	}
	return wrapAll([]string{" ! " + safe(m.banner) + " (esc dismisses this)"}, w)
}

// loadingLines: what the session waits for before the first step, and
// for how long.
func (m Model) loadingLines() []string {
	what := m.state.Connection
	if what == "" {
		what = "starting: connecting, verifying the target's identity, taking the deploy lock"
	}
	if m.connectingAt.IsZero() || m.mode == Replay {
		return []string{"", what + "..."}
	}
	waited := m.clock.Sub(m.connectingAt).Truncate(time.Second)
	return []string{"", fmt.Sprintf("%s... (%s so far)", what, max(0, waited)), "",
		"q quits; only the identity probes are sent before the target is verified."}
}

// targetLine: the target and its verification state, then operator and
// elapsed time; labels go first when the terminal is narrow, the facts
// stay.
func (m Model) targetLine(w int) string {
	s, ses := m.styles, m.state.Session
	target := s.Bold.Render(orDash(ses.TargetName)) + " " + ses.ProjectID + " " + m.verification()
	dot := s.Muted.Render(" · ")
	who := "operator " + orDash(ses.Operator) + dot
	if p := m.partnersText(false); p != "" {
		who += p + dot
	}
	who += clockText(m.sessionNow())
	if width(target)+width(who)+8 > w {
		who = orDash(ses.Operator) + dot
		if p := m.partnersText(true); p != "" {
			who += p + dot
		}
		who += clockText(m.sessionNow())
	}
	if width(target)+width(who)+8 <= w {
		target = "target " + target
	}
	return spread(target, who, w)
}

// modeBadge says DRY RUN or APPLY in reverse video, so it reads the same
// without color.
func (m Model) modeBadge() string {
	switch {
	case m.state.Session.RunbookID == "":
		return m.styles.Muted.Render("[starting]")
	case m.state.Session.Apply:
		return m.styles.Apply.Render("APPLY")
	case m.state.Session.Rehearse:
		return m.styles.DryRun.Render("REHEARSAL")
	}
	return m.styles.DryRun.Render("DRY RUN")
}

// rollbackBadge shows that the rollback path is under way or done.
func (m Model) rollbackBadge() string {
	r := m.state.Rollback
	switch {
	case r.Requested != "":
		return m.styles.Danger.Render("ROLLBACK REQUESTED: stopping the step")
	case !r.Started:
		return ""
	case !r.Finished:
		return m.styles.Danger.Render("ROLLING BACK")
	case r.OK:
		return m.styles.Danger.Render("ROLLED BACK")
	}
	return m.styles.Danger.Render("ROLLBACK FAILED")
}

func (m Model) verification() string {
	id := m.state.Identity
	switch {
	case m.state.HardStop || (id != nil && !id.OK):
		return m.styles.Bad.Render("MISMATCH")
	case m.state.Offline != "":
		return m.styles.Bad.Render("OFFLINE (not verified)")
	case m.state.Connection != "" && m.state.Steps != nil && m.state.Current >= 0:
		return m.styles.Warn.Render("RECONNECTING (not verified)")
	case id != nil:
		return m.styles.Good.Render("VERIFIED")
	}
	return m.styles.Warn.Render("NOT VERIFIED")
}

// sessionNow is the session's elapsed time: the clock in a live session,
// the last event's offset in a replay or once it ended.
func (m Model) sessionNow() time.Duration {
	if m.operatorGone() && (m.aliveSeen || m.fed) && !m.state.Started.IsZero() {
		// Stopped where it was when the watcher noticed: the operator
		// was there until then, whatever the last event's time.
		return max(m.state.Now, m.goneAt.Sub(m.state.Started))
	}
	if m.mode == Replay || m.state.Ended || m.result != nil || m.state.Started.IsZero() || m.watchStopped() {
		return m.state.Now
	}
	return max(m.state.Now, m.clock.Sub(m.state.Started))
}

// footerLines is the help for the keys that work now, under a flash
// (an engine refusal and its reason, or a note) of at most two lines.
func (m Model) footerLines(scr screen, w int) []string {
	keys := keyHelp(m.keysNow(scr))
	h := help.New()
	h.Styles = m.styles.Help
	h.SetWidth(w)
	var out []string
	if m.flashShown() {
		style := m.styles.Good
		if m.flashWarn {
			style = m.styles.Warn
		}
		flash := wrapAll([]string{safe(m.flash)}, w)
		if len(flash) > 2 {
			flash = flash[:2]
			flash[1] = ansi.Truncate(flash[1], w-1, "") + "…"
		}
		for _, l := range flash {
			out = append(out, fit(style.Render(l), w))
		}
	}
	if m.showHelp {
		out = append(out, strings.Split(h.FullHelpView(keys.FullHelp()), "\n")...)
		for _, l := range m.refusedHelp() {
			out = append(out, m.styles.Muted.Render(fit(l, w)))
		}
		return out
	}
	return append(out, fit(h.ShortHelpView(keys), w))
}

// flashShown: a note is up; an engine refusal's for refusalShown of
// session time (so a replay shows it as long as the live screen did).
func (m Model) flashShown() bool {
	return m.flash != "" && (m.flashExpires == 0 || m.sessionNow() < m.flashExpires)
}

func (m Model) footerHeight(w int) int {
	if !m.showHelp && !m.flashShown() {
		return 1
	}
	return len(m.footerLines(m.screen(), w))
}

// stepListLines: steps grouped by phase, a text mark each, the current
// step highlighted, scrolled so the current step stays in view.
func (m Model) stepListLines(w, h int) []string {
	s := m.styles
	lines := make([]string, 0, len(m.state.Steps)+8)
	cur, phase := 0, "\x00"
	for i := range m.state.Steps {
		st := &m.state.Steps[i]
		if p := phaseOf(st); p != phase {
			lines = append(lines, fit(s.Phase.Render(ansi.Truncate(p, w, "…")), w))
			phase = p
		}
		title := ansi.Truncate(st.Title, max(1, w-markWidth-2), "…")
		if i == m.shownIndex() {
			title, cur = s.Current.Render(title), len(lines)
		}
		lines = append(lines, fit(" "+s.StepMark(st)+" "+title, w))
	}
	top := max(0, min(cur-h/2, len(lines)-h))
	return block(lines[top:], w, h)
}

// shownIndex is the index of the step whose pane is on screen.
func (m Model) shownIndex() int {
	if m.browsing() {
		return m.viewing
	}
	return m.state.Current
}

func phaseOf(st *steps.StepState) string {
	switch {
	case st.Phase != "":
		return st.Phase
	case st.Rollback:
		return "Rollback"
	}
	return "Steps"
}

// overlay draws a dialog box centered over the body lines.
func overlay(body []string, dialog string, w int) []string {
	dl := strings.Split(dialog, "\n")
	dw := lipgloss.Width(dialog)
	x := max(0, (w-dw)/2)
	y := max(0, (len(body)-len(dl))/2)
	out := append([]string(nil), body...)
	for i, line := range dl {
		if y+i >= len(out) {
			break
		}
		under := out[y+i]
		out[y+i] = fit(ansi.Truncate(under, x, "")+line+ansi.TruncateLeft(under, x+dw, ""), w)
	}
	return out
}

// fit truncates or pads a styled line to exactly w cells.
func fit(s string, w int) string {
	n := width(s)
	if n > w {
		return truncate(s, w, "…")
	}
	if n == w {
		return s
	}
	return s + strings.Repeat(" ", w-n)
}

// truncate is ansi.Truncate that also closes an escape's marker the cut
// left open (termsafe.MarkOpen without its MarkClose), so the escape style
// ends where the cut text does instead of running on into the text drawn
// after it on the line (the next cells of a table row, the right half of
// expected beside actual).
func truncate(s string, w int, tail string) string {
	s = ansi.Truncate(s, w, tail)
	if strings.LastIndex(s, termsafe.MarkOpen) > strings.LastIndex(s, termsafe.MarkClose) {
		s += termsafe.MarkClose
	}
	return s
}

// block fits lines to w and pads or cuts them to exactly h lines.
func block(lines []string, w, h int) []string {
	out := make([]string, h)
	blank := strings.Repeat(" ", w)
	for i := range out {
		if i < len(lines) {
			out[i] = fit(lines[i], w)
		} else {
			out[i] = blank
		}
	}
	return out
}

// spread puts left and right on one line of width w.
func spread(left, right string, w int) string {
	gap := w - width(left) - width(right)
	if right == "" || gap < 1 {
		return fit(left, w)
	}
	return left + strings.Repeat(" ", gap) + right
}

// wrapAll wraps each line to w cells; a line may become several. The
// continuation of an indented line or a list item keeps its indent.
func wrapAll(lines []string, w int) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		if width(l) <= w {
			out = append(out, l)
			continue
		}
		ind := hangIndent(l)
		if ind > w/2 {
			ind = 0
		}
		parts := strings.Split(wrapAtSpaces(l[ind:], w-ind), "\n")
		out = append(out, l[:ind]+parts[0])
		for _, p := range parts[1:] {
			out = append(out, strings.Repeat(" ", ind)+p)
		}
	}
	return out
}

// keptHyphen stands in for '-' while ansi.Wrap runs, which breaks after
// every hyphen: a control character (one cell to ansi.Wrap, a letter of
// the word) that never reaches the screen from data, where termsafe
// escapes every control.
const keptHyphen = "\x1a"

// wrapAtSpaces is ansi.Wrap(s, limit, "") breaking at spaces only: a flag
// (--env), a project id, a path or a runbook id with hyphens stays whole
// unless it is longer than the line.
func wrapAtSpaces(s string, limit int) string {
	if !strings.Contains(s, "-") {
		return ansi.Wrap(s, limit, "")
	}
	return strings.ReplaceAll(ansi.Wrap(strings.ReplaceAll(s, "-", keptHyphen), limit, ""), keptHyphen, "-")
}

// hangIndent is where the text of an indented line or list item starts:
// leading spaces, then "- ", "* " or "12. "; or "-- ", so a wrapped SQL
// comment does not continue at the margin where it reads as SQL.
func hangIndent(l string) int {
	i := 0
	for i < len(l) && l[i] == ' ' {
		i++
	}
	rest := l[i:]
	switch {
	case strings.HasPrefix(rest, "-- "):
		return i + 3
	case strings.HasPrefix(rest, "- "), strings.HasPrefix(rest, "* "):
		return i + 2
	}
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	if j > 0 && j+1 < len(rest) && (rest[j] == '.' || rest[j] == ')') && rest[j+1] == ' ' {
		return i + j + 2
	}
	return i
}

// clockText formats a duration as h:mm:ss.
func clockText(d time.Duration) string {
	d = max(0, d).Truncate(time.Second)
	return fmt.Sprintf("%d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}

// shortDur formats a duration as 3.2s, 1m05s.
func shortDur(d time.Duration) string {
	d = max(0, d)
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// width is ansi.StringWidth with a fast path for the common case of ASCII
// text with SGR styling: a frame measures every line it draws, and grapheme
// segmentation of every cell would dominate the cost of a 200x60 frame.
func width(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80:
			return ansi.StringWidth(s)
		case c == 0x1b && i+1 < len(s) && s[i+1] == '[':
			i += 2
			for i < len(s) && (s[i] < 0x40 || s[i] > 0x7e) {
				i++
			}
		case c < 0x20 || c == 0x7f:
			return ansi.StringWidth(s)
		default:
			n++
		}
	}
	return n
}
