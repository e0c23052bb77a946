package steps

import (
	"context"
	"fmt"
	"strings"
)

// KindChecklist: items the operator ticks, or skips with a reason; an
// item with a query (or the staging proof) ticks itself.
const KindChecklist Kind = "checklist"

func init() { registerKind(checklistKind{}) }

type checklistKind struct{}

func (checklistKind) spec() kindSpec {
	return kindSpec{
		kind: KindChecklist, order: 10,
		keys: []string{"items"},
		doc: KindDoc{
			Summary: "items the operator ticks before moving on",
			Doc: "Every item must be ticked (`space`), or skipped with a typed reason (`s`), before `enter` moves on. " +
				"An item with `sql` and an expectation ticks itself when its query's result matches.",
			Required: []string{"items"},
			Example: `[[phase.step]]
kind = "checklist"
id = "pre-flight"
title = "Pre-flight checklist"
items = [
  { text = "Change ticket approved" },
  { text = "No lock waits right now", sql = "select pid from pg_locks where not granted", expect_empty = true },
]`,
		},
	}
}

func (checklistKind) validate(v *validator, ref stepRef) {
	s, p := ref.s, ref.p
	if len(s.Items) == 0 && !v.bad(addPath(p, "items")) {
		v.at(p, Error, `items = [{ text = "..." }]`, "checklist step %q has no items", s.ID)
	}
	for i, it := range s.Items {
		v.validateItem(it, addPath(p, "items", idxSeg(i)))
	}
}

func (v *validator) validateItem(it Item, p []string) {
	if strings.TrimSpace(it.Text) == "" && !v.bad(addPath(p, "text")) {
		v.at(p, Error, `items = [{ text = "..." }]`, "checklist item has no text")
	}
	hasExpect := len(it.Expect) > 0 || it.ExpectRows != nil || it.ExpectEmpty || v.has(p, "expect")
	if it.StagingProof && (it.SQL != "" || hasExpect) {
		v.at(addPath(p, "staging_proof"), Error, "a staging_proof item ticks itself from the staging journal; remove sql and expect",
			"checklist item has both staging_proof and a query")
		return
	}
	if it.SQL == "" {
		if hasExpect {
			v.at(p, Error, "a self-ticking item needs both sql and expect", "checklist item has expect but no sql")
		}
		return
	}
	v.checkReadOnlySQL(it.SQL, addPath(p, "sql"), "checklist item")
	v.validateExpect(p, it.Expect, it.ExpectRows, it.ExpectEmpty, "checklist item")
}

func (checklistKind) plan(_ *Runbook, s Step, _ bool, p *PlannedStep) {
	for _, it := range s.Items {
		p.Items = append(p.Items, it.Text)
	}
}

func (checklistKind) run(e *Engine, ctx context.Context, i int, _ bool) (flow, error) {
	return e.runChecklist(ctx, i)
}

func (checklistKind) acceptsActive(st *StepState, t CommandType, _ bool) (bool, string) {
	switch t {
	case CmdTick, CmdSkipItem:
		return true, ""
	case CmdNext:
		open := 0
		for _, it := range st.ItemStates {
			if !it.Ticked && !it.Skipped {
				open++
			}
		}
		switch open {
		case 0:
			return true, ""
		case 1:
			return false, "1 item is still open: tick it, or skip it with a reason"
		}
		return false, fmt.Sprintf("%d items are still open: tick them, or skip them with a reason", open)
	}
	return false, "this checklist waits for its items to be ticked or skipped"
}

func (checklistKind) acceptsRunning(_ *StepState, t CommandType) (bool, string) {
	return cancelWhileRunning(t, "the step")
}

// operate ticks the first open item a person ticks, with the operator's
// answer; a self-ticking item is its query's (or the staging proof's) to
// tick, and when it did not, the operator may skip it with a reason.
func (checklistKind) operate(st *StepState, s Step, op Operator) (Command, bool) {
	if st.Status != StatusActive {
		return Command{}, false
	}
	for j, it := range st.ItemStates {
		self := j < len(s.Items) && s.Items[j].SelfTicking()
		switch {
		case it.Ticked || it.Skipped:
			continue
		case self && it.Check == nil:
			return Command{}, false // its query runs
		case it.Check != nil || self:
			q := Question{Step: st.ID, Kind: KindChecklist, Form: FormUnticked, Item: j, Text: it.Text,
				StagingProof: self && s.Items[j].StagingProof, Evidence: it.Check.Summary}
			a, ok := op.Answer(q)
			if !ok || !a.Skip {
				return Command{}, false
			}
			return Command{Type: CmdSkipItem, Item: j, Text: a.Text}, true
		}
		a, ok := op.Answer(Question{Step: st.ID, Kind: KindChecklist, Form: FormTick, Item: j, Text: it.Text})
		if !ok {
			return Command{}, false
		}
		return Command{Type: CmdTick, Item: j, Text: a.Text}, true
	}
	return Command{Type: CmdNext}, true
}

