package ui

// Watch mode follows a live session from its journal (journal.FollowLog
// feeding Options.Events) and draws the same screen read-only: Model.canCommand
// is false outside Live, so every command key is inert and only quitting,
// scrolling, full screen, help and copying a message work.

// sourceBadge marks a screen that is not the live session: a watcher or a
// replay must never be mistaken for the operator's own screen.
func (m Model) sourceBadge() string {
	switch m.mode {
	case Watch:
		label := "WATCHING — read-only"
		if m.result != nil {
			label = "WATCHING — read-only, ended"
		}
		return m.styles.Mode.Render(label)
	case Replay:
		return m.replayBadge()
	}
	return ""
}
