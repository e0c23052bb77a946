package runbookdoc

import (
	"reflect"

	"github.com/handrail-dev/handrail/steps"
)

// Tables documents every table of runbook.toml, in the order of the
// reference. [[rollback.step]] decodes like [[phase.step]] and is
// documented there.
var Tables = []Table{
	{
		Name: "", Type: reflect.TypeOf(steps.Runbook{}),
		Doc: "A runbook is a directory holding `runbook.toml` and the SQL files it names (paths relative to that directory, inside it). " +
			"Top-level keys must come before the first table header.",
		Keys: []Key{
			{Name: "success_criteria", Doc: "What success means, shown in the end summary of the session.",
				Example: `success_criteria = ["Migration committed", "All checks passed"]`},
			{Name: "runbook", Required: true, Doc: "The runbook's identity: see [runbook]."},
			{Name: "target", Required: true, Doc: "The one database this runbook may change: see [target]."},
			{Name: "staging", Doc: "The staging database the runbook runs on first, and the promotion gate: see [staging]."},
			{Name: "apply", Doc: "How an unattended `handrail apply` behaves: see [apply]."},
			{Name: "approval", Doc: "Second-person approval of every write by a pair partner: see [approval]."},
			{Name: "settings", Doc: "Timeouts and limits: see [settings]."},
			{Name: "messages", Doc: "The communication plan: see [[messages]]."},
			{Name: "phase", Required: true, Doc: "The steps, grouped in phases: see [[phase]]."},
			{Name: "rollback", Doc: "How to undo the change: see [rollback]."},
		},
	},
	{
		Name: "runbook", Type: reflect.TypeOf(steps.Meta{}),
		Doc: "What the runbook is. The id names it in the journal file name, the journal header and the screen.",
		Keys: []Key{
			{Name: "id", Required: true, Doc: "A short, stable name: letters, digits, `-` and `_`.", Example: `id = "rls-hardening"`},
			{Name: "title", Doc: "The title shown in the header.", Example: `title = "RLS hardening (migration 001)"`},
			{Name: "version", Doc: "The runbook's own version, shown beside the title.", Example: `version = "1.0"`},
			{Name: "risk", Doc: "Free text for the reader, e.g. low, medium, high.", Example: `risk = "low"`},
			{Name: "estimate", Doc: "How long the change should take, free text.", Example: `estimate = "30m"`},
			{Name: "description", Doc: "What the change does and why, shown at the start.", Example: `description = "Enables RLS on every tenant table."`},
		},
	},
	{
		Name: "target", Type: reflect.TypeOf(steps.Target{}),
		Doc: "The one database this runbook may change. Before anything but the identity probes runs, every identity source that " +
			"resolves must find `project_id`, at least one must resolve, and none may find an id in `forbidden`; otherwise the session " +
			"stops hard (exit 3) and nothing else is sent. Identity is proved again after every reconnect. The deploy lock " +
			"(a session advisory lock, so one deploy at a time) is derived from `project_id`.",
		Keys: []Key{
			{Name: "name", Doc: "The database as the operator knows it, shown in the header and in messages.", Example: `name = "Connect-Prod"`},
			{Name: "project_id", Required: true, Doc: "The id every identity source must find: a Supabase project ref, the id stamped with `handrail stamp`, " +
				"what `identity_sql` returns, or the cluster's system identifier (see Identity sources).", Example: `project_id = "rxlqtyfhsocxnsnnnlwl"`},
			{Name: "forbidden", Doc: "Ids of known non-targets (staging, a replica's copy): finding one of them stops the session hard, naming it. Must not contain `project_id`.",
				Default: `[]`, Example: `forbidden = ["mohctrsopquwoyfweadl"]`},
			{Name: "production", Doc: "The operator types `project_id` before the first write of the session. Lint makes a production target have an identity source.",
				Default: `false`, Example: `production = true`},
			{Name: "identity", Doc: "How to prove which database the connection reaches: one or more of the identity sources below. " +
				"Without one, a production target is a lint error and any other a warning.", Default: `[]`, Example: `identity = ["stamp", "supabase"]`},
			{Name: "identity_sql", Doc: "The query of the `sql` identity source: read-only, one statement returning one row with one column. Only with `\"sql\"` in identity.",
				Example: `identity_sql = "select value from app.settings where key = 'environment_id'"`},
		},
	},
	{
		Name: "staging", Type: reflect.TypeOf(steps.Environment{}),
		Doc: "The staging environment: the same runbook (same content hash) runs there first, with `--env staging` " +
			"(`handrail run RUNBOOK --env staging --apply`, or `handrail plan`/`apply` with `--env staging`): [staging] takes the place of [target], " +
			"never as a production target, with [target]'s project id forbidden. " +
			"A runbook that names [staging] has a promotion gate: before the first write to [target], handrail requires a journal that verifies, " +
			"whose header names the staging project id and this runbook's hash, in apply mode, that ended `succeeded` with every step and check passed, " +
			"not older than `proof_max_age`. It takes the newest such journal in the log directory, or `--staging-journal LOG`. " +
			"Without one the write is refused, saying what is missing (the line or header field at fault); the operator may override the gate with a typed reason, " +
			"journaled as an override. A checklist item with `staging_proof = true` ticks itself with the proof (journal path, head hash, date, operator).",
		Keys: []Key{
			{Name: "name", Doc: "The staging database as the operator knows it.", Example: `name = "Connect-Staging"`},
			{Name: "project_id", Required: true, Doc: "The id the identity sources must find on staging; not [target]'s.", Example: `project_id = "mohctrsopquwoyfweadl"`},
			{Name: "forbidden", Doc: "Ids of known non-targets for the staging run; [target]'s project id is always added.", Default: `[]`, Example: `forbidden = ["rxlqtyfhsocxnsnnnlwl"]`},
			{Name: "identity", Required: true, Doc: "How to prove the connection reaches staging, as in [target]: a staging journal proves nothing unless its database was proven.",
				Example: `identity = ["stamp", "supabase"]`},
			{Name: "identity_sql", Doc: "The query of the `sql` identity source, as in [target].", Example: `identity_sql = "select value from app.settings where key = 'environment_id'"`},
			{Name: "proof_max_age", Default: `"14d"`, Doc: "How old a staging journal may be and still prove the promotion (measured from its end). A duration, or days like `\"14d\"`. Must be positive.",
				Example: `proof_max_age = "7d"`},
		},
	},
	{
		Name: "apply", Type: reflect.TypeOf(steps.Unattended{}),
		Doc: "How `handrail apply --plan` runs the runbook where nobody is at a terminal (CI, a scheduled change). " +
			"It answers the human steps only from the answers file, and refuses before any write when a question is not answered there.",
		Keys: []Key{
			{Name: "on_failure", Default: `"stop"`, Doc: "What an unattended apply does when a step or check fails (or a monitor raises an alert): " +
				"`stop` ends the session (exit 1; the journal can be resumed at a terminal with `run --resume`); " +
				"`rollback` runs [rollback] at once when anything was written (exit 5 when the rollback succeeds). The runbook needs rollback steps for `rollback`.",
				Example: `on_failure = "rollback"`},
			{Name: "plan_max_age", Default: `"24h"`, Doc: "How old a plan may be when it is applied; an older plan is stale (exit 2). Must be positive.", Example: `plan_max_age = "4h"`},
		},
	},
	{
		Name: "approval", Type: reflect.TypeOf(steps.Approval{}),
		Doc: "Four eyes on every write. With `required = N`, a session run with `--share` (see Pair deploy in the README) sends no write " +
			"until N approvers (partners whose keys file entry has the role `approver`, never the operator: not the operator's name, not a key of the operator's) " +
			"have typed the project id on their own screens, for that write: before the first write (after the production consent) and before every later writing step, " +
			"and again when a write step is retried. An approver may also hold the session (no write starts until they release it or leave) " +
			"and ask for the rollback dialog on the operator's screen. Every approval, hold, release and refusal is journaled with the partner's name and key fingerprint, " +
			"and `handrail verify` checks that every write was approved. `--require-approval N` on `run` and `demo` asks for at least N whatever the runbook says.",
		Keys: []Key{
			{Name: "required", Default: `0`, Doc: "How many distinct approvers must approve each write, from 0 (none) to 8.", Example: `required = 1`},
			{Name: "on_leave", Default: `"pause"`, Doc: "What happens when an approver leaves mid-session: `pause` waits before the next write until enough approvers are connected and have approved it " +
				"(an approval counts only while its approver is connected).", Example: `on_leave = "pause"`},
		},
	},
	{
		Name: "settings", Type: reflect.TypeOf(steps.Settings{}),
		Doc: "Bounds that apply to every step. Durations are strings like `\"30s\"`, `\"5m\"`, `\"1h30m\"`.",
		Keys: []Key{
			{Name: "lock_timeout", Default: `"5s"`, Doc: "PostgreSQL `lock_timeout` for every SQL step: a statement that waits longer for a lock fails " +
				"(the pane shows who blocked it, `pg_blocking_pids`) and the step can be retried. Must be positive.", Example: `lock_timeout = "5s"`},
			{Name: "statement_timeout", Default: `"2m"`, Doc: "PostgreSQL `statement_timeout` for every SQL step and check: a statement running longer is cancelled. Must be positive.",
				Example: `statement_timeout = "2m"`},
			{Name: "keep_rows", Default: `500`, Doc: "How many rows of a result are kept per pane and per journal entry (the rest are counted, not kept). " +
				"A check comparing rows (`expect`, `expect_empty`) fails with a clear reason when its result has more rows than this: narrow the query or raise it. " +
				"`expect_rows` counts all rows.", Example: `keep_rows = 1000`},
		},
	},
	{
		Name: "messages", Array: true, Type: reflect.TypeOf(steps.Message{}),
		Doc: "The communication plan: messages to send at the start, on success and on rollback. A `message` step renders one, shows it, " +
			"copies it (OSC 52, works over SSH) and saves it in the journal. The body is a Go template over the session's facts: " +
			"`{{.Target}}`, `{{.ProjectID}}`, `{{.Operator}}`, `{{.Runbook}}`, `{{.Started}}`, `{{.Finished}}`, `{{.Outcome}}`; " +
			"an unknown field is an error, never a hole in the message.",
		Keys: []Key{
			{Name: "id", Required: true, Doc: "The name a `message` step uses.", Example: `id = "announce"`},
			{Name: "when", Required: true, Doc: "When it is meant to be sent: `before` the change, on `success`, on `rollback`.", Example: `when = "before"`},
			{Name: "to", Doc: "Who receives it, for the operator's eyes.", Example: `to = "Development team (#deploys)"`},
			{Name: "body", Required: true, Doc: "The text, a Go text/template.", Example: `body = "Deploying {{.Runbook}} to {{.Target}} ({{.ProjectID}})."`},
		},
	},
	{
		Name: "phase", Array: true, Type: reflect.TypeOf(steps.Phase{}),
		Doc: "Phases group the steps on screen; the steps run in order, phase after phase.",
		Keys: []Key{
			{Name: "title", Doc: "The phase's heading in the step list.", Example: `title = "Execution"`},
			{Name: "step", Doc: "The phase's steps: see [[phase.step]]."},
		},
	},
	{
		Name: "phase.step", Array: true, Type: stepType,
		Doc: "One step. `kind` says what it does, and which keys it takes: see Step kinds. " +
			"A key that does not belong to the step's kind is an error, so a misplaced safety setting never goes unnoticed. " +
			"`[[rollback.step]]` entries take the same keys.",
		Keys: stepKeys,
	},
	{
		Name: "phase.step.items", Array: true, Type: itemType,
		Doc: "One item of a `checklist` step. With `sql` and an expectation it ticks itself when the query's result matches; " +
			"when it does not, the operator sees the result and may skip the item with a reason.",
		Keys: []Key{
			{Name: "text", Required: true, Doc: "What the operator confirms.", Example: `text = "Change ticket approved"`},
			{Name: "sql", Doc: "A read-only query that ticks the item when its result matches the expectation.", Example: `sql = "select count(*) as n from pg_stat_activity where wait_event_type = 'Lock'"`},
			{Name: "expect", Doc: "The expected rows, as for a check.", Example: `expect = [{ n = 0 }]`},
			{Name: "expect_rows", Doc: "The expected number of rows, as for a check.", Example: `expect_rows = 0`},
			{Name: "expect_empty", Doc: "Expect no rows, as for a check.", Default: `false`, Example: `expect_empty = true`},
			{Name: "staging_proof", Doc: "The item ticks itself when a staging journal proves this runbook succeeded on [staging] (see [staging]), showing its path, head hash, date and operator. " +
				"In the staging run itself it ticks at once. Not with `sql`; the runbook needs [staging].", Default: `false`, Example: `staging_proof = true`},
		},
	},
	{
		Name: "phase.step.queries", Array: true, Type: reflect.TypeOf(steps.MonitorQuery{}),
		Doc: "One query a `monitor` step runs again every `every`, shown live.",
		Keys: []Key{
			{Name: "title", Doc: "The query's heading in the pane.", Example: `title = "Waiting locks"`},
			{Name: "sql", Required: true, Doc: "A read-only query.", Example: `sql = "select count(*) as waiting from pg_locks where not granted"`},
			{Name: "alert", Doc: "A condition on the first row, `column op value` with op one of `>` `>=` `<` `<=` `=` `!=`: when it holds the monitor raises an alert (journaled).",
				Example: `alert = "waiting > 0"`},
		},
	},
	{
		Name: "rollback", Type: reflect.TypeOf(steps.Rollback{}),
		Doc: "How to undo the change. Once anything was written, `R` opens the rollback dialog from any screen; confirming runs these steps " +
			"with the same live panes (sql steps write; checks verify the rollback). A failed check with `on_fail = \"rollback\"` offers it at once. " +
			"A runbook whose steps write and that has no rollback steps gets a lint warning.",
		Keys: []Key{
			{Name: "when", Doc: "The conditions under which to roll back, shown in the rollback dialog.", Example: `when = ["Any validation check failed"]`},
			{Name: "step", Doc: "The rollback's steps, any kind, as [[phase.step]]."},
		},
	},
}