// questions: every item a person ticks, and every item that ticks itself
// (asked only when its evidence does not tick it).
func (checklistKind) questions(s Step) []Question {
	var out []Question
	for j, it := range s.Items {
		q := Question{Step: s.ID, Kind: KindChecklist, Form: FormTick, Item: j, Text: it.Text}
		if it.SelfTicking() {
			q.Form, q.StagingProof = FormUnticked, it.StagingProof
		}
		out = append(out, q)
	}
	return out
}

// checks: the items that tick themselves with a query (the staging proof
// has nothing to query).
func (checklistKind) checks(s Step) []checkQuery {
	var out []checkQuery
	for j, it := range s.Items {
		if it.SQL == "" {
			continue
		}
		item := j
		out = append(out, checkQuery{item: &item, title: it.Text, sql: it.SQL, exp: it.Expectation()})
	}
	return out
}

// runChecklist runs the self-ticking items at once, then takes the
// operator's ticks and skips; CmdNext passes only when every item is
// ticked or skipped.
func (e *Engine) runChecklist(ctx context.Context, i int) (flow, error) {
	items := e.plan[i].step.Items
	for j, it := range items {
		if it.SelfTicking() {
			if then, err := e.checkItem(ctx, i, j); err != nil || then != flowNext {
				return then, err
			}
		}
	}
	id := e.plan[i].info.ID
	return e.await(ctx, "in the checklist", handlers{
		CmdTick: func(c Command) (flow, bool, error) {
			then, err := e.toggleItem(ctx, i, c)
			return then, then != flowNext, err
		},
		CmdSkipItem: func(c Command) (flow, bool, error) {
			item := c.Item
			return flowNext, false, e.emit(Event{Type: EvItemSkipped, Step: id, Item: &item, Text: c.Text, Secret: c.Secret})
		},
		CmdNext: func(Command) (flow, bool, error) {
			f, err := e.succeed(i)
			return f, true, err
		},
	})
}

// toggleItem ticks or unticks item j. A self-ticking item is never ticked
// by hand: ticking it runs its query again (then: see checkItem).
func (e *Engine) toggleItem(ctx context.Context, i int, c Command) (then flow, err error) {
	j := c.Item
	var it ItemState
	e.with(func(s *State) { it = s.Steps[i].ItemStates[j] })
	item := j
	id := e.plan[i].info.ID
	switch {
	case it.Ticked:
		return flowNext, e.emit(Event{Type: EvItemUnticked, Step: id, Item: &item})
	case e.plan[i].step.Items[j].SelfTicking():
		return e.checkItem(ctx, i, j)
	}
	return flowNext, e.emit(Event{Type: EvItemTicked, Step: id, Item: &item, Text: c.Text, Secret: c.Secret})
}

// checkItem runs a self-ticking item's query: item_ticked (Auto) when it
// matches, item_check_failed otherwise. then is flowQuit or flowRollback
// when the operator asked for that while the query ran.
func (e *Engine) checkItem(ctx context.Context, i, j int) (then flow, err error) {
	it := e.plan[i].step.Items[j]
	id := e.plan[i].info.ID
	if it.StagingProof {
		return e.proofItem(ctx, i, j)
	}
	var rep *CheckReport
	var pass bool
	then, qerr := e.during(ctx, func(ctx context.Context) error {
		var err error
		rep, pass, err = e.evaluate(ctx, id, it.SQL, "", nil, it.Expectation())
		return err
	})
	if serr := e.sinkFailed(); serr != nil {
		return flowQuit, serr
	}
	item := j
	if pass {
		return then, e.emit(Event{Type: EvItemTicked, Step: id, Item: &item, Auto: true, Check: rep})
	}
	if err := e.emit(Event{Type: EvItemCheckFailed, Step: id, Item: &item, Check: rep}); err != nil {
		return flowQuit, err
	}
	if qerr != nil && isConnLost(qerr) {
		if f, rerr := e.recoverConnection(ctx); rerr != nil || f == flowEnd {
			return flowEnd, rerr
		}
	}
	return then, nil
}

// proofItem ticks a staging_proof item when a staging journal proves the
// promotion (looked for again each time, so a journal copied in after a
// failure counts); otherwise it records what is missing. In a run of the
// staging environment itself there is nothing to prove: the item says so
// and ticks.
func (e *Engine) proofItem(ctx context.Context, i, j int) (flow, error) {
	id := e.plan[i].info.ID
	item := j
	rep := &CheckReport{Expect: "a verified journal of this runbook that succeeded on staging"}
	if !e.rb.PromotionGated() {
		rep.Summary = "this run is on " + e.rb.EnvName() + ": there is no staging run to prove"
		return flowNext, e.emit(Event{Type: EvItemTicked, Step: id, Item: &item, Auto: true, Check: rep})
	}
	then, err := e.checkPromotion(ctx)
	if err != nil {
		return then, err
	}
	var proof *PromotionProof
	e.with(func(s *State) { proof = s.Promotion })
	rep.Summary = proof.Summary()
	if proof != nil && proof.OK {
		return then, e.emit(Event{Type: EvItemTicked, Step: id, Item: &item, Auto: true, Check: rep})
	}
	return then, e.emit(Event{Type: EvItemCheckFailed, Step: id, Item: &item, Check: rep})
}
