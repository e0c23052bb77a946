package steps

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/steps/expect"
)

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
	// Staging names the staging environment: the same runbook runs there
	// first (run --env staging), and its journal is the proof a production
	// run asks for before its first write (the promotion gate).
	Staging Environment `toml:"staging"`
	// Unattended configures `handrail apply`.
	Unattended Unattended `toml:"apply"`
	// Approval asks for second-person approval of every write (pair
	// partners over handrail run --share).
	Approval Approval `toml:"approval"`
	// SuccessCriteria are shown in the end summary.
	SuccessCriteria []string `toml:"success_criteria"`

	// Set by Load/LoadFS: the content that was hashed is the content that
	// runs (see StepStatements), so execution never re-reads the disk.
	loaded   bool
	tomlName string                           // base name of the runbook file
	show     func(rel string) string          // a referenced file's path for messages
	read     func(rel string) (string, error) // a referenced file's content
	// where says where each key was written in runbook.toml (see Validate).
	where    where
	source   []byte            // runbook.toml as read
	files    map[string]string // referenced files by clean relative path
	stmtBase map[string][]int  // step id -> runbook.toml line of each inline SQL string
	// splits holds the statements of each referenced file, split once at
	// load time, as views into the file (read-only afterwards): the list
	// a sql step of the file lists (stepList).
	splits map[string]*StatementList

	// Env is the environment this copy of the runbook runs against: ""
	// for [target] (production), EnvStaging for [staging] (see ForEnv).
	Env string `toml:"-"`
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

// Environment is a database the runbook runs against before its
// [target]: the [staging] table. Its keys mean what [target]'s do.
type Environment struct {
	Name        string   `toml:"name"`
	ProjectID   string   `toml:"project_id"`
	Forbidden   []string `toml:"forbidden"`
	Identity    []string `toml:"identity"`
	IdentitySQL string   `toml:"identity_sql"`
	// ProofMaxAge is how old a staging journal may be and still prove
	// the promotion (default DefaultProofMaxAge).
	ProofMaxAge Duration `toml:"proof_max_age"`
}

// Environment names for ForEnv and --env.
const (
	EnvProduction = "production"
	EnvStaging    = "staging"
)

// DefaultProofMaxAge is how old a staging journal may be, by default.
const DefaultProofMaxAge = 14 * 24 * time.Hour

// HasStaging reports whether the runbook names a staging environment:
// then a run against [target] must prove the promotion first.
func (r *Runbook) HasStaging() bool { return r.Staging.ProjectID != "" }

// PromotionGated reports whether this copy of the runbook needs staging
// proof before its first write: it names a staging environment and runs
// against [target].
func (r *Runbook) PromotionGated() bool { return r.HasStaging() && r.Env == "" }

// ProofMaxAge returns the effective proof_max_age.
func (r *Runbook) ProofMaxAge() time.Duration {
	if r.Staging.ProofMaxAge.Duration > 0 {
		return r.Staging.ProofMaxAge.Duration
	}
	return DefaultProofMaxAge
}

// ForEnv returns the runbook as it runs in env: "" or "production" is r
// itself; "staging" is a copy whose [target] is [staging] (never a
// production target, and the production project id forbidden), with the
// same content hash: the same runbook, proven on another database.
func (r *Runbook) ForEnv(env string) (*Runbook, error) {
	switch env {
	case "", EnvProduction:
		return r, nil
	case EnvStaging:
	default:
		return nil, fmt.Errorf("unknown environment %q: use %s or %s", env, EnvProduction, EnvStaging)
	}
	if !r.HasStaging() {
		return nil, fmt.Errorf("runbook %s has no [staging] table: add one (name, project_id, identity) to run it on staging", r.Meta.ID)
	}
	c := *r
	st := r.Staging
	forbidden := append([]string{}, st.Forbidden...)
	if r.Target.ProjectID != "" && !slices.Contains(forbidden, r.Target.ProjectID) {
		forbidden = append(forbidden, r.Target.ProjectID)
	}
	c.Target = Target{Name: st.Name, ProjectID: st.ProjectID, Forbidden: forbidden,
		Identity: st.Identity, IdentitySQL: st.IdentitySQL}
	if c.Target.Name == "" {
		c.Target.Name = EnvStaging
	}
	c.Env = EnvStaging
	return &c, nil
}

// EnvName names the environment for people: production or staging.
func (r *Runbook) EnvName() string {
	if r.Env == "" {
		return EnvProduction
	}
	return r.Env
}

// Unattended is the [apply] table: how `handrail apply` behaves where
// nobody is at a terminal.
type Unattended struct {
	// OnFailure: "stop" (default) ends the apply at a failed step or
	// check (exit 1, the journal resumable); "rollback" runs [rollback].
	OnFailure string `toml:"on_failure"`
	// PlanMaxAge is how old a plan may be when applied (default DefaultPlanMaxAge).
	PlanMaxAge Duration `toml:"plan_max_age"`
}

// Approval is the [approval] table: how many approvers (pair partners
// with the approver role, never the operator) must approve each write
// before it is sent.
type Approval struct {
	Required int `toml:"required"`
	// OnLeave is what happens when an approver leaves mid-session:
	// "pause" (the default) waits before the next write until enough
	// approvers are back.
	OnLeave string `toml:"on_leave"`
}

// OnLeaveValues are the values of [approval] on_leave.
var OnLeaveValues = []string{"pause"}

// MaxApprovers bounds [approval] required and --require-approval.
const MaxApprovers = 8

// OnFailureValues are the values of [apply] on_failure.
var OnFailureValues = []string{"stop", "rollback"}

// DefaultPlanMaxAge is how old a plan may be when applied, by default.
const DefaultPlanMaxAge = 24 * time.Hour

// PlanMaxAge returns the effective plan_max_age.
func (r *Runbook) PlanMaxAge() time.Duration {
	if r.Unattended.PlanMaxAge.Duration > 0 {
		return r.Unattended.PlanMaxAge.Duration
	}
	return DefaultPlanMaxAge
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

	// Position in runbook.toml, for messages (set by Load).
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
	// StagingProof: the item ticks itself when a verified journal proves
	// this runbook succeeded on [staging] (the promotion gate's evidence).
	StagingProof bool `toml:"staging_proof"`
}

// SelfTicking reports whether the item checks itself: with a query, or
// with the staging journal.
func (it Item) SelfTicking() bool { return it.SQL != "" || it.StagingProof }

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
	if days, ok := strings.CutSuffix(string(b), "d"); ok {
		// Days, for ages such as proof_max_age = "14d".
		n, err := strconv.Atoi(days)
		if err != nil || strings.Trim(days, "0123456789") != "" || n > 36500 {
			return fmt.Errorf("invalid duration %q", b)
		}
		d.Duration = time.Duration(n) * 24 * time.Hour
		return nil
	}
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

// FileSizes is the size of the files the runbook's steps refer to (SQL
// migrations, scripts) as read at load, and how many statements its SQL
// files split into: what a session holds of them, for sizing its memory
// (see session's memory limit).
func (r *Runbook) FileSizes() (bytes int64, statements int) {
	for _, s := range r.files {
		bytes += int64(len(s))
	}
	for _, l := range r.splits {
		statements += l.Len()
	}
	return bytes, statements
}
