package steps

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/internal/redact"
	"github.com/handrail-dev/handrail/internal/termsafe"
)

// CheckResult is one line of `handrail check`.
type CheckResult struct {
	Step    string `json:"step"`
	Item    *int   `json:"item,omitempty"` // checklist item index (0-based)
	Title   string `json:"title"`
	Pass    bool   `json:"pass"`
	Summary string `json:"summary"`
	AsRole  string `json:"as_role,omitempty"`
}

// ChecksReport is the JSON output of `handrail check --json`.
type ChecksReport struct {
	Runbook  string          `json:"runbook"`
	Target   string          `json:"target"`
	DSN      string          `json:"dsn"`
	Identity *IdentityReport `json:"identity,omitempty"`
	Results  []CheckResult   `json:"results"`
	// Locks is the lock analysis of the sql steps weighed on the target.
	Locks    *LocksReport `json:"locks,omitempty"`
	Passed   bool         `json:"passed"`
	ExitCode int          `json:"exit_code"`
	Error    string       `json:"error,omitempty"`
}

// RunChecks is `handrail check`: with no TTY and no deploy lock (it only
// reads), it proves the target's identity, then runs every check step and
// every self-ticking checklist item of the phases, read-only, weighs the
// locks of the sql steps on the target (WeighLocks; the findings inform,
// they do not change the exit code), and prints a table (or JSON). Exit code: 0 all passed, 1 any failed (or it was
// interrupted), 2 runbook error or the database could not be reached (nothing was checked), 3 identity hard stop. Every
// credential of target is redacted from what it prints (a row or a server
// message may hold one).
func RunChecks(ctx context.Context, rb *Runbook, target *db.ConnTarget, w io.Writer, asJSON bool) int {
	if rb == nil || target == nil {
		return RunChecksDialed(ctx, rb, &CheckDial{target: target}, w, asJSON)
	}
	return RunChecksDialed(ctx, rb, DialChecks(ctx, target), w, asJSON)
}

// CheckDial is the one connection of `handrail check`, dialled in the
// background (DialChecks) so that connecting (a server backend and the
// authentication exchange) overlaps loading the runbook.
type CheckDial struct {
	target *db.ConnTarget
	cancel context.CancelFunc
	done   chan struct{} // closed when the dial ended; nil: never dialled
	t      *db.Target
	err    error
}

// checkAppName is the application_name a check's connection dials with;
// RunChecksDialed adds the runbook's id once the identity is verified.
const checkAppName = "handrail-check"

// DialChecks starts connecting to target for RunChecksDialed. The
// connection sends no statement until RunChecksDialed has the runbook: the
// identity probes are still the first. Close it when the checks will not
// run (the runbook did not load).
func DialChecks(ctx context.Context, target *db.ConnTarget) *CheckDial {
	ctx, cancel := context.WithCancel(ctx)
	d := &CheckDial{target: target, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		d.t, d.err = db.Connect(ctx, target, db.ConnectOptions{AppName: checkAppName, Single: true})
	}()
	return d
}

// wait waits for the dial and returns its connection.
func (d *CheckDial) wait() (*db.Target, error) {
	if d.done == nil {
		return nil, errors.New("not dialled")
	}
	<-d.done
	return d.t, d.err
}

// Close stops the dial (or closes its connection) and waits for it.
func (d *CheckDial) Close() {
	if d.done == nil {
		return
	}
	d.cancel()
	if t, err := d.wait(); err == nil {
		t.Close()
	}
}

