package ui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/handrail-dev/handrail/steps"
)

// handleKey routes a key to the handler of the screen on display. ctrl+c
// comes first: it must always do something sensible.
func (m Model) handleKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if key.Matches(msg, m.keys.Interrupt) {
		return m.interrupt()
	}
	switch scr := m.screen(); scr {
	case screenTooSmall, screenHardStop, screenLockHeld:
		return m.handleStopKey(msg)
	case screenEnded:
		return m.handleEndedKey(msg)
	case screenRollbackDialog:
		return m.handleRollbackKey(msg)
	case screenConfirmQuit, screenConfirmCancel:
		return m.handleConfirmKey(msg, scr)
	case screenInput:
		return m.handleInputKey(msg)
	case screenConsent:
		return m.handleConsentKey(msg)
	}
	return m.handleRunKey(msg)
}

// interrupt is ctrl+c: cancel a running statement or quit, after asking.
// A second ctrl+c answers yes; once quitting, it leaves at once.
func (m Model) interrupt() (tea.Model, tea.Cmd) {
	if m.quitting || !m.canCommand() {
		return m, tea.Quit
	}
	switch scr := m.screen(); scr {
	case screenHardStop, screenLockHeld, screenEnded, screenTooSmall:
		return m.leave()
	case screenConfirmQuit, screenConfirmCancel:
		return m.confirmed(scr)
	}
	m.overlay = screenConfirmQuit
	if m.running() {
		m.overlay = screenConfirmCancel
	}
	return m, nil
}

// leave ends the session: a live engine is told to quit (the journal stays
// resumable) and the program exits when it is done.
func (m Model) leave() (tea.Model, tea.Cmd) {
	if !m.canCommand() {
		return m, tea.Quit
	}
	m.command(steps.Command{Type: steps.CmdQuit})
	m.quitting = true
	m.overlay = screenNone
	return m, nil
}

// askQuit opens the quit confirmation when there is a session to leave.
func (m Model) askQuit() (tea.Model, tea.Cmd) {
	if !m.canCommand() {
		return m, tea.Quit
	}
	m.overlay = screenConfirmQuit
	return m, nil
}

// handleStopKey: on the hard stop, lock-held and too-small screens only q
// does anything. Nothing continues past a hard stop.
func (m Model) handleStopKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if key.Matches(msg, m.keys.Quit) {
		return m.leave()
	}
	return m, nil
}

// handleEndedKey: the end summary scrolls; tab shows the steps' panes
// (to read or copy a message the rollback rendered), esc returns.
func (m Model) handleEndedKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.keys.Quit):
		return m.leave()
	case key.Matches(msg, m.keys.Dismiss) && m.browsing():
		m.viewing, m.scroll = -1, 0
		return m, nil
	}
	return m.handleViewKey(msg)
}

// handleRunKey: the step screen. Global keys, then replay controls, then
// the current step's keys (live only), then scrolling and full screen.
func (m Model) handleRunKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.keys.Quit):
		return m.askQuit()
	case key.Matches(msg, m.keys.Help):
		m.showHelp = !m.showHelp
		m.layoutPane()
		return m, nil
	case key.Matches(msg, m.keys.Dismiss) && m.browsing():
		m.viewing, m.scroll = -1, 0
		return m, nil
	case key.Matches(msg, m.keys.Dismiss) && m.banner != "":
		m.banner = ""
		m.layoutPane()
		return m, nil
	}
	if m.mode == Replay {
		if next, cmd, ok := m.handleReplayKey(msg); ok {
			return next, cmd
		}
	}
	if m.canCommand() && m.screen() == screenRun && !m.browsing() {
		if next, cmd, ok := m.handleStepKey(msg); ok {
			return next, cmd
		}
	}
	return m.handleViewKey(msg)
}

