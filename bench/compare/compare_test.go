package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/runbooks"
	"github.com/handrail-dev/handrail/steps"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// The migration workload is what it claims: the splitter handrail uses
// (psql's rules) finds exactly 20,000 statements, and the mix holds the
// kinds of statements the generator says it does.
func TestMigrationSQLHasTheClaimedStatements(t *testing.T) {
	src := migrationSQL(migrationStatements)
	stmts := sqlscan.SplitStatements(src)
	if len(stmts) != migrationStatements {
		t.Fatalf("SplitStatements finds %d statements, want %d", len(stmts), migrationStatements)
	}
	kinds := map[string]int{}
	for _, s := range stmts {
		w := sqlscan.FirstWords(s.SQL, 1)
		if len(w) == 0 {
			t.Fatalf("statement without words at line %d: %q", s.Line, s.SQL)
		}
		kinds[strings.ToLower(w[0])]++
	}
	if kinds["insert"] < migrationStatements*3/4 || kinds["update"] == 0 || kinds["create"] == 0 || kinds["do"] != 1 {
		t.Errorf("statement mix: %v", kinds)
	}
	for _, n := range []int{1, 2, 41, 1001} {
		if got := len(sqlscan.SplitStatements(migrationSQL(n))); got != n {
			t.Errorf("migrationSQL(%d) has %d statements", n, got)
		}
	}
}

// The generated runbooks load without errors and hold the steps the
// workloads measure; the migration runbook's step has 20,000 statements.
func TestGeneratedRunbooksLoad(t *testing.T) {
	dir := t.TempDir()
	mig := filepath.Join(dir, "migration")
	if err := writeRunbook(mig, migrationRunbook(), map[string]string{"migrations/bench.sql": migrationSQL(migrationStatements)}); err != nil {
		t.Fatal(err)
	}
	rb, err := loadRunbook(mig)
	if err != nil {
		t.Fatal(err)
	}
	all := rb.AllSteps()
	if len(all) != 1 || all[0].Kind != steps.KindSQL || !all[0].IsTransactional() {
		t.Fatalf("migration runbook steps: %+v", all)
	}
	stmts, err := rb.StepStatements(all[0])
	if err != nil || len(stmts) != migrationStatements {
		t.Fatalf("migration step: %d statements, %v", len(stmts), err)
	}

	rows := filepath.Join(dir, "rows")
	if err := writeRunbook(rows, rowsRunbook(1_000_000), nil); err != nil {
		t.Fatal(err)
	}
	if rb, err = loadRunbook(rows); err != nil {
		t.Fatal(err)
	}
	s := rb.AllSteps()[0]
	if s.Kind != steps.KindCheck || s.ExpectRows == nil || *s.ExpectRows != 1_000_000 || rb.Settings.KeepRows != 0 {
		t.Fatalf("rows runbook: %+v, keep_rows %d", s, rb.Settings.KeepRows)
	}

	checks := filepath.Join(dir, "checks")
	if err := writeRunbook(checks, checksRunbook(200, target{name: "T", projectID: "t-id"}), nil); err != nil {
		t.Fatal(err)
	}
	if rb, err = loadRunbook(checks); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range rb.AllSteps() {
		if s.Kind == steps.KindCheck && s.Expectation().IsSet() {
			n++
		}
	}
	if n != 200 {
		t.Fatalf("checks runbook has %d checks with an expectation, want 200", n)
	}
}

// The psql side runs the same queries as the handrail side.
func TestPsqlScriptRunsTheSameQueries(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "checks")
	if err := writeRunbook(dir, checksRunbook(200, target{name: "T", projectID: "t-id"}), nil); err != nil {
		t.Fatal(err)
	}
	rb, err := loadRunbook(dir)
	if err != nil {
		t.Fatal(err)
	}
	script, err := psqlScript(rb)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rb.AllSteps() {
		if !strings.Contains(script, s.SQL+";\n") {
			t.Fatalf("the psql script lacks %q", s.SQL)
		}
	}
	if got := len(sqlscan.SplitStatements(script)); got != 201 { // \set ON_ERROR_STOP, then 200 queries
		t.Fatalf("the psql script has %d statements, want 201", got)
	}

	// The Connect runbook: the migration in one transaction, the VACUUMs
	// outside it, and the as_role checks in a rolled-back transaction.
	sub, err := runbooks.Sub("connect-rls-hardening")
	if err != nil {
		t.Fatal(err)
	}
	rb, probs := steps.LoadFS(sub, ".")
	if rb == nil || probs.HasErrors() {
		t.Fatal(probs)
	}
	script, err = psqlScript(rb)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"begin;\n-- Migration 001",
		"create policy \"Users can delete their own chat media\"",
		"commit;\nVACUUM ANALYZE public.rate_limits;\n",
		"begin;\nset local role \"authenticated\";\nselect set_config('request.jwt.claims', '{\"sub\":\"f0000000-0000-4000-8000-0000000000a1\",\"role\":\"authenticated\"}', true);\n",
		"rollback;\n",
		"from pg_stat_activity\nwhere xact_start < now() - interval '5 minutes'",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("the Connect psql script lacks %q", want)
		}
	}
	if strings.Contains(script, "drop column if exists is_public") {
		t.Error("the Connect psql script runs the rollback")
	}
}

