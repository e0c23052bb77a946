package steps

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// Kind is a step kind. The set is closed: Kinds lists it, each kind is
// one file (kind_<name>.go, see the package documentation), and decoding
// rejects anything else.
type Kind string

// Kinds lists every step kind, in the order the spec documents them (each
// kind's kindSpec.order). It is filled as the kinds register themselves,
// before any other package can read it.
var Kinds []Kind

// kindUnit is everything a step kind does, in one place: what the rest of
// the package (lint, the engine, the command rules, the scripted
// operators, handrail check) asks of a kind. A kind is a type with these
// methods, registered by its file's init (registerKind); leaving a
// method out does not compile, and TestEveryKindIsComplete checks the
// data of kindSpec for every kind in Kinds.
type kindUnit interface {
	// spec is the kind's data: name, place, keys, writes, docs.
	spec() kindSpec
	// validate checks a step of the kind, after the common checks (a
	// known kind, no key of another kind).
	validate(v *validator, ref stepRef)
	// plan fills what the screens show of a step before it runs, beyond
	// what every kind shows (buildPlan).
	plan(rb *Runbook, s Step, rollback bool, p *PlannedStep)
	// run runs step i once step_started is recorded, until it succeeds,
	// fails or the operator leaves it. run: go ahead without waiting for
	// CmdNext (a retry, or a rollback step).
	run(e *Engine, ctx context.Context, i int, run bool) (flow, error)
	// acceptsActive is the kind's rule for the step commands while the
	// step waits for the operator (retry and cancel are refused before):
	// accepted, or refused and why, in the engine's own words.
	acceptsActive(st *StepState, t CommandType, apply bool) (bool, string)
	// acceptsRunning is the rule while the step runs.
	acceptsRunning(st *StepState, t CommandType) (bool, string)
	// operate is a scripted operator's move at the current step (the
	// autopilot's, an unattended apply's): the command the kind makes of
	// op's answers to the questions it asks a person, or false when there
	// is nothing to say now. Failures are the operator's own business.
	operate(st *StepState, s Step, op Operator) (Command, bool)
	// questions lists what a step of the kind asks a person, so that an
	// answers file can be checked before anything runs.
	questions(s Step) []Question
	// checks lists the read-only queries that verify something about
	// the target: `handrail check` and `handrail plan` run them.
	checks(s Step) []checkQuery
}

// kindSpec is what a kind declares about itself.
type kindSpec struct {
	kind Kind
	// order is the kind's place in Kinds (the spec's table order): lint's
	// messages and the reference list the kinds in this order.
	order int
	// keys are the step keys the kind takes besides commonStepKeys.
	keys []string
	// misplaced are hints for keys of other kinds an author may reach for
	// in a step of this kind (a sql step's "sql").
	misplaced map[string]string
	writes    writeMode
	// verifies: its steps prove something about the target, so a staging
	// run that did not pass one proves nothing (the promotion gate).
	verifies bool
	doc      KindDoc
}

// writeMode says whether, and how, a kind's steps change the target.
type writeMode int

const (
	readOnly    writeMode = iota
	writesSQL             // SQL statements: analysed for locks, fingerprinted by a plan
	writesOther           // something else (a shell command)
)

// KindDoc documents one step kind for the runbook reference (package
// runbookdoc generates docs/runbook.md and the JSON Schema from it).
type KindDoc struct {
	Kind    Kind
	Summary string // one line
	Doc     string // Markdown
	// Required lists the keys (besides kind) this kind needs; AnyOf lists
	// groups of which at least one key is needed.
	Required []string
	AnyOf    [][]string
	// Example is a complete [[phase.step]] of this kind.
	Example string
	// Files are the files Example references, for its test.
	Files map[string]string
}

type kindEntry struct {
	kindSpec
	unit kindUnit
}

var kindTable = map[Kind]*kindEntry{}

// registerKind adds a kind; each kind_<name>.go calls it from its init.
func registerKind(u kindUnit) {
	sp := u.spec()
	if _, dup := kindTable[sp.kind]; dup || sp.kind == "" {
		panic(fmt.Sprintf("steps: kind %q registered twice (or without a name)", sp.kind))
	}
	sp.doc.Kind = sp.kind
	kindTable[sp.kind] = &kindEntry{kindSpec: sp, unit: u}
	Kinds = append(Kinds, sp.kind)
	slices.SortStableFunc(Kinds, func(a, b Kind) int { return cmp.Compare(kindTable[a].order, kindTable[b].order) })
}

// unitOf returns the kind's unit, nil for a kind this handrail does not
// know (a runbook built in code and not validated, a newer journal).
func unitOf(k Kind) kindUnit {
	if e := kindTable[k]; e != nil {
		return e.unit
	}
	return nil
}

// Writes reports whether steps of this kind change the target (and so are
// skipped in dry run, need consent on production and make rollback available).
func (k Kind) Writes() bool {
	e := kindTable[k]
	return e != nil && e.writes != readOnly
}

// WritesSQL reports whether steps of this kind write by sending SQL
// statements (StepStatements): the statements lock analysis weighs and a
// plan fingerprints the objects of.
func (k Kind) WritesSQL() bool {
	e := kindTable[k]
	return e != nil && e.writes == writesSQL
}

