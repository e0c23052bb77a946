package apply

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/internal/termsafe"
	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/promote"
	"github.com/handrail-dev/handrail/steps"
)

// Options configures Apply.
type Options struct {
	PlanPath string
	// Load loads the runbook the plan names (a path or an example name).
	Load    func(string) (*steps.Runbook, steps.Problems)
	Target  *db.ConnTarget
	Confirm string // --confirm: the project id, typed by whoever set up the job
	Answers string // the answers file ("" when the runbook asks nobody anything)
	JSON    bool   // progress as JSON lines (the events as journaled)
	LogDir  string
	// Operator is who runs the apply (default: the plan's operator).
	Operator       string
	StagingJournal string
	Version        string
	Environ        []string
	Stdout, Stderr io.Writer
	Now            func() time.Time
	// Interrupt delivers SIGINT/SIGTERM: the running statement is
	// cancelled (its step rolls back) and the session ends.
	Interrupt <-chan struct{}
}

// Apply is `handrail apply --plan`: it refuses a stale plan (exit 2, what
// changed, nothing written), a wrong --confirm (exit 3, nothing sent but
// the identity probes), an unanswered question (exit 2, before any
// write); then runs the runbook with the engine, deploy lock, timeouts and
// journal of a session at a terminal, and returns the same exit codes as
// `run`.
func Apply(ctx context.Context, o Options) int {
	if o.Now == nil {
		o.Now = time.Now
	}
	pre, code := o.preflight(ctx)
	if pre == nil {
		return code
	}
	return o.run(ctx, pre)
}

// safeLines is one line per item, each escaped for the terminal (an
// item's own newline escaped, the separators kept).
func safeLines(items []string, sep string) string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = termsafe.Line(it)
	}
	return strings.Join(out, sep)
}

// preflighted is what preflight proved.
type preflighted struct {
	plan     *Plan
	planHash string
	rb       *steps.Runbook
	answers  *Answers
}

func (o *Options) fail(code int, format string, args ...any) (*preflighted, int) {
	fmt.Fprintf(o.Stderr, "handrail apply: "+format+"\n", args...)
	return nil, code
}

// preflight checks everything that can be checked before a journal exists
// and anything is written.
func (o *Options) preflight(ctx context.Context) (*preflighted, int) {
	l := termsafe.Line
	p, sum, err := ReadPlan(o.PlanPath)
	if err != nil {
		return o.fail(steps.ExitUsage, "%s", l(err.Error()))
	}
	rb, problems := o.Load(p.Runbook.Path)
	if rb == nil || problems.HasErrors() {
		return o.fail(steps.ExitUsage, "the plan's runbook %s does not load:\n%s", l(p.Runbook.Path), termsafe.Text(problems.Errors().Error()))
	}
	env := p.Runbook.Environment
	if rb, err = rb.ForEnv(env); err != nil {
		return o.fail(steps.ExitUsage, "stale plan: %s", l(err.Error()))
	}
	if rb.Hash != p.Runbook.Hash {
		return o.fail(steps.ExitUsage, "stale plan: runbook %s changed since the plan was made\n  planned sha256 %s\n  now     sha256 %s\nplan again (handrail plan), review, then apply; nothing was sent",
			l(p.Runbook.Path), p.Runbook.Hash, rb.Hash)
	}
	if age := o.Now().Sub(p.Created); age > rb.PlanMaxAge() {
		return o.fail(steps.ExitUsage, "stale plan: made %s, %s ago, older than [apply] plan_max_age (%s); plan again; nothing was sent",
			p.Created.Format(time.RFC3339), age.Round(time.Minute), rb.PlanMaxAge())
	}
	a, err := LoadAnswers(o.Answers)
	if err != nil {
		return o.fail(steps.ExitUsage, "%s", l(err.Error()))
	}
	if probs := a.Validate(rb); len(probs) > 0 {
		return o.fail(steps.ExitUsage, "the answers file does not answer what the runbook asks (nothing was sent):\n  %s", safeLines(probs, "\n  "))
	}
	if code := o.checkDatabase(ctx, p, rb); code != 0 {
		return nil, code
	}
	return &preflighted{plan: p, planHash: sum, rb: rb, answers: a}, 0
}

// checkDatabase proves the target (the identity probes only), then the
// --confirm, then that the database and its schema are the plan's.
func (o *Options) checkDatabase(ctx context.Context, p *Plan, rb *steps.Runbook) int {
	t, code := connectProven(ctx, o.Target, rb, "apply", o.Stderr)
	if t == nil {
		return code
	}
	defer t.Close()
	_, sys, code := proveIdentity(ctx, t, rb, o.Stderr, "apply")
	if code != 0 {
		return code
	}
	if o.Confirm != rb.Target.ProjectID {
		fmt.Fprintf(o.Stderr, "handrail apply: --confirm %q is not the target's project id: the plan and the database are %s (%s); nothing was sent but the identity probes\n",
			termsafe.Line(o.Confirm), termsafe.Line(rb.Target.Name), rb.Target.ProjectID)
		return steps.ExitIdentity
	}
	if sys != p.Target.SystemIdentifier {
		fmt.Fprintf(o.Stderr, "handrail apply: stale plan: a different database: system_identifier %s, the plan's is %s (a restore, a failover to another cluster, or another server); plan again; nothing was written\n",
			sys, p.Target.SystemIdentifier)
		return steps.ExitUsage
	}
	objs, err := t.SchemaFingerprint(ctx, rb.TouchedObjects())
	if err != nil {
		fmt.Fprintf(o.Stderr, "handrail apply: %s\n", termsafe.Line(err.Error()))
		return steps.ExitFailed
	}
	if changed := schemaChanges(p.Objects, objs); len(changed) > 0 {
		fmt.Fprintf(o.Stderr, "handrail apply: stale plan: the schema changed since the plan was made (fingerprint %s, the plan's %s):\n  %s\nreview the change, plan again, then apply; nothing was written\n",
			fingerprint(objs)[:12], p.Fingerprint[:min(12, len(p.Fingerprint))], safeLines(changed, "\n  "))
		return steps.ExitUsage
	}
	return 0
}

