package steps

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lint20kRunbook writes a runbook whose one sql step is a 20,000-statement
// file (the mix lockcheck's BenchmarkAnalyze20k uses) and returns its
// directory.
func lint20kRunbook(b *testing.B) string {
	b.Helper()
	var sql strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&sql, "-- batch %d\n", i)
		fmt.Fprintf(&sql, "create table if not exists app.t_%d (id bigint primary key, name text not null, created_at timestamptz default now());\n", i)
		fmt.Fprintf(&sql, "create index t_%d_name_idx on app.t_%d (name);\n", i, i)
		fmt.Fprintf(&sql, "alter table app.t_%d add column note text default 'x', add column score numeric(10,2);\n", i)
		fmt.Fprintf(&sql, "insert into app.t_%d (id, name) select g, 'n' || g from generate_series(1, 10) g;\n", i)
		fmt.Fprintf(&sql, "update app.t_%d set note = 'y' where id in (select id from app.t_%d where name like 'n%%');\n", i, i)
		fmt.Fprintf(&sql, "alter table public.orders_%d add column c_%d int;\n", i%50, i)
		fmt.Fprintf(&sql, "alter table public.orders_%d add constraint ck_%d check (c_%d > 0) not valid;\n", i%50, i, i)
		fmt.Fprintf(&sql, "comment on column app.t_%d.note is 'free text';\n", i)
		fmt.Fprintf(&sql, "grant select on app.t_%d to reporting;\n", i)
		if i%100 == 0 {
			fmt.Fprintf(&sql, "do $$ begin perform pg_sleep(0); end $$;\n")
		} else {
			fmt.Fprintf(&sql, "select count(*) from app.t_%d t join public.customers c on c.id = t.id;\n", i)
		}
	}
	dir := b.TempDir()
	body := testRunbookHead + `
[[phase]]
title = "Main"

  [[phase.step]]
  kind = "sql"
  id = "migrate"
  file = "m.sql"

[rollback]
  [[rollback.step]]
  kind = "sql"
  statements = ["select 1"]
`
	for name, text := range map[string]string{RunbookFile: body, "m.sql": sql.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkLint20k is what `handrail lint` does with a 20,000-statement
// file: load (decode, validate, split) and the lock analysis.
// BenchmarkLoad20k, the load alone, is the reference in the same run.
func BenchmarkLint20k(b *testing.B) {
	dir := lint20kRunbook(b)
	b.ReportAllocs()
	for b.Loop() {
		rb, ps := Load(dir)
		if ps.HasErrors() {
			b.Fatal(ps.Error())
		}
		if len(rb.LintLocks()) == 0 {
			b.Fatal("no lock findings in the 20k file")
		}
	}
}

func BenchmarkLoad20k(b *testing.B) {
	dir := lint20kRunbook(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, ps := Load(dir); ps.HasErrors() {
			b.Fatal(ps.Error())
		}
	}
}
