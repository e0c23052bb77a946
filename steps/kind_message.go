package steps

import (
	"context"
	"strings"
)

// KindMessage: renders one of [[messages]] with the session's facts, to
// copy and send.
const KindMessage Kind = "message"

func init() { registerKind(messageKind{}) }

type messageKind struct{}

func (messageKind) spec() kindSpec {
	return kindSpec{
		kind: KindMessage, order: 80,
		keys: []string{"message"},
		doc: KindDoc{
			Summary: "renders one of [[messages]], to copy and send",
			Doc: "Renders the message with the session's facts, shows it, copies it with `c` (OSC 52, works over SSH) and saves it " +
				"in the journal.",
			Required: []string{"message"},
			Example: `[[phase.step]]
kind = "message"
id = "announce"
title = "Announce the deploy"
message = "announce"`,
		},
	}
}

func (messageKind) validate(v *validator, ref stepRef) {
	s := ref.s
	v.require(ref, "message", s.Message != "", `message = "<id of a [[messages]] entry>"`)
	if s.Message != "" && !v.msgIDs[s.Message] {
		hint := "define it in [[messages]]"
		if len(v.msgIDs) > 0 {
			hint = "known messages: " + strings.Join(sortedKeys(v.msgIDs), ", ")
		}
		v.at(addPath(ref.p, "message"), Error, hint, "no message with id %q", s.Message)
	}
}

func (messageKind) plan(*Runbook, Step, bool, *PlannedStep) {}

// run: see engine_message.go.
func (messageKind) run(e *Engine, ctx context.Context, i int, run bool) (flow, error) {
	return e.runMessage(ctx, i, run)
}

func (messageKind) acceptsActive(st *StepState, t CommandType, _ bool) (bool, string) {
	return st.acceptsReadOnly(t)
}

func (messageKind) acceptsRunning(_ *StepState, t CommandType) (bool, string) {
	return cancelWhileRunning(t, "the step")
}

func (messageKind) operate(st *StepState, _ Step, _ Operator) (Command, bool) {
	return nextWhenActive(st)
}

func (messageKind) questions(Step) []Question { return nil }

func (messageKind) checks(Step) []checkQuery { return nil }
