package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/handrail-dev/handrail/steps"
)

// inputPurpose says what a typed line is for.
type inputPurpose int

const (
	inputNone        inputPurpose = iota // the command needs no typed text
	inputSkipItem                        // checklist item skip reason
	inputSkipStep                        // step skip reason
	inputConfirmText                     // the confirm step's required text
	inputManualNote                      // manual verdict note
	inputEndMonitor                      // reason to end a monitor early
	inputMark                            // how the operator resolved outcome-unknown
	inputApprove                         // the project id an approver types to approve a write
	inputAck                             // the rule id of the lock finding acknowledged
)

// inputDialog is a one-line question answered with a bubbles textinput;
// the answer becomes the Text of cmd, the command the question is for.
type inputDialog struct {
	purpose inputPurpose
	title   string
	ti      textinput.Model
	cmd     steps.Command
	problem string // why the last submit was refused
}

func newTextInput(placeholder string) textinput.Model {
	ti := textinput.New()
	ti.Placeholder = placeholder
	ti.CharLimit = 500
	ti.SetWidth(40)
	return ti
}

// openInput shows a one-line question over the pane; its answer is sent
// as the Text of c.
func (m Model) openInput(p inputPurpose, title string, c steps.Command) (Model, tea.Cmd) {
	m.input = &inputDialog{purpose: p, title: title, cmd: c, ti: newTextInput("")}
	m.input.ti.SetStyles(m.styles.Input)
	m.input.ti.SetWidth(max(10, m.dialogWidth()-6))
	m.overlay = screenInput
	return m, m.input.ti.Focus()
}

func (m Model) handleInputKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.keys.Back):
		m.overlay = screenNone
		return m, nil
	case key.Matches(msg, m.keys.Submit):
		return m.submitInput(), nil
	}
	return m, m.updateInput(msg)
}

// updateInput hands a message to the dialog's text input.
func (m *Model) updateInput(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	m.input = clone(m.input)
	m.input.ti, cmd = m.input.ti.Update(msg)
	return cmd
}

// updateConsent hands a message to the consent gate's text input.
func (m *Model) updateConsent(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	m.consent = clone(m.consent)
	*m.consent, cmd = m.consent.Update(msg)
	return cmd
}

// submitInput turns the typed line into its command, or says why not.
func (m Model) submitInput() Model {
	in := m.input
	text := strings.TrimSpace(in.ti.Value())
	if text == "" && in.required() {
		m.input = clone(m.input)
		m.input.problem = "an answer is required (esc to go back)"
		return m
	}
	c := in.cmd
	c.Text = text
	if in.purpose == inputConfirmText {
		c.Text = in.ti.Value() // typed exactly, spaces included
	}
	if in.purpose == inputSkipItem {
		if st := m.state.CurrentStep(); st != nil {
			m.cursor = nextOpenItem(st.ItemStates, c.Item)
		}
	}
	m.overlay = screenNone
	m.command(c)
	return m
}

// required: only a passing manual note may be left empty.
func (in inputDialog) required() bool {
	return !(in.purpose == inputManualNote && in.cmd.Pass)
}

// dialogWidth is the width of a dialog box, borders included.
func (m Model) dialogWidth() int {
	return max(30, min(64, m.width-4))
}

// viewDialog renders the open dialog box.
func (m Model) viewDialog(scr screen) string {
	var body []string
	switch scr {
	case screenRollbackDialog:
		body = m.rollbackDialogLines()
	case screenConfirmQuit:
		body = m.confirmLines("QUIT?", m.quitQuestion(), "quit")
	case screenConfirmCancel:
		body = m.confirmLines("CANCEL?", m.cancelQuestion(), "cancel it")
	case screenInput:
		body = m.inputLines()
	}
	w := m.dialogWidth()
	return m.styles.Dialog.Width(w).Render(strings.Join(wrapAll(body, w-4), "\n"))
}

// cancelQuestion: what cancelling the running step leaves behind. A
// transactional sql step rolls back whole; a step that runs each
// statement on its own keeps the statements before; a command's work
// stays, whatever it was.
func (m Model) cancelQuestion() string {
	st := m.state.CurrentStep()
	switch {
	case st != nil && st.Kind == steps.KindExec:
		return "Stop the running command? Its process group is killed; whatever it did so far stays (nothing rolls it back)."
	case st != nil && !transactional(st):
		return "Cancel the running statement? It rolls back; the statements of this step before it stay (it runs each statement on its own)."
	}
	return "Cancel the running statement? The transaction will roll back; nothing of this step stays written."
}

