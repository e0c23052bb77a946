package steps

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/db"
)

const millionRowsBody = `
[[phase]]
title = "Main"

  [[phase.step]]
  kind = "check"
  id = "million"
  title = "A million rows"
  sql = "select g, 'row ' || g as label from generate_series(1, 1000000) g"
  expect_rows = 1000000
`

// A check over a million rows keeps at most keep_rows of them, in the
// state and in the events, and still judges the count on all of them.
func TestCheckKeepsBoundedRows(t *testing.T) {
	t.Parallel()
	_, dsn := atomicSetup(t)
	rb := writeTestRunbook(t, millionRowsBody, nil)
	keep := rb.KeepRows()
	r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsn)}, nil)
	r.rec.waitStep(t, EvStepStarted, "million")
	r.e.Send(Command{Type: CmdNext})
	passed := r.rec.waitStep(t, EvCheckPassed, "million")
	if n := len(passed.Check.Actual); n > keep {
		t.Errorf("check report keeps %d rows, keep_rows is %d", n, keep)
	}
	r.rec.waitType(t, EvSessionEnded)
	inEvents := 0
	for _, ev := range r.rec.ofType(EvRows) {
		inEvents += len(ev.Rows.Rows)
	}
	if inEvents > keep {
		t.Errorf("rows events carry %d rows, keep_rows is %d", inEvents, keep)
	}
	st := r.e.State().Steps[0]
	if len(st.Rows) > keep || st.TotalRows != 1_000_000 {
		t.Errorf("state keeps %d rows of %d, want at most %d of 1000000", len(st.Rows), st.TotalRows, keep)
	}
	r.quit(t)
	assertFoldMatches(t, r)
}

// BenchmarkCheckMillionRows runs the million-row check through the engine
// and reports the peak heap in use while it runs.
func BenchmarkCheckMillionRows(b *testing.B) {
	sb := db.NewTestSandbox(b, db.SandboxOptions{})
	dsn := testDatabase(b, sb, "work", "test-project")
	rb := writeTestRunbook(b, millionRowsBody, nil)
	var peak atomic.Uint64
	stop := make(chan struct{})
	go samplePeakHeap(&peak, stop)
	defer close(stop)
	b.ResetTimer()
	for range b.N {
		e := NewEngine(Config{Runbook: rb, Target: testTarget(b, dsn), Operator: "bench", Sink: func(Event) error { return nil }})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		go func() { _ = Drive(ctx, e, rb, nil) }()
		if out, err := e.Run(ctx); err != nil || out != OutcomeSucceeded {
			b.Fatalf("outcome %s, err %v", out, err)
		}
		cancel()
	}
	b.StopTimer()
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
}

func samplePeakHeap(peak *atomic.Uint64, stop chan struct{}) {
	var ms runtime.MemStats
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}
}
