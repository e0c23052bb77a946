package ui

import (
	"fmt"
	"slices"

	"charm.land/bubbles/v2/key"

	"github.com/handrail-dev/handrail/steps"
)

// KeyMap is every key the screens understand. It is built once by
// DefaultKeyMap and passed around by value; nothing mutates it. Which keys
// work at a given moment is decided by the screen (see Model.keysNow), so
// the footer only ever lists keys that do something.
type KeyMap struct {
	// Moving around.
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Full     key.Binding
	Help     key.Binding
	Dismiss  key.Binding
	Browse   key.Binding // show the next step's pane (read-only)
	BrowseUp key.Binding // show the previous step's pane

	// Commands to the engine (live sessions only).
	Next     key.Binding
	Toggle   key.Binding
	Skip     key.Binding
	Pass     key.Binding
	Fail     key.Binding
	EndEarly key.Binding
	Copy     key.Binding
	Retry    key.Binding
	Rollback key.Binding
	Applied  key.Binding
	NotDone  key.Binding
	Ack      key.Binding // acknowledge a high-severity lock finding
	DropIdx  key.Binding // drop the INVALID index a failed CONCURRENTLY statement left

	// A pair partner's commands (an approver's screen over SSH).
	Approve     key.Binding
	Hold        key.Binding
	Release     key.Binding
	AskRollback key.Binding

	// Dialogs.
	Yes     key.Binding
	YesOnly key.Binding // y alone: a dialog that opened by itself
	No      key.Binding
	Submit  key.Binding
	Back    key.Binding

	// Leaving.
	Quit      key.Binding
	Interrupt key.Binding

	// Replay.
	Pause    key.Binding
	Faster   key.Binding
	Slower   key.Binding
	OneEvent key.Binding
	NextStep key.Binding
}

// DefaultKeyMap returns the key map of SPEC section 6 and 7.
func DefaultKeyMap() KeyMap {
	b := func(keys []string, k, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
	}
	return KeyMap{
		Up:       b([]string{"k", "up"}, "↑/k", "up"),
		Down:     b([]string{"j", "down"}, "↓/j", "down"),
		PageUp:   b([]string{"pgup"}, "pgup", "scroll up"),
		PageDown: b([]string{"pgdown"}, "pgdn", "scroll down"),
		Full:     b([]string{"f"}, "f", "full screen"),
		Help:     b([]string{"?"}, "?", "help"),
		Dismiss:  b([]string{"esc"}, "esc", "dismiss"),
		Browse:   b([]string{"tab"}, "tab", "next step's pane"),
		BrowseUp: b([]string{"shift+tab"}, "shift+tab", "previous step's pane"),

		Next:     b([]string{"enter"}, "enter", "next"),
		Toggle:   b([]string{"space"}, "space", "tick"),
		Skip:     b([]string{"s"}, "s", "skip"),
		Pass:     b([]string{"p"}, "p", "pass"),
		Fail:     b([]string{"f"}, "f", "fail"),
		EndEarly: b([]string{"e"}, "e", "end early"),
		Copy:     b([]string{"c"}, "c", "copy"),
		Retry:    b([]string{"r"}, "r", "retry"),
		Rollback: b([]string{"R", "shift+r"}, "R", "ROLLBACK"),
		Applied:  b([]string{"a"}, "a", "it was applied"),
		NotDone:  b([]string{"n"}, "n", "it was not applied"),
		Ack:      b([]string{"A", "shift+a"}, "A", "acknowledge lock finding"),
		DropIdx:  b([]string{"d"}, "d", "drop INVALID index"),

		Approve:     b([]string{"a"}, "a", "approve the write"),
		Hold:        b([]string{"h"}, "h", "hold"),
		Release:     b([]string{"h"}, "h", "release the hold"),
		AskRollback: b([]string{"R", "shift+r"}, "R", "ask for ROLLBACK"),

		Yes:     b([]string{"y", "enter"}, "y", "yes"),
		YesOnly: b([]string{"y"}, "y", "yes"),
		No:      b([]string{"n", "esc"}, "n/esc", "no"),
		Submit:  b([]string{"enter"}, "enter", "submit"),
		Back:    b([]string{"esc"}, "esc", "cancel"),

		Quit:      b([]string{"q"}, "q", "quit"),
		Interrupt: b([]string{"ctrl+c"}, "ctrl+c", "cancel/quit"),

		Pause:    b([]string{"space"}, "space", "pause"),
		Faster:   b([]string{"+", "="}, "+", "faster"),
		Slower:   b([]string{"-"}, "-", "slower"),
		OneEvent: b([]string{"."}, ".", "one event"),
		NextStep: b([]string{"]"}, "]", "next step"),
	}
}

