// Package promote finds and verifies the proof the promotion gate asks
// for: a journal showing that this exact runbook (same content hash)
// succeeded, in apply mode with every check passed, on the runbook's
// [staging] database, recently enough. The engine records what it finds
// (steps.PromotionProof); this package only reads journals.
package promote

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/steps"
)

// Request says what to prove and where to look.
type Request struct {
	// Runbook is the runbook as it runs against [target]; its Staging
	// names the environment the proof must come from, its Hash the
	// content the proof must be of.
	Runbook *steps.Runbook
	// Journal is the staging journal given explicitly (--staging-journal);
	// "" searches Dir.
	Journal string
	// Dir is the log directory searched for staging journals.
	Dir string
	// Now is the clock the proof's age is measured with; default time.Now.
	Now func() time.Time
	// StagingRun is the command that records a staging journal, for the
	// message when there is none; default handrail run ID --env staging
	// --apply (the demo's is handrail demo ... --env staging --apply).
	StagingRun string
	// Demo: the session is handrail demo's, which has no --staging-journal,
	// so the message offers only StagingRun.
	Demo bool
}

// Prover returns the function the engine calls to look for the proof.
func Prover(req Request) func(context.Context) *steps.PromotionProof {
	return func(ctx context.Context) *steps.PromotionProof { return Prove(ctx, req) }
}

// Prove looks for the proof: the journal given, or the newest journal in
// the log directory that proves the promotion. When nothing proves it,
// the result says what is missing, naming the journal's line or header
// field at fault.
func Prove(ctx context.Context, req Request) *steps.PromotionProof {
	if req.Now == nil {
		req.Now = time.Now
	}
	rb := req.Runbook
	if rb == nil || !rb.HasStaging() {
		return &steps.PromotionProof{Problems: []string{"the runbook names no [staging] environment"}}
	}
	if req.Journal != "" {
		p := Check(req.Journal, rb, req.Now())
		p.Searched = "--staging-journal " + req.Journal
		return p
	}
	return search(ctx, req)
}

// search tries the journals of the log directory whose header names this
// runbook's hash and the staging project, newest first.
func search(ctx context.Context, req Request) *steps.PromotionProof {
	rb := req.Runbook
	where := "log directory " + req.Dir
	paths, _ := filepath.Glob(filepath.Join(req.Dir, "*.jsonl"))
	type cand struct {
		path string
		h    journal.Header
	}
	var cands []cand
	var other []string
	for _, p := range paths {
		h, err := readHeader(p)
		if err != nil || h.RunbookID != rb.Meta.ID {
			continue
		}
		if h.ProjectID == rb.Staging.ProjectID && h.RunbookHash == rb.Hash {
			cands = append(cands, cand{p, h})
		} else if h.ProjectID == rb.Staging.ProjectID {
			other = append(other, fmt.Sprintf("%s is of another version of the runbook (runbook_hash %s, this one is %s)", p, short(h.RunbookHash), short(rb.Hash)))
		}
	}
	if len(cands) == 0 {
		run := req.StagingRun
		if run == "" {
			run = "handrail run " + rb.Meta.ID + " --env staging --apply"
		}
		msg := fmt.Sprintf("no journal in %s of runbook %s (sha256 %s) on staging %s (%s): run it there first (%s)",
			req.Dir, rb.Meta.ID, short(rb.Hash), rb.Staging.Name, rb.Staging.ProjectID, run)
		if !req.Demo {
			msg += ", or give --staging-journal"
		}
		return &steps.PromotionProof{Searched: where, Problems: append([]string{msg}, other...)}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].h.Started.After(cands[j].h.Started) })
	var first *steps.PromotionProof
	for _, c := range cands {
		if ctx.Err() != nil {
			break
		}
		p := Check(c.path, rb, req.Now())
		p.Searched = where
		if p.OK {
			return p
		}
		if first == nil {
			first = p
		}
	}
	if n := len(cands) - 1; n > 0 {
		first.Problems = append(first.Problems, fmt.Sprintf("%d older staging journal(s) of this runbook do not prove it either", n))
	}
	return first
}