// RunChecksDialed is RunChecks on a connection DialChecks started; it
// closes it.
func RunChecksDialed(ctx context.Context, rb *Runbook, d *CheckDial, w io.Writer, asJSON bool) int {
	rep := ChecksReport{}
	red := redact.New(nil)
	target := d.target
	if target != nil {
		rep.DSN = target.Display()
		red = redact.New(target.Secrets())
	}
	finish := func(code int) int { return finishChecks(w, asJSON, redact.Value(red, &rep), code) }
	switch {
	case rb == nil:
		d.Close()
		rep.Error = "no runbook"
		return finish(ExitUsage)
	case target == nil:
		d.Close()
		rep.Error = "no target database"
		return finish(ExitUsage)
	}
	rep.Runbook, rep.Target = rb.Meta.ID, fmt.Sprintf("%s (%s)", rb.Target.Name, rb.Target.ProjectID)
	t, err := d.wait()
	if err != nil && ctx.Err() != nil {
		rep.Error = fmt.Sprintf("interrupted while connecting to %s (ctrl+c or SIGTERM): nothing was checked", rep.DSN)
		return finish(ExitFailed)
	}
	if err != nil {
		// Not 1, which says a check of the database failed: nothing was
		// checked, as for a connection string that cannot be read (2).
		rep.Error = fmt.Sprintf("cannot connect to %s (from %s): %v; nothing was checked: check the connection string and that the server is reachable", rep.DSN, target.From(), err)
		return finish(ExitUsage)
	}
	defer d.Close()
	tg := rb.Target
	sources, ok, forbidden, reason := t.VerifyIdentity(ctx, db.IdentityConfig{
		Expected: tg.ProjectID, Forbidden: tg.Forbidden, Sources: tg.Identity, SQL: tg.IdentitySQL,
	})
	rep.Identity = &IdentityReport{Expected: tg.ProjectID, Sources: sources, Forbidden: forbidden, OK: ok, Reason: reason}
	if !ok && ctx.Err() != nil {
		rep.Error = "interrupted (ctrl+c or SIGTERM) while proving the identity: nothing was checked"
		return finish(ExitFailed)
	}
	if !ok {
		rep.Error = fmt.Sprintf("identity hard stop: this is not %s (%s): %s; no check was run", tg.Name, tg.ProjectID, reason)
		return finish(ExitIdentity)
	}
	// Named after the runbook now that it is known and the database is
	// the right one (a failure here shows in the checks that follow).
	_ = t.SetAppName(ctx, checkAppName+"/"+rb.Meta.ID)
	rep.Results = runAllChecks(ctx, t, rb)
	if ctx.Err() != nil {
		rep.Error = "interrupted (ctrl+c or SIGTERM) while the checks ran: a check that shows a failure may not have run"
		return finish(ExitFailed)
	}
	if locks, err := WeighLocks(ctx, t, rb); err != nil {
		rep.Locks = &LocksReport{Error: err.Error()}
	} else {
		rep.Locks = locks
	}
	code := ExitOK
	for _, r := range rep.Results {
		if !r.Pass {
			code = ExitFailed
		}
	}
	return finish(code)
}

// runAllChecks runs every check and self-ticking checklist query of rb on
// t, each in its own READ ONLY transaction, all sent in one round trip
// (db.Target.QueryBatch).
func runAllChecks(ctx context.Context, t *db.Target, rb *Runbook) []CheckResult {
	var out []CheckResult
	var exps []Expectation
	var queries []db.ReadOnlyQuery
	keep := rb.KeepRows()
	for _, s := range rb.AllSteps() {
		u := unitOf(s.Kind)
		if u == nil {
			continue
		}
		for _, q := range u.checks(s) {
			out = append(out, CheckResult{Step: s.ID, Item: q.item, Title: q.title, AsRole: q.asRole})
			exps = append(exps, q.exp)
			queries = append(queries, db.ReadOnlyQuery{SQL: q.sql, Opts: db.QueryOptions{
				AsRole: q.asRole, Settings: q.settings, KeepRows: keep, StatementTimeout: rb.StatementTimeout(),
			}})
		}
	}
	if len(queries) == 0 {
		return out
	}
	results, errs := t.QueryBatch(ctx, queries)
	for i := range out {
		out[i].Pass, out[i].Summary = checkVerdict(exps[i], results[i], errs[i], keep)
	}
	return out
}

// checkVerdict is a check's verdict and summary line from its result.
func checkVerdict(exp Expectation, res db.QueryResult, err error, keep int) (bool, string) {
	if err != nil {
		return false, "query failed: " + queryError(err)
	}
	rep := &CheckReport{}
	pass := fillReport(rep, exp, res, keep)
	summary := rep.Summary
	if len(rep.Missing) > 0 {
		summary += "; missing " + strings.Join(rep.Missing, ", ")
	}
	if len(rep.Unexpected) > 0 {
		summary += "; unexpected " + strings.Join(rep.Unexpected, ", ")
	}
	return pass, summary
}