// keyHelp is a list of bindings for the help component: the short form
// is the list itself, the full form groups it in columns of five.
type keyHelp []key.Binding

func (k keyHelp) FullHelp() [][]key.Binding {
	var groups [][]key.Binding
	for i := 0; i < len(k); i += 5 {
		groups = append(groups, k[i:min(i+5, len(k))])
	}
	return groups
}

// relabel returns a copy of b with other help text.
func relabel(b key.Binding, k, desc string) key.Binding {
	b.SetHelp(k, desc)
	return b
}

// keysNow lists the keys that do something on this screen, for the footer.
func (m Model) keysNow(scr screen) []key.Binding {
	k := m.keys
	switch scr {
	case screenHardStop, screenLockHeld, screenTooSmall, screenLoading, screenWatchError:
		return []key.Binding{k.Quit}
	case screenRollbackDialog:
		if m.unbidden {
			return []key.Binding{relabel(k.YesOnly, "y", "roll back"), relabel(k.No, "n/esc", "not now")}
		}
		return []key.Binding{relabel(k.Yes, "y/enter", "roll back"), relabel(k.No, "n/esc", "not now")}
	case screenConfirmQuit, screenConfirmCancel:
		return []key.Binding{relabel(k.Yes, "y/enter", "yes"), k.No}
	case screenInput:
		return []key.Binding{k.Submit, k.Back}
	case screenConsent, screenPromotion:
		if !m.canCommand() {
			// Watching: the operator answers; this screen only reads.
			return m.runKeys()
		}
		if scr == screenPromotion {
			return []key.Binding{relabel(k.Submit, "enter", "override with this reason"), relabel(k.Interrupt, "ctrl+c", "quit")}
		}
		return []key.Binding{k.Submit, relabel(k.Interrupt, "ctrl+c", "quit")}
	case screenEnded:
		return m.endedKeys()
	}
	return m.runKeys()
}

func (m Model) endedKeys() []key.Binding {
	k := m.keys
	if m.browsing() {
		keys := []key.Binding{relabel(k.Dismiss, "esc", "summary"), relabel(k.Browse, "tab/shift+tab", "steps")}
		if m.copyable() != "" {
			keys = append(keys, k.Copy)
		}
		return append(keys, k.Quit)
	}
	return []key.Binding{relabel(k.Down, "↑↓/pgdn", "scroll"), relabel(k.Browse, "tab", "step panes"), k.Quit}
}

// runKeys: the step screen's keys in the current mode.
func (m Model) runKeys() []key.Binding {
	k := m.keys
	var keys []key.Binding
	switch {
	case m.mode == Replay:
		keys = []key.Binding{k.Pause, k.Faster, k.Slower, k.OneEvent, k.NextStep}
	case m.canCommand():
		keys = m.commandKeys()
	case m.partnerMode():
		keys = m.partnerKeys()
	}
	if m.copyable() != "" {
		keys = append(keys, k.Copy)
	}
	if m.showHelp {
		keys = append(keys, k.Quit, relabel(k.Help, "?/esc", "close help"))
	} else {
		keys = append(keys, k.Quit, k.Help)
	}
	if m.browsing() {
		keys = append(keys, relabel(k.Dismiss, "esc", "back to the current step"))
	}
	keys = append(keys, relabel(k.Browse, "tab/shift+tab", "other steps"))
	if m.banner != "" {
		keys = append(keys, relabel(k.Dismiss, "esc", "dismiss banner"))
	}
	if !m.failKeyActive() {
		keys = append(keys, k.Full)
	}
	return append(keys, relabel(k.PageDown, "pgup/pgdn", "scroll"))
}

