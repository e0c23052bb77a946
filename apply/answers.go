package apply

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/handrail-dev/handrail/steps"
)

// Answers is the answers file of an unattended apply: the human steps of
// the runbook answered in advance, each with who answered and when, kept
// with the change (reviewed like the migration). The apply answers only
// from it and the runbook; a question it does not answer is refused
// before anything is written.
//
//	[[checklist]]                       # one per item that needs a person
//	step = "pre-deploy-checklist"
//	item = "Change ticket approved and linked in #connect-deploys"
//	by   = "alice@example.com"
//	at   = 2026-12-01T09:00:00Z
//	note = "CHG-1234"
//
//	[[confirm]]
//	step = "confirm-backup"
//	text = "backup verified"            # the text the step asks to type
//	by = "..."; at = ...; note = "..."
//
//	[[manual]]
//	step = "smoke-avatar-upload"
//	pass = true
//	note = "2 MiB jpeg uploaded; 11 MiB rejected with 413"
//	by = "..."; at = ...
//
//	[promotion]                         # only to go without staging proof
//	override = "why"
//	by = "..."; at = ...
type Answers struct {
	Path      string           `toml:"-"`
	Checklist []ItemAnswer     `toml:"checklist"`
	Confirm   []ConfirmAnswer  `toml:"confirm"`
	Manual    []ManualAnswer   `toml:"manual"`
	Promotion *PromotionAnswer `toml:"promotion"`
}

// ItemAnswer ticks one checklist item.
type ItemAnswer struct {
	Step string    `toml:"step"`
	Item string    `toml:"item"` // the item's text, exactly
	By   string    `toml:"by"`
	At   time.Time `toml:"at"`
	Note string    `toml:"note"`
}

// ConfirmAnswer confirms a confirm step, with the text it asks to type.
type ConfirmAnswer struct {
	Step string    `toml:"step"`
	Text string    `toml:"text"`
	By   string    `toml:"by"`
	At   time.Time `toml:"at"`
	Note string    `toml:"note"`
}

// ManualAnswer records a manual step's result.
type ManualAnswer struct {
	Step string    `toml:"step"`
	Pass *bool     `toml:"pass"`
	By   string    `toml:"by"`
	At   time.Time `toml:"at"`
	Note string    `toml:"note"`
}

// PromotionAnswer overrides the promotion gate: the run goes on without
// staging proof, journaled as an override with this reason.
type PromotionAnswer struct {
	Override string    `toml:"override"`
	By       string    `toml:"by"`
	At       time.Time `toml:"at"`
}

// LoadAnswers reads an answers file strictly: an unknown key is an error
// (a typo must not silently leave a question unanswered).
func LoadAnswers(path string) (*Answers, error) {
	a := &Answers{Path: path}
	if path == "" {
		return a, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("answers file: %w", err)
	}
	md, err := toml.Decode(string(data), a)
	if err != nil {
		return nil, fmt.Errorf("answers file %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("answers file %s: unknown keys %s (known: [[checklist]] step item by at note, [[confirm]] step text by at note, [[manual]] step pass by at note, [promotion] override by at)",
			path, strings.Join(keys, ", "))
	}
	return a, nil
}

// who says who answered and when, for the journal.
func who(by string, at time.Time, path string) string {
	return fmt.Sprintf("answered by %s at %s in %s", by, at.UTC().Format(time.RFC3339), path)
}

func withNote(note, by string, at time.Time, path string) string {
	if note == "" {
		return who(by, at, path)
	}
	return note + " (" + who(by, at, path) + ")"
}

// item returns the answer for item text of step, if any.
func (a *Answers) item(step, text string) *ItemAnswer {
	for i := range a.Checklist {
		if a.Checklist[i].Step == step && a.Checklist[i].Item == text {
			return &a.Checklist[i]
		}
	}
	return nil
}

func (a *Answers) confirm(step string) *ConfirmAnswer {
	for i := range a.Confirm {
		if a.Confirm[i].Step == step {
			return &a.Confirm[i]
		}
	}
	return nil
}

