package ui

import (
	"strings"

	"github.com/handrail-dev/handrail/steps"
)

// A hint names a key only the operator's live screen takes ("enter runs
// it", "p pass, f fail"). A screen that watches (replay, watch, a pair
// partner's) takes none of those keys, so there the same hint says who
// acts instead. Every such hint on a pane is declared here and drawn
// through Model.hint, the one place that tells the two screens apart.
type hint struct{ operator, watching string }

var (
	hintRunCheck      = hint{"enter runs it", "waiting for the operator to run it"}
	hintReport        = hint{"report: read it, then press enter to go on", "report: the operator reads it, then goes on"}
	hintTickItems     = hint{"tick every item, or skip it with a reason", "the operator ticks or skips each item"}
	hintConfirm       = hint{"press enter to confirm", "waiting for the operator to confirm"}
	hintType          = hint{"type", "the operator types"}
	hintTypeToConfirm = hint{"exactly to confirm (enter opens the input)", "exactly to confirm"}
	hintManual        = hint{"do the test, then record it: p pass, f fail (with a note)", "waiting for the operator to do the test and record pass or fail"}
	hintOpenWindow    = hint{"enter opens it", "the operator opens it"}
	hintReopenWindow  = hint{"enter opens it again", "the operator opens it again"}
	hintEndEarly      = hint{"e ends early", "operator can end it early"}
	hintRehearse      = hint{"enter runs", "runs"}
	hintSend          = hint{"enter sends", "sends"}
	hintAck           = hint{"(type the rule id)", "(the operator types the rule id)"}
	hintRetry         = hint{"press r to retry the step", "the operator can retry the step"}
	// The input of a question only the operator answers (consent,
	// promotion override): on a watching screen, who answers it.
	hintAnswer = hint{"", watchingAnswer}
)

// What the engine's refusal of an operator's key tells the operator they
// may do while a write waits (the end of its reason, steps.Meanwhile*):
// a screen that watches says it of the operator.
var refusalHints = []hint{
	{steps.MeanwhileQuit, "the operator may quit meanwhile"},
	{steps.MeanwhileQuitOrRollBack, "the operator may quit or roll back meanwhile"},
}

// refusalReason is the engine's reason for refusing the operator's
// command as this screen says it: as recorded on the operator's live
// screen, of the operator on one that watches.
func (m Model) refusalReason(why string) string {
	for _, h := range refusalHints {
		if rest, ok := strings.CutSuffix(why, h.operator); ok {
			return rest + m.hint(h)
		}
	}
	return why
}

// paneHints lists the hints above, for tests that compare a live screen
// with a watching one.
var paneHints = []hint{hintRunCheck, hintReport, hintTickItems, hintConfirm, hintType, hintTypeToConfirm, hintManual,
	hintOpenWindow, hintReopenWindow, hintEndEarly, hintRehearse, hintSend, hintAck, hintRetry}

// hint is h as this screen shows it: the key to press on the operator's
// live screen, who acts on a screen that watches.
func (m Model) hint(h hint) string {
	if m.canCommand() {
		return h.operator
	}
	return h.watching
}

// watchingAnswer stands, on a screen that watches (replay, watch, a pair
// partner's), where the operator's screen has the input of a question
// only the operator answers.
const watchingAnswer = "(the operator answers this on their screen)"

// answerLine is the input of a question only the operator answers, or,
// on a screen that watches, who answers it.
func (m Model) answerLine(input string) string {
	if h := m.hint(hintAnswer); h != "" {
		return m.styles.Muted.Render(h)
	}
	return input
}