// Verifies reports whether steps of this kind prove something about the
// target (a check): a staging run proves the promotion only if every one
// of them passed.
func (k Kind) Verifies() bool {
	e := kindTable[k]
	return e != nil && e.verifies
}

// KindDocs documents every kind, in the order of Kinds.
func KindDocs() []KindDoc {
	out := make([]KindDoc, len(Kinds))
	for i, k := range Kinds {
		out[i] = kindTable[k].doc
	}
	return out
}

// commonStepKeys apply to every step kind.
var commonStepKeys = []string{"kind", "id", "title", "notes"}

// StepKeys returns the keys a step of kind k accepts, the common ones
// first (nil for an unknown kind). The reference documentation and the
// JSON Schema are built from it.
func StepKeys(k Kind) []string {
	e := kindTable[k]
	if e == nil {
		return nil
	}
	return append(append([]string{}, commonStepKeys...), e.keys...)
}

// kindsWithKey names the kinds that accept key, for hints.
func kindsWithKey(key string) []string {
	var out []string
	for _, k := range Kinds {
		if slices.Contains(kindTable[k].keys, key) {
			out = append(out, string(k))
		}
	}
	return out
}

func kindStrings() []string {
	out := make([]string, len(Kinds))
	for i, k := range Kinds {
		out[i] = string(k)
	}
	return out
}

func kindNames() string { return strings.Join(kindStrings(), ", ") }

// Form is the shape of a question a step puts to a person.
type Form string

const (
	// FormTick: tick checklist item Question.Item (Answer.Text: a note).
	FormTick Form = "tick"
	// FormUnticked: a self-ticking item its own evidence did not tick
	// (Question.Evidence says why): skip it with a reason (Answer.Skip,
	// Answer.Text), or leave it to a person (no answer).
	FormUnticked Form = "unticked"
	// FormConfirm: confirm, typing Question.Text exactly when it is set
	// (Answer.Text: the text typed).
	FormConfirm Form = "confirm"
	// FormVerdict: record pass or fail (Answer.Pass; Answer.Text: the
	// note, required for a failure).
	FormVerdict Form = "verdict"
	// FormEndEarly: end a running window before its time (Answer.Text:
	// why); Question.Alerts are the alerts it raised so far.
	FormEndEarly Form = "end_early"
)

// Question is one thing a step asks a person.
type Question struct {
	Step string
	Kind Kind
	Form Form
	// Item is the checklist item (FormTick, FormUnticked), from 0.
	Item int
	// Text is the item's text (FormTick, FormUnticked) or the text to
	// type (FormConfirm).
	Text string
	// StagingProof: the item is ticked by the staging journal.
	StagingProof bool
	// Evidence is why a self-ticking item did not tick (FormUnticked).
	Evidence string
	// Rejected is the confirm text the engine last refused (FormConfirm).
	Rejected *string
	// Alerts are a running window's alerts (FormEndEarly).
	Alerts []string
}

// Answer is a scripted operator's answer to a Question.
type Answer struct {
	Pass bool
	Text string
	Skip bool
}

// Operator is a scripted operator: the autopilot, an unattended apply.
// Answer answers q, or says false when it has no answer (the step then
// waits: a person must decide).
type Operator interface {
	Answer(q Question) (Answer, bool)
}

// Operate is a scripted operator's move at step st, the current step:
// the command the step's kind makes of op's answers, or false when there
// is nothing to say (the engine is working, or op has no answer). It
// does not handle failures, gates or the end: each operator has its own
// policy for those.
func Operate(st *StepState, rb *Runbook, op Operator) (Command, bool) {
	u := unitOf(st.Kind)
	if u == nil {
		return Command{}, false
	}
	s, _ := rb.step(st.ID)
	return u.operate(st, s, op)
}

// Questions lists every question the runbook asks a person, phases then
// rollback, in order.
func Questions(rb *Runbook) []Question {
	var out []Question
	for _, s := range append(rb.AllSteps(), rb.Rollback.Steps...) {
		if u := unitOf(s.Kind); u != nil {
			out = append(out, u.questions(s)...)
		}
	}
	return out
}

// step returns the runbook's step with this id (phases or rollback).
func (rb *Runbook) step(id string) (Step, bool) {
	if rb == nil {
		return Step{}, false
	}
	for _, s := range append(rb.AllSteps(), rb.Rollback.Steps...) {
		if s.ID == id {
			return s, true
		}
	}
	return Step{}, false
}

// checkQuery is one read-only query that verifies something (a check
// step, a self-ticking checklist item).
type checkQuery struct {
	item     *int // the checklist item, or nil for the step itself
	title    string
	sql      string
	asRole   string
	settings map[string]string
	exp      Expectation
}

// nextWhenActive is the move of a kind that asks nothing of a person:
// enter, once the step waits for it.
func nextWhenActive(st *StepState) (Command, bool) {
	if st.Status == StatusActive {
		return Command{Type: CmdNext}, true
	}
	return Command{}, false
}

// cancelWhileRunning is the rule of a running step that can be cancelled:
// what is running is named in the refusal.
func cancelWhileRunning(t CommandType, what string) (bool, string) {
	if t == CmdCancel {
		return true, ""
	}
	return false, fmt.Sprintf("%s is running: wait for it, or cancel it", what)
}
