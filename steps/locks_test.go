package steps

import (
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/steps/lockcheck"
)

const locksBody = `
[[phase]]
title = "Main"

  [[phase.step]]
  kind = "sql"
  id = "migrate"
  file = "migrations/m.sql"

  [[phase.step]]
  kind = "sql"
  id = "inline"
  transaction = false
  statements = [
    "select 1",
    "alter table t drop column c",
  ]

  [[phase.step]]
  kind = "check"
  id = "looks"
  sql = "select 1"
  expect_rows = 1

[rollback]
  [[rollback.step]]
  kind = "sql"
  file = "rollback/r.sql"
`

func TestLintLocks(t *testing.T) {
	rb := writeTestRunbook(t, locksBody, map[string]string{
		"migrations/m.sql": `-- handrail:allow create-index-blocking country has 250 rows
create index on country (name);
create index on orders (customer_id);
alter table orders alter column total type numeric(14,2);
-- handrail:allow drop-table nothing here drops a table
select 1;
-- handrail:allow create-index-blocking after the last statement
`,
		"rollback/r.sql": "truncate orders;\n",
	})
	ps := rb.LintLocks()
	var lines []string
	for _, p := range ps {
		lines = append(lines, p.String())
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{
		"migrations/m.sql:3: warning: create-index-blocking: CREATE INDEX holds SHARE on orders",
		"safer: CREATE INDEX CONCURRENTLY in a step with transaction = false; or accept it in a comment above the statement: -- handrail:allow create-index-blocking REASON",
		"migrations/m.sql:4: warning: column-type-rewrite:",
		"lint cannot tell; `handrail check` looks it up on the target",
		"migrations/m.sql:5: warning: allow comment for drop-table accepts nothing",
		"migrations/m.sql:7: warning: allow comment is not attached to any statement",
		"runbook.toml:30: warning: drop-column: DROP COLUMN t.c",
		"rollback/r.sql:1: warning: truncate-table:",
		"migrations/m.sql:4: warning: lock-held-until-commit: ALTER TABLE takes ACCESS EXCLUSIVE on orders",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("LintLocks lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "m.sql:2:") {
		t.Errorf("the allowed finding is reported:\n%s", got)
	}
	if ps.HasErrors() {
		t.Errorf("lock findings are warnings, not errors:\n%s", got)
	}
	if strict := ps.Strict(); !strict.HasErrors() || len(strict.Warnings()) != 0 || len(strict) != len(ps) {
		t.Errorf("Strict: %s", strict.Summary())
	}

	// Load does not run it (run and check do not pay for it).
	if _, loadPs := Load(rb.Dir); len(loadPs) != 0 {
		t.Errorf("Load reports lock findings:\n%s", loadPs.Error())
	}
}

func TestStepLocks(t *testing.T) {
	rb := writeTestRunbook(t, locksBody, map[string]string{
		"migrations/m.sql": "-- handrail:allow create-index-blocking small\ncreate index on country (name);\n",
		"rollback/r.sql":   "select 1;\n",
	})
	steps := rb.AllSteps()
	an, err := rb.StepLocks(steps[0])
	if err != nil || an == nil || !an.Transactional || len(an.Statements) != 1 || len(an.Findings) != 1 {
		t.Fatalf("StepLocks(migrate) = %+v, %v", an, err)
	}
	f := an.Findings[0]
	if f.Allowed == nil || f.Allowed.Reason != "small" || f.File != "migrations/m.sql" || f.Line != 2 {
		t.Fatalf("finding %+v allowed %+v", f, f.Allowed)
	}
	if l := an.Statements[0].Locks[0]; l.Mode != lockcheck.Share || l.Rel.Name != "country" {
		t.Fatalf("lock %+v", l)
	}
	if an, err := rb.StepLocks(steps[2]); an != nil || err != nil {
		t.Fatalf("a check step has no lock analysis: %+v %v", an, err)
	}
	an, _ = rb.StepLocks(steps[1])
	if an.Transactional || an.Statements[1].Line != 30 || an.Statements[1].File != RunbookFile {
		t.Fatalf("inline statements: %+v", an.Statements)
	}
}
