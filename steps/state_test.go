package steps

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// foldLines decodes JSON event lines (as the journal stores them) and
// folds them; lines that do not decode are skipped, as this test is about
// the fold, not the journal reader.
func foldLines(data []byte) State {
	var events []Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var e Event
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Type != "" {
			events = append(events, e)
		}
	}
	return Fold(events)
}

const plannedSession = `{"seq":1,"type":"session_started","session":{"keep_rows":2,"plan":[{"id":"mon","kind":"monitor"},{"id":"list","kind":"checklist","items":["a","b"]}]}}` + "\n"

// A journal is input from disk: an event naming an out-of-range monitor
// query or checklist item must be ignored, never panic or allocate
// without bound, so that replay and verify survive a crafted file.
func TestApplyIgnoresOutOfRangeIndexes(t *testing.T) {
	lines := plannedSession +
		`{"seq":2,"type":"monitor_tick","step":"mon","monitor":{"query":-1}}` + "\n" +
		`{"seq":3,"type":"monitor_tick","step":"mon","monitor":{"query":1000000000}}` + "\n" +
		`{"seq":4,"type":"monitor_alert","step":"mon","monitor":{"query":-5},"text":"x"}` + "\n" +
		`{"seq":5,"type":"monitor_tick","step":"mon","monitor":{"query":1,"title":"errors"}}` + "\n" +
		`{"seq":6,"type":"item_ticked","step":"list","item":-1}` + "\n" +
		`{"seq":7,"type":"item_ticked","step":"list","item":2}` + "\n" +
		`{"seq":8,"type":"item_ticked","step":"list","item":1}` + "\n" +
		`{"seq":9,"type":"step_failed","step":"nope"}` + "\n"
	s := foldLines([]byte(lines))
	mon := s.Steps[s.StepIndex("mon")]
	if len(mon.Monitor) != 2 || mon.Monitor[1].Title != "errors" || len(mon.Alerts) != 0 {
		t.Errorf("monitor samples %+v alerts %q: want only query 1 recorded", mon.Monitor, mon.Alerts)
	}
	list := s.Steps[s.StepIndex("list")]
	if list.ItemStates[0].Ticked || !list.ItemStates[1].Ticked {
		t.Errorf("items %+v: want only item 1 ticked", list.ItemStates)
	}
	if s.Seq != 9 {
		t.Errorf("seq %d, want 9", s.Seq)
	}
}

// FuzzFold folds arbitrary event lines: it must never panic. Seeds are a
// recorded session and the crafted lines above.
func FuzzFold(f *testing.F) {
	if data, err := os.ReadFile("../testdata/sessions/rls-bad-day.jsonl"); err == nil {
		f.Add(data)
	} else {
		f.Fatalf("seed: %v", err)
	}
	f.Add([]byte(plannedSession + `{"seq":2,"type":"monitor_tick","step":"mon","monitor":{"query":-1}}`))
	f.Add([]byte(plannedSession + `{"seq":2,"type":"rows","step":"list","rows":{"columns":["a"],"rows":[["1"],["2"],["3"]]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		foldLines(data)
	})
}
