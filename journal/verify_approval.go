package journal

import (
	"encoding/json"
	"fmt"

	"github.com/handrail-dev/handrail/steps"
)

// Second-person approval, checked by Verify: in a session that required
// approval ([approval] required, --require-approval), the intent of every
// writing step of the phases (rollback steps run without) must follow, since
// that attempt's step_started, approvals by at least the required number of
// distinct approver keys. Verify lists the approvals it found.

// approvalFields is what the check decodes of the few events it reads.
type approvalFields struct {
	Type    steps.EventType `json:"type"`
	Step    string          `json:"step,omitempty"`
	Session *struct {
		ApprovalRequired int  `json:"approval_required,omitempty"`
		Apply            bool `json:"apply"`
		Plan             []struct {
			ID       string `json:"id"`
			Rollback bool   `json:"rollback,omitempty"`
		} `json:"plan"`
	} `json:"session,omitempty"`
	Partner *steps.Partner `json:"partner,omitempty"`
}

// relevant reports whether the check reads events of type t: the
// session's, and, once it requires approval (or any was given), the
// steps' starts, approvals and intents.
func (a *approvalCheck) relevant(t steps.EventType) bool {
	switch t {
	case steps.EvSessionStarted, steps.EvSessionResumed, steps.EvApprovalGiven:
		return true
	case steps.EvStepStarted, steps.EvIntent:
		return a.required > 0 || len(a.given) > 0
	}
	return false
}

// approvalCheck follows the approvals as the events stream by: memory
// bounded by the plan's steps and the approvers of one attempt each.
type approvalCheck struct {
	required int
	rollback map[string]bool
	given    map[string][]steps.Partner // step -> approvals of its current attempt
	writes   int                        // writes checked
	lines    []string                   // what the report lists
	more     int
}

// maxApprovalLines bounds the approvals Verify lists.
const maxApprovalLines = 50

// decode reads the fields of an event line that the check needs.
func (a *approvalCheck) decode(line []byte) (approvalFields, bool) {
	var f approvalFields
	return f, json.Unmarshal(line, &f) == nil
}

// event follows one event (on line n); problem reports a write that was
// not approved.
func (a *approvalCheck) event(n int, f approvalFields, problem func(int, string, ...any)) {
	switch f.Type {
	case steps.EvSessionStarted, steps.EvSessionResumed:
		if f.Session == nil {
			return
		}
		// A resume never lowers what the session required: the most any
		// of its runs asked for holds for every later write.
		a.required = max(a.required, f.Session.ApprovalRequired)
		if f.Type == steps.EvSessionStarted {
			a.rollback = map[string]bool{}
			for _, p := range f.Session.Plan {
				a.rollback[p.ID] = p.Rollback
			}
		}
	case steps.EvStepStarted:
		delete(a.given, f.Step)
	case steps.EvApprovalGiven:
		if f.Partner == nil {
			problem(n, "approval_given of step %s names no approver", f.Step)
			return
		}
		if a.given == nil {
			a.given = map[string][]steps.Partner{}
		}
		for _, p := range a.given[f.Step] {
			if p.Fingerprint == f.Partner.Fingerprint {
				return
			}
		}
		a.given[f.Step] = append(a.given[f.Step], *f.Partner)
	case steps.EvIntent:
		if a.required == 0 || a.rollback[f.Step] {
			return
		}
		a.writes++
		got := a.given[f.Step]
		if len(got) < a.required {
			problem(n, "the write of step %s was sent with %d of the %d approvals the session required", f.Step, len(got), a.required)
			return
		}
		a.list(fmt.Sprintf("line %d: the write of step %s approved by %s", n, f.Step, approverList(got)))
	}
}

func (a *approvalCheck) list(s string) {
	if len(a.lines) == maxApprovalLines {
		a.more++
		return
	}
	a.lines = append(a.lines, s)
}

func approverList(ps []steps.Partner) string {
	out := ""
	for i, p := range ps {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%s (%s, key %s)", p.Name, p.Role, p.Fingerprint)
	}
	return out
}

// approvalFieldsOf is approvalFields of an event already read.
func approvalFieldsOf(e steps.Event) approvalFields {
	b, err := json.Marshal(e)
	if err != nil {
		return approvalFields{Type: e.Type, Step: e.Step}
	}
	var f approvalFields
	_ = json.Unmarshal(b, &f)
	return f
}