// quitQuestion: what quitting does now. Quitting while a step runs
// cancels it first (the engine's quit, as ctrl+c's cancel).
func (m Model) quitQuestion() string {
	q := "Leave handrail? The session is journaled and can be resumed with --resume."
	if st := m.state.CurrentStep(); st != nil && st.Status == steps.StatusRunning {
		q = "Leave handrail? The running step is cancelled first (an open transaction rolls back) and the journal records how it ended; the session can be resumed with --resume."
	}
	return q
}

func (m Model) confirmLines(title, question, yes string) []string {
	return []string{
		m.styles.Danger.Render(title), "", question, "",
		m.styles.Bold.Render("y/enter") + " " + yes + "   " + m.styles.Bold.Render("n/esc") + " go back",
	}
}

func (m Model) inputLines() []string {
	lines := []string{m.styles.Bold.Render(safe(m.input.title)), "", m.input.ti.View()}
	if m.input.problem != "" {
		lines = append(lines, m.styles.Bad.Render(safe(m.input.problem)))
	}
	return append(lines, "", m.styles.Bold.Render("enter")+" submit   "+m.styles.Bold.Render("esc")+" cancel")
}

// rollbackDialogLines: why, when the runbook says to roll back, and what
// will run.
func (m Model) rollbackDialogLines() []string {
	s := m.styles
	lines := []string{s.Danger.Render("ROLL BACK?"), ""}
	if r := m.state.Rollback.Offered; r != "" {
		lines = append(lines, s.Warn.Render("offered: ")+r, "")
	} else if p := m.state.Rollback.Proposed; m.unbidden && p != "" {
		lines = append(lines, s.Warn.Render("proposed by: ")+safe(p), "")
	}
	if when := m.state.Session.RollbackWhen; len(when) > 0 {
		lines = append(lines, s.Bold.Render("Roll back when:"))
		for _, w := range when {
			lines = append(lines, "  - "+w)
		}
		lines = append(lines, "")
	}
	lines = append(lines, s.Bold.Render("Rollback steps:"))
	lines = append(lines, m.rollbackStepLines()...)
	yes := "y/enter"
	if m.unbidden {
		yes = "y" // it opened by itself: an enter meant for the step does not count
	}
	return append(lines, "",
		s.Bold.Render(yes)+" roll back now   "+s.Bold.Render("n/esc")+" not now")
}

func (m Model) rollbackStepLines() []string {
	var lines []string
	for _, st := range m.state.Steps {
		if st.Rollback {
			lines = append(lines, fmt.Sprintf("  %d. %s (%s)", len(lines)+1, st.Title, st.Kind))
		}
	}
	if len(lines) == 0 {
		lines = append(lines, "  (the plan lists no rollback steps)")
	}
	return lines
}

// updateOverride hands a message to the promotion gate's text input.
func (m *Model) updateOverride(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	m.override = clone(m.override)
	*m.override, cmd = m.override.Update(msg)
	return cmd
}

// promotionLines is the pane of the promotion gate: the first write to
// [target] waits for staging proof; what is missing, and the typed
// reason that overrides it (journaled as an override). The input is the
// tail, kept on screen when the rest does not fit.
func (m Model) promotionLines() (lines, tail []string) {
	s, ses := m.styles, m.state.Session
	lines = []string{s.Danger.Render("PROMOTION GATE: NO STAGING PROOF"), ""}
	staging := "staging"
	if ses.StagingProjectID != "" {
		staging += " (" + ses.StagingProjectID + ")"
	}
	lines = append(lines, "The next step writes to "+s.Bold.Render(ses.TargetName)+", but nothing proves this runbook succeeded on "+staging+".")
	if i := m.state.StepIndex(m.state.PromotionAt); i >= 0 {
		lines = append(lines, "step: "+m.state.Steps[i].Title)
	}
	if p := m.state.Promotion; p != nil {
		if p.Searched != "" {
			lines = append(lines, "", "looked in: "+p.Searched)
		}
		for _, pr := range p.Problems {
			lines = append(lines, s.Bad.Render("missing: ")+pr)
		}
	}
	lines = append(lines, "",
		"Run it on staging first (the command is above), then quit and run this again;",
		"or type why this must go on without proof. The override is journaled and shown as one.")
	return lines, []string{"", m.answerLine(m.override.View())}
}

