package journal

import (
	"strings"

	"github.com/handrail-dev/handrail/steps"
)

// lockEvent prints an event about a sql step's locks: the locks weighed
// before it ran, the operator's acknowledgements, the INVALID indexes a
// failed CONCURRENTLY statement left and their drop, the rehearsal; false
// when e is not one.
func (t *transcript) lockEvent(e steps.Event) bool {
	switch e.Type {
	case steps.EvLocksWeighed:
		t.locksWeighed(e)
	case steps.EvLockAcknowledged:
		t.line(e, "operator acknowledged the lock finding %s (typed its rule id)", e.Text)
	case steps.EvInvalidIndexFound:
		t.line(e, "the failed statement left %s:", count(len(e.Invalid), "INVALID index"))
		for _, ix := range e.Invalid {
			t.more("%s on %s: %s", ix.Index.String(), ix.Table.String(), ix.Def)
		}
	case steps.EvInvalidIndexDrop:
		t.line(e, "INTENT: dropping the INVALID index (recorded and fsynced before sending)")
		for _, s := range e.Statements.All() {
			t.block(s.SQL)
		}
	case steps.EvInvalidIndexDropped:
		if e.Pass != nil && *e.Pass {
			t.line(e, "INVALID index %s dropped", e.Text)
			break
		}
		if e.Pass == nil {
			t.line(e, "dropping the INVALID index %s: OUTCOME UNKNOWN", e.Text)
			t.errorInfo(e.Error)
			break
		}
		t.line(e, "dropping the INVALID index %s FAILED%s", e.Text, errSummary(e.Error))
		t.errorInfo(e.Error)
	case steps.EvRehearsed:
		t.rehearsed(e)
	default:
		return false
	}
	return true
}

func (t *transcript) locksWeighed(e steps.Event) {
	r := e.Locks
	if r == nil {
		t.line(e, "locks weighed: nothing recorded")
		return
	}
	high := 0
	if r.Analysis != nil {
		for _, f := range r.Analysis.Findings {
			if steps.HighUnaccepted(f) {
				high++
			}
		}
	}
	what := "no finding"
	if r.Analysis != nil && len(r.Analysis.Findings) > 0 {
		what = count(len(r.Analysis.Findings), "finding")
	}
	t.line(e, "locks weighed on the target (%s): %s, %d high", r.TxText(), what, high)
	for _, l := range r.Lines() {
		t.more("%s%s", strings.Repeat("  ", l.Depth), l.Text)
	}
}

func (t *transcript) rehearsed(e steps.Event) {
	r := e.Rehearsal
	switch {
	case r == nil:
		t.line(e, "rehearsed: nothing recorded")
		return
	case r.Skipped != "":
		t.line(e, "not rehearsed: %s", r.Skipped)
		return
	}
	t.line(e, "REHEARSED in a transaction that was rolled back (%s): %s, %d wrong prediction(s)", dur(r.Elapsed), count(len(r.Locks), "lock"), len(r.Wrong))
	if r.Error != "" {
		t.more("stopped early: %s", r.Error)
	}
	for _, l := range r.Locks {
		pred := "predicted " + orDash(l.Predicted)
		if l.Wrong {
			pred = "WRONG: " + pred
		}
		t.more("%s %s from statement %d, held %s (%s)", l.Mode, l.Rel, l.Statement+1, dur(l.Held), pred)
	}
	for _, w := range r.Wrong {
		t.more("wrong: %s", w)
	}
}