// readHeader reads the first line of a journal, for the search only:
// Check verifies the whole journal before anything is believed.
func readHeader(path string) (journal.Header, error) {
	var h journal.Header
	f, err := os.Open(path)
	if err != nil {
		return h, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	line, err := br.ReadBytes('\n')
	if err != nil {
		return h, err
	}
	return h, json.Unmarshal(line, &h)
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// Check verifies one staging journal against rb (as it runs against
// [target]) at time now. Every problem is listed, each naming the line or
// the header field it is about.
func Check(path string, rb *steps.Runbook, now time.Time) *steps.PromotionProof {
	p := &steps.PromotionProof{Journal: path}
	abs, err := filepath.Abs(path)
	if err == nil {
		p.Journal = abs
	}
	rep := journal.Verify(path)
	if !rep.OK {
		p.Problems = append([]string{"the staging journal does not verify: " + rep.Verdict}, rep.Problems[min(1, len(rep.Problems)):]...)
		return p
	}
	log, err := journal.Read(path)
	if err != nil {
		p.Problems = []string{"the staging journal cannot be read: " + err.Error()}
		return p
	}
	h := log.Header
	p.Head, p.SessionID, p.Operator, p.ProjectID, p.RunbookHash = log.Head, h.SessionID, h.Operator, h.ProjectID, h.RunbookHash
	problem := func(format string, args ...any) { p.Problems = append(p.Problems, fmt.Sprintf(format, args...)) }
	if h.ProjectID != rb.Staging.ProjectID {
		problem("line 1: header field project_id is %q, not the staging project %q", h.ProjectID, rb.Staging.ProjectID)
	}
	if h.RunbookHash != rb.Hash {
		problem("line 1: header field runbook_hash is %s, this runbook's is %s: the runbook changed since the staging run; run it on staging again", short(h.RunbookHash), short(rb.Hash))
	}
	if h.RunbookID != rb.Meta.ID {
		problem("line 1: header field runbook_id is %q, not %q", h.RunbookID, rb.Meta.ID)
	}
	if !h.Apply {
		problem("line 1: header field apply is false: the staging session was a dry run")
	}
	p.Problems = append(p.Problems, sessionProblems(log, rb)...)
	if p.Ended.IsZero() {
		p.Ended = endedAt(log)
	}
	if !p.Ended.IsZero() {
		if age := now.Sub(p.Ended); age > rb.ProofMaxAge() {
			problem("the staging session ended %s, %s ago: older than proof_max_age (%s); run it on staging again",
				p.Ended.UTC().Format(time.RFC3339), age.Round(time.Hour), rb.ProofMaxAge())
		}
	}
	p.OK = len(p.Problems) == 0
	return p
}

// endedAt is the time of the session_ended event (zero if none).
func endedAt(log *journal.Log) time.Time {
	for i := len(log.Events) - 1; i >= 0; i-- {
		if log.Events[i].Type == steps.EvSessionEnded {
			return log.Events[i].Time
		}
	}
	return time.Time{}
}

// sessionProblems folds the events (never trusting the last line alone,
// which a verifier cannot protect) and lists what keeps the session from
// proving the promotion: not ended succeeded, identity not proven as
// staging, a check not passed, a rollback.
func sessionProblems(log *journal.Log, rb *steps.Runbook) []string {
	var out []string
	s := steps.Fold(log.Events)
	last := log.Lines // the line of the last event
	switch {
	case !s.Ended:
		out = append(out, fmt.Sprintf("line %d: the staging session did not end (it crashed or is still running)", last))
	case s.Outcome != steps.OutcomeSucceeded:
		out = append(out, fmt.Sprintf("line %d: the staging session ended %s, not succeeded", endLine(log), s.Outcome))
	}
	if env := s.Session.Environment; env != "" && env != steps.EnvStaging {
		out = append(out, fmt.Sprintf("line 2: the session's environment is %q, not staging", env))
	}
	if s.Identity == nil || !s.Identity.OK || s.Identity.Expected != rb.Staging.ProjectID {
		out = append(out, fmt.Sprintf("the staging session never proved the database was %s (no identity_verified for it)", rb.Staging.ProjectID))
	}
	if s.Rollback.Started {
		out = append(out, "the staging session rolled back")
	}
	var bad []string
	for _, st := range s.Steps {
		switch {
		case st.Rollback:
		case st.Kind.Verifies() && st.Status != steps.StatusSucceeded:
			bad = append(bad, fmt.Sprintf("check %s %s", st.ID, st.Status))
		case !st.Status.Done():
			bad = append(bad, fmt.Sprintf("step %s %s", st.ID, st.Status))
		case st.Writes && st.Status != steps.StatusSucceeded:
			bad = append(bad, fmt.Sprintf("step %s %s", st.ID, st.Status))
		}
	}
	if len(bad) > 0 {
		out = append(out, "not every step and check passed on staging: "+strings.Join(bad, ", "))
	}
	return out
}

func endLine(log *journal.Log) int {
	for i := len(log.Events) - 1; i >= 0; i-- {
		if log.Events[i].Type == steps.EvSessionEnded {
			return i + 2
		}
	}
	return log.Lines
}
