package journal

import (
	"sort"

	"github.com/handrail-dev/handrail/steps"
)

// PendingIntents returns the ids of the steps whose last intent has no
// result after it (step_succeeded, step_failed, step_cancelled,
// step_outcome_unknown or step_marked), in the order of those intents:
// the steps whose statements may or may not have run when the session
// stopped. It agrees with StepState.InFlight of steps.Fold.
func PendingIntents(events []steps.Event) []string {
	at := map[string]int{} // step -> index of its unresolved intent
	for i, e := range events {
		if e.Step == "" {
			continue
		}
		switch {
		case e.Type == steps.EvIntent:
			at[e.Step] = i
		case e.Type.ResolvesIntent():
			delete(at, e.Step)
		}
	}
	out := make([]string, 0, len(at))
	for id := range at {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return at[out[i]] < at[out[j]] })
	if len(out) == 0 {
		return nil
	}
	return out
}
