package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/steps/lockcheck"
)

// weighLocks analyses the locks of sql step i (package lockcheck), weighs
// them on the target, read-only on the side connection (sizes, who holds
// a conflicting lock now, what a CONCURRENTLY build would wait for, the
// INVALID indexes on its tables), and records it all (locks_weighed)
// before the step is shown: a high-severity finding that no allow comment
// accepts must then be acknowledged before the step runs (State.Accepts).
// A weighing that fails is recorded and the step goes on unweighed; only
// the end of ctx stops it (flowQuit).
func (e *Engine) weighLocks(ctx context.Context, i int) (flow, error) {
	p := e.plan[i]
	rep := &StepLocksReport{Step: p.info.ID, Title: p.info.Title, Rollback: p.info.Rollback}
	an, aerr := e.rb.StepLocks(p.step)
	rep.Analysis = an
	switch {
	case aerr != nil:
		rep.Error = "cannot analyse the step's statements: " + aerr.Error()
	case an == nil:
		return flowNext, nil
	default:
		// On the engine's goroutine, not in during: commands that arrive
		// meanwhile stay queued for the step's gate, which answers them
		// once the step is shown (the weighing is bounded by the side
		// connection's statement_timeout).
		o := lockcheck.WeighOptions{IgnorePIDs: e.target.PIDs(), LockTimeout: e.rb.LockTimeout()}
		err := e.target.Inspect(ctx, func(tx pgx.Tx) error {
			if err := lockcheck.Weigh(ctx, tx, o, an); err != nil {
				return err
			}
			bad, err := lockcheck.InvalidIndexes(ctx, tx, lockedTables(an)...)
			rep.InvalidIndexes = bad
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				return flowQuit, ctx.Err()
			}
			rep.Error = fmt.Sprintf("not weighed on the target: %v; the locks shown are what the text says", err)
			rep.InvalidIndexes = nil
		}
	}
	if err := e.emit(Event{Type: EvLocksWeighed, Step: p.info.ID, Locks: rep}); err != nil {
		return flowQuit, err
	}
	return flowNext, nil
}

// acknowledge records the operator's typed acknowledgement of a
// high-severity lock finding (State.Admit checked the rule id).
func (e *Engine) acknowledge(i int, c Command) error {
	return e.emit(Event{Type: EvLockAcknowledged, Step: e.plan[i].info.ID, Text: strings.TrimSpace(c.Text)})
}
