// Package apply is handrail for CI and scheduled changes, where nobody is
// at a terminal: `handrail plan` proves the target and records what an
// apply will find (the runbook's hash, the database's identity, a
// fingerprint of the schema objects the runbook touches, the read-only
// checks before the first write, the staging proof) in a plain JSON plan;
// `handrail apply` refuses a plan gone stale, then runs the runbook with
// the same engine, lock, timeouts and journal as the screen, answering
// the runbook's human steps only from an answers file.
package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/internal/termsafe"
	"github.com/handrail-dev/handrail/promote"
	"github.com/handrail-dev/handrail/steps"
)

// PlanKind and PlanFormat identify a plan file.
const (
	PlanKind   = "handrail-plan"
	PlanFormat = 1
)

// Plan is the plan file: plain JSON, reviewed in the pull request of the
// change, applied by `handrail apply --plan`.
type Plan struct {
	Kind            string    `json:"kind"`
	Format          int       `json:"format"`
	Created         time.Time `json:"created"`
	HandrailVersion string    `json:"handrail_version"`
	Operator        string    `json:"operator"`

	Runbook PlanRunbook `json:"runbook"`
	Target  PlanTarget  `json:"target"`
	// Identity is the verdict of the identity probes at plan time.
	Identity *steps.IdentityReport `json:"identity"`
	// Objects are the relations the runbook's SQL touches, each with a
	// hash of its definition in the catalogs; Fingerprint hashes them all.
	Objects     []db.ObjectPrint `json:"objects"`
	Fingerprint string           `json:"fingerprint"`
	// Checks are the read-only checks before the first write, as run.
	Checks []steps.CheckResult `json:"checks"`
	// Lint are the runbook's lint warnings (lock hazards included).
	Lint []string `json:"lint,omitempty"`
	// Locks is the lock analysis of the sql steps weighed on the target
	// at plan time: sizes, partitions, who holds conflicting locks.
	Locks *steps.LocksReport `json:"locks,omitempty"`
	// Staging is the promotion proof found (nil when the run is not gated).
	Staging *steps.PromotionProof `json:"staging,omitempty"`
	// Steps is what will run, in order.
	Steps []PlanStep `json:"steps"`
	// MaxAge is how long the plan may wait before it is applied.
	MaxAge string `json:"max_age"`
}

// PlanRunbook names the runbook the plan is of.
type PlanRunbook struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Path        string `json:"path"`
	Hash        string `json:"hash"`
	Environment string `json:"environment"`
}

// PlanTarget is the database the plan was made against.
type PlanTarget struct {
	Name             string `json:"name"`
	ProjectID        string `json:"project_id"`
	SystemIdentifier string `json:"system_identifier"`
	DSN              string `json:"dsn"` // password removed
	Production       bool   `json:"production"`
}

// PlanStep is one step as it will run.
type PlanStep struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	Title      string `json:"title"`
	Phase      string `json:"phase"`
	Writes     bool   `json:"writes,omitempty"`
	Statements int    `json:"statements,omitempty"`
	Rollback   bool   `json:"rollback,omitempty"`
}

// PlanOptions configures MakePlan.
type PlanOptions struct {
	Runbook     *steps.Runbook // as it runs (steps.Runbook.ForEnv)
	RunbookPath string         // as apply will load it again
	Warnings    steps.Problems
	Target      *db.ConnTarget
	Out         string // the plan file to write
	Operator    string
	Version     string
	// StagingJournal and LogDir are where the staging proof is looked for.
	StagingJournal, LogDir string
	Stdout, Stderr         io.Writer
	Now                    func() time.Time
}

