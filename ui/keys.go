package ui

import (
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

	// Dialogs.
	Yes    key.Binding
	No     key.Binding
	Submit key.Binding
	Back   key.Binding

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

		Yes:    b([]string{"y", "enter"}, "y", "yes"),
		No:     b([]string{"n", "esc"}, "n/esc", "no"),
		Submit: b([]string{"enter"}, "enter", "submit"),
		Back:   b([]string{"esc"}, "esc", "cancel"),

		Quit:      b([]string{"q"}, "q", "quit"),
		Interrupt: b([]string{"ctrl+c"}, "ctrl+c", "cancel/quit"),

		Pause:    b([]string{"space"}, "space", "pause"),
		Faster:   b([]string{"+", "="}, "+", "faster"),
		Slower:   b([]string{"-"}, "-", "slower"),
		OneEvent: b([]string{"."}, ".", "one event"),
		NextStep: b([]string{"]"}, "]", "next step"),
	}
}

// keyHelp adapts a list of bindings to help.KeyMap: the short form is the
// list, the full form groups it in columns of five.
type keyHelp []key.Binding

func (k keyHelp) ShortHelp() []key.Binding { return k }

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
	case screenHardStop, screenLockHeld, screenTooSmall, screenLoading:
		return []key.Binding{k.Quit}
	case screenRollbackDialog:
		return []key.Binding{relabel(k.Yes, "y/enter", "roll back"), relabel(k.No, "n/esc", "not now")}
	case screenConfirmQuit, screenConfirmCancel:
		return []key.Binding{relabel(k.Yes, "y/enter", "yes"), k.No}
	case screenInput:
		return []key.Binding{k.Submit, k.Back}
	case screenConsent:
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
	case m.canCommand() && !m.browsing():
		keys = m.stepKeys()
	}
	if m.copyable() != "" {
		keys = append(keys, k.Copy)
	}
	keys = append(keys, k.Quit, k.Help)
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

// failKeyActive: on a manual step awaiting a verdict f means fail, not
// full screen.
func (m Model) failKeyActive() bool {
	st := m.state.CurrentStep()
	return m.canCommand() && st != nil && st.Kind == steps.KindManual &&
		st.Status == steps.StatusActive && st.Passed == nil
}

// stepKeys: what the current step accepts from a live operator.
func (m Model) stepKeys() []key.Binding {
	k := m.keys
	st := m.state.CurrentStep()
	var keys []key.Binding
	if st != nil {
		keys = m.kindKeys(st)
	}
	if m.rollbackAvailable() {
		keys = append(keys, k.Rollback)
	}
	return keys
}

func (m Model) kindKeys(st *steps.StepState) []key.Binding {
	k := m.keys
	var keys []key.Binding
	switch {
	case m.running():
		return []key.Binding{relabel(k.Interrupt, "ctrl+c", "cancel")}
	case st.Status == steps.StatusUnknown:
		keys = []key.Binding{k.Applied, k.NotDone}
	case st.Status == steps.StatusActive || st.Status == steps.StatusRunning:
		keys = m.activeKeys(st)
	case !canRetry(st):
		keys = []key.Binding{k.Next}
	}
	if canRetry(st) {
		keys = append(keys, k.Retry)
	}
	if canSkipStep(st) {
		keys = append(keys, relabel(k.Skip, "s", "skip step"))
	}
	return keys
}

func (m Model) activeKeys(st *steps.StepState) []key.Binding {
	k := m.keys
	switch st.Kind {
	case steps.KindChecklist:
		return []key.Binding{k.Toggle, relabel(k.Down, "j/k", "move"), relabel(k.Skip, "s", "skip item"), k.Next}
	case steps.KindConfirm:
		return []key.Binding{relabel(k.Next, "enter", "confirm")}
	case steps.KindManual:
		if st.Passed == nil {
			return []key.Binding{k.Pass, k.Fail}
		}
	case steps.KindMonitor:
		if len(st.Monitor) == 0 {
			return []key.Binding{relabel(k.Next, "enter", "open the window")}
		}
		return []key.Binding{k.EndEarly}
	case steps.KindSQL, steps.KindExec:
		if m.state.Session.Apply {
			return []key.Binding{relabel(k.Next, "enter", "run")}
		}
	}
	return []key.Binding{k.Next}
}
