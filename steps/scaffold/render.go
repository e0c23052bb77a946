package scaffold

import (
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/handrail-dev/handrail/steps"
)

// quote writes s as a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7F || r == utf8.RuneError:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// quoteLines writes s as a TOML multi-line basic string, one source line
// per line of s.
func quoteLines(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i, l := range lines {
		q := quote(l)
		lines[i] = q[1 : len(q)-1]
	}
	return "\"\"\"\n" + strings.Join(lines, "\n") + "\"\"\""
}

// The pre-flight checklist every deploy of migrations goes through.
var preflightItems = []string{
	"Change approved, ticket linked, and the team told when it starts",
	"These migrations ran on staging with this runbook, and the application works there",
	"The application release running now works with the schema both before and after the migrations",
	"A second engineer is watching (handrail watch on the session journal, or screen share)",
	"No other deploy or migration is scheduled for the next hour",
}

// longTransactions lists sessions whose transaction has been open for
// more than 5 minutes: they would hold locks the migrations wait for.
const longTransactions = `select pid, usename::text as usename, application_name, state,
       (now() - xact_start)::text as running_for, left(query, 80) as query
from pg_stat_activity
where xact_start < now() - interval '5 minutes'
  and pid <> pg_backend_pid()
  and backend_type = 'client backend'`

// commentSafe keeps a path from ending a TOML comment early.
func commentSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7F {
			return '?'
		}
		return r
	}, s)
}

func render(p *Plan, migDir string) []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	lint := commentSafe(filepath.ToSlash(p.Dir))
	w("# Runbook for the migrations in %s, scaffolded by `handrail new`.\n", commentSafe(filepath.ToSlash(migDir)))
	w(`#
# Before the first real run:
#   1. [target]: replace the placeholders (name, project_id) and list the
#      databases this must never change (staging) in forbidden.
#   2. Migrations: keep only those the target does not have yet (on
#      Supabase, "supabase migration list" shows them; handrail new --after
#      VERSION leaves out the older ones).
#   3. [rollback]: add steps that undo the migrations, newest first.
#   4. Validation: replace or add to the smoke test with checks that prove
#      the migrations did what they should.
# "handrail lint %[1]s" lists what is still open. "handrail demo %[1]s"
# runs it against a throwaway local PostgreSQL (add --apply to write).
# Every key is described in docs/runbook.md of the handrail repository.

`, lint)
	renderHead(w, p)
	renderPreflight(w)
	w("[[phase]]\ntitle = \"Migrations\"\n")
	for _, m := range p.Migrations {
		renderMigration(w, m)
	}
	renderValidation(w)
	renderRollback(w, p)
	return []byte(b.String())
}

func renderHead(w func(string, ...any), p *Plan) {
	first, last := p.Migrations[0].Name, p.Migrations[len(p.Migrations)-1].Name
	title := "Migration " + first
	if len(p.Migrations) > 1 {
		title = fmt.Sprintf("Migrations %s to %s", strings.TrimSuffix(first, filepath.Ext(first)), strings.TrimSuffix(last, filepath.Ext(last)))
	}
	var files strings.Builder
	for _, m := range p.Migrations {
		fmt.Fprintf(&files, "  - %s\n", m.File)
	}
	w("[runbook]\nid = %s\ntitle = %s\nversion = \"1\"\n", quote(p.ID), quote(title))
	w("description = %s\n\n", quoteLines(fmt.Sprintf("Applies %d migration file(s), each in one sql step, in this order:\n%s", len(p.Migrations), files.String())))

	identity := `["stamp"]                 # proves the connection is project_id: run "handrail stamp --db DSN --id <project_id>" once`
	if p.Supabase {
		identity = `["stamp", "supabase"]      # the Supabase project ref from the host name (db.<ref>.supabase.co) or pooler user proves it; or a stamp`
	}
	w(`[target]
name = %s             # TODO: the database as the operator knows it, e.g. "Acme-Prod"
project_id = %s  # TODO: the one database this may change (Supabase: the project ref)
forbidden = []                         # project ids this must never change, e.g. staging's
production = true                      # the operator types project_id before the first write
identity = %s

[settings]
lock_timeout = "5s"        # a statement waiting longer for a lock fails, and can be retried
statement_timeout = "2m"   # a statement running longer is cancelled

`, quote(steps.PlaceholderTargetName), quote(steps.PlaceholderProjectID), identity)
}

func renderPreflight(w func(string, ...any)) {
	w("[[phase]]\ntitle = \"Pre-flight\"\n\n  [[phase.step]]\n  kind = \"checklist\"\n  id = \"pre-flight\"\n  title = \"Pre-flight checklist\"\n")
	for _, it := range preflightItems {
		w("\n    [[phase.step.items]]\n    text = %s\n", quote(it))
	}
	w(`
    [[phase.step.items]]
    text = "No transaction open for over 5 minutes that would block the migrations (ticks itself)"
    sql = """
%s"""
    expect_empty = true

  [[phase.step]]
  kind = "confirm"
  id = "confirm-target"
  title = "Confirm the target"
  prompt = """
The header must show the target as VERIFIED: handrail has proved which
database it is connected to. Confirm this is the database you mean to change."""

  [[phase.step]]
  kind = "confirm"
  id = "confirm-backup"
  title = "Backup verified"
  prompt = """
A backup of the target taken before this change exists and can be restored
(or point-in-time recovery is enabled). Note its time in the change ticket.
Type "backup verified" to continue."""
  type = "backup verified"

`, longTransactions)
}

func renderMigration(w func(string, ...any), m Migration) {
	w("\n  [[phase.step]]\n  kind = \"sql\"\n  id = %s\n  title = %s\n  file = %s\n", quote(m.StepID), quote(m.Name), quote(m.File))
	switch {
	case m.NoTransaction != "":
		w(`  # %s: so this step runs its
  # statements one by one, and if one fails the ones before it stay applied.
  transaction = false
`, m.NoTransaction)
	case m.TransactionControl != "":
		w(`  # The file has its own %s: handrail already runs the step in one
  # transaction, so lint asks you to remove it from the file.
`, m.TransactionControl)
	}
}

func renderValidation(w func(string, ...any)) {
	w(`
[[phase]]
title = "Validation"

  [[phase.step]]
  kind = "manual"
  id = "smoke-test"
  title = "Smoke test the application"
  notes = """
TODO: what to try in the application, and what must happen. Then record
pass or fail with a note."""

  # Checks prove a migration did what it should, read-only, e.g.:
  # [[phase.step]]
  # kind = "check"
  # id = "profiles-exists"
  # title = "public.profiles exists"
  # sql = "select count(*) as n from pg_tables where schemaname = 'public' and tablename = 'profiles'"
  # expect = [{ n = 1 }]
  # on_fail = "rollback"   # offer the rollback at once (needs [[rollback.step]] entries)

`)
}

func renderRollback(w func(string, ...any), p *Plan) {
	w(`[rollback]
when = ["A migration failed", "The smoke test failed"]

# TODO: undo the migrations, newest first. Until there is a rollback step,
# lint warns and the rollback key (R) has nothing to run. For example:
`)
	for i := len(p.Migrations) - 1; i >= 0; i-- {
		m := p.Migrations[i]
		w("#\n#  [[rollback.step]]\n#  kind = \"sql\"\n#  id = %s\n#  file = %s\n",
			quote("undo-"+m.StepID), quote("rollback/"+m.Name))
	}
}
