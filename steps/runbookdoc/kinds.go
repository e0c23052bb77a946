package runbookdoc

import "github.com/handrail-dev/handrail/steps"

// Kinds documents every step kind, in the order of steps.Kinds.
var Kinds = []KindDoc{
	{
		Kind: steps.KindChecklist, Summary: "items the operator ticks before moving on",
		Doc: "Every item must be ticked (`space`), or skipped with a typed reason (`s`), before `enter` moves on. " +
			"An item with `sql` and an expectation ticks itself when its query's result matches.",
		Required: []string{"items"},
		Example: `[[phase.step]]
kind = "checklist"
id = "pre-flight"
title = "Pre-flight checklist"
items = [
  { text = "Change ticket approved" },
  { text = "No lock waits right now", sql = "select pid from pg_locks where not granted", expect_empty = true },
]`,
	},
	{
		Kind: steps.KindConfirm, Summary: "a gate: the operator confirms, or types a text exactly",
		Doc:      "Shows the prompt; `enter` confirms. With `type`, the operator must type that text exactly.",
		Required: []string{"prompt"},
		Example: `[[phase.step]]
kind = "confirm"
id = "confirm-backup"
title = "Backup verified"
prompt = "The latest backup is less than 24 hours old. Type \"backup verified\" to continue."
type = "backup verified"`,
	},
	{
		Kind: steps.KindSQL, Summary: "runs a SQL file or inline statements against the target (writes)",
		Doc: "Shows what it would run; `enter` runs it. Without `--apply` (a dry run) it is skipped and nothing is sent. " +
			"Before the first write to a `production` target the operator types the project id. The intent is journaled and " +
			"fsynced before the first statement is sent; the statements stream their rows and notices into the pane; " +
			"`ctrl+c` sends a cancel request. `file` or `statements`, not both.",
		AnyOf: [][]string{{"file", "statements"}},
		Example: `[[phase.step]]
kind = "sql"
id = "apply-001"
title = "Apply migration 001"
file = "migrations/001.sql"`,
		Files: map[string]string{"migrations/001.sql": "alter table public.orders add column note text;\n"},
	},
	{
		Kind: steps.KindCheck, Summary: "a read-only query compared with what is expected",
		Doc: "Runs `sql` read-only (also in a dry run) and compares the result with `expect` (rows), `expect_rows` (a count) or " +
			"`expect_empty`; or, with `report = true`, just shows the rows. With `as_role` and `settings` it runs as that role " +
			"with those settings in a transaction that is always rolled back, which is how row level security is tested. " +
			"A failure does what `on_fail` says. `handrail check RUNBOOK` runs every check without a terminal, for cron.",
		Required: []string{"sql"},
		AnyOf:    [][]string{{"expect", "expect_rows", "expect_empty", "report"}},
		Example: `[[phase.step]]
kind = "check"
id = "viewer-sees-public-only"
title = "Another user sees the owner's public account only"
as_role = "authenticated"
settings = { "request.jwt.claims" = '{"sub":"f0000000-0000-4000-8000-0000000000b2","role":"authenticated"}' }
sql = "select name from public.business_accounts where owner_id = 'f0000000-0000-4000-8000-0000000000a1'"
expect = [{ name = "Smoke Test Public Business" }]
on_fail = "rollback"`,
	},
	{
		Kind: steps.KindManual, Summary: "instructions; the operator records pass or fail with a note",
		Doc:     "Shows `notes`; the operator does the test and records it: `p` pass or `f` fail, each with a note that is journaled.",
		Example: "[[phase.step]]\nkind = \"manual\"\nid = \"smoke-upload\"\ntitle = \"Upload an avatar\"\nnotes = \"In the app, upload a JPEG under 10 MiB: it must succeed.\"",
	},
	{
		Kind: steps.KindMonitor, Summary: "a timed window that re-runs queries live, with alerts",
		Doc: "`enter` opens the window: every `every` its queries run again (read-only) and show live, an `alert` that holds is " +
			"raised and journaled, and `watch` lists what to watch elsewhere. It ends after `duration`, or early with a reason (`e`).",
		Required: []string{"duration", "every"},
		AnyOf:    [][]string{{"queries", "watch"}},
		Example: `[[phase.step]]
kind = "monitor"
id = "monitor-15m"
title = "Monitor for 15 minutes"
duration = "15m"
every = "30s"
watch = ["API error rate at its usual level"]
queries = [{ title = "Waiting locks", sql = "select count(*) as waiting from pg_locks where not granted", alert = "waiting > 0" }]`,
	},
	{
		Kind: steps.KindExec, Summary: "a shell command with streamed output and exit code (writes)",
		Doc: "Like a sql step, it writes: skipped in a dry run, consent first on production. The command runs with `sh -c` in the " +
			"runbook directory; `PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE` (and `PGPASSWORD`, never on the command line) come from " +
			"the target's connection. A non-zero exit code fails the step.",
		Required: []string{"command"},
		Example: `[[phase.step]]
kind = "exec"
id = "backup"
title = "Backup with pg_dump"
command = "pg_dump --format=custom --file=backup.dump"
timeout = "30m"`,
	},
	{
		Kind: steps.KindMessage, Summary: "renders one of [[messages]], to copy and send",
		Doc: "Renders the message with the session's facts, shows it, copies it with `c` (OSC 52, works over SSH) and saves it " +
			"in the journal.",
		Required: []string{"message"},
		Example: `[[phase.step]]
kind = "message"
id = "announce"
title = "Announce the deploy"
message = "announce"`,
	},
}

// Sources documents every identity source, in the order of
// steps.IdentitySources.
var Sources = []SourceDoc{
	{
		Name:     steps.IdentityStamp,
		Compares: "the id recorded in the database by `handrail stamp --db DSN --id PROJECT_ID` (a line of the database's comment, `COMMENT ON DATABASE`)",
		Doc: "Stamp each database once with its own id; a database never stamped resolves to nothing (it does not count), one " +
			"stamped with another id is a mismatch. Works anywhere, including the demo sandbox.",
		Example: "[target]\nproject_id = \"shop-prod\"\nidentity = [\"stamp\"]",
	},
	{
		Name: steps.IdentitySupabase,
		Compares: "the Supabase project ref in the connection itself: the host `db.<ref>.supabase.co`, or the pooler user `postgres.<ref>` " +
			"(a ref is 20 lowercase letters)",
		Doc:     "Sends nothing to the database. Any other host resolves to nothing. Lint warns when `project_id` is not a ref.",
		Example: "[target]\nproject_id = \"rxlqtyfhsocxnsnnnlwl\"\nidentity = [\"supabase\"]",
	},
	{
		Name:     steps.IdentitySQL,
		Compares: "the one value `identity_sql` returns, as text",
		Doc: "The query runs read-only (`BEGIN READ ONLY` ... `ROLLBACK`) and must return one row with one column; no row or NULL " +
			"resolves to nothing, an error or several rows refuse (handrail cannot tell what it would have said).",
		Example: "[target]\nproject_id = \"eu-west-prod\"\nidentity = [\"sql\"]\nidentity_sql = \"select value from ops.environment where key = 'id'\"",
	},
	{
		Name: steps.IdentitySystemIdentifier,
		Compares: "`select system_identifier from pg_control_system()`: the cluster's 64-bit id, as decimal text, " +
			"set by initdb",
		Doc: "It identifies the cluster, not the database: every database of the cluster has it, and a physical replica or a cluster " +
			"restored from a base backup has its primary's. So `project_id` is that number, and every other source must find the same.",
		Example: "[target]\nproject_id = \"7311987654321012345\"\nidentity = [\"system_identifier\"]",
	},
}
