package steps

import (
	"slices"
	"strings"
	"testing"
)

// Every kind in Kinds is a complete unit: registered under its own name
// at a place of its own, taking only keys Step has, documented, with a
// reason for every command it refuses, whatever its state. (Its methods
// are the compiler's to check: kindUnit.)
func TestEveryKindIsComplete(t *testing.T) {
	if len(Kinds) == 0 || len(Kinds) != len(kindTable) {
		t.Fatalf("Kinds %v, %d registered", Kinds, len(kindTable))
	}
	orders := map[int]Kind{}
	for _, k := range Kinds {
		e := kindTable[k]
		switch {
		case e == nil || unitOf(k) == nil:
			t.Errorf("kind %q is listed but not registered", k)
			continue
		case e.kind != k || e.doc.Kind != k:
			t.Errorf("kind %q is registered as %q (documented as %q)", k, e.kind, e.doc.Kind)
		case e.order <= 0:
			t.Errorf("kind %q has no place in Kinds (order)", k)
		}
		if other, dup := orders[e.order]; dup {
			t.Errorf("kinds %q and %q share order %d", k, other, e.order)
		}
		orders[e.order] = k
		for _, key := range append(slices.Clone(e.keys), mapKeys(e.misplaced)...) {
			if _, ok := stepFields[key]; !ok {
				t.Errorf("kind %q names key %q, which Step does not have", k, key)
			}
		}
		for key := range e.misplaced {
			if slices.Contains(e.keys, key) {
				t.Errorf("kind %q takes key %q and calls it misplaced", k, key)
			}
		}
		if d := e.doc; d.Summary == "" || d.Doc == "" || d.Example == "" {
			t.Errorf("kind %q: its documentation needs a summary, a text and an example", k)
		}
		if e.writes != readOnly && !strings.Contains(e.doc.Summary, "writes") {
			t.Errorf("kind %q writes; its summary must say so: %q", k, e.doc.Summary)
		}
		everyRefusalHasAReason(t, k)
	}
}

func everyRefusalHasAReason(t *testing.T, k Kind) {
	t.Helper()
	st := &StepState{PlannedStep: PlannedStep{ID: "s", Kind: k}, ItemStates: []ItemState{{Text: "a"}}}
	for _, status := range []Status{StatusActive, StatusRunning} {
		st.Status = status
		for _, apply := range []bool{false, true} {
			for _, c := range Commands {
				if ok, why := st.accepts(c, apply); !ok && why == "" {
					t.Errorf("kind %q, %s, apply %v: %s refused without a reason", k, status, apply, c)
				}
			}
		}
	}
}

func mapKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The kinds' own documentation is what the reference shows, in the order
// of Kinds.
func TestKindDocsFollowKinds(t *testing.T) {
	docs := KindDocs()
	for i, k := range Kinds {
		if docs[i].Kind != k {
			t.Errorf("doc %d is of %q, Kinds[%d] is %q", i, docs[i].Kind, i, k)
		}
	}
	spec := []Kind{KindChecklist, KindConfirm, KindSQL, KindCheck, KindManual, KindMonitor, KindExec, KindMessage}
	if got := slices.DeleteFunc(slices.Clone(Kinds), func(k Kind) bool { return !slices.Contains(spec, k) }); !slices.Equal(got, spec) {
		t.Errorf("Kinds %v does not keep the spec's order %v", Kinds, spec)
	}
}

// What a scripted operator is asked, kind by kind, and what the kinds
// make of the answers.
func TestOperateAsksEachKindsQuestion(t *testing.T) {
	rb := &Runbook{Phases: []Phase{{Steps: []Step{
		{ID: "list", Kind: KindChecklist, Items: []Item{{Text: "done"}, {Text: "auto", SQL: "select 1", ExpectRows: new(int)}, {Text: "proof", StagingProof: true}}},
	}}}}
	op := recorder{}
	st := &StepState{PlannedStep: PlannedStep{ID: "list", Kind: KindChecklist}, Status: StatusActive,
		ItemStates: []ItemState{{Text: "done"}, {Text: "auto"}, {Text: "proof"}}}
	if c, ok := Operate(st, rb, &op); !ok || c.Type != CmdTick || c.Item != 0 || op.last().Form != FormTick {
		t.Fatalf("first item: %+v %v, asked %+v", c, ok, op)
	}
	st.ItemStates[0].Ticked = true
	if _, ok := Operate(st, rb, &op); ok {
		t.Fatal("the self-ticking item's query has not run, and the operator was asked to act")
	}
	st.ItemStates[1] = ItemState{Text: "auto", Check: &CheckReport{Summary: "1 row, expected 0"}}
	if _, ok := Operate(st, rb, &op); ok || op.last().Form != FormUnticked || op.last().Evidence != "1 row, expected 0" || op.last().StagingProof {
		t.Fatalf("unticked item: asked %+v", op.last())
	}
	st.ItemStates[1].Skipped = true
	st.ItemStates[2] = ItemState{Text: "proof", Check: &CheckReport{Summary: "no journal"}}
	op.skip = true
	if c, ok := Operate(st, rb, &op); !ok || c.Type != CmdSkipItem || c.Item != 2 || !op.last().StagingProof {
		t.Fatalf("staging proof item: %+v %v, asked %+v", c, ok, op.last())
	}
	st.ItemStates[2].Skipped = true
	if c, ok := Operate(st, rb, &op); !ok || c.Type != CmdNext {
		t.Fatalf("settled checklist: %+v %v", c, ok)
	}
	if qs := Questions(rb); len(qs) != 3 || qs[0].Form != FormTick || qs[1].Form != FormUnticked || !qs[2].StagingProof {
		t.Errorf("questions: %+v", qs)
	}

	mon := &StepState{PlannedStep: PlannedStep{ID: "m", Kind: KindMonitor}, Status: StatusRunning, Alerts: []string{"waiting > 0"}}
	if c, ok := Operate(mon, rb, &op); !ok || c.Type != CmdEndMonitor || !slices.Equal(op.last().Alerts, mon.Alerts) {
		t.Fatalf("open window: %+v %v, asked %+v", c, ok, op.last())
	}
	sql := &StepState{PlannedStep: PlannedStep{ID: "q", Kind: KindSQL}, Status: StatusRunning}
	if _, ok := Operate(sql, rb, &op); ok {
		t.Error("a running statement was answered")
	}
}

type recorder struct {
	asked []Question
	skip  bool
}

func (r *recorder) Answer(q Question) (Answer, bool) {
	r.asked = append(r.asked, q)
	if q.Form == FormUnticked {
		return Answer{Skip: true, Text: "why"}, r.skip
	}
	return Answer{Pass: true, Text: "note"}, true
}

func (r *recorder) last() Question {
	if len(r.asked) == 0 {
		return Question{}
	}
	return r.asked[len(r.asked)-1]
}
