package journal

import (
	"fmt"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/steps"
)

// BenchmarkListingLine: the format 2 line of a step_would_run listing n
// statements shaped like the 53 MB file of issue 15 (inserts, one with
// tabs), encoded as the writer encodes it. B/op is what a listing costs
// in memory beyond the engine's statements.
func BenchmarkListingLine(b *testing.B) {
	for _, n := range []int{20_000, 200_000} {
		b.Run(fmt.Sprintf("statements=%d", n), func(b *testing.B) {
			ss := make([]steps.StatementInfo, n)
			for k := range ss {
				ss[k] = steps.StatementInfo{Index: k, Count: n, SQL: fmt.Sprintf("insert into bench.items (id) values (%d)", k), File: "migrations/0001_bench.sql", Line: k + 8}
			}
			ss[1].SQL = "create table bench.items (\n\tid int primary key,\n\tname text not null\n)"
			e := steps.Event{Seq: 7, Time: time.Unix(1764583200, 0), Type: steps.EvStepWouldRun, Step: "0001_bench", Statements: steps.ListOf(ss)}
			prev := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
			enc := newEncoder()
			b.ReportAllocs()
			b.ResetTimer()
			size := 0
			for range b.N {
				c, lst := stmtTable{}.compact(e)
				line, err := enc.encodeEvent(eventLine{Event: c, Listing: lst, Prev: &prev})
				if err != nil {
					b.Fatal(err)
				}
				size = len(line)
				enc.shrink()
			}
			b.ReportMetric(float64(size)/1e6, "line-MB")
		})
	}
}

// BenchmarkRecordListing: Record of the step_would_run line above (200,000
// statements, 9 MB), to a file: "streamed" as the writer records it (in
// pieces of 1 MiB, built twice: to hash it, to write it), "whole" the
// reference of the same run (one buffer, one write(2), as before
// streaming). B/op is what the line costs in memory.
func BenchmarkRecordListing(b *testing.B) {
	const n = 200_000
	ss := make([]steps.StatementInfo, n)
	for k := range ss {
		ss[k] = steps.StatementInfo{Index: k, Count: n, SQL: fmt.Sprintf("insert into bench.items (id) values (%d)", k), File: "migrations/0001_bench.sql", Line: k + 8}
	}
	ss[1].SQL = "create table bench.items (\n\tid int primary key,\n\tname text not null\n)"
	list := steps.ListOf(ss)
	for _, mode := range []string{"streamed", "whole"} {
		b.Run(mode, func(b *testing.B) {
			b.ReportAllocs()
			size := int64(0)
			for b.Loop() {
				b.StopTimer()
				w, err := Create(b.TempDir(), Header{RunbookID: "bench"}, []string{"s3cr3t-password"})
				if err != nil {
					b.Fatal(err)
				}
				w.noSync = true
				if mode == "whole" {
					w.enc.chunk = 1 << 40
				}
				before := w.size
				b.StartTimer()
				if err := w.Append(steps.Event{Seq: 1, Time: time.Unix(1764583200, 0), Type: steps.EvStepWouldRun, Step: "0001_bench", Statements: list}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				size = w.size - before
				w.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(size)/1e6, "line-MB")
		})
	}
}
