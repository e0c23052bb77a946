package steps

import (
	"fmt"
	"strings"
)

// Second-person approval: the rules a pair partner's commands follow
// (State.AcceptsFrom), what holds a write back (State.WriteWait), and the
// fold of the approval events. The engine waits at writeGate; the screens
// draw the same facts from the fold.

// partnerVerb names what a partner command does, for refusals and help.
func partnerVerb(t CommandType) string {
	switch t {
	case CmdApprove:
		return "approve a write"
	case CmdHold:
		return "hold the session"
	case CmdRelease:
		return "release a hold"
	case CmdAskRollback:
		return "ask for the rollback"
	}
	return string(t)
}

// partnerAccepts is the rule for a command of partner p.
func (s *State) partnerAccepts(p Partner, t CommandType) (bool, string) {
	if !s.connected(p) {
		return false, fmt.Sprintf("%s is not connected to this session", p.Label())
	}
	if p.Role != RoleApprover {
		return false, fmt.Sprintf("%s is an %s: observers watch; only an approver may %s", p.Name, p.Role, partnerVerb(t))
	}
	if why, ok := s.ready(); !ok {
		return false, why
	}
	switch t {
	case CmdApprove:
		return s.approvable(p)
	case CmdHold:
		if s.holding(p) {
			return false, "you already hold the session: release it when the write may go on"
		}
	case CmdRelease:
		if !s.holding(p) {
			return false, "you hold nothing: there is no hold of yours to release"
		}
	case CmdAskRollback:
		return s.rollbackAllowed()
	}
	return true, ""
}

// approvable says whether partner p may approve the current step's write.
func (s *State) approvable(p Partner) (bool, string) {
	switch {
	case s.Session.ApprovalRequired == 0:
		return false, "this session asks for no approval"
	case !s.Session.Apply:
		return false, "this session is a dry run: it writes nothing, so there is nothing to approve"
	case s.IsOperator(p):
		return false, "the operator cannot approve their own change (" + p.Name + " is the operator's name or key)"
	}
	st := s.awaitingApproval()
	if st == nil {
		return false, "nothing is awaiting approval: no write step is about to run"
	}
	for _, a := range st.Approvals {
		if a.Fingerprint == p.Fingerprint {
			return false, fmt.Sprintf("step %s is already approved with your key", st.ID)
		}
	}
	return true, ""
}

// IsOperator reports whether partner p is the operator: the same name
// (case aside) or one of the operator's own keys.
func (s *State) IsOperator(p Partner) bool {
	if strings.EqualFold(strings.TrimSpace(p.Name), strings.TrimSpace(s.Session.Operator)) {
		return true
	}
	for _, k := range s.Session.OperatorKeys {
		if k == p.Fingerprint {
			return true
		}
	}
	return false
}

// awaitingApproval is the current step when it is a write of the phases
// that has not been sent yet (the one an approval is for), else nil.
func (s *State) awaitingApproval() *StepState {
	st := s.CurrentStep()
	if st == nil || !st.Writes || st.Rollback || st.Status != StatusActive || s.Rollback.Started {
		return nil
	}
	return st
}

// AwaitingApproval is the step id an approver approves now ("" when none).
func (s *State) AwaitingApproval() string {
	if st := s.awaitingApproval(); st != nil && s.Session.ApprovalRequired > 0 && s.Session.Apply {
		return st.ID
	}
	return ""
}

func (s *State) connected(p Partner) bool {
	for _, c := range s.Partners {
		if c.ID == p.ID && c.Fingerprint == p.Fingerprint {
			return true
		}
	}
	return false
}

func (s *State) holding(p Partner) bool {
	for _, h := range s.Holds {
		if h.ID == p.ID {
			return true
		}
	}
	return false
}

// ApprovalStatus is where the approval of one write stands.
type ApprovalStatus struct {
	Step     string
	Required int
	// Approved are the approvers whose approval counts: given for this
	// write, and still connected.
	Approved []Partner
	// Pending are the connected approvers (not the operator) who have not
	// approved it.
	Pending []Partner
}

// Missing is how many approvals the write still needs.
func (a ApprovalStatus) Missing() int { return max(0, a.Required-len(a.Approved)) }

// ApprovalOf says where the approval of step id stands.
func (s *State) ApprovalOf(id string) ApprovalStatus {
	a := ApprovalStatus{Step: id, Required: s.Session.ApprovalRequired}
	i := s.StepIndex(id)
	if i < 0 {
		return a
	}
	given := map[string]bool{}
	for _, p := range s.Steps[i].Approvals {
		if s.connected(p) && !given[p.Fingerprint] {
			given[p.Fingerprint] = true
			a.Approved = append(a.Approved, p)
		}
	}
	for _, p := range s.Partners {
		if p.Role == RoleApprover && !given[p.Fingerprint] && !s.IsOperator(p) {
			a.Pending = append(a.Pending, p)
		}
	}
	return a
}

// WriteWaitFor says what holds back the write of step id: "" when it
// may start. Holds hold every write; approval is asked for the phases'
// writes of an applying session that requires it (rollback steps run
// without: the way back is never held up).
func (s *State) WriteWaitFor(id string) string {
	var why []string
	if len(s.Holds) > 0 {
		why = append(why, "held by "+PartnerNames(s.Holds)+" until released")
	}
	if s.Session.ApprovalRequired > 0 {
		why = append(why, s.ApprovalOf(id).Describe()...)
	}
	return strings.Join(why, "; ")
}

// WriteWait is WriteWaitFor the write waiting now (State.ApprovalAt).
func (s *State) WriteWait() string {
	if w := s.WriteWaitFor(s.ApprovalAt); w != "" {
		return w
	}
	return "about to start"
}

// Describe says, for a person, what the write still needs ("" when
// nothing).
func (a ApprovalStatus) Describe() []string {
	if a.Missing() == 0 {
		return nil
	}
	out := []string{fmt.Sprintf("needs %d more approval(s) of %d", a.Missing(), a.Required)}
	if len(a.Approved) > 0 {
		out = append(out, "approved by "+PartnerNames(a.Approved))
	}
	return append(out, a.Waiting("no approver is connected who has not approved"))
}

// Waiting says whom the write waits for: the connected approvers who
// have not approved, and how many more must join when they are too few
// (none: what to say when no approver is connected who could approve).
func (a ApprovalStatus) Waiting(none string) string {
	if len(a.Pending) == 0 {
		return none
	}
	w := "waiting for " + PartnerNames(a.Pending)
	if more := a.Missing() - len(a.Pending); more > 0 {
		w += fmt.Sprintf(" and %d more approver(s) to join", more)
	}
	return w
}

// PartnerNames lists the partners' names, comma-separated.
func PartnerNames(ps []Partner) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return strings.Join(out, ", ")
}

// applyApproval folds the approval events.
func (s *State) applyApproval(e Event) {
	switch e.Type {
	case EvApprovalRequired:
		s.ApprovalAt = e.Step
	case EvApprovalGiven:
		if i := s.StepIndex(e.Step); i >= 0 && e.Partner != nil {
			s.Steps[i].Approvals = append(s.Steps[i].Approvals, *e.Partner)
		}
	case EvHoldPlaced:
		if e.Partner != nil {
			s.Holds = append(s.Holds, *e.Partner)
		}
	case EvHoldReleased:
		if e.Partner != nil {
			s.Holds = withoutPartner(s.Holds, e.Partner.ID)
		}
	case EvRollbackProposed:
		if e.Partner != nil {
			s.Rollback.Proposed = e.Partner.Label()
			s.Rollback.ProposedSeq = e.Seq
		}
	}
}
