package ui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/handrail-dev/handrail/steps"
)

// Second-person approval on the screens. The operator's screen and every
// partner's show, under the header, where the approval of the next write
// stands (who approved, who is missing, who holds the session). A pair
// partner's screen (Watch mode with Options.Partner and Send) also takes
// the partner's keys: a approves (typing the project id), h holds or
// releases, R asks the operator for the rollback. Which of them work is
// State.AcceptsFrom for that partner, as the operator's keys are
// State.Accepts: the screen keeps no rule of its own.

// partnerMode: this is a partner's screen that may send their commands.
func (m Model) partnerMode() bool {
	return m.mode == Watch && m.partner != nil && m.send != nil && m.watchProblem == nil
}

// operatorAsked: the step screen, or one of the questions only the
// operator answers (typed consent, the promotion gate), which a partner's
// screen shows read-only: the partner's keys work on all of them, so an
// approver can approve while the operator types the consent.
func (m Model) operatorAsked() bool {
	switch m.screen() {
	case screenRun, screenConsent, screenPromotion:
		return true
	}
	return false
}

// partnerIntent is one key of a partner's screen and its command.
type partnerIntent struct {
	key key.Binding
	cmd steps.CommandType
}

func (m Model) partnerIntents() []partnerIntent {
	k := m.keys
	return []partnerIntent{
		{k.Approve, steps.CmdApprove},
		{k.Hold, steps.CmdHold},
		{k.Release, steps.CmdRelease},
		{k.AskRollback, steps.CmdAskRollback},
	}
}

// partnerAccepts is the engine's answer to this partner for cmd.
func (m Model) partnerAccepts(cmd steps.CommandType) steps.Affordance {
	return m.state.AcceptsFrom(m.partner, cmd)
}

// partnerKeys: the partner's keys the engine takes now (the footer).
func (m Model) partnerKeys() []key.Binding {
	var keys []key.Binding
	for _, in := range m.partnerIntents() {
		if m.partnerAccepts(in.cmd).OK {
			keys = append(keys, in.key)
		}
	}
	return keys
}

// partnerRefusedHelp: each of the partner's keys the engine does not
// take now, and why (the engine's words).
func (m Model) partnerRefusedHelp() []string {
	var lines []string
	seen := map[string]bool{}
	for _, in := range m.partnerIntents() {
		label := in.key.Help().Key + " " + in.key.Help().Desc
		aff := m.partnerAccepts(in.cmd)
		if aff.OK || seen[label] {
			continue
		}
		seen[label] = true
		lines = append(lines, fmt.Sprintf("%s: not now: %s", label, aff.Reason))
	}
	return lines
}

// handlePartnerKey acts on a partner's key the engine takes now; ok is
// false for any other key (it may scroll, quit, show help).
func (m Model) handlePartnerKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd, bool) {
	for _, in := range m.partnerIntents() {
		if !key.Matches(msg, in.key) || !m.partnerAccepts(in.cmd).OK {
			continue
		}
		c := steps.Command{Type: in.cmd}
		if in.cmd == steps.CmdApprove {
			c.Step = m.state.AwaitingApproval()
			title := fmt.Sprintf("to approve the write of step %s to %s, type its project id", c.Step, m.state.Session.TargetName)
			next, cmd := m.openInput(inputApprove, title, c)
			return next, cmd, true
		}
		m.command(c)
		return m, nil, true
	}
	return m, nil, false
}

// approvalLines: where the approval of the next write stands, and who
// holds the session (nothing when the session asks for no approval and
// nobody holds it). Drawn from the escaped fold.
func (m Model) approvalLines(w int) []string {
	s := &m.shown
	var lines []string
	if len(s.Holds) > 0 {
		lines = append(lines, " HELD by "+steps.PartnerNames(s.Holds)+": no write starts until released")
	}
	if s.Session.ApprovalRequired > 0 && s.Session.Apply && !s.Ended {
		id := s.ApprovalAt
		if id == "" {
			id = s.AwaitingApproval()
		}
		if id != "" {
			a := s.ApprovalOf(id)
			what := fmt.Sprintf(" APPROVAL of step %s: %d of %d", id, len(a.Approved), a.Required)
			if len(a.Approved) > 0 {
				what += "; approved by " + steps.PartnerNames(a.Approved)
			}
			if n := a.Missing(); n > 0 {
				what += fmt.Sprintf("; missing %d: %s", n, a.Waiting("no approver connected"))
			}
			lines = append(lines, what)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return wrapAll(lines, w)
}
