package steps

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/internal/termsafe"
	"github.com/handrail-dev/handrail/steps/lockcheck"
)

// LocksReport is the lock analysis of a runbook's sql steps weighed on
// the target (`handrail check`, "locks" in --json).
type LocksReport struct {
	Steps []StepLocksReport `json:"steps"`
	Error string            `json:"error,omitempty"`
}

// StepLocksReport is one sql step's weighed analysis.
type StepLocksReport struct {
	Step     string              `json:"step"`
	Title    string              `json:"title"`
	Rollback bool                `json:"rollback,omitempty"`
	Analysis *lockcheck.Analysis `json:"analysis"`
	// InvalidIndexes are INVALID indexes (a failed CREATE INDEX
	// CONCURRENTLY leaves one) on the tables the step locks.
	InvalidIndexes []lockcheck.InvalidIndex `json:"invalid_indexes,omitempty"`
	// Error says why the step could not be weighed (in a session: the
	// step runs all the same, unweighed).
	Error string `json:"error,omitempty"`
}

// WeighLocks analyses every sql step of rb (phases, then rollback) and
// weighs it on t, read-only, on the side connection: sizes, partitions,
// what the catalog settles, and who holds conflicting locks now.
func WeighLocks(ctx context.Context, t *db.Target, rb *Runbook) (*LocksReport, error) {
	rep := &LocksReport{}
	for _, s := range rb.AllSteps() {
		if err := rep.add(rb, s, false); err != nil {
			return nil, err
		}
	}
	for _, s := range rb.Rollback.Steps {
		if err := rep.add(rb, s, true); err != nil {
			return nil, err
		}
	}
	if len(rep.Steps) == 0 {
		return rep, nil
	}
	steps := make([]*StepLocksReport, len(rep.Steps))
	for i := range rep.Steps {
		steps[i] = &rep.Steps[i]
	}
	if err := weighSteps(ctx, t, rb, steps...); err != nil {
		return nil, fmt.Errorf("weighing the locks on the target: %w", err)
	}
	return rep, nil
}

func (rep *LocksReport) add(rb *Runbook, s Step, rollback bool) error {
	an, err := rb.StepLocks(s)
	if err != nil || an == nil {
		return err
	}
	rep.Steps = append(rep.Steps, StepLocksReport{Step: s.ID, Title: s.Title, Rollback: rollback, Analysis: an})
	return nil
}

// weighSteps weighs the analyses of steps on t, read-only, in one
// transaction of the side connection (sizes, partitions, what the
// catalog settles, who holds a conflicting lock now), and looks up the
// INVALID indexes on the tables each step locks. `handrail check` weighs
// every step at once; a session, each sql step before it is shown.
func weighSteps(ctx context.Context, t *db.Target, rb *Runbook, steps ...*StepLocksReport) error {
	ans := make([]*lockcheck.Analysis, len(steps))
	for i, s := range steps {
		ans[i] = s.Analysis
	}
	o := lockcheck.WeighOptions{IgnorePIDs: t.PIDs(), LockTimeout: rb.LockTimeout(), Once: true}
	return t.Inspect(ctx, func(tx pgx.Tx) error {
		if err := lockcheck.Weigh(ctx, tx, o, ans...); err != nil {
			return err
		}
		for _, s := range steps {
			bad, err := lockcheck.InvalidIndexes(ctx, tx, lockedTables(s.Analysis)...)
			if err != nil {
				return err
			}
			s.InvalidIndexes = bad
		}
		return nil
	})
}

// lockedTables lists the existing relations a weighed step locks.
func lockedTables(an *lockcheck.Analysis) []lockcheck.Rel {
	var out []lockcheck.Rel
	seen := map[lockcheck.Rel]bool{}
	for _, sl := range an.Statements {
		for _, l := range sl.Locks {
			if info, ok := an.Relations[l.Rel.String()]; ok && info.Exists && !seen[info.Rel] {
				seen[info.Rel] = true
				out = append(out, info.Rel)
			}
		}
	}
	return out
}

// HighFindings counts the findings that weigh high and no allow comment
// accepted.
func (rep *LocksReport) HighFindings() int {
	n := 0
	for _, s := range rep.Steps {
		for _, f := range s.Analysis.Findings {
			if HighUnaccepted(f) {
				n++
			}
		}
	}
	return n
}

// HighUnaccepted reports whether finding f weighs high on the target and
// no allow comment accepts it: `handrail check` counts it, and a session
// that takes the step's locks waits for its typed acknowledgement
// (StepState.PendingAcks).
func HighUnaccepted(f lockcheck.Finding) bool {
	return f.Allowed == nil && f.Weight != nil && f.Weight.Level == lockcheck.High
}

// Print writes the report as `handrail check` does (see printLocks).
func (rep *LocksReport) Print(w io.Writer) { printLocks(w, rep) }