// CheckStoppedEarly is handrail check's report when it stops before it
// connects (the runbook does not load, the connection string cannot be
// read), having said why on stderr: with --json, stdout still gets one
// JSON object with the error and the exit code, as for a connection that
// fails, so a script reading it always has one.
func CheckStoppedEarly(w io.Writer, asJSON bool, runbook, why string, code int) int {
	if !asJSON {
		return code
	}
	return finishChecks(w, true, &ChecksReport{Runbook: runbook, Error: why}, code)
}

// finishChecks prints the report. Titles, values the checks found and the
// server's errors are data: the text is escaped (termsafe), and the JSON
// has what a terminal would act on as \u escapes, its values exact.
func finishChecks(w io.Writer, asJSON bool, rep *ChecksReport, code int) int {
	rep.ExitCode = code
	rep.Passed = code == ExitOK
	if asJSON {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		_, _ = w.Write(termsafe.JSON(buf.Bytes()))
		return code
	}
	// Buffered: the table is written cell by cell, and each write to a
	// terminal or pipe is a system call.
	bw := bufio.NewWriter(w)
	sw := termsafe.NewWriter(bw)
	printChecks(sw, rep)
	_ = sw.Flush()
	_ = bw.Flush()
	return code
}

func printChecks(w io.Writer, rep *ChecksReport) {
	if rep.Runbook != "" {
		fmt.Fprintf(w, "runbook %s, target %s, %s\n", rep.Runbook, rep.Target, rep.DSN)
	}
	if id := rep.Identity; id != nil {
		fmt.Fprintf(w, "identity: %s\n", identityLine(id))
	}
	if len(rep.Results) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "STEP\tTITLE\tRESULT\tSUMMARY")
		for _, r := range rep.Results {
			verdict := "PASS"
			if !r.Pass {
				verdict = "FAIL"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.label(), oneLine(r.Title, 50), verdict, oneLine(r.Summary, summaryWidth))
		}
		tw.Flush()
		printCutFailures(w, rep.Results)
	}
	printLocks(w, rep.Locks)
	if rep.Error != "" {
		fmt.Fprintf(w, "error: %s\n", rep.Error)
	}
	failed := 0
	for _, r := range rep.Results {
		if !r.Pass {
			failed++
		}
	}
	fmt.Fprintf(w, "%d checks, %d failed, exit %d\n", len(rep.Results), failed, rep.ExitCode)
}

// summaryWidth is where the table cuts a check's summary.
const summaryWidth = 120

// printCutFailures prints in full each failed check's summary the table
// cut: the server's error or what did not match is what the reader of a
// cron mail needs whole.
func printCutFailures(w io.Writer, results []CheckResult) {
	for _, r := range results {
		if full := oneLine(r.Summary, math.MaxInt); !r.Pass && full != oneLine(r.Summary, summaryWidth) {
			fmt.Fprintf(w, "%s FAIL: %s\n", r.label(), full)
		}
	}
}

// label names the check as the report does: its step, and a checklist
// item's number (step#2), escaped.
func (r CheckResult) label() string {
	if r.Item != nil {
		return termsafe.Line(fmt.Sprintf("%s#%d", r.Step, *r.Item+1))
	}
	return termsafe.Line(r.Step)
}

// identityLine summarizes an identity verdict on one line.
func identityLine(id *IdentityReport) string {
	var parts []string
	for _, s := range id.Sources {
		found := s.Found
		if !s.Resolved {
			found = "unresolved"
		}
		parts = append(parts, s.Source+"="+found)
	}
	verdict := "VERIFIED"
	if !id.OK {
		verdict = "MISMATCH: " + id.Reason
	}
	return fmt.Sprintf("%s, expected %s (%s)", verdict, id.Expected, strings.Join(parts, ", "))
}

// oneLine flattens s, escapes it (so the table is measured as printed)
// and cuts it to n runes.
func oneLine(s string, n int) string {
	s = termsafe.Line(strings.Join(strings.Fields(s), " "))
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// PreWriteChecks runs, read-only on t, the checks and self-ticking
// checklist queries that come before the runbook's first writing step:
// what `handrail plan` proves before anything would be written.
func PreWriteChecks(ctx context.Context, t *db.Target, rb *Runbook) []CheckResult {
	var before []Step
	for _, s := range rb.AllSteps() {
		if s.Kind.Writes() {
			break
		}
		before = append(before, s)
	}
	cut := *rb
	cut.Phases = []Phase{{Steps: before}}
	return runAllChecks(ctx, t, &cut)
}
