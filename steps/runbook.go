// Package steps holds the runbook model: TOML decoding and lint, the step
// kinds, the engine that executes a runbook, its events, and the pure fold
// State = Apply(State, Event). It never imports Bubble Tea.
package steps

import (
	"time"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/steps/expect"
)

// Kind is a step kind. The set is closed: decoding rejects anything else.
type Kind string

const (
	KindChecklist Kind = "checklist"
	KindConfirm   Kind = "confirm"
	KindSQL       Kind = "sql"
	KindCheck     Kind = "check"
	KindManual    Kind = "manual"
	KindMonitor   Kind = "monitor"
	KindExec      Kind = "exec"
	KindMessage   Kind = "message"
)

// Kinds lists every step kind, in the order the spec documents them.
var Kinds = []Kind{KindChecklist, KindConfirm, KindSQL, KindCheck, KindManual, KindMonitor, KindExec, KindMessage}

// Writes reports whether steps of this kind change the target (and so are
// skipped in dry run, need consent on production and make rollback available).
func (k Kind) Writes() bool { return k == KindSQL || k == KindExec }

// Runbook is a decoded, validated runbook directory.
type Runbook struct {
	// Dir is the directory holding runbook.toml; SQL file paths are relative to it.
	Dir string `toml:"-"`
	// Path is the runbook.toml path as given (for messages).
	Path string `toml:"-"`
	// Hash is the hex SHA-256 over runbook.toml and every file it references.
	Hash string `toml:"-"`

	Meta     Meta      `toml:"runbook"`
	Target   Target    `toml:"target"`
	Settings Settings  `toml:"settings"`
	Messages []Message `toml:"messages"`
	Phases   []Phase   `toml:"phase"`
	Rollback Rollback  `toml:"rollback"`
	// SuccessCriteria are shown in the end summary.
	SuccessCriteria []string `toml:"success_criteria"`

	// Set by Load/LoadFS: the content that was hashed is the content that
	// runs (see StepStatements), so execution never re-reads the disk.
	loaded   bool
	tomlName string                  // base name of the runbook file
	show     func(rel string) string // a referenced file's path for messages
	source   []byte                  // runbook.toml as read
	files    map[string][]byte       // referenced files by clean relative path
	stmtBase map[string][]int        // step id -> runbook.toml line of each inline SQL string
	// splits holds the statements of each referenced file, split once at
	// load time (read-only afterwards).
	splits map[string][]Statement
}

// Meta is the [runbook] table.
type Meta struct {
	ID       string `toml:"id"`
	Title    string `toml:"title"`
	Version  string `toml:"version"`
	Risk     string `toml:"risk"`
	Estimate string `toml:"estimate"`
	// Description is free text shown at the start.
	Description string `toml:"description"`
}

// Identity source names for Target.Identity (declared in db, which
// resolves them).
const (
	IdentityStamp            = db.SourceStamp
	IdentitySupabase         = db.SourceSupabase
	IdentitySQL              = db.SourceSQL
	IdentitySystemIdentifier = db.SourceSystemIdentifier
)

// Target names the one database this runbook may write to.
type Target struct {
	Name      string   `toml:"name"`
	ProjectID string   `toml:"project_id"`
	Forbidden []string `toml:"forbidden"`
	// Production targets require the operator to type ProjectID before the first write.
	Production bool `toml:"production"`
	// Identity lists the sources that prove which database we are connected to.
	Identity []string `toml:"identity"`
	// IdentitySQL is the query for the "sql" source; it returns one value.
	IdentitySQL string `toml:"identity_sql"`
}

// Settings is the [settings] table. Durations are validated by lint.
type Settings struct {
	LockTimeout      Duration `toml:"lock_timeout"`
	StatementTimeout Duration `toml:"statement_timeout"`
	KeepRows         int      `toml:"keep_rows"`
}

// Defaults applied when [settings] leaves a value out.
const (
	DefaultLockTimeout      = 5 * time.Second
	DefaultStatementTimeout = 2 * time.Minute
	DefaultKeepRows         = 500
)

// Message is one entry of the communication plan.
type Message struct {
	ID   string `toml:"id"`
	When string `toml:"when"` // before | success | rollback
	To   string `toml:"to"`
	Body string `toml:"body"` // Go text/template over the session's facts
}

// Phase groups steps on screen.
type Phase struct {
	Title string `toml:"title"`
	Steps []Step `toml:"step"`
}

// Rollback is the [rollback] table.
type Rollback struct {
	// When lists the conditions under which the operator should roll back.
	When  []string `toml:"when"`
	Steps []Step   `toml:"step"`
}

