package steps

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/db"
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
}

// WeighLocks analyses every sql step of rb (phases, then rollback) and
// weighs it on t, read-only, on the side connection: sizes, partitions,
// what the catalog settles, and who holds conflicting locks now.
func WeighLocks(ctx context.Context, t *db.Target, rb *Runbook) (*LocksReport, error) {
	rep := &LocksReport{}
	var analyses []*lockcheck.Analysis
	for _, s := range rb.AllSteps() {
		if err := rep.add(rb, s, false, &analyses); err != nil {
			return nil, err
		}
	}
	for _, s := range rb.Rollback.Steps {
		if err := rep.add(rb, s, true, &analyses); err != nil {
			return nil, err
		}
	}
	if len(analyses) == 0 {
		return rep, nil
	}
	o := lockcheck.WeighOptions{IgnorePIDs: t.PIDs(), LockTimeout: rb.LockTimeout()}
	err := t.Inspect(ctx, func(tx pgx.Tx) error {
		if err := lockcheck.Weigh(ctx, tx, o, analyses...); err != nil {
			return err
		}
		for i := range rep.Steps {
			bad, err := lockcheck.InvalidIndexes(ctx, tx, lockedTables(rep.Steps[i].Analysis)...)
			if err != nil {
				return err
			}
			rep.Steps[i].InvalidIndexes = bad
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("weighing the locks on the target: %w", err)
	}
	return rep, nil
}

func (rep *LocksReport) add(rb *Runbook, s Step, rollback bool, analyses *[]*lockcheck.Analysis) error {
	an, err := rb.StepLocks(s)
	if err != nil || an == nil {
		return err
	}
	*analyses = append(*analyses, an)
	rep.Steps = append(rep.Steps, StepLocksReport{Step: s.ID, Title: s.Title, Rollback: rollback, Analysis: an})
	return nil
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
			if f.Allowed == nil && f.Weight != nil && f.Weight.Level == lockcheck.High {
				n++
			}
		}
	}
	return n
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
		an := s.Analysis
		kind := "one transaction"
		if !an.Transactional {
			kind = "each statement on its own"
		}
		role := ""
		if s.Rollback {
			role = "rollback "
		}
		fmt.Fprintf(w, "\n%sstep %s (%s):\n", role, plain(s.Step, 60), kind)
		printStatementLocks(w, an)
		for _, f := range an.Findings {
			printFinding(w, f)
		}
		for _, ix := range s.InvalidIndexes {
			fmt.Fprintf(w, "  INVALID index %s on %s (%s): a failed CREATE INDEX CONCURRENTLY leaves one; it slows every write and a retry under its name fails or, with IF NOT EXISTS, does nothing. Drop it first: %s\n",
				plain(ix.Index.String(), 80), plain(ix.Table.String(), 80), lockcheck.FormatBytes(ix.Bytes), plain(ix.DropSQL(), 160))
		}
	}
}

func printStatementLocks(w io.Writer, an *lockcheck.Analysis) {
	for _, sl := range an.Statements {
		where := plain(sl.Statement.Where(), 60)
		if sl.Unknown != "" {
			fmt.Fprintf(w, "  %s  %s: locks unknown: %s\n", where, plain(sl.Command, 40), plain(sl.Unknown, 200))
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
			fmt.Fprintf(w, "  %s  %s  %s %s%s", where, plain(sl.Command, 40), l.Mode, plain(l.Rel.String(), 80), size)
			if len(work) > 0 {
				fmt.Fprintf(w, ", %s", strings.Join(work, ", "))
			}
			fmt.Fprintln(w)
			for _, s := range l.Waits {
				fmt.Fprintf(w, "      waits for %s\n", plain(s.Describe(), 200))
			}
		}
		for _, s := range sl.WaitsFor {
			fmt.Fprintf(w, "      %s will wait for %s\n", plain(sl.Command, 40), plain(s.Describe(), 200))
		}
	}
}

func printFinding(w io.Writer, f lockcheck.Finding) {
	level := "unweighed"
	if f.Weight != nil {
		level = f.Weight.Level.String()
	}
	head := strings.ToUpper(level)
	if f.Allowed != nil {
		head = "accepted, " + level
	}
	fmt.Fprintf(w, "  [%s] %s at %s: %s\n", head, f.Rule, plain(f.Where(), 60), plain(f.Why, 400))
	if f.Weight != nil {
		for _, r := range f.Weight.Reasons {
			fmt.Fprintf(w, "      - %s\n", plain(r, 300))
		}
	}
	switch {
	case f.Allowed != nil:
		fmt.Fprintf(w, "      accepted at %s:%d: %s\n", plain(f.Allowed.File, 60), f.Allowed.Line, plain(f.Allowed.Reason, 200))
	case f.Weight == nil || f.Weight.Level > lockcheck.None:
		fmt.Fprintf(w, "      safer: %s\n", plain(f.Safer, 300))
	}
}

// plain keeps s on one line, escaped (termsafe), cut to n runes.
func plain(s string, n int) string { return oneLine(s, n) }