// schemaChanges names the objects whose definition differs.
func schemaChanges(was, now []db.ObjectPrint) []string {
	old := map[string]string{}
	for _, o := range was {
		old[o.Name] = o.Hash
	}
	var out []string
	seen := map[string]bool{}
	for _, o := range now {
		seen[o.Name] = true
		prev, ok := old[o.Name]
		switch {
		case !ok:
			out = append(out, o.Name+": not in the plan (the runbook's SQL names it now)")
		case prev == o.Hash:
		case prev == "absent":
			out = append(out, o.Name+": created since the plan")
		case o.Hash == "absent":
			out = append(out, o.Name+": dropped since the plan")
		default:
			out = append(out, o.Name+": definition changed (columns, constraints, indexes, policies, row security or triggers)")
		}
	}
	for _, o := range was {
		if !seen[o.Name] {
			out = append(out, o.Name+": in the plan, no longer named by the runbook")
		}
	}
	return out
}

// run creates the journal and drives the engine to the end.
func (o *Options) run(ctx context.Context, pre *preflighted) int {
	rb, p := pre.rb, pre.plan
	operator := o.Operator
	if operator == "" {
		operator = p.Operator
	}
	if operator == "" {
		operator = "apply"
	}
	ref := p.Runbook.Path
	if abs, err := filepath.Abs(ref); err == nil {
		ref = abs
	}
	id := newSessionID()
	w, err := journal.Create(o.LogDir, journal.Header{
		SessionID: id, RunbookID: rb.Meta.ID, RunbookHash: rb.Hash, HandrailVersion: o.Version,
		Operator: operator, TargetName: rb.Target.Name, ProjectID: rb.Target.ProjectID,
		DSN: o.Target.Display(), Apply: true, RunbookPath: ref, Environment: rb.Env, Plan: pre.planHash,
	}, o.Target.Secrets())
	if err != nil {
		fmt.Fprintf(o.Stderr, "handrail apply: cannot create the session journal: %s\nNothing was run. Choose a writable directory with --log-dir.\n", termsafe.Line(err.Error()))
		return steps.ExitFailed
	}
	defer w.Close()
	pr := &progress{w: o.Stdout, json: o.JSON}
	sink, batch := w.Sinks(pr.event)
	eng := steps.NewEngine(steps.Config{
		Runbook: rb, Target: o.Target, Apply: true, Operator: operator, SessionID: id, Environ: o.Environ,
		ProveStaging: promote.Prover(promote.Request{Runbook: rb, Journal: o.StagingJournal, Dir: o.LogDir, Now: o.Now}),
		Sink:         sink, SinkBatch: batch,
	})
	fmt.Fprintf(o.Stderr, "handrail apply: plan %s, journal %s\n", pre.planHash[:12], termsafe.Line(w.Path()))
	outcome, runErr := drive(ctx, eng, &answerer{rb: rb, answers: pre.answers, confirm: o.Confirm, stderr: o.Stderr}, o.Interrupt)
	if runErr != nil {
		fmt.Fprintf(o.Stderr, "handrail apply: %s\n", termsafe.Line(runErr.Error()))
	}
	fmt.Fprintf(o.Stderr, "session %s: %s\njournal: %s\nhead:    %s\n", id, outcome, termsafe.Line(w.Path()), w.Head())
	return outcome.ExitCode()
}

// drive runs the engine and answers it whenever it waits, until it ends.
func drive(ctx context.Context, eng *steps.Engine, a *answerer, interrupt <-chan struct{}) (steps.Outcome, error) {
	var (
		outcome steps.Outcome
		runErr  error
		ran     = make(chan struct{})
	)
	go func() {
		outcome, runErr = eng.Run(context.WithoutCancel(ctx))
		close(ran)
	}()
	var lastSeq int64 = -1
	interrupted := false
	for {
		select {
		case <-ran:
			return outcome, runErr
		case <-interrupt:
			interrupt = nil
			if !interrupted {
				interrupted = true
				fmt.Fprintln(a.stderr, "handrail apply: interrupted: cancelling the running statement (its step rolls back) and ending the session")
				if s := eng.State(); s.Running() {
					eng.Send(steps.Command{Type: steps.CmdCancel})
				}
				eng.Send(steps.Command{Type: steps.CmdQuit})
			}
		case <-eng.Idle():
			s := eng.State()
			if s.Seq == lastSeq && !s.Ended {
				continue
			}
			if c, ok := a.next(&s); ok {
				lastSeq = s.Seq
				eng.Send(c)
			}
		}
	}
}

func newSessionID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// jsonLine is the event as one JSON line, escaped for a terminal (the
// JSON escapes of controls are plain text).
func jsonLine(e steps.Event) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return append([]byte(termsafe.Line(string(b))), '\n'), nil
}