// consentLines is the pane of the typed-consent gate (SPEC 4.8); the
// input and its rejection are the tail, kept on screen.
func (m Model) consentLines() (lines, tail []string) {
	s, ses := m.styles, m.state.Session
	lines = []string{s.Danger.Render("PRODUCTION: TYPED CONSENT"), ""}
	if ses.Rehearse {
		lines = append(lines, "The next step is rehearsed on the production target "+s.Bold.Render(ses.TargetName)+
			": it runs in a transaction that is always rolled back, but it takes the write's locks while it runs.")
	} else {
		lines = append(lines, "The next step writes to the production target "+s.Bold.Render(ses.TargetName)+".")
	}
	if i := m.state.StepIndex(m.state.ConsentAt); i >= 0 {
		lines = append(lines, "step: "+m.state.Steps[i].Title)
	}
	// The id on a line of its own: wrapped after the label it would break
	// at a hyphen, and the operator could not tell what exactly to type.
	lines = append(lines, "", "Type the project id to continue:", "  "+s.Bold.Render(ses.ProjectID))
	tail = []string{"", m.answerLine(m.consent.View())}
	if r := m.state.ConsentRejected; r != nil {
		tail = append(tail, "", s.Bad.Render("REJECTED: ")+quote(*r)+" is not the project id. Nothing was written.")
	}
	return lines, tail
}

// hardStopLines is the identity mismatch screen (SPEC 4.1): expected vs
// found per source, the forbidden id, and that nothing was written.
func (m Model) hardStopLines() []string {
	s, id := m.styles, m.state.Identity
	lines := []string{s.Danger.Render("HARD STOP: IDENTITY MISMATCH"), ""}
	if id == nil {
		return append(lines, "identity could not be verified", "", s.Bold.Render("Nothing was written."), "press q to quit")
	}
	lines = append(lines, "target:   "+m.state.Session.TargetName, "expected: "+s.Bold.Render(id.Expected), "")
	lines = append(lines, identityTable(s, id.Sources)...)
	if id.Forbidden != "" {
		lines = append(lines, "", s.Bad.Render("FORBIDDEN id matched: "+id.Forbidden)+" (a known non-target, e.g. staging)")
	}
	if id.Reason != "" {
		lines = append(lines, "", "why: "+id.Reason)
	}
	return append(lines, "",
		s.Bold.Render("Nothing was written.")+" No statement other than the identity probes ran.",
		m.identityFixLine(), "", "press q to quit")
}

// identityFixLine says what to do about an identity mismatch.
func (m Model) identityFixLine() string {
	if m.identityFix != "" {
		return m.identityFix
	}
	return "Check the --db connection string and the target in the runbook."
}

// identityTable: what each identity source found, and how.
func identityTable(s *Styles, sources []steps.IdentitySource) []string {
	var lines []string
	for _, src := range sources {
		found := "found " + s.Bold.Render(src.Found)
		if !src.Resolved {
			found = "did not resolve"
		}
		lines = append(lines, fmt.Sprintf("%-18s %s", src.Source, found))
		if src.Detail != "" {
			lines = append(lines, strings.Repeat(" ", 19)+s.Muted.Render(src.Detail))
		}
	}
	return lines
}

// lockHeldLines: someone else holds the deploy lock (SPEC 4.3).
func (m Model) lockHeldLines() []string {
	s, l := m.styles, m.state.Lock
	lines := []string{s.Danger.Render("DEPLOY LOCK HELD"), "",
		"Another session holds the deploy lock of this database (" + m.state.Session.TargetName + ", " + m.state.Session.ProjectID + ").", ""}
	if l != nil {
		if l.Runbook != "" {
			lines = append(lines, "runbook: "+l.Runbook, "operator: "+orDash(l.Operator))
		} else {
			lines = append(lines, "application: "+orDash(l.ApplicationName))
		}
		lines = append(lines, "client: "+orDash(l.Client), fmt.Sprintf("server pid: %d (its backend in pg_stat_activity)", l.PID))
		if !l.Since.IsZero() {
			ago := m.clock.Sub(l.Since).Truncate(time.Second)
			lines = append(lines, "since: "+l.Since.Format("2006-01-02 15:04:05 MST")+" ("+ago.String()+" ago)")
		}
	}
	return append(lines, "", s.Bold.Render("Nothing was written.")+" Wait for that session to end, or ask its operator.",
		"", "press q to quit")
}

// quote puts text the operator typed or must type in quotes. It does not
// escape: the views escape every string they draw (termsafe.go), and %q
// would escape those escapes again.
func quote(s string) string { return `"` + s + `"` }