// handleViewKey: keys that only change the view, so they work in every
// mode (watch and replay included).
func (m Model) handleViewKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	page := max(1, m.layout().bodyH-2)
	switch {
	case key.Matches(msg, m.keys.PageUp):
		m.scrollBy(-page)
	case key.Matches(msg, m.keys.PageDown):
		m.scrollBy(page)
	case key.Matches(msg, m.keys.Up):
		m.scrollBy(-1)
	case key.Matches(msg, m.keys.Down):
		m.scrollBy(1)
	case key.Matches(msg, m.keys.Full):
		m.full = !m.full
		m.layoutPane()
	case key.Matches(msg, m.keys.Browse):
		m.browse(1)
	case key.Matches(msg, m.keys.BrowseUp):
		m.browse(-1)
	case key.Matches(msg, m.keys.Copy) && m.copyable() != "":
		return m.copyMessage()
	}
	return m, nil
}

// handleStepKey: keys that command the engine about the current step.
func (m Model) handleStepKey(msg tea.KeyPressMsg) (Model, tea.Cmd, bool) {
	if key.Matches(msg, m.keys.Rollback) {
		if m.rollbackAvailable() {
			m.overlay = screenRollbackDialog
		}
		return m, nil, true
	}
	st := m.state.CurrentStep()
	if st == nil {
		return m, nil, false
	}
	if next, cmd, ok := m.handleFailureKey(msg, st); ok {
		return next, cmd, true
	}
	if st.Status != steps.StatusActive && st.Status != steps.StatusRunning {
		return m.handleNextKey(msg)
	}
	switch st.Kind {
	case steps.KindChecklist:
		return m.handleChecklistKey(msg, st)
	case steps.KindConfirm:
		return m.handleConfirmStepKey(msg, st)
	case steps.KindManual:
		return m.handleManualKey(msg, st)
	case steps.KindMonitor:
		return m.handleMonitorKey(msg, st)
	}
	return m.handleNextKey(msg)
}

// handleNextKey: enter runs the step or moves on; the engine decides which.
func (m Model) handleNextKey(msg tea.KeyPressMsg) (Model, tea.Cmd, bool) {
	if !key.Matches(msg, m.keys.Next) || m.running() {
		return m, nil, false
	}
	m.command(steps.Command{Type: steps.CmdNext})
	return m, nil, true
}

// handleFailureKey: retry a lock timeout, skip a failed step that writes
// nothing, or resolve an outcome-unknown step.
func (m Model) handleFailureKey(msg tea.KeyPressMsg, st *steps.StepState) (Model, tea.Cmd, bool) {
	switch {
	case key.Matches(msg, m.keys.Retry) && canRetry(st):
		m.command(steps.Command{Type: steps.CmdRetry})
		return m, nil, true
	case key.Matches(msg, m.keys.Skip) && canSkipStep(st):
		next, cmd := m.openInput(inputSkipStep, "why skip this step?", 0, false)
		return next, cmd, true
	case st.Status == steps.StatusUnknown && key.Matches(msg, m.keys.Applied, m.keys.NotDone):
		pass := key.Matches(msg, m.keys.Applied)
		next, cmd := m.openInput(inputMark, markTitle(pass), 0, pass)
		return next, cmd, true
	}
	return m, nil, false
}

// canRetry: the engine runs a failed, cancelled or outcome-unknown step
// again on CmdRetry.
func canRetry(st *steps.StepState) bool {
	switch st.Status {
	case steps.StatusFailed, steps.StatusCancelled, steps.StatusUnknown:
		return true
	}
	return false
}

// canSkipStep mirrors the engine: a step that has not run yet may be
// skipped with a reason if it writes nothing (check, manual, monitor,
// message); a failed one if nothing of it can remain in the database.
func canSkipStep(st *steps.StepState) bool {
	switch st.Status {
	case steps.StatusFailed, steps.StatusCancelled:
		return !st.Kind.Writes() || (st.Error != nil && st.Error.RolledBack)
	case steps.StatusActive:
		return notStarted(st)
	}
	return false
}

// notStarted: an active step that writes nothing and still waits at its
// gate (enter runs it).
func notStarted(st *steps.StepState) bool {
	switch st.Kind {
	case steps.KindCheck:
		return st.Check == nil
	case steps.KindManual:
		return st.Passed == nil
	case steps.KindMonitor:
		return len(st.Monitor) == 0
	case steps.KindMessage:
		return true
	}
	return false
}

