package lockcheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// migration20k is a 20,000-statement migration in the shape of a long
// generated one: new tables with their indexes, columns added to
// existing and new tables, backfills, constraints, comments, a DO block
// now and then.
func migration20k() string {
	var b strings.Builder
	for i := 0; b.Len() >= 0 && i < 2000; i++ {
		fmt.Fprintf(&b, "-- batch %d\n", i)
		fmt.Fprintf(&b, "create table if not exists app.t_%d (id bigint primary key, name text not null, created_at timestamptz default now());\n", i)
		fmt.Fprintf(&b, "create index t_%d_name_idx on app.t_%d (name);\n", i, i)
		fmt.Fprintf(&b, "alter table app.t_%d add column note text default 'x', add column score numeric(10,2);\n", i)
		fmt.Fprintf(&b, "insert into app.t_%d (id, name) select g, 'n' || g from generate_series(1, 10) g;\n", i)
		fmt.Fprintf(&b, "update app.t_%d set note = 'y' where id in (select id from app.t_%d where name like 'n%%');\n", i, i)
		fmt.Fprintf(&b, "alter table public.orders_%d add column c_%d int;\n", i%50, i)
		fmt.Fprintf(&b, "alter table public.orders_%d add constraint ck_%d check (c_%d > 0) not valid;\n", i%50, i, i)
		fmt.Fprintf(&b, "comment on column app.t_%d.note is 'free text';\n", i)
		fmt.Fprintf(&b, "grant select on app.t_%d to reporting;\n", i)
		if i%100 == 0 {
			fmt.Fprintf(&b, "do $$ begin perform pg_sleep(0); end $$;\n")
		} else {
			fmt.Fprintf(&b, "select count(*) from app.t_%d t join public.customers c on c.id = t.id;\n", i)
		}
	}
	return b.String()
}

// BenchmarkAnalyze20k is the lock analysis of a 20,000-statement file,
// split included; BenchmarkSplit20k, the split alone, is the reference
// (lint splits every file anyway).
func BenchmarkAnalyze20k(b *testing.B) {
	src := migration20k()
	if n := len(sqlscan.SplitStatements(src)); n != 20000 {
		b.Fatalf("%d statements, want 20000", n)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		an := Analyze(sqlscan.SplitStatements(src), Options{Transactional: true})
		if len(an.Statements) != 20000 {
			b.Fatal(len(an.Statements))
		}
	}
}

func BenchmarkSplit20k(b *testing.B) {
	src := migration20k()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if len(sqlscan.SplitStatements(src)) != 20000 {
			b.Fatal()
		}
	}
}

// BenchmarkAnalysisJSON200k encodes, as the journal does (no HTML
// escaping), the analysis of 200,000 inserts into an existing table:
// every statement is kept in the locks_weighed event (it locks the
// table), each with its lock and its maybe.
func BenchmarkAnalysisJSON200k(b *testing.B) {
	var src strings.Builder
	for i := range 200_000 {
		fmt.Fprintf(&src, "insert into app.items (id, note) values (%d, 'a < b & c');\n", i)
	}
	an := Analyze(sqlscan.SplitStatements(src.String()), Options{})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := enc.Encode(an); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}

// BenchmarkAnalysisJSONDecode200k reads back what
// BenchmarkAnalysisJSON200k writes (replay, watch and resume read the
// locks_weighed event).
func BenchmarkAnalysisJSONDecode200k(b *testing.B) {
	var src strings.Builder
	for i := range 200_000 {
		fmt.Fprintf(&src, "insert into app.items (id, note) values (%d, 'a < b & c');\n", i)
	}
	data, err := json.Marshal(Analyze(sqlscan.SplitStatements(src.String()), Options{}))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var an Analysis
		if err := json.Unmarshal(data, &an); err != nil || len(an.Statements) != 200_000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnalyzeInserts200k analyses 200,000 inserts into one table
// (the shape of the 53 MB file of issue 15) and reports what the
// analysis holds live per statement, after a GC.
func BenchmarkAnalyzeInserts200k(b *testing.B) {
	var src strings.Builder
	for i := range 200_000 {
		fmt.Fprintf(&src, "insert into app.items (id, note) values (%d, 'x');\n", i)
	}
	stmts := sqlscan.SplitStatements(src.String())
	b.ReportAllocs()
	var live float64
	for b.Loop() {
		b.StopTimer()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		an := Analyze(stmts, Options{Transactional: true})
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		live = float64(after.HeapAlloc-before.HeapAlloc) / float64(len(stmts))
		runtime.KeepAlive(an)
		b.StartTimer()
	}
	b.ReportMetric(live, "live-B/stmt")
}
