package ui

import (
	"strings"

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
	case screenTooSmall:
		return m.handleTooSmallKey(msg)
	case screenHardStop, screenLockHeld:
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
		if m.canCommand() {
			return m.handleConsentKey(msg)
		}
	case screenPromotion:
		if m.canCommand() {
			return m.handlePromotionKey(msg)
		}
	}
	return m.handleRunKey(msg)
}

// interrupt is ctrl+c: cancel a running statement or quit, after asking.
// A second ctrl+c answers yes; once quitting, it leaves at once.
func (m Model) interrupt() (tea.Model, tea.Cmd) {
	if m.quitting || !m.canCommand() {
		return m, tea.Quit
	}
	scr := m.screen()
	if scr == screenTooSmall && m.question() != screenNone {
		scr = m.question()
	}
	switch scr {
	case screenHardStop, screenLockHeld, screenEnded:
		return m.leave()
	case screenConfirmQuit, screenConfirmCancel:
		return m.confirmed(scr)
	}
	m.overlay = screenConfirmQuit
	if m.state.Running() {
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

// question is the quit or cancel question if one is open, else
// screenNone.
func (m Model) question() screen {
	if m.overlay == screenConfirmQuit || m.overlay == screenConfirmCancel {
		return m.overlay
	}
	return screenNone
}

// handleTooSmallKey: a terminal too small to draw in still asks before
// it quits or cancels (the question is said in the small screen): only
// q, and the answer to the question, do anything.
func (m Model) handleTooSmallKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if q := m.question(); q != screenNone {
		return m.handleConfirmKey(msg, q)
	}
	if key.Matches(msg, m.keys.Quit) {
		return m.askQuit()
	}
	return m, nil
}

// handleStopKey: on the hard stop and lock-held screens only q does
// anything. Nothing continues past a hard stop.
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
	case key.Matches(msg, m.keys.Help),
		key.Matches(msg, m.keys.Dismiss) && m.showHelp: // esc closes the help first
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
	case key.Matches(msg, m.keys.Rollback) && m.canCommand():
		return m.askRollback()
	}
	if m.partnerMode() && m.operatorAsked() {
		if next, cmd, ok := m.handlePartnerKey(msg); ok {
			return next, cmd
		}
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
// What a key asks is the pane's key layout (intents); whether the engine
// takes it is the engine's answer: a refused command is still sent, and
// the engine records and shows why.
func (m Model) handleStepKey(msg tea.KeyPressMsg) (Model, tea.Cmd, bool) {
	if st := m.state.CurrentStep(); st != nil {
		if cp, ok := paneOf(st.Kind).(cursorPane); ok {
			if next, ok := cp.moveCursor(m, msg, st); ok {
				return next, nil, true
			}
		}
	}
	for _, in := range m.intents() {
		if !key.Matches(msg, in.key) {
			continue
		}
		aff := m.state.Accepts(in.cmd)
		if !aff.OK && in.sharedKey {
			continue // the key does something else now (f: full screen)
		}
		next, cmd := m.ask(in, aff)
		return next, cmd, true
	}
	return m, nil, false
}

// ask carries out an intent: a command that needs typed text opens its
// question first when the engine takes it now; anything else is sent at
// once, and the engine answers it (acts, or records why not).
func (m Model) ask(in intent, aff steps.Affordance) (Model, tea.Cmd) {
	c := steps.Command{Type: in.cmd, Step: m.currentStepID(), Pass: in.pass}
	if in.cmd == steps.CmdTick || in.cmd == steps.CmdSkipItem {
		c.Item = m.cursor
	}
	if aff.OK && in.input != inputNone {
		return m.openInput(in.input, in.question, c)
	}
	m.command(c)
	if in.cmd == steps.CmdTick && aff.OK {
		m = m.cursorAfterTick()
	}
	return m, nil
}

// cursorAfterTick moves the cursor to the next open item when space ticks
// one, so space, space, space ticks a whole list.
func (m Model) cursorAfterTick() Model {
	st := m.state.CurrentStep()
	if st == nil || m.cursor >= len(st.ItemStates) || st.ItemStates[m.cursor].Ticked {
		return m
	}
	m.cursor = nextOpenItem(st.ItemStates, m.cursor)
	return m
}

// currentStepID names the step the operator is looking at as current.
func (m Model) currentStepID() string {
	if st := m.state.CurrentStep(); st != nil {
		return st.ID
	}
	return ""
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

// askRollback is R, from any screen of a live session: the dialog when
// the engine takes a rollback now; otherwise the request is sent and the
// engine says why not.
func (m Model) askRollback() (tea.Model, tea.Cmd) {
	if m.state.Accepts(steps.CmdRollback).OK {
		m.overlay, m.unbidden = screenRollbackDialog, false
		return m, nil
	}
	m.command(steps.Command{Type: steps.CmdRollback, Text: m.rollbackReason()})
	return m, nil
}

func (m Model) handleRollbackKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	switch {
	case m.unbidden && key.Matches(msg, m.keys.Yes) && !key.Matches(msg, m.keys.YesOnly):
		return m, nil // enter: typed for the step, not for a dialog that just opened
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
	if p := m.state.Rollback.Proposed; m.unbidden && p != "" {
		return "operator accepted the rollback proposed by " + p
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
	m.command(steps.Command{Type: steps.CmdCancel, Step: m.currentStepID()})
	return m, nil
}

func (m Model) handleConsentKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if key.Matches(msg, m.keys.Submit) {
		m.command(steps.Command{Type: steps.CmdConsent, Step: m.state.ConsentAt, Text: m.consent.Value()})
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
		if m.canCommand() {
			return m, m.updateConsent(msg)
		}
	case screenPromotion:
		if m.canCommand() {
			return m, m.updateOverride(msg)
		}
	}
	return m, nil
}

// handlePromotionKey: enter asks the engine to pass the promotion gate
// without staging proof, with the typed reason (an empty one is refused
// by the engine, on the record).
func (m Model) handlePromotionKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if key.Matches(msg, m.keys.Submit) {
		m.command(steps.Command{Type: steps.CmdOverride, Step: m.state.PromotionAt, Text: strings.TrimSpace(m.override.Value())})
		m.override = clone(m.override)
		m.override.Reset()
		return m, nil
	}
	return m, m.updateOverride(msg)
}

// scrollBy moves the pane; the exec pane scrolls its viewport.
func (m *Model) scrollBy(n int) {
	if _, ok := paneOf(m.paneKind()).(outputPane); ok && m.screen() == screenRun {
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