// Step is one step of any kind. Which fields apply depends on Kind; lint
// rejects fields that do not belong to the kind.
type Step struct {
	Kind  Kind   `toml:"kind"`
	ID    string `toml:"id"`
	Title string `toml:"title"`
	// Notes is free text shown in the pane (instructions, context).
	Notes string `toml:"notes"`

	// checklist
	Items []Item `toml:"items"`

	// confirm
	Prompt string `toml:"prompt"`
	Type   string `toml:"type"` // text the operator must type exactly

	// sql, check, monitor (monitor uses Queries)
	File       string   `toml:"file"`
	Statements []string `toml:"statements"`
	// Transaction defaults to true for sql steps; nil means "not set".
	Transaction *bool `toml:"transaction"`

	// check
	SQL         string            `toml:"sql"`
	Expect      []Row             `toml:"expect"`
	ExpectRows  *int              `toml:"expect_rows"`
	ExpectEmpty bool              `toml:"expect_empty"`
	AsRole      string            `toml:"as_role"`
	SessionVars map[string]string `toml:"settings"`
	OnFail      string            `toml:"on_fail"` // "stop" (default) | "rollback" | "continue"
	// Report marks an informational check: it always passes and shows its
	// rows (e.g. "what would be fixed"). It takes no expectation.
	Report bool `toml:"report"`

	// monitor
	Duration Duration       `toml:"duration"`
	Every    Duration       `toml:"every"`
	Queries  []MonitorQuery `toml:"queries"`
	Watch    []string       `toml:"watch"` // manual watch items

	// exec
	Command string `toml:"command"`
	// Timeout bounds an exec step (zero: no limit besides cancel).
	Timeout Duration `toml:"timeout"`

	// message
	Message string `toml:"message"` // id of a [[messages]] entry

	// Position in runbook.toml, for messages (set by the decoder).
	Line int `toml:"-"`
}

// Item is one checklist item. With SQL + Expect (or ExpectRows/ExpectEmpty)
// it ticks itself when the query's result matches.
type Item struct {
	Text        string `toml:"text"`
	SQL         string `toml:"sql"`
	Expect      []Row  `toml:"expect"`
	ExpectRows  *int   `toml:"expect_rows"`
	ExpectEmpty bool   `toml:"expect_empty"`
}

// SelfTicking reports whether the item checks itself with a query.
func (it Item) SelfTicking() bool { return it.SQL != "" }

// MonitorQuery is one query a monitor step re-runs every interval.
type MonitorQuery struct {
	Title string `toml:"title"`
	SQL   string `toml:"sql"`
	// Alert is a condition on the query's first row: "column op value", op one
	// of > >= < <= = !=, e.g. "waiting > 0". Empty: never alerts.
	Alert string `toml:"alert"`
}

// Row is one expected result row (see package expect).
type Row = expect.Row

// Expectation is what a check or self-ticking item expects (package expect).
type Expectation = expect.Expectation

// Expectation returns the step's expectation (for check steps).
func (s Step) Expectation() Expectation {
	return Expectation{Rows: s.Expect, RowCount: s.ExpectRows, Empty: s.ExpectEmpty, Report: s.Report}
}

// Expectation returns the item's expectation (for self-ticking items).
func (it Item) Expectation() Expectation {
	return Expectation{Rows: it.Expect, RowCount: it.ExpectRows, Empty: it.ExpectEmpty}
}

// Duration is a time.Duration decoded from a TOML string like "5s" or "2m".
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler for TOML decoding.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// IsTransactional reports whether a sql step runs in one transaction.
func (s Step) IsTransactional() bool { return s.Transaction == nil || *s.Transaction }

// AllSteps returns every step of every phase, in order, followed by none of
// the rollback steps.
func (r *Runbook) AllSteps() []Step {
	var out []Step
	for _, p := range r.Phases {
		out = append(out, p.Steps...)
	}
	return out
}

// LockTimeout returns the effective lock_timeout.
func (r *Runbook) LockTimeout() time.Duration {
	if r.Settings.LockTimeout.Duration > 0 {
		return r.Settings.LockTimeout.Duration
	}
	return DefaultLockTimeout
}

// StatementTimeout returns the effective statement_timeout.
func (r *Runbook) StatementTimeout() time.Duration {
	if r.Settings.StatementTimeout.Duration > 0 {
		return r.Settings.StatementTimeout.Duration
	}
	return DefaultStatementTimeout
}

// KeepRows returns the effective number of rows kept per pane and journal entry.
func (r *Runbook) KeepRows() int {
	if r.Settings.KeepRows > 0 {
		return r.Settings.KeepRows
	}
	return DefaultKeepRows
}