func (a *Answers) manual(step string) *ManualAnswer {
	for i := range a.Manual {
		if a.Manual[i].Step == step {
			return &a.Manual[i]
		}
	}
	return nil
}

// Validate checks the answers against the runbook (as it runs, rb): every
// question the runbook asks a person (checklist items that do not tick
// themselves, confirm steps, manual steps; of the phases and of the
// rollback) is answered, with who and when; a confirm's text is the one
// the step asks for; nothing answers a step or item the runbook does not
// have. It returns every problem at once.
func (a *Answers) Validate(rb *steps.Runbook) []string {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	need := func(what, by string, at time.Time) {
		if strings.TrimSpace(by) == "" {
			add("%s: no by: say who answered", what)
		}
		if at.IsZero() {
			add("%s: no at: say when it was answered (e.g. at = 2026-12-01T09:00:00Z)", what)
		}
	}
	asked := steps.Questions(rb)
	for _, q := range asked {
		switch q.Form {
		case steps.FormTick:
			if a.item(q.Step, q.Text) == nil {
				add("step %s: checklist item %q is not answered: add a [[checklist]] entry with step, item, by, at and note", q.Step, q.Text)
			}
		case steps.FormConfirm:
			c := a.confirm(q.Step)
			switch {
			case c == nil:
				add("step %s (%s) is not answered: add a [[confirm]] entry with step, text, by and at", q.Step, q.Kind)
			case q.Text != "" && c.Text != q.Text:
				add("step %s: the answer's text %q is not what the step asks to type (%q)", q.Step, c.Text, q.Text)
			}
		case steps.FormVerdict:
			m := a.manual(q.Step)
			switch {
			case m == nil:
				add("step %s (%s) is not answered: add a [[manual]] entry with step, pass, note, by and at", q.Step, q.Kind)
			case m.Pass == nil:
				add("step %s: the [[manual]] answer has no pass = true or false", q.Step)
			case !*m.Pass && strings.TrimSpace(m.Note) == "":
				add("step %s: a failed manual result needs a note saying what went wrong", q.Step)
			}
		}
	}
	// asks reports whether the runbook asks, at step, a question of one
	// of forms (about item text, when not "").
	asks := func(step, item string, forms ...steps.Form) bool {
		return slices.ContainsFunc(asked, func(q steps.Question) bool {
			return q.Step == step && slices.Contains(forms, q.Form) && (item == "" || q.Text == item)
		})
	}
	for _, c := range a.Checklist {
		what := fmt.Sprintf("[[checklist]] step %s item %q", c.Step, c.Item)
		switch {
		case !asks(c.Step, "", steps.FormTick, steps.FormUnticked):
			add("%s: the runbook has no checklist step %q", what, c.Step)
		case !asks(c.Step, c.Item, steps.FormTick):
			add("%s: step %s has no such item that a person ticks (the item text must be exact)", what, c.Step)
		}
		need(what, c.By, c.At)
	}
	for _, c := range a.Confirm {
		if !asks(c.Step, "", steps.FormConfirm) {
			add("[[confirm]] step %s: the runbook has no confirm step %q", c.Step, c.Step)
		}
		need("[[confirm]] step "+c.Step, c.By, c.At)
	}
	for _, m := range a.Manual {
		if !asks(m.Step, "", steps.FormVerdict) {
			add("[[manual]] step %s: the runbook has no manual step %q", m.Step, m.Step)
		}
		need("[[manual]] step "+m.Step, m.By, m.At)
	}
	if p := a.Promotion; p != nil {
		if strings.TrimSpace(p.Override) == "" {
			add("[promotion]: override needs the reason to go on without staging proof")
		}
		need("[promotion]", p.By, p.At)
		if !rb.PromotionGated() {
			add("[promotion]: this run has no promotion gate to override (the runbook names no [staging], or this is the staging run)")
		}
	}
	return probs
}
