package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/handrail-dev/handrail/bench/checkset"
	"github.com/handrail-dev/handrail/steps"
)

// Project ids the bench databases are stamped with.
const (
	benchProjectID = "bench-project"
	benchDatabase  = "bench"
)

// migrationStatements is the size of the migration workload.
const migrationStatements = 20_000

// migrationSQL returns a migration file of exactly n statements (n >= 1)
// in schema bench: one table, then a mix of inserts (87.5%), updates (10%)
// and small DDL (2.5%: a table every 40th statement), with comments, a
// semicolon inside string literals and a DO block, so the file is split
// the way a real one is. It needs the schema bench to exist and be empty.
func migrationSQL(n int) string {
	var b strings.Builder
	b.Grow(n * 80)
	b.WriteString("-- handrail bench: a generated migration of ")
	fmt.Fprintf(&b, "%d statements, run in one transaction.\n\n", n)
	b.WriteString("create table bench.items (\n\tid int primary key,\n\tname text not null,\n\tqty int not null default 0,\n\tnote text\n);\n")
	items := 0
	for i := 1; i < n; i++ {
		if i%1000 == 0 {
			fmt.Fprintf(&b, "\n-- batch %d\n", i/1000)
		}
		switch {
		case i == n/2:
			b.WriteString("do $$\nbegin\n\tperform count(*) from bench.items; -- a semicolon inside the body\nend\n$$;\n")
		case i%40 == 0:
			fmt.Fprintf(&b, "create table bench.aux_%d (id int primary key, v text default 'aux; %d');\n", i/40, i)
		case i%8 == 0 && items > 0:
			fmt.Fprintf(&b, "update bench.items set qty = qty + 1, note = 'touched by %d' where id = %d;\n", i, 1+(i*7919)%items)
		default:
			items++
			fmt.Fprintf(&b, "insert into bench.items (id, name, qty) values (%d, 'item %d; ok', %d);\n", items, items, i%97)
		}
	}
	return b.String()
}

// migrationReset makes the bench database ready for migrationSQL again.
const migrationReset = "drop schema if exists bench cascade; create schema bench; checkpoint"

// rowsQuery returns the check query of n rows used by the row workloads.
func rowsQuery(n int) string {
	return fmt.Sprintf("select g, 'row ' || g as label from generate_series(1, %d) g", n)
}

// target is the [target] of a generated runbook.
type target struct {
	name, projectID string
	forbidden       []string
}

func (t target) toml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[target]\nname = %q\nproject_id = %q\n", t.name, t.projectID)
	if len(t.forbidden) > 0 {
		b.WriteString("forbidden = [")
		for i, f := range t.forbidden {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", f)
		}
		b.WriteString("]\n")
	}
	// production: the autopilot types the project id before the first write, as an operator must.
	b.WriteString("production = true\nidentity = [\"stamp\"]\n")
	return b.String()
}

func runbookHead(id, title string, t target) string {
	return fmt.Sprintf(`[runbook]
id = %q
title = %q
version = "1"

%s
[settings]
lock_timeout = "5s"
statement_timeout = "10m"
`, id, title, t.toml())
}

// migrationRunbook is a runbook of one sql step running
// migrations/bench.sql (default transaction = true), with a rollback.
func migrationRunbook() string {
	return runbookHead("bench-migration", "Bench: generated migration", target{name: "Bench", projectID: benchProjectID}) + `
[[phase]]
title = "Execution"

  [[phase.step]]
  kind = "sql"
  id = "migrate"
  title = "Apply the generated migration"
  file = "migrations/bench.sql"

[rollback]
when = ["never: this is a benchmark"]

  [[rollback.step]]
  kind = "sql"
  id = "undo"
  statements = ["drop schema bench cascade", "create schema bench"]
`
}

// rowsRunbook is a runbook of one check over n rows with expect_rows and
// the default keep_rows.
func rowsRunbook(n int) string {
	return runbookHead(fmt.Sprintf("bench-rows-%d", n), fmt.Sprintf("Bench: a check over %d rows", n), target{name: "Bench", projectID: benchProjectID}) + fmt.Sprintf(`
[[phase]]
title = "Validation"

  [[phase.step]]
  kind = "check"
  id = "rows"
  title = "%d rows"
  sql = %q
  expect_rows = %d
`, n, rowsQuery(n), n)
}

// checksRunbook is a runbook of n check steps cycling through the
// checkset's small checks, against connect_staging.
func checksRunbook(n int, t target) string {
	return runbookHead(fmt.Sprintf("bench-checks-%d", n), fmt.Sprintf("Bench: %d small checks", n), t) + checkset.Steps(n)
}

// writeRunbook writes runbook.toml and files into dir.
func writeRunbook(dir, toml string, files map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, steps.RunbookFile), []byte(toml), 0o644)
}

// loadRunbook loads dir and refuses a runbook with errors.
func loadRunbook(dir string) (*steps.Runbook, error) {
	rb, probs := steps.Load(dir)
	if rb == nil || probs.HasErrors() {
		var b strings.Builder
		steps.FormatProblems(&b, probs.Errors())
		return nil, fmt.Errorf("runbook %s does not load:\n%s", dir, b.String())
	}
	return rb, nil
}

// psqlScript is the work of a runbook as one psql script: what handrail
// sends to the database for it, minus handrail's own framing (BEGIN READ
// ONLY / ROLLBACK around plain checks, the identity probes, the lock).
// sql steps run as written, in BEGIN ... COMMIT when transactional; checks,
// self-ticking checklist items and monitor queries (once: the autopilot
// ends a monitor after its first tick) run as queries; a check with
// as_role or settings runs in a transaction that is rolled back, as
// handrail runs it. Rollback steps are left out (they do not run).
func psqlScript(rb *steps.Runbook) (string, error) {
	var b strings.Builder
	b.WriteString("\\set ON_ERROR_STOP 1\n")
	query := func(sql string) {
		b.WriteString(strings.TrimSpace(sql))
		b.WriteString(";\n")
	}
	for _, s := range rb.AllSteps() {
		switch s.Kind {
		case steps.KindSQL:
			stmts, err := rb.StepStatements(s)
			if err != nil {
				return "", err
			}
			tx := s.IsTransactional()
			if tx {
				b.WriteString("begin;\n")
			}
			for _, st := range stmts {
				query(st.SQL)
			}
			if tx {
				b.WriteString("commit;\n")
			}
		case steps.KindCheck:
			if s.AsRole == "" && len(s.SessionVars) == 0 {
				query(s.SQL)
				continue
			}
			b.WriteString("begin;\n")
			if s.AsRole != "" {
				fmt.Fprintf(&b, "set local role %s;\n", quoteIdent(s.AsRole))
			}
			for _, k := range sortedKeys(s.SessionVars) {
				fmt.Fprintf(&b, "select set_config(%s, %s, true);\n", quoteLiteral(k), quoteLiteral(s.SessionVars[k]))
			}
			query(s.SQL)
			b.WriteString("rollback;\n")
		case steps.KindChecklist:
			for _, it := range s.Items {
				if it.SQL != "" {
					query(it.SQL)
				}
			}
		case steps.KindMonitor:
			for _, q := range s.Queries {
				query(q.SQL)
			}
		}
	}
	return b.String(), nil
}

func quoteIdent(s string) string   { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