func TestParseArgs(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseArgs(nil, &stderr)
	if err != nil || o.n != 5 || o.warmup != 1 || !slices.Equal(o.only, allWorkloads) {
		t.Fatalf("defaults: %+v, %v", o, err)
	}
	o, err = parseArgs([]string{"-n", "3", "-only", "check-1m, migration,check-1m", "-v"}, &stderr)
	if err != nil || o.n != 3 || !o.verbose || !slices.Equal(o.only, []string{wlCheck1M, wlMigration}) {
		t.Fatalf("parsed: %+v, %v", o, err)
	}
	for _, bad := range [][]string{{"-n", "0"}, {"-only", "nope"}, {"-warmup", "-1"}, {"extra"}, {"-n", "x"}} {
		if _, err := parseArgs(bad, &stderr); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestMedianAndTargets(t *testing.T) {
	if m := median([]time.Duration{5, 1, 3}); m != 3 {
		t.Errorf("median of 3: %v", m)
	}
	if m := median([]int64{4, 1, 3, 2}); m != 2 {
		t.Errorf("median of 4: %v", m)
	}
	sums := map[string]summary{
		wlMigration: {ratio: 1.06},
		wlCheck1M:   {ratio: 0.5, hRSS: 20 << 20, pRSS: 99 << 20},
		wlChecks200: {ratio: 1.2},
		wlRows1e4:   {hRSS: 17 << 20},
		wlRows1e5:   {hRSS: 20 << 20},
	}
	got := map[string]bool{}
	for _, v := range targets(sums) {
		got[v.target] = v.pass
	}
	want := map[string]bool{
		"migration: time ratio <= 1.05":                          false,
		"1M-row check: time ratio <= 1.0":                        true,
		"1M-row check: handrail peak RSS < 60.0 MB":              true,
		"1M-row check: handrail peak RSS <= psql's / 5":          false, // 20 MB * 5 > 99 MB
		"200 checks: time ratio <= 1.2":                          true,
		"memory flat 10^4 -> 10^6 rows: max/min peak RSS <= 1.2": true, // 20/17 = 1.18
	}
	if len(got) != len(want) {
		t.Errorf("targets: %v", got)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s: got %v (present %v), want %v", k, g, ok, v)
		}
	}
	sums[wlCheck1M] = summary{ratio: 1.01, hRSS: 21 << 20, pRSS: 99 << 20}
	for _, v := range targets(sums) {
		if strings.HasPrefix(v.target, "1M-row check: time") && v.pass {
			t.Error("ratio 1.01 passes <= 1.0")
		}
		if strings.HasPrefix(v.target, "memory flat") && v.pass {
			t.Error("21/17 MB passes as flat")
		}
	}
}

// The 50 MB file is what its title says: 1.16M inserts and a create
// table (the statements handrail's splitter finds), about 53 MB.
func TestBigFileSQL(t *testing.T) {
	for _, n := range []int{1, 3, 1000} {
		if got := len(sqlscan.SplitStatements(bigFileSQL(n))); got != n+1 {
			t.Errorf("bigFileSQL(%d) has %d statements, want %d", n, got, n+1)
		}
	}
	if n := len(bigFileSQL(bigFileInserts)); n < 50e6 || n > 56e6 {
		t.Errorf("bigFileSQL(%d) is %d bytes, want about 53 MB", bigFileInserts, n)
	}
}

// The 50 MB file's targets are judged in file sizes: RSS 3x, the journal
// before the first statement 1.2x (a journal with no statement started
// misses).
func TestBigFileTargets(t *testing.T) {
	judge := func(s summary) map[string]bool {
		got := map[string]bool{}
		for _, v := range targets(map[string]summary{wlBigFile: s}) {
			got[v.target] = v.pass
		}
		return got
	}
	const rss, journal = "bigfile-tty: handrail peak RSS <= 3x the file", "bigfile-tty: journal before the first statement <= 1.2x the file"
	got := judge(summary{fileBytes: 100, hRSS: 300, beforeFirst: 120})
	if len(got) != 2 || !got[rss] || !got[journal] {
		t.Errorf("at the limits: %v", got)
	}
	got = judge(summary{fileBytes: 100, hRSS: 301, beforeFirst: 121})
	if got[rss] || got[journal] {
		t.Errorf("over the limits: %v", got)
	}
	if got = judge(summary{fileBytes: 100, hRSS: 100, beforeFirst: -1}); got[journal] {
		t.Errorf("no statement started passes: %v", got)
	}
}

// offsetOf finds the offset of the first line holding the marker, past
// lines longer than its reader's buffer.
func TestOffsetOf(t *testing.T) {
	p := filepath.Join(t.TempDir(), "j.jsonl")
	long := strings.Repeat("x", 3<<20)
	if err := os.WriteFile(p, []byte("a\n"+long+"\n"+`{"type":"statement_started"}`+"\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if off, err := offsetOf(p, []byte(`"type":"statement_started"`)); err != nil || off != int64(2+len(long)+1) {
		t.Errorf("offsetOf = %d, %v; want %d", off, err, 2+len(long)+1)
	}
	if off, err := offsetOf(p, []byte("nowhere")); err != nil || off != -1 {
		t.Errorf("offsetOf(absent) = %d, %v", off, err)
	}
}
