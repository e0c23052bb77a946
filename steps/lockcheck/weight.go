package lockcheck

import (
	"context"
	"fmt"
	"strconv"
)

// Size thresholds of the levels, for work done under a lock that blocks
// reads or writes (an index build, a validation scan, a rewrite). Up to
// lowRows rows (and lowBytes) the lock is held for well under a second
// to seconds on ordinary hardware; past highRows (or highBytes), minutes.
// handrail shows the sizes rather than a duration: how long a scan takes
// depends on I/O, CPU, caching and maintenance_work_mem, which it does
// not know (a rehearsal measures it).
const (
	lowRows   = 100_000
	lowBytes  = 100 << 20
	highRows  = 1_000_000
	highBytes = 1 << 30
)

// sizeLevel grades a relation by its size.
func sizeLevel(info RelInfo) Level {
	rows := info.Rows
	switch {
	case rows > highRows || info.Bytes > highBytes:
		return High
	case rows > lowRows || info.Bytes > lowBytes:
		return Medium
	}
	return Low
}

// SizeText says "about 1,234,567 rows, 89 MB" (or "not analysed yet").
func (info RelInfo) SizeText() string {
	rows := "row count not known (never analysed)"
	if info.Rows >= 0 {
		rows = "about " + thousands(int64(info.Rows+0.5)) + " rows"
	}
	return fmt.Sprintf("%s, %s", rows, FormatBytes(info.Bytes))
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// FormatBytes says a size the way the reports do: "1.2 GB", "89.0 MB",
// "48 kB".
func FormatBytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%d kB", (b+1023)/1024)
}

// workRules are the findings about work done under a lock: their weight
// follows the size of the relation.
var workRules = setOf(RuleCreateIndexBlocking, RuleAddCheckValidates, RuleAddForeignKeyValidates, RuleValidateSameTx,
	RuleSetNotNullScans, RuleColumnTypeRewrite, RuleVolatileDefault, RuleUniqueWithoutIndex)

func (w *weigher) weighFinding(ctx context.Context, an *Analysis, i int) error {
	f := &an.Findings[i]
	wt := &Weight{}
	f.Weight = wt
	if f.Conditional && f.applies < 0 {
		wt.Level, wt.Reasons = None, []string{"does not apply: " + f.settled}
		return nil
	}
	if f.applies > 0 && f.settled != "" {
		wt.Reasons = append(wt.Reasons, f.settled)
	}
	if f.Conditional && f.applies == 0 {
		wt.Reasons = append(wt.Reasons, "not settled from the catalog: weighed as if it applies")
	}
	for _, a := range an.absent[f.Statement] {
		if a.rel == f.Rel {
			wt.Level, wt.Reasons = None, []string{fmt.Sprintf("does not apply: %s does not exist on the target (IF EXISTS: the statement does nothing)", a.what)}
			return nil
		}
	}
	var info RelInfo
	if !f.Rel.IsZero() {
		rf, err := w.rel(ctx, f.Rel)
		if err != nil {
			return err
		}
		info = rf.info()
		if !rf.exists {
			wt.Level = Low
			wt.Reasons = append(wt.Reasons, fmt.Sprintf("%s does not exist on the target yet (created by an earlier step?): nothing to lock now", f.Rel))
			return nil
		}
	}
	wt.Level = w.baseLevel(an, f, info, wt)
	w.queueWeight(an, f, wt)
	return nil
}

// baseLevel is the level before the lock queue is considered.
func (w *weigher) baseLevel(an *Analysis, f *Finding, info RelInfo, wt *Weight) Level {
	switch {
	case f.base != None:
		return f.base
	case workRules[f.Rule]:
		wt.Reasons = append(wt.Reasons, fmt.Sprintf("%s: %s", info.Rel, info.SizeText()))
		return sizeLevel(info)
	case f.Rule == RuleLockHeldUntilCommit:
		return w.heldWeight(an, f, wt)
	case f.Rule == RuleDropTable || f.Rule == RuleTruncate || f.Rule == RuleDropColumn:
		wt.Reasons = append(wt.Reasons, fmt.Sprintf("%s: %s", info.Rel, info.SizeText()))
		if info.Rows == 0 && info.Bytes <= 64<<10 {
			wt.Reasons = append(wt.Reasons, "it is empty")
			return Low
		}
		return High
	case f.Rule == RuleRenameTable || f.Rule == RuleRenameColumn:
		return Medium
	case f.Rule == RuleDropIndexBlocking:
		wt.Reasons = append(wt.Reasons, "quick once granted; the risk is the wait for the lock")
		return Low
	case f.Rule == RuleLocksUnknown:
		wt.Reasons = append(wt.Reasons, "cannot be weighed from the text: a rehearsal measures it")
		return Medium
	}
	return Medium
}

// heldWeight: an ACCESS EXCLUSIVE lock held until COMMIT weighs as much
// as the heaviest work the later statements of the step do.
func (w *weigher) heldWeight(an *Analysis, f *Finding, wt *Weight) Level {
	level := Low
	for j := f.Statement + 1; j < len(an.Statements); j++ {
		for _, l := range an.Statements[j].Locks {
			if l.New || (l.Rewrite != Yes && l.Scan != Yes) {
				continue
			}
			info, ok := an.Relations[l.Rel.String()]
			if !ok || !info.Exists {
				continue
			}
			lv := sizeLevel(info)
			what := "scans"
			if l.Rewrite == Yes {
				what = "rewrites"
			}
			wt.Reasons = append(wt.Reasons, fmt.Sprintf("%s %s %s (%s) while the lock is held",
				an.Statements[j].Where(), what, l.Rel, info.SizeText()))
			level = max(level, lv)
		}
	}
	if level == Low {
		wt.Reasons = append(wt.Reasons, "the statements after it do no long work on existing tables")
	}
	return level
}

// queueWeight raises the level when the statement's lock request would
// wait: behind a stuck session, high; behind a running one, medium.
func (w *weigher) queueWeight(an *Analysis, f *Finding, wt *Weight) {
	sl := an.Statements[f.Statement]
	for _, l := range sl.Locks {
		if !f.Rel.IsZero() && l.Rel != f.Rel && l.Rel.Name != f.Rel.Name && l.fromIndex != f.Rel {
			continue
		}
		for _, s := range l.Waits {
			wt.Waits = append(wt.Waits, s)
			if w.stuck(s) {
				wt.Level = High
				wt.Reasons = append(wt.Reasons, "would queue behind "+s.Describe())
			} else {
				wt.Level = max(wt.Level, Medium)
				wt.Reasons = append(wt.Reasons, "would wait for "+s.Describe())
			}
		}
	}
}