// stepKeys documents every key of [[phase.step]]; which kinds take which
// key comes from steps.StepKeys.
var stepKeys = []Key{
	{Name: "kind", Required: true, Doc: "What the step does: see Step kinds.", Example: `kind = "check"`},
	{Name: "id", Doc: "A unique id (across phases and rollback), used in the journal and by `--resume`. Without one the step gets `<kind>-<n>` (or `rollback-<n>`).",
		Example: `id = "apply-001"`},
	{Name: "title", Doc: "The step's name in the step list.", Example: `title = "Apply migration 001"`},
	{Name: "notes", Doc: "Instructions or context shown in the step's pane.", Example: `notes = "One transaction: commits entirely or not at all."`},
	{Name: "items", Doc: "The checklist's items: see [[phase.step.items]]."},
	{Name: "prompt", Doc: "The question a `confirm` step asks.", Example: `prompt = "Backup taken and verified?"`},
	{Name: "type", Doc: "Text the operator must type exactly to confirm (instead of pressing enter).", Example: `type = "backup verified"`},
	{Name: "file", Doc: "A SQL file to run, relative to the runbook directory. It must be UTF-8 text: lint refuses NUL bytes, invalid UTF-8, a byte order mark and control characters, at their line and column.",
		Example: `file = "migrations/001_rls_hardening.sql"`},
	{Name: "statements", Doc: "SQL to run, inline, instead of `file`; each string may hold several statements.", Example: `statements = ["VACUUM ANALYZE public.orders"]`},
	{Name: "transaction", Default: `true`, Doc: "`true`: the step's statements run in one transaction that commits entirely or not at all (error, cancel, lock timeout or a lost connection leave the database as before; a lost COMMIT is reported as outcome unknown, never guessed). " +
		"`false`: each statement runs on its own, for what PostgreSQL refuses in a transaction (VACUUM, CREATE/DROP INDEX CONCURRENTLY, ...); if one fails, the ones before it stay applied. " +
		"Lint refuses such a statement in a transactional step, and BEGIN/COMMIT in one.", Example: `transaction = false`},
	{Name: "sql", Doc: "The check's query: one read-only statement (lint refuses writes).", Example: `sql = "select tablename::text, rowsecurity from pg_tables where schemaname = 'public'"`},
	{Name: "expect", Doc: "The expected rows, compared as a multiset (order ignored), each naming some of the result's columns. " +
		"Typed: an integer matches any integer column and an integral numeric, a float matches float and numeric by value, a boolean only a boolean, " +
		"a string text-like types, enums, uuids (any case) and inet; dates and datetimes match date/timestamp columns. NULL cannot be written in TOML: select `col is null as col_is_null`. " +
		"Cast PostgreSQL's one-byte `\"char\"` to text.", Example: `expect = [{ tablename = "rate_limits", rowsecurity = false }]`},
	{Name: "expect_rows", Doc: "The exact number of rows expected (all rows count, beyond `keep_rows` too).", Example: `expect_rows = 3`},
	{Name: "expect_empty", Default: `false`, Doc: "Expect no rows at all: every row returned is a finding.", Example: `expect_empty = true`},
	{Name: "report", Default: `false`, Doc: "An informational check: it shows the rows and always passes (e.g. \"what would be fixed\"). It takes no expectation.", Example: `report = true`},
	{Name: "as_role", Doc: "Run the check as this role (`SET LOCAL ROLE`) inside a transaction that is always rolled back: this is how row level security is tested. " +
		"The connecting role must be allowed to SET ROLE to it.", Example: `as_role = "authenticated"`},
	{Name: "settings", Doc: "Settings for the check's transaction, each applied with `set_config(key, value, true)`, e.g. the JWT claims Supabase's `auth.uid()` reads, or an application's tenant id.",
		Example: `settings = { "request.jwt.claims" = '{"sub":"f0000000-0000-4000-8000-0000000000a1","role":"authenticated"}' }`},
	{Name: "on_fail", Default: `"stop"`, Doc: "What a failure does: `stop` waits for the operator (retry, skip with a reason, roll back, or quit); " +
		"`rollback` offers the rollback at once (the runbook needs rollback steps); `continue` goes on, and the failure is in the session's outcome (exit 1).",
		Example: `on_fail = "rollback"`},
	{Name: "duration", Doc: "How long the monitor window lasts. The operator may end it early, with a reason.", Example: `duration = "15m"`},
	{Name: "every", Doc: "How often the monitor runs its queries; at most `duration`.", Example: `every = "30s"`},
	{Name: "queries", Doc: "The monitor's queries: see [[phase.step.queries]]."},
	{Name: "watch", Doc: "Things the operator watches elsewhere during the window (dashboards, logs), shown as a list.", Example: `watch = ["API error rate at its usual level"]`},
	{Name: "command", Doc: "A shell command (`sh -c`), run in the runbook directory with the target's connection in the `PG*` variables (the password only via `PGPASSWORD`); its output streams into the pane and the journal.",
		Example: `command = "pg_dump --format=custom --file=backup.dump"`},
	{Name: "timeout", Doc: "Kill the command (and its process group) after this long; without it only cancel stops it.", Example: `timeout = "30m"`},
	{Name: "message", Doc: "The id of the [[messages]] entry to render.", Example: `message = "announce"`},
}