func markTitle(applied bool) string {
	if applied {
		return "you checked: the step WAS applied. how do you know?"
	}
	return "you checked: the step was NOT applied. how do you know?"
}

func (m Model) handleChecklistKey(msg tea.KeyPressMsg, st *steps.StepState) (Model, tea.Cmd, bool) {
	n := len(st.ItemStates)
	m.cursor = max(0, min(n-1, m.cursor))
	switch {
	case n == 0:
		return m.handleNextKey(msg)
	case key.Matches(msg, m.keys.Up):
		m.cursor = max(0, m.cursor-1)
	case key.Matches(msg, m.keys.Down):
		m.cursor = min(n-1, m.cursor+1)
	case key.Matches(msg, m.keys.Toggle):
		m.command(steps.Command{Type: steps.CmdTick, Item: m.cursor})
		if !st.ItemStates[m.cursor].Ticked {
			m.cursor = nextOpenItem(st.ItemStates, m.cursor)
		}
	case key.Matches(msg, m.keys.Skip):
		return m.openInputItem(m.cursor)
	case key.Matches(msg, m.keys.Next):
		return m.checklistNext(msg, st)
	default:
		return m.handleNextKey(msg)
	}
	return m, nil, true
}

// checklistNext sends enter to the engine, which moves on only when every
// item is ticked or skipped. When the screen sees open items it also says
// so: the engine ignores the command without a word. (The command is sent
// anyway: the screen may not have folded the last ticks yet.)
func (m Model) checklistNext(msg tea.KeyPressMsg, st *steps.StepState) (Model, tea.Cmd, bool) {
	m, cmd, ok := m.handleNextKey(msg)
	open := 0
	for _, it := range st.ItemStates {
		if !it.Ticked && !it.Skipped {
			open++
		}
	}
	if !ok || open == 0 {
		return m, cmd, ok
	}
	text := "1 item is still open: tick it (space) or skip it with a reason (s)"
	if open > 1 {
		text = fmt.Sprintf("%d items are still open: tick them (space) or skip them with a reason (s)", open)
	}
	m, note := m.showFlash(text, true)
	return m, tea.Batch(cmd, note), true
}

// nextOpenItem is the first item after i (wrapping) neither ticked nor
// skipped, so space, space, space ticks a whole list; i when none is left.
func nextOpenItem(items []steps.ItemState, i int) int {
	for d := 1; d < len(items); d++ {
		j := (i + d) % len(items)
		if !items[j].Ticked && !items[j].Skipped {
			return j
		}
	}
	return i
}

func (m Model) openInputItem(item int) (Model, tea.Cmd, bool) {
	next, cmd := m.openInput(inputSkipItem, "why skip this item?", item, false)
	return next, cmd, true
}

func (m Model) handleConfirmStepKey(msg tea.KeyPressMsg, st *steps.StepState) (Model, tea.Cmd, bool) {
	if !key.Matches(msg, m.keys.Next) {
		return m, nil, false
	}
	if st.TypeText == "" {
		m.command(steps.Command{Type: steps.CmdConfirm})
		return m, nil, true
	}
	next, cmd := m.openInput(inputConfirmText, "type "+quote(st.TypeText)+" to confirm", 0, false)
	return next, cmd, true
}

func (m Model) handleManualKey(msg tea.KeyPressMsg, st *steps.StepState) (Model, tea.Cmd, bool) {
	if st.Passed != nil {
		return m.handleNextKey(msg)
	}
	switch {
	case key.Matches(msg, m.keys.Pass):
		next, cmd := m.openInput(inputManualNote, "PASS: note (optional)", 0, true)
		return next, cmd, true
	case key.Matches(msg, m.keys.Fail):
		next, cmd := m.openInput(inputManualNote, "FAIL: what went wrong?", 0, false)
		return next, cmd, true
	case key.Matches(msg, m.keys.Next) && !m.running():
		// The engine waits for a verdict; say so rather than do nothing.
		m, note := m.showFlash("record the result first: p passed, f failed", true)
		return m, note, true
	}
	return m.handleNextKey(msg)
}

