package apply

import (
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/steps"
)

// apply's progress says who ticked an item and with what proof: it said
// only "item ticked" for an item its query or the staging journal ticked.
func TestProgressLineSaysWhoTicked(t *testing.T) {
	item := 0
	for _, c := range []struct {
		ev   steps.Event
		want string
	}{
		{steps.Event{Type: steps.EvItemTicked, Item: &item, Auto: true,
			Check: &steps.CheckReport{Summary: "staging journal /j.jsonl (head 0123)"}}, "item ticked by its staging proof: staging journal /j.jsonl"},
		{steps.Event{Type: steps.EvItemTicked, Item: &item, Auto: true,
			Check: &steps.CheckReport{SQL: "select 1", Summary: "1 row match"}}, "item ticked by its query: 1 row match"},
		{steps.Event{Type: steps.EvItemTicked, Item: &item, Text: "from answers"}, "item ticked by the operator: from answers"},
	} {
		if got := progressLine(c.ev); !strings.Contains(got, c.want) {
			t.Errorf("progressLine = %q, want %q", got, c.want)
		}
	}
}
