package steps

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// A screen that skips the events Superseded allows, as the coalescing
// queue does (a waiting event dropped when the next one supersedes it),
// folds, at every event it gets, to the state every event up to that
// one folds to: statements with rows, notices and lock waits between
// them, a failure and a retry, two steps.
func TestSupersededFoldsTheSame(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	total, skipped := 0, 0
	for round := range 200 {
		events := statementStream(rng)
		var kept []int // indexes into events
		for i, e := range events {
			if n := len(kept); n > 0 && Superseded(events[kept[n-1]], e) {
				kept = kept[:n-1]
			}
			kept = append(kept, i)
		}
		total, skipped = total+len(events), skipped+len(events)-len(kept)
		var all, some State
		next := 0
		for _, k := range kept {
			for ; next <= k; next++ {
				all = Apply(all, events[next])
			}
			some = Apply(some, events[k])
			if !reflect.DeepEqual(all, some) {
				t.Fatalf("round %d, at event %d (%s): skipping differs:\nall:  %+v\nsome: %+v", round, k, events[k].Type, all.Steps, some.Steps)
			}
		}
	}
	if skipped < total/4 {
		t.Errorf("%d of %d events skipped: the stream has too few runs to test", skipped, total)
	}
}

// Superseded drops only a statement event followed by the next start.
func TestSupersededOnlyStatementRuns(t *testing.T) {
	st := func(typ EventType, step string) Event {
		return Event{Type: typ, Step: step, Statement: &StatementInfo{}}
	}
	for _, c := range []struct {
		name string
		a, b Event
		want bool
	}{
		{"start, start", st(EvStatementStarted, "s"), st(EvStatementStarted, "s"), true},
		{"end, start", st(EvStatementFinished, "s"), st(EvStatementStarted, "s"), true},
		{"start, end", st(EvStatementStarted, "s"), st(EvStatementFinished, "s"), false},
		{"end, end", st(EvStatementFinished, "s"), st(EvStatementFinished, "s"), false},
		{"rows, start", st(EvRows, "s"), st(EvStatementStarted, "s"), false},
		{"notice, start", st(EvNotice, "s"), st(EvStatementStarted, "s"), false},
		{"lock wait, start", st(EvLockWait, "s"), st(EvStatementStarted, "s"), false},
		{"another step", st(EvStatementFinished, "s"), st(EvStatementStarted, "t"), false},
		{"the intent", st(EvIntent, "s"), st(EvStatementStarted, "s"), false},
		{"a start without its statement", st(EvStatementFinished, "s"), Event{Type: EvStatementStarted, Step: "s"}, false},
	} {
		if got := Superseded(c.a, c.b); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// statementStream is a session with two sql steps, the first run with
// statements that return rows, notices and lock waits among plain ones,
// failed once and retried.
func statementStream(rng *rand.Rand) []Event {
	plan := []PlannedStep{{ID: "a", Kind: KindSQL}, {ID: "b", Kind: KindSQL}}
	var out []Event
	seq := int64(0)
	add := func(e Event) {
		seq++
		e.Seq, e.Mono = seq, time.Duration(seq)*time.Millisecond
		out = append(out, e)
	}
	add(Event{Type: EvSessionStarted, Session: &SessionInfo{Plan: plan}})
	for _, id := range []string{"a", "b"} {
		n := 3 + rng.IntN(40)
		list := make([]StatementInfo, n)
		for k := range list {
			list[k] = StatementInfo{Index: k, Count: n, SQL: "insert", Line: k + 1}
		}
		add(Event{Type: EvStepStarted, Step: id})
		for try := range 2 {
			add(Event{Type: EvIntent, Step: id, Statements: ListOf(list)})
			for k := range list {
				s := list[k]
				add(Event{Type: EvStatementStarted, Step: id, Statement: &s})
				switch rng.IntN(8) {
				case 0:
					add(Event{Type: EvRows, Step: id, Rows: &RowBatch{Columns: []string{"x"}, Rows: [][]string{{"1"}}, Total: 1}})
				case 1:
					add(Event{Type: EvNotice, Step: id, Notice: &Notice{Severity: "NOTICE", Message: "n"}})
				case 2:
					add(Event{Type: EvLockWait, Step: id, Blockers: []Blocker{{PID: 7}}})
				}
				f := list[k]
				f.Tag, f.RowsAffected, f.Elapsed = "INSERT 0 1", 1, time.Duration(k)
				add(Event{Type: EvStatementFinished, Step: id, Statement: &f})
				if try == 0 && k == n/2 {
					break
				}
			}
			if try == 0 {
				add(Event{Type: EvStepFailed, Step: id, Error: &ErrorInfo{Message: "boom"}})
			}
		}
		add(Event{Type: EvStepSucceeded, Step: id})
	}
	return out
}
