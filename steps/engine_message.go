package steps

import (
	"context"
	"fmt"
	"strings"
	"text/template"
)

// MessageFacts are what a [[messages]] template may use.
type MessageFacts struct {
	Target    string // target name, e.g. Connect-Prod
	ProjectID string
	Operator  string
	Runbook   string // runbook id
	Started   string // session start, "2006-01-02 15:04 MST"
	Finished  string // now, for success and rollback messages ("" before)
	Outcome   string // in progress | succeeded | failed | rolled back
}

const messageTimeLayout = "2006-01-02 15:04 MST"

// RenderMessage renders message m with facts. Unknown fields are errors,
// so a typo in a template never sends a message with a hole in it.
func RenderMessage(m Message, facts MessageFacts) (string, error) {
	t, err := template.New(m.ID).Option("missingkey=error").Parse(m.Body)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, facts); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

// runMessage renders the step's message (message_rendered) and moves on
// with CmdNext (at once in the rollback).
func (e *Engine) runMessage(ctx context.Context, i int, run bool) (flow, error) {
	id := e.plan[i].info.ID
	m, ok := e.message(e.plan[i].step.Message)
	if !ok {
		return flowFailed, e.emit(Event{Type: EvStepFailed, Step: id, Error: &ErrorInfo{
			Message: fmt.Sprintf("no [[messages]] entry with id %q", e.plan[i].step.Message),
			Where:   e.stepWhere(i), Hint: "fix the runbook (handrail lint); skip this step with a reason to go on",
		}})
	}
	body, err := RenderMessage(m, e.messageFacts(m))
	if err != nil {
		return flowFailed, e.emit(Event{Type: EvStepFailed, Step: id, Error: &ErrorInfo{
			Message: "cannot render message " + m.ID + ": " + err.Error(),
			Where:   e.stepWhere(i), Hint: "fix the template in runbook.toml; skip this step with a reason to go on",
		}})
	}
	msg := &RenderedMsg{ID: m.ID, To: m.To, When: m.When, Body: body}
	if err := e.emit(Event{Type: EvMessageRendered, Step: id, Message: msg}); err != nil {
		return flowQuit, err
	}
	if ok, f, err := e.gate(ctx, i, run); !ok {
		return f, err
	}
	return e.succeed(i)
}

func (e *Engine) message(id string) (Message, bool) {
	for _, m := range e.rb.Messages {
		if m.ID == id {
			return m, true
		}
	}
	return Message{}, false
}

// messageFacts gathers the session's facts from the state.
func (e *Engine) messageFacts(m Message) MessageFacts {
	f := MessageFacts{
		Target: e.rb.Target.Name, ProjectID: e.rb.Target.ProjectID,
		Operator: e.cfg.Operator, Runbook: e.rb.Meta.ID, Outcome: "in progress",
	}
	e.with(func(s *State) {
		f.Started = s.Started.Local().Format(messageTimeLayout)
		if m.When == "before" {
			return
		}
		f.Finished = e.cfg.Now().Local().Format(messageTimeLayout)
		f.Outcome = "succeeded"
		if s.Rollback.Started {
			f.Outcome = "rolled back"
			return
		}
		for _, st := range s.Steps {
			if st.Status == StatusFailed {
				f.Outcome = "failed"
			}
		}
	})
	return f
}