// printLocks writes the weighed analysis for an operator: per sql step,
// the locks on existing relations, then the findings with their weight,
// why, and the safer form. Text from the runbook and the database is
// kept on one line and escaped.
func printLocks(w io.Writer, rep *LocksReport) {
	if rep == nil {
		return
	}
	if rep.Error != "" {
		fmt.Fprintf(w, "locks: not weighed: %s\n", plain(rep.Error, 300))
		return
	}
	for _, s := range rep.Steps {
		role := ""
		if s.Rollback {
			role = "rollback "
		}
		fmt.Fprintf(w, "\n%sstep %s (%s):\n", role, plain(s.Step, 60), s.TxText())
		lines := s.Lines()
		if len(lines) == 0 {
			fmt.Fprintln(w, "  no lock on an existing relation, no finding")
		}
		for _, l := range lines {
			// The line's own spacing stays; controls and newlines in its
			// data are escaped (termsafe.Line).
			fmt.Fprintf(w, "%s%s\n", strings.Repeat("    ", l.Depth+1)[2:], cut(termsafe.Line(l.Text), 1000))
		}
	}
}

// TxText says how the step's statements run.
func (s StepLocksReport) TxText() string {
	if s.Analysis != nil && !s.Analysis.Transactional {
		return "each statement on its own"
	}
	return "one transaction"
}

// LockLine is one line of a weighed step's description (Lines).
type LockLine struct {
	// Depth 0 is a lock, a finding or an INVALID index; 1 a detail of it.
	Depth int
	// Finding: the line heads a finding, of Level; Accepted by an allow
	// comment.
	Finding  bool
	Level    lockcheck.Level
	Accepted bool
	// Text is raw text from the runbook and the database: callers escape
	// it before it reaches a terminal.
	Text string
}

// Lines describes the weighed step for an operator, as `handrail check`,
// the run screen's WRITES pane and the transcript show it: the locks
// each statement takes on existing relations (mode, rewrite or scan,
// size), who they would wait for, then the findings with their weight,
// why, and the safer form or the allow comment that accepts them, then
// the INVALID indexes on its tables.
func (s StepLocksReport) Lines() []LockLine {
	var out []LockLine
	add := func(depth int, format string, args ...any) {
		out = append(out, LockLine{Depth: depth, Text: fmt.Sprintf(format, args...)})
	}
	if s.Error != "" {
		add(0, "%s", s.Error)
	}
	an := s.Analysis
	if an == nil {
		return out
	}
	for _, sl := range an.Statements {
		statementLockLines(an, sl, add)
	}
	for _, f := range an.Findings {
		out = append(out, findingLines(f)...)
	}
	for _, ix := range s.InvalidIndexes {
		add(0, "INVALID index %s on %s (%s): a failed CREATE INDEX CONCURRENTLY leaves one; it slows every write and a retry under its name fails or, with IF NOT EXISTS, does nothing. Drop it first: %s",
			ix.Index, ix.Table, lockcheck.FormatBytes(ix.Bytes), ix.DropSQL())
	}
	return out
}

func statementLockLines(an *lockcheck.Analysis, sl lockcheck.StatementLocks, add func(int, string, ...any)) {
	where := lockcheck.Finding{File: sl.File, Line: sl.Line}.Where() // Statement is not journaled
	if sl.Unknown != "" {
		add(0, "%s  %s: locks unknown: %s", where, sl.Command, sl.Unknown)
	}
	for _, l := range sl.Locks {
		if l.New || l.Mode == lockcheck.NoLock {
			continue
		}
		var work []string
		if l.Rewrite == lockcheck.Yes && l.Truncate {
			work = append(work, "emptied")
		} else if l.Rewrite != lockcheck.No {
			work = append(work, "rewrite "+l.Rewrite.String())
		}
		if l.Scan != lockcheck.No && !l.Truncate {
			work = append(work, "scan "+l.Scan.String())
		}
		size := ""
		if info, ok := an.Relations[l.Rel.String()]; ok && info.Exists {
			size = " (" + info.SizeText() + ")"
		}
		text := fmt.Sprintf("%s  %s  %s %s%s", where, sl.Command, l.Mode, l.Rel, size)
		if len(work) > 0 {
			text += ", " + strings.Join(work, ", ")
		}
		add(0, "%s", text)
		for _, s := range l.Waits {
			add(1, "waits for %s", s.Describe())
		}
	}
	for _, s := range sl.WaitsFor {
		add(1, "%s will wait for %s", sl.Command, s.Describe())
	}
}

func findingLines(f lockcheck.Finding) []LockLine {
	level := "unweighed"
	head := LockLine{Finding: true, Level: lockcheck.Medium, Accepted: f.Allowed != nil}
	if f.Weight != nil {
		level = f.Weight.Level.String()
		head.Level = f.Weight.Level
	}
	tag := strings.ToUpper(level)
	if f.Allowed != nil {
		tag = "accepted, " + level
	}
	head.Text = fmt.Sprintf("[%s] %s at %s: %s", tag, f.Rule, f.Where(), f.Why)
	out := []LockLine{head}
	detail := func(format string, args ...any) {
		out = append(out, LockLine{Depth: 1, Text: fmt.Sprintf(format, args...)})
	}
	if f.Weight != nil {
		for _, r := range f.Weight.Reasons {
			detail("- %s", r)
		}
	}
	switch {
	case f.Allowed != nil:
		detail("accepted at %s:%d: %s", f.Allowed.File, f.Allowed.Line, f.Allowed.Reason)
	case f.Weight == nil || f.Weight.Level > lockcheck.None:
		detail("safer: %s", f.Safer)
	}
	return out
}

// cut keeps the first n runes of s.
func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// plain keeps s on one line, escaped (termsafe), cut to n runes.
func plain(s string, n int) string { return oneLine(s, n) }
