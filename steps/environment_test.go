package steps

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const envRunbook = `
[runbook]
id = "env-test"
title = "Environments"

[target]
name = "Prod"
project_id = "prodprodprodprodprod"
production = true
identity = ["stamp"]
%s
[[phase]]
title = "Go"
  [[phase.step]]
  kind = "checklist"
  id = "pre"
    [[phase.step.items]]
    text = "Proven on staging"
    %s
  [[phase.step]]
  kind = "sql"
  id = "write"
  statements = ["alter table public.t add column c int", "update public.t set c = 1", "create policy \"p on x\" on public.t for update to authenticated using (true)"]

[[rollback.step]]
kind = "sql"
statements = ["alter table public.t drop column c"]
`

func loadEnvRunbook(t *testing.T, tables, item string) (*Runbook, Problems) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, RunbookFile), []byte(strings.Replace(strings.Replace(envRunbook, "%s", tables, 1), "%s", item, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(dir)
}

func TestStagingEnvironment(t *testing.T) {
	rb, problems := loadEnvRunbook(t, `
[staging]
name = "Staging"
project_id = "stagstagstagstagstag"
identity = ["stamp"]
proof_max_age = "7d"

[apply]
on_failure = "rollback"
plan_max_age = "4h"
`, "staging_proof = true")
	if problems.HasErrors() {
		t.Fatalf("lint: %v", problems)
	}
	if !rb.PromotionGated() || rb.ProofMaxAge() != 7*24*time.Hour || rb.PlanMaxAge() != 4*time.Hour || rb.Unattended.OnFailure != "rollback" {
		t.Fatalf("decoded: gated %v, proof age %s, plan age %s, on_failure %q", rb.PromotionGated(), rb.ProofMaxAge(), rb.PlanMaxAge(), rb.Unattended.OnFailure)
	}
	st, err := rb.ForEnv(EnvStaging)
	if err != nil {
		t.Fatal(err)
	}
	if st.Hash != rb.Hash || st.Target.ProjectID != "stagstagstagstagstag" || st.Target.Production ||
		!slices.Contains(st.Target.Forbidden, "prodprodprodprodprod") || st.PromotionGated() || st.EnvName() != EnvStaging {
		t.Fatalf("staging copy: %+v gated %v", st.Target, st.PromotionGated())
	}
	if rb.Target.ProjectID != "prodprodprodprodprod" || rb.Env != "" {
		t.Fatal("ForEnv changed the runbook it copied")
	}
	if _, err := rb.ForEnv("qa"); err == nil {
		t.Error("an unknown environment was accepted")
	}
}

func TestStagingLint(t *testing.T) {
	for _, tt := range []struct{ name, tables, item, want string }{
		{"proof without staging", "", "staging_proof = true", "names no [staging] environment"},
		{"same project", "[staging]\nproject_id = \"prodprodprodprodprod\"\nidentity = [\"stamp\"]\n", "", "is [target]'s project_id"},
		{"no identity", "[staging]\nproject_id = \"stagstagstagstagstag\"\n", "", "[staging] has no identity source"},
		{"no project", "[staging]\nidentity = [\"stamp\"]\n", "", "[staging] has no project_id"},
		{"bad source", "[staging]\nproject_id = \"s\"\nidentity = [\"stamps\"]\n", "", `unknown identity source "stamps"`},
		{"bad age", "[staging]\nproject_id = \"s\"\nidentity = [\"stamp\"]\nproof_max_age = \"0d\"\n", "", "proof_max_age must be positive"},
		{"bad days", "[staging]\nproject_id = \"s\"\nidentity = [\"stamp\"]\nproof_max_age = \"1.5d\"\n", "", "invalid duration"},
		{"proof and sql", "[staging]\nproject_id = \"s\"\nidentity = [\"stamp\"]\n", "staging_proof = true\n    sql = \"select 1 as n\"\n    expect = [{ n = 1 }]", "both staging_proof and a query"},
		{"on_failure", "[apply]\non_failure = \"retry\"\n", "", `unknown on_failure "retry"`},
		{"typo", "[apply]\non_falure = \"stop\"\n", "", `did you mean "on_failure"?`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, problems := loadEnvRunbook(t, tt.tables, tt.item)
			if !problems.HasErrors() || !strings.Contains(problems.Errors().Error(), tt.want) {
				t.Errorf("want an error containing %q, got:\n%v", tt.want, problems)
			}
		})
	}
}

func TestTouchedObjects(t *testing.T) {
	rb, problems := loadEnvRunbook(t, "", "")
	if problems.HasErrors() {
		t.Fatal(problems)
	}
	// The policy's quoted name holds " on x": text, not a relation.
	if got, want := rb.TouchedObjects(), []string{"public.t"}; !slices.Equal(got, want) {
		t.Errorf("TouchedObjects = %q, want %q", got, want)
	}
	for sql, want := range map[string][]string{
		`ALTER TABLE IF EXISTS ONLY "Sales"."Order Lines" ADD x int`:                              {`"Sales"."Order Lines"`},
		"-- update audit.log\ninsert into audit.log select 1 from pg_class a join b on a.x = b.y": {"audit.log"},
		"vacuum analyze public.a; truncate table b; delete from c where d in (select 1)":          {"public.a", "b", "c"},
		"create index concurrently i on Public.Orders (id) -- on pg_catalog.pg_class":             {"public.orders"},
		"select 'update nothing' from pg_tables":                                                  nil,
	} {
		if got := touchedIn(sql); !slices.Equal(got, want) {
			t.Errorf("touchedIn(%q) = %q, want %q", sql, got, want)
		}
	}
}

// touchedIn reads any SQL without panicking, and every name it returns
// is a name (no empty one, no comment or literal text).
func FuzzTouchedIn(f *testing.F) {
	for _, s := range []string{
		`alter table public.t add column c int`, `create policy "Users can update" on storage.objects for update to authenticated using (true)`,
		`ALTER TABLE IF EXISTS ONLY "Sales"."Order Lines" ADD x int`, "update a set b = 'on x' -- on y", `on "" . "#0"`, `"#1" on "#0"`,
		"do $$ begin update x.y set z = 1; end $$", `on "a""b".c`, "vacuum (verbose) t",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		for _, n := range touchedIn(sql) {
			if n == "" || strings.Contains(n, "--") || strings.HasPrefix(n, "pg_") {
				t.Fatalf("touchedIn(%q) returned %q", sql, n)
			}
		}
	})
}
