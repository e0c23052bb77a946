package steps

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/handrail-dev/handrail/steps/lockcheck"
)

// StepLocks analyses the locks of a sql step (package lockcheck): what
// each statement locks, in which mode, whether it rewrites or scans, and
// the findings with their allow comments. Steps of other kinds have no
// statements to analyse (nil, nil). Before the first write the engine
// weighs the result on the target (lockcheck.Weigh, through
// db.Target.Inspect); the allow comments' reasons are in Finding.Allowed.
func (r *Runbook) StepLocks(s Step) (*lockcheck.Analysis, error) {
	if !s.Kind.WritesSQL() {
		return nil, nil
	}
	o := lockcheck.Options{Transactional: s.IsTransactional()}
	if l := r.fileList(s); l != nil {
		return lockcheck.AnalyzeSeq(l.statementSeq(), l.Len(), o), nil // no []Statement of a long file
	}
	stmts, err := r.stepStatements(s)
	if err != nil {
		return nil, err
	}
	return lockcheck.Analyze(stmts, o), nil
}

// showPath is a runbook-relative file's path for messages.
func (r *Runbook) showPath(rel string) string {
	if r.show != nil {
		return r.show(rel)
	}
	return filepath.Join(r.Dir, filepath.FromSlash(rel))
}

// LintLocks is lint's lock analysis of every sql step: each finding that
// no allow comment accepts is a warning (rule id, why, the safer form),
// a malformed allow comment an error, one that accepts nothing (or that
// no statement picked up) a warning. It is not part of Load: run and
// check do not pay for it, and weigh the findings on the target instead.
func (r *Runbook) LintLocks() Problems {
	var out Problems
	for _, s := range append(r.AllSteps(), r.Rollback.Steps...) {
		an, err := r.StepLocks(s)
		if err != nil {
			out = append(out, Problem{Path: r.showPath(s.File), Severity: Error, Msg: err.Error()})
			continue
		}
		if an == nil {
			continue
		}
		out = append(out, r.lockProblems(an)...)
		if s.File != "" {
			out = append(out, r.strayAllows(an, s.File)...)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Line < out[j].Line
	})
	return slices.CompactFunc(out, func(a, b Problem) bool { return a == b })
}

func (r *Runbook) lockProblems(an *lockcheck.Analysis) Problems {
	var out Problems
	for _, f := range an.Findings {
		if f.Allowed != nil {
			continue
		}
		why := f.Why
		if f.Conditional {
			why += " (lint cannot tell; `handrail check` looks it up on the target)"
		}
		out = append(out, Problem{Path: r.showPath(f.File), Line: f.Line, Severity: Warning,
			Msg:  f.Rule + ": " + why,
			Hint: fmt.Sprintf("safer: %s; or accept it in a comment above the statement: -- handrail:allow %s REASON", f.Safer, f.Rule)})
	}
	for _, p := range an.Problems {
		sev := Warning
		if p.Error {
			sev = Error
		}
		out = append(out, Problem{Path: r.showPath(p.File), Line: p.Line, Severity: sev, Msg: p.Msg, Hint: p.Hint})
	}
	return out
}

// strayAllows reports an allow comment of file that no statement picked
// up: one after the last statement belongs to none, and accepts nothing.
func (r *Runbook) strayAllows(an *lockcheck.Analysis, file string) Problems {
	rel, err := cleanRel(file)
	if err != nil {
		return nil
	}
	b, err := r.FileContent(rel)
	if err != nil || !strings.Contains(b, lockcheck.AllowMarker) {
		return nil
	}
	var out Problems
	for _, line := range lockcheck.AllowLines(b) {
		seen := slices.ContainsFunc(an.Allows, func(a lockcheck.Allow) bool { return a.File == rel && a.Line == line }) ||
			slices.ContainsFunc(an.Problems, func(p lockcheck.Problem) bool { return p.File == rel && p.Line == line })
		if !seen {
			out = append(out, Problem{Path: r.showPath(rel), Line: line, Severity: Warning,
				Msg: "allow comment is not attached to any statement", Hint: "put it directly above the statement it is for"})
		}
	}
	return out
}

// Strict returns the problems with every warning made an error (lint
// --strict).
func (ps Problems) Strict() Problems {
	out := slices.Clone(ps)
	for i := range out {
		if out[i].Severity == Warning {
			out[i].Severity = Error
		}
	}
	return out
}