// intent is what a key asks the engine on the step screen: the pane's key
// layout. Whether the engine takes it now is never decided here: that is
// State.Accepts, the engine's own published answer.
type intent struct {
	key      key.Binding // labelled for the footer and help
	cmd      steps.CommandType
	pass     bool
	input    inputPurpose // the question asked first, when the engine takes it
	question string
	// sharedKey: the key means something else (a view change) whenever the
	// engine does not take this command (f: fail, else full screen).
	sharedKey bool
}

// intents lists the command keys of the current step's pane: its kind's
// own, then those every step has but for a key the kind took.
func (m Model) intents() []intent {
	k := m.keys
	st := m.state.CurrentStep()
	if st == nil {
		return []intent{{key: k.Next, cmd: steps.CmdNext}}
	}
	var own []intent
	label := "next"
	if p := paneOf(st.Kind); p != nil {
		own, label = p.intents(m, st), p.nextLabel(m, st)
	}
	out := own
	for _, in := range []intent{
		{key: relabel(k.Next, "enter", label), cmd: steps.CmdNext},
		{key: k.Retry, cmd: steps.CmdRetry},
		{key: relabel(k.Skip, "s", "skip step"), cmd: steps.CmdSkipStep, input: inputSkipStep, question: "why skip this step?"},
		{key: k.Applied, cmd: steps.CmdMark, pass: true, input: inputMark, question: markTitle(true)},
		{key: k.NotDone, cmd: steps.CmdMark, input: inputMark, question: markTitle(false)},
	} {
		if !slices.ContainsFunc(own, func(o intent) bool { return sharesKey(o.key, in.key) }) {
			out = append(out, in)
		}
	}
	return out
}

// sharesKey reports whether two bindings answer a key in common.
func sharesKey(a, b key.Binding) bool {
	return slices.ContainsFunc(a.Keys(), func(k string) bool { return slices.Contains(b.Keys(), k) })
}

func markTitle(applied bool) string {
	if applied {
		return "you checked: the step WAS applied. how do you know?"
	}
	return "you checked: the step was NOT applied. how do you know?"
}

// commandKeys: the command keys the engine takes now, then R and ctrl+c
// when it takes a rollback or a cancel.
func (m Model) commandKeys() []key.Binding {
	k := m.keys
	var keys []key.Binding
	seen := map[string]bool{}
	for _, in := range m.intents() {
		label := in.key.Help().Key + " " + in.key.Help().Desc
		if seen[label] || !m.state.Accepts(in.cmd).OK {
			continue
		}
		seen[label] = true
		keys = append(keys, in.key)
		if in.cmd == steps.CmdTick {
			keys = append(keys, relabel(k.Down, "j/k", "move"))
		}
	}
	if m.state.Running() {
		keys = append([]key.Binding{relabel(k.Interrupt, "ctrl+c", "cancel")}, keys...)
	}
	if m.state.Accepts(steps.CmdRollback).OK {
		keys = append(keys, k.Rollback)
	}
	return keys
}

// refusedHelp lists, for the full help, each command key the engine does
// not take now and why (its own words).
func (m Model) refusedHelp() []string {
	if m.partnerMode() {
		return m.partnerRefusedHelp()
	}
	if !m.canCommand() {
		return nil
	}
	var lines []string
	seen := map[string]bool{}
	add := func(b key.Binding, cmd steps.CommandType) {
		label := b.Help().Key + " " + b.Help().Desc
		aff := m.state.Accepts(cmd)
		if aff.OK || seen[label] {
			return
		}
		seen[label] = true
		lines = append(lines, fmt.Sprintf("%s: not now: %s", label, aff.Reason))
	}
	for _, in := range m.intents() {
		add(in.key, in.cmd)
	}
	add(m.keys.Rollback, steps.CmdRollback)
	return lines
}

// failKeyActive: f means fail, not full screen, while the pane's intent
// on it (a manual step's verdict) is taken by the engine now.
func (m Model) failKeyActive() bool {
	if !m.canCommand() {
		return false
	}
	return slices.ContainsFunc(m.intents(), func(in intent) bool {
		return in.sharedKey && m.state.Accepts(in.cmd).OK
	})
}