// MakePlan is `handrail plan`: it proves the target's identity (no lock:
// it only reads), runs the read-only checks before the first write,
// weighs the sql steps' locks on the target (steps.WeighLocks),
// fingerprints the touched schema objects, looks for the staging proof,
// writes the plan and prints what will run and the plan's hash. Exit: 0,
// 1 a check failed (no plan written) or the database could not be read,
// 2 the plan cannot be written, 3 identity hard stop.
func MakePlan(ctx context.Context, o PlanOptions) int {
	if o.Now == nil {
		o.Now = time.Now
	}
	rb := o.Runbook
	p := &Plan{Kind: PlanKind, Format: PlanFormat, Created: o.Now().UTC().Round(time.Second), HandrailVersion: o.Version,
		Operator: o.Operator, MaxAge: rb.PlanMaxAge().String(),
		Runbook: PlanRunbook{ID: rb.Meta.ID, Title: rb.Meta.Title, Path: o.RunbookPath, Hash: rb.Hash, Environment: rb.EnvName()},
		Target:  PlanTarget{Name: rb.Target.Name, ProjectID: rb.Target.ProjectID, DSN: o.Target.Display(), Production: rb.Target.Production},
	}
	for _, w := range o.Warnings.Warnings() {
		p.Lint = append(p.Lint, w.String())
	}
	t, code := connectProven(ctx, o.Target, rb, "plan", o.Stderr)
	if t == nil {
		return code
	}
	defer t.Close()
	ident, sysID, code := proveIdentity(ctx, t, rb, o.Stderr, "plan")
	if code != 0 {
		return code
	}
	p.Identity, p.Target.SystemIdentifier = ident, sysID
	p.Checks = steps.PreWriteChecks(ctx, t, rb)
	if locks, err := steps.WeighLocks(ctx, t, rb); err != nil {
		p.Locks = &steps.LocksReport{Error: err.Error()}
	} else {
		p.Locks = locks
	}
	objs, err := t.SchemaFingerprint(ctx, rb.TouchedObjects())
	if err != nil {
		fmt.Fprintf(o.Stderr, "handrail plan: %s\n", termsafe.Line(err.Error()))
		return steps.ExitFailed
	}
	p.Objects, p.Fingerprint = objs, fingerprint(objs)
	if rb.PromotionGated() {
		p.Staging = promote.Prove(ctx, promote.Request{Runbook: rb, Journal: o.StagingJournal, Dir: o.LogDir, Now: o.Now})
	}
	p.Steps = planSteps(rb)
	failed := 0
	for _, c := range p.Checks {
		if !c.Pass {
			failed++
		}
	}
	printPlan(o.Stdout, p)
	if failed > 0 {
		fmt.Fprintf(o.Stderr, "handrail plan: %d check(s) before the first write failed; no plan was written. Fix the database or the runbook and plan again.\n", failed)
		return steps.ExitFailed
	}
	sum, err := writePlan(o.Out, p)
	if err != nil {
		fmt.Fprintf(o.Stderr, "handrail plan: writing %s: %s\n", termsafe.Line(o.Out), termsafe.Line(err.Error()))
		return steps.ExitUsage
	}
	fmt.Fprintf(o.Stdout, "\nplan written: %s\nplan sha256:  %s\napply with:   handrail apply --plan %s --db DSN --confirm %s --answers ANSWERS\n",
		termsafe.Line(o.Out), sum, termsafe.Line(o.Out), p.Target.ProjectID)
	return steps.ExitOK
}

// connectProven connects to target for a read-only look (no lock).
func connectProven(ctx context.Context, target *db.ConnTarget, rb *steps.Runbook, cmd string, stderr io.Writer) (*db.Target, int) {
	t, err := db.Connect(ctx, target, db.ConnectOptions{AppName: "handrail-" + cmd + "/" + rb.Meta.ID})
	if err != nil {
		fmt.Fprintf(stderr, "handrail %s: cannot connect to %s (from %s): %s\n", cmd, target, target.From(), termsafe.Line(err.Error()))
		return nil, steps.ExitFailed
	}
	return t, 0
}

// proveIdentity runs the identity probes (and reads the system
// identifier, one of them): nothing else is sent.
func proveIdentity(ctx context.Context, t *db.Target, rb *steps.Runbook, stderr io.Writer, cmd string) (*steps.IdentityReport, string, int) {
	tg := rb.Target
	sources, ok, forbidden, reason := t.VerifyIdentity(ctx, db.IdentityConfig{
		Expected: tg.ProjectID, Forbidden: tg.Forbidden, Sources: tg.Identity, SQL: tg.IdentitySQL,
	})
	rep := &steps.IdentityReport{Expected: tg.ProjectID, Sources: sources, Forbidden: forbidden, OK: ok, Reason: reason}
	if !ok {
		fmt.Fprintf(stderr, "handrail %s: identity hard stop: this is not %s (%s): %s; nothing else was sent\n",
			cmd, termsafe.Line(tg.Name), tg.ProjectID, termsafe.Line(reason))
		return rep, "", steps.ExitIdentity
	}
	sys, err := t.SystemIdentifier(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "handrail %s: %s\n", cmd, termsafe.Line(err.Error()))
		return rep, "", steps.ExitFailed
	}
	return rep, sys, 0
}