func (m Model) handleMonitorKey(msg tea.KeyPressMsg, st *steps.StepState) (Model, tea.Cmd, bool) {
	if len(st.Monitor) == 0 {
		return m.handleNextKey(msg)
	}
	if key.Matches(msg, m.keys.EndEarly) {
		next, cmd := m.openInput(inputEndMonitor, "why end the monitoring window early?", 0, false)
		return next, cmd, true
	}
	return m, nil, false
}

// rollbackAvailable: R works once anything was written, until a rollback
// started (the engine accepts CmdRollback exactly then).
func (m Model) rollbackAvailable() bool {
	return m.state.CanRollback()
}

func (m Model) handleRollbackKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.keys.Yes):
		m.overlay = screenNone
		m.command(steps.Command{Type: steps.CmdRollback, Text: m.rollbackReason()})
	case key.Matches(msg, m.keys.No):
		m.overlay = screenNone
	}
	return m, nil
}

func (m Model) rollbackReason() string {
	if r := m.state.Rollback.Offered; r != "" {
		return r
	}
	return "operator chose rollback (R)"
}

func (m Model) handleConfirmKey(msg tea.KeyPressMsg, scr screen) (tea.Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.keys.Yes):
		return m.confirmed(scr)
	case key.Matches(msg, m.keys.No):
		m.overlay = screenNone
	}
	return m, nil
}

// confirmed carries out a yes to the quit or cancel question.
func (m Model) confirmed(scr screen) (tea.Model, tea.Cmd) {
	m.overlay = screenNone
	if scr == screenConfirmQuit {
		return m.leave()
	}
	m.command(steps.Command{Type: steps.CmdCancel})
	return m, nil
}

func (m Model) handleConsentKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if key.Matches(msg, m.keys.Submit) {
		m.command(steps.Command{Type: steps.CmdConsent, Text: m.consent.Value()})
		m.consent = clone(m.consent)
		m.consent.Reset()
		return m, nil
	}
	return m, m.updateConsent(msg)
}

// updateInputs hands other messages (paste, cursor) to the focused input.
func (m Model) updateInputs(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch m.screen() {
	case screenInput:
		return m, m.updateInput(msg)
	case screenConsent:
		return m, m.updateConsent(msg)
	}
	return m, nil
}

// scrollBy moves the pane; the exec pane scrolls its viewport.
func (m *Model) scrollBy(n int) {
	if m.paneKind() == steps.KindExec && m.screen() == screenRun {
		m.execView = clone(m.execView)
		if n < 0 {
			m.execView.ScrollUp(-n)
		} else {
			m.execView.ScrollDown(n)
		}
		return
	}
	m.scroll = max(0, min(m.scroll+n, m.maxScroll()))
}

func (m Model) paneKind() steps.Kind {
	if st := m.shownStep(); st != nil && !m.browsing() {
		return st.Kind
	}
	return ""
}

// browsing reports whether the pane shows another step than the current
// one. The engine moves on as soon as a check passes; browsing lets the
// operator read what an earlier step showed.
func (m Model) browsing() bool {
	return m.viewing >= 0 && (m.viewing != m.state.Current || m.finished())
}

// finished: the session is over, the end summary is the screen.
func (m Model) finished() bool { return m.state.Ended || m.result != nil }

// browse moves the shown pane by d steps, back to following the current
// step when it lands on it.
func (m *Model) browse(d int) {
	n := len(m.state.Steps)
	if n == 0 {
		return
	}
	i := m.state.Current
	switch {
	case m.browsing():
		i = max(0, min(n-1, m.viewing+d))
	case m.finished():
		i = max(0, i) // the first tab on the summary shows the last step
	default:
		i = max(0, min(n-1, i+d))
	}
	m.viewing, m.scroll = i, 0
	if i == m.state.Current && !m.finished() {
		m.viewing = -1
	}
}

// shownStep is the step whose pane is on screen.
func (m Model) shownStep() *steps.StepState {
	if m.browsing() && m.viewing < len(m.state.Steps) {
		return &m.state.Steps[m.viewing]
	}
	return m.state.CurrentStep()
}