func fingerprint(objs []db.ObjectPrint) string {
	h := sha256.New()
	for _, o := range objs {
		fmt.Fprintf(h, "%s\x00%s\n", o.Name, o.Hash)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func planSteps(rb *steps.Runbook) []PlanStep {
	var out []PlanStep
	add := func(s steps.Step, phase string, rollback bool) {
		ps := PlanStep{ID: s.ID, Kind: string(s.Kind), Title: s.Title, Phase: phase, Writes: s.Kind.Writes(), Rollback: rollback}
		if s.Kind.WritesSQL() {
			if n, err := rb.StatementCount(s); err == nil {
				ps.Statements = n
			}
		}
		out = append(out, ps)
	}
	for _, ph := range rb.Phases {
		for _, s := range ph.Steps {
			add(s, ph.Title, false)
		}
	}
	for _, s := range rb.Rollback.Steps {
		add(s, "Rollback", true)
	}
	return out
}

// writePlan writes the plan atomically (complete or not at all) and
// returns the SHA-256 of its bytes.
func writePlan(path string, p *Plan) (string, error) {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return "", err
	}
	b = append(b, '\n')
	tmp, err := os.CreateTemp(filepath.Dir(path), ".handrail-plan-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// ReadPlan reads a plan file and returns it with the SHA-256 of its bytes.
func ReadPlan(path string) (*Plan, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	var p Plan
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, "", fmt.Errorf("%s is not a handrail plan: %w", path, err)
	}
	if p.Kind != PlanKind || p.Format != PlanFormat {
		return nil, "", fmt.Errorf("%s is not a handrail plan of format %d (kind %q, format %d)", path, PlanFormat, p.Kind, p.Format)
	}
	sum := sha256.Sum256(b)
	return &p, hex.EncodeToString(sum[:]), nil
}

// printPlan is the human summary: what will run, in order.
func printPlan(w io.Writer, p *Plan) {
	l := termsafe.Line
	fmt.Fprintf(w, "plan: runbook %s (%s), sha256 %s\n", l(p.Runbook.ID), l(p.Runbook.Title), p.Runbook.Hash[:12])
	fmt.Fprintf(w, "target: %s (%s), %s, system_identifier %s, %s\n", l(p.Target.Name), p.Target.ProjectID, p.Runbook.Environment, p.Target.SystemIdentifier, l(p.Target.DSN))
	fmt.Fprintf(w, "identity: VERIFIED (%s)\n", l(identitySources(p.Identity)))
	fmt.Fprintf(w, "schema fingerprint: %s over %d objects\n", p.Fingerprint[:12], len(p.Objects))
	for _, o := range p.Objects {
		h := o.Hash
		if len(h) > 12 {
			h = h[:12]
		}
		fmt.Fprintf(w, "  %-40s %s\n", l(o.Name), h)
	}
	if len(p.Checks) > 0 {
		fmt.Fprintln(w, "checks before the first write:")
		for _, c := range p.Checks {
			v := "PASS"
			if !c.Pass {
				v = "FAIL"
			}
			fmt.Fprintf(w, "  %s %s: %s\n", v, l(c.Title), l(c.Summary))
		}
	}
	for _, s := range p.Lint {
		fmt.Fprintf(w, "lint: %s\n", l(s))
	}
	if p.Locks != nil && (p.Locks.Error != "" || len(p.Locks.Steps) > 0) {
		fmt.Fprint(w, "locks weighed on the target:")
		p.Locks.Print(w)
		fmt.Fprintln(w)
	}
	if p.Staging != nil {
		if p.Staging.OK {
			fmt.Fprintf(w, "staging proof: %s\n", l(p.Staging.Summary()))
		} else {
			fmt.Fprintf(w, "staging proof: MISSING: %s\n", l(strings.Join(p.Staging.Problems, "; ")))
			fmt.Fprintln(w, "  the apply stops at the first write unless the answers file overrides the promotion gate ([promotion] override)")
		}
	}
	fmt.Fprintln(w, "what will run, in order:")
	for i, s := range p.Steps {
		if s.Rollback {
			continue
		}
		what := s.Kind
		if s.Writes {
			what += ", WRITES"
		}
		if s.Statements > 0 {
			what += fmt.Sprintf(", %d statements", s.Statements)
		}
		fmt.Fprintf(w, "  %2d. %-28s %s (%s)\n", i+1, l(s.ID), l(s.Title), what)
	}
}

func identitySources(r *steps.IdentityReport) string {
	if r == nil {
		return ""
	}
	var parts []string
	for _, s := range r.Sources {
		if s.Resolved {
			parts = append(parts, s.Source+"="+s.Found)
		}
	}
	return strings.Join(parts, ", ")
}
