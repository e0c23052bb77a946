package steps

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// writeRunbook writes files (path -> content, slash paths) into a fresh
// temporary directory and returns it.
func writeRunbook(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const goodRunbook = `# A runbook that uses every step kind.
[runbook]
id = "good"
title = "Good runbook"
version = "1.0"
risk = "low"
estimate = "10m"

[target]
name = "Connect-Prod"
project_id = "rxlqtyfhsocxnsnnnlwl"
forbidden = ["mohctrsopquwoyfweadl"]
production = true
identity = ["stamp", "supabase"]

[settings]
lock_timeout = "5s"
statement_timeout = "2m"
keep_rows = 100

[[messages]]
id = "announce"
when = "before"
to = "Development team"
body = """
Deploying {{.Runbook}} to {{.Target}}.
"""

[[phase]]
title = "Preparation"

  [[phase.step]]
  kind = "checklist"
  title = "Before we start"
  items = [
    { text = "Backup verified" },
    { text = "RLS is on", sql = "select relrowsecurity from pg_class where relname = 't'", expect = [{ relrowsecurity = true }] },
  ]

  [[phase.step]]
  kind = "confirm"
  id = "go"
  prompt = "Ready?"
  type = "deploy"

  [[phase.step]]
  kind = "message"
  message = "announce"

[[phase]]
title = "Execution"

  [[phase.step]]
  kind = "sql"
  id = "apply-001"
  file = "migrations/001.sql"

  [[phase.step]]
  kind = "sql"
  id = "vacuum"
  transaction = false
  statements = [
    "vacuum analyze public.t",
    """
select 1;
vacuum t""",
  ]

  [[phase.step]]
  kind = "check"
  id = "rls-off"
  sql = "select tablename, rowsecurity from pg_tables where tablename = 'rate_limits'"
  expect = [{ tablename = "rate_limits", rowsecurity = false }]
  on_fail = "rollback"

  [[phase.step]]
  kind = "check"
  id = "isolation"
  as_role = "authenticated"
  settings = { "request.jwt.claims" = '{"sub": "u1"}' }
  sql = """
select count(*)
  from business_accounts"""
  expect_rows = 1

  [[phase.step]]
  kind = "manual"
  title = "Upload an avatar"
  notes = "Use the app."

  [[phase.step]]
  kind = "monitor"
  duration = "15m"
  every = "30s"
  watch = ["error rate"]

    [[phase.step.queries]]
    title = "Waiting locks"
    sql = "select count(*) as waiting from pg_locks where not granted"
    alert = "waiting > 0"

  [[phase.step]]
  kind = "exec"
  id = "dump"
  command = "pg_dump --schema-only"
  timeout = "5m"

[rollback]
when = ["Migration failed"]

  [[rollback.step]]
  kind = "sql"
  file = "rollback/001.sql"

  [[rollback.step]]
  kind = "check"
  sql = "select 1"
  expect_empty = true
`

const goodMigration = `-- Migration 001
begin_work_is_not_a_keyword_here_just_a_comment_free_line;
alter table rate_limits disable row level security;

create or replace function touch() returns trigger language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
`

func goodFiles() map[string]string {
	return map[string]string{
		"runbook.toml":       goodRunbook,
		"migrations/001.sql": goodMigration,
		"rollback/001.sql":   "alter table rate_limits enable row level security;\n",
	}
}

func TestLoadGood(t *testing.T) {
	dir := writeRunbook(t, goodFiles())
	r, ps := Load(dir)
	if len(ps) != 0 {
		t.Fatalf("unexpected problems:\n%v", ps)
	}
	if r.Dir != dir || r.Path != filepath.Join(dir, "runbook.toml") {
		t.Errorf("Dir/Path = %q, %q", r.Dir, r.Path)
	}
	if r.Meta.ID != "good" || r.Target.ProjectID != "rxlqtyfhsocxnsnnnlwl" || !r.Target.Production {
		t.Errorf("meta/target not decoded: %+v %+v", r.Meta, r.Target)
	}
	if r.LockTimeout() != 5*time.Second || r.StatementTimeout() != 2*time.Minute || r.KeepRows() != 100 {
		t.Errorf("settings: %v %v %v", r.LockTimeout(), r.StatementTimeout(), r.KeepRows())
	}
	type sl struct {
		id   string
		kind Kind
		line int
	}
	var got []sl
	for _, s := range r.AllSteps() {
		got = append(got, sl{s.ID, s.Kind, s.Line})
	}
	for _, s := range r.Rollback.Steps {
		got = append(got, sl{s.ID, s.Kind, s.Line})
	}
	want := []sl{
		{"checklist-1", KindChecklist, 32}, {"go", KindConfirm, 40}, {"message-1", KindMessage, 46},
		{"apply-001", KindSQL, 53}, {"vacuum", KindSQL, 58}, {"rls-off", KindCheck, 69},
		{"isolation", KindCheck, 76}, {"manual-1", KindManual, 86}, {"monitor-1", KindMonitor, 91},
		{"dump", KindExec, 102}, {"rollback-1", KindSQL, 111}, {"rollback-2", KindCheck, 115},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("steps:\n got %v\nwant %v", got, want)
	}
	steps := r.AllSteps()
	if it := steps[0].Items[1]; !it.SelfTicking() || it.Expect[0]["relrowsecurity"] != true {
		t.Errorf("item = %+v", it)
	}
	if s := steps[6]; s.AsRole != "authenticated" || s.SessionVars["request.jwt.claims"] != `{"sub": "u1"}` || *s.ExpectRows != 1 {
		t.Errorf("isolation check = %+v", s)
	}
	if s := steps[8]; s.Duration.Duration != 15*time.Minute || s.Every.Duration != 30*time.Second || len(s.Queries) != 1 {
		t.Errorf("monitor = %+v", s)
	}
	if a, err := ParseAlert(steps[8].Queries[0].Alert); err != nil || a != (Alert{"waiting", ">", "0"}) {
		t.Errorf("alert = %+v, %v", a, err)
	}
	if steps[4].IsTransactional() || !steps[3].IsTransactional() {
		t.Errorf("transaction flags wrong")
	}
	if got, want := Files(r), []string{"migrations/001.sql", "rollback/001.sql"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Files = %v, want %v", got, want)
	}
	if len(r.Hash) != 64 {
		t.Errorf("Hash = %q", r.Hash)
	}

	// Statements and where they come from.
	where := func(s Step) []string {
		stmts, err := r.StepStatements(s)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, st := range stmts {
			out = append(out, st.Where()+" "+strings.Join(sqlscan.FirstWords(st.SQL, 2), " "))
		}
		return out
	}
	if got, want := where(steps[3]), []string{
		"migrations/001.sql:2 BEGIN_WORK_IS_NOT_A_KEYWORD_HERE_JUST_A_COMMENT_FREE_LINE",
		"migrations/001.sql:3 ALTER TABLE",
		"migrations/001.sql:5 CREATE OR",
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("file statements:\n got %q\nwant %q", got, want)
	}
	if got, want := where(steps[4]), []string{"runbook.toml:63 VACUUM ANALYZE", "runbook.toml:65 SELECT", "runbook.toml:66 VACUUM T"}; !reflect.DeepEqual(got, want) {
		t.Errorf("inline statements:\n got %q\nwant %q", got, want)
	}
	if got, want := where(steps[6]), []string{"runbook.toml:82 SELECT COUNT"}; !reflect.DeepEqual(got, want) {
		t.Errorf("check sql:\n got %q\nwant %q", got, want)
	}
	if got := where(steps[1]); got != nil {
		t.Errorf("confirm statements = %q", got)
	}
}

// problemLine is what the broken-runbook tests compare: file base name,
// line, severity and a fragment of the message.
type problemLine struct {
	file string
	line int
	sev  Severity
	msg  string
}

func (p problemLine) String() string {
	return fmt.Sprintf("%s:%d %s %q", p.file, p.line, p.sev, p.msg)
}

func matchProblems(t *testing.T, ps Problems, want []problemLine) {
	t.Helper()
	used := make([]bool, len(ps))
	for _, w := range want {
		found := false
		for i, p := range ps {
			if !used[i] && filepath.Base(p.Path) == w.file && p.Line == w.line && p.Severity == w.sev && strings.Contains(p.Msg, w.msg) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("missing problem %v", w)
		}
	}
	for i, p := range ps {
		if !used[i] {
			t.Errorf("unexpected problem %s", p)
		}
	}
	if t.Failed() {
		t.Logf("all problems:\n%s", ps.Error())
	}
}

const brokenRunbook = `[runbook]
id = "broken"
colour = "red"

[target]
name = "Prod"
project_id = "rxlqtyfhsocxnsnnnlwl"
production = true

[settings]
lock_timeout = "5 seconds"

[[phase]]
title = "Execution"

  [[phase.step]]
  kind = "sqll"
  id = "typo-kind"

  [[phase.step]]
  kind = "sql"
  id = "apply"
  file = "migrations/missing.sql"

  [[phase.step]]
  kind = "sql"
  id = "housekeeping"
  file = "migrations/002_vacuum.sql"

  [[phase.step]]
  kind = "check"
  id = "apply"
  sql = "select 'ok'"
  expect = "yes"

  [[phase.step]]
  kind = "monitor"
  duration = "15 minutes"
  every = "30s"
  watch = ["errors"]
`

const vacuumSQL = `-- housekeeping; VACUUM is mentioned in this comment
analyze rate_limits;

select 'vacuum';
vacuum analyze rate_limits;
`

func TestLoadBroken(t *testing.T) {
	dir := writeRunbook(t, map[string]string{
		"runbook.toml":              brokenRunbook,
		"migrations/002_vacuum.sql": vacuumSQL,
	})
	r, ps := Load(dir)
	if r == nil {
		t.Fatal("runbook is nil for a syntactically valid file")
	}
	matchProblems(t, ps, []problemLine{
		{"runbook.toml", 3, Error, `unknown key "colour" in [runbook]`},
		{"runbook.toml", 8, Error, "production target has no identity source"},
		{"runbook.toml", 11, Error, `invalid duration "5 seconds" for "lock_timeout"`},
		{"runbook.toml", 17, Error, `unknown step kind "sqll" (one of ` + kindNames() + `)`},
		{"runbook.toml", 20, Warning, `step "apply" writes but the runbook has no [rollback] steps`},
		{"runbook.toml", 23, Error, "no such file: " + filepath.Join(dir, "migrations", "missing.sql")},
		{"002_vacuum.sql", 5, Error, "VACUUM cannot run inside a transaction block"},
		{"runbook.toml", 32, Error, `duplicate step id "apply"`},
		{"runbook.toml", 34, Error, `"expect" must be a list of rows`},
		{"runbook.toml", 38, Error, `invalid duration "15 minutes" for "duration"`},
	})
	for _, p := range ps {
		if strings.Contains(p.Msg, "VACUUM") {
			if p.Path != filepath.Join(dir, "migrations", "002_vacuum.sql") || p.Col != 1 || p.Hint != "set transaction = false on step housekeeping" {
				t.Errorf("VACUUM problem = %+v", p)
			}
		}
		if strings.Contains(p.Msg, "sqll") && p.Hint != `did you mean "sql"?` {
			t.Errorf("kind hint = %q", p.Hint)
		}
	}
	if !ps.HasErrors() || ps.Err() == nil || len(ps.Warnings()) != 1 || len(ps.Errors()) != len(ps)-1 {
		t.Errorf("Errors/Warnings split wrong: %s", ps.Summary())
	}
}

// TestLoadProblems checks one rule at a time on small runbooks.
func TestLoadProblems(t *testing.T) {
	const head = `[runbook]
id = "t"
[target]
project_id = "abcdefghijklmnopqrst"
identity = ["stamp"]
[[rollback.step]]
kind = "manual"
[[phase]]
title = "p"
` // 9 lines: the runbook body starts on line 10
	tests := []struct {
		name  string
		body  string // appended to head
		files map[string]string
		whole string // replaces head+body
		want  []problemLine
	}{
		{name: "field of another kind", body: `[[phase.step]]
kind = "sql"
statements = ["select 1"]
expect = [{ a = 1 }]
as_role = "x"
`, want: []problemLine{
			{"runbook.toml", 13, Error, `"expect" does not apply to sql steps`},
			{"runbook.toml", 14, Error, `"as_role" does not apply to sql steps`},
		}},
		{name: "sql key on sql step", body: `[[phase.step]]
kind = "sql"
sql = "select 1"
`, want: []problemLine{
			{"runbook.toml", 10, Error, `sql step "sql-1" needs file or statements`},
			{"runbook.toml", 12, Error, `"sql" does not apply to sql steps`},
		}},
		{name: "confirm type that cannot be typed", body: `[[phase.step]]
kind = "confirm"
prompt = "Go?"
type = "ok\u001b"
[[phase.step]]
kind = "confirm"
prompt = "Go?"
type = "two\nlines\u202e"
[[phase.step]]
kind = "confirm"
prompt = "Go?"
type = "ok, go"
`, want: []problemLine{
			{"runbook.toml", 13, Error, `confirm step "confirm-1": type holds U+001B (a control character), which cannot be typed at the prompt`},
			{"runbook.toml", 17, Error, `confirm step "confirm-2": type holds U+000A (a control character), which cannot be typed at the prompt`},
		}},
		{name: "missing kind", body: `[[phase.step]]
id = "x"
`, want: []problemLine{{"runbook.toml", 10, Error, `step "x" has no kind`}}},
		{name: "missing required fields", body: `[[phase.step]]
kind = "confirm"
[[phase.step]]
kind = "check"
[[phase.step]]
kind = "monitor"
[[phase.step]]
kind = "exec"
[[phase.step]]
kind = "message"
message = "nope"
[[phase.step]]
kind = "checklist"
[[phase.step]]
kind = "sql"
file = "a.sql"
statements = ["select 1"]
`, files: map[string]string{"a.sql": "select 1;"}, want: []problemLine{
			{"runbook.toml", 10, Error, `confirm step "confirm-1" needs prompt`},
			{"runbook.toml", 12, Error, `check step "check-1" needs sql`},
			{"runbook.toml", 12, Error, `step "check-1" has no expectation`},
			{"runbook.toml", 14, Error, `monitor step "monitor-1" needs duration`},
			{"runbook.toml", 14, Error, `monitor step "monitor-1" needs every`},
			{"runbook.toml", 14, Error, `monitor step "monitor-1" has nothing to watch`},
			{"runbook.toml", 16, Error, `exec step "exec-1" needs command`},
			{"runbook.toml", 20, Error, `no message with id "nope"`},
			{"runbook.toml", 21, Error, `checklist step "checklist-1" has no items`},
			{"runbook.toml", 26, Error, `sql step "sql-1" has both file and statements`},
		}},
		{name: "identity and target", whole: `[runbook]
title = "no id"
[target]
project_id = "abcdefghijklmnopqrst"
forbidden = ["x", "abcdefghijklmnopqrst"]
identity = ["stmp", "sql"]
[[phase]]
[[phase.step]]
kind = "manual"
`, want: []problemLine{
			{"runbook.toml", 1, Error, "[runbook] has no id"},
			{"runbook.toml", 5, Error, `project_id "abcdefghijklmnopqrst" is also in forbidden`},
			{"runbook.toml", 6, Error, `unknown identity source "stmp"`},
			{"runbook.toml", 6, Error, `identity source "sql" needs identity_sql`},
		}},
		{name: "identity_sql without sql source, non-production without identity", whole: `[runbook]
id = "x"
[target]
project_id = "not-a-ref"
identity_sql = "select 1"
[[phase]]
[[phase.step]]
kind = "manual"
`, want: []problemLine{
			{"runbook.toml", 3, Warning, "target has no identity source"},
			{"runbook.toml", 5, Error, `identity_sql is set but "sql" is not in identity`},
		}},
		{name: "missing target and runbook", whole: `[[phase]]
[[phase.step]]
kind = "manual"
`, want: []problemLine{
			{"runbook.toml", 1, Error, "missing [runbook] table"},
			{"runbook.toml", 1, Error, "missing [target] table"},
		}},
		{name: "no project id, supabase warning", whole: `[runbook]
id = "x"
[target]
name = "n"
[[phase]]
[[phase.step]]
kind = "manual"
[[phase]]
title = "empty"
`, want: []problemLine{
			{"runbook.toml", 3, Error, "[target] has no project_id"},
			{"runbook.toml", 3, Warning, "target has no identity source"},
			{"runbook.toml", 8, Warning, `phase "empty" has no steps`},
		}},
		{name: "on_fail, messages, templates", body: `[[phase.step]]
kind = "check"
sql = "select 1"
expect_empty = true
on_fail = "panic"
[[messages]]
id = "m"
when = "after"
body = """
line one
{{.Target"""
[[messages]]
id = "m"
when = "before"
body = "ok"
`, want: []problemLine{
			{"runbook.toml", 14, Error, `unknown on_fail "panic"`},
			{"runbook.toml", 17, Error, `unknown message when "after"`},
			{"runbook.toml", 20, Error, `message "m": bad template`},
			{"runbook.toml", 22, Error, `duplicate message id "m"`},
		}},
		{name: "template fields that do not exist", body: `[[phase.step]]
kind = "manual"
[[messages]]
id = "m"
when = "rollback"
body = """
line one
{{.Nope}}"""
`, want: []problemLine{
			// It parsed, and failed when the rollback announcement was
			// rendered, in the middle of a rollback.
			{"runbook.toml", 17, Error, `message "m": bad template: executing "m" at <.Nope>: can't evaluate field Nope`},
		}},
		{name: "check must read only, one statement", body: `[[phase.step]]
kind = "check"
sql = "delete from t"
expect_empty = true
[[phase.step]]
kind = "check"
sql = """
select 1;
select 2"""
expect_rows = 1
[[phase.step]]
kind = "checklist"
items = [{ text = "a", sql = "update t set x = 1", expect_rows = 1 }, { text = "b", expect_empty = true }]
`, want: []problemLine{
			{"runbook.toml", 12, Error, "sql is not a read-only query (DELETE FROM T)"},
			{"runbook.toml", 18, Error, "sql must be a single statement, found 2"},
			{"runbook.toml", 22, Error, "checklist item: sql is not a read-only query (UPDATE T SET)"},
			{"runbook.toml", 22, Error, "checklist item has expect but no sql"},
		}},
		{name: "expect shapes", body: `[[phase.step]]
kind = "check"
sql = "select 1"
expect = [{ a = [1, 2] }, {}, { b = { c = 1 } }]
[[phase.step]]
kind = "check"
sql = "select 1"
expect = []
[[phase.step]]
kind = "check"
sql = "select 1"
expect_rows = 2
expect_empty = true
[[phase.step]]
kind = "check"
sql = "select 1"
expect = [1, 2]
`, want: []problemLine{
			{"runbook.toml", 13, Error, `expected value of column "a" must be a scalar, not an array`},
			{"runbook.toml", 13, Error, "expected row 2 has no columns"},
			{"runbook.toml", 13, Error, `expected value of column "b" must be a scalar, not a table`},
			{"runbook.toml", 17, Error, "expect is an empty list"},
			{"runbook.toml", 22, Error, "sets both expect_rows and expect_empty"},
			{"runbook.toml", 26, Error, `"expect" must be a list of rows like [{ column = value }], not an array whose element 1 is the integer 1`},
		}},
		{name: "transaction control and psql commands in a transactional step", body: `[[phase.step]]
kind = "sql"
id = "m"
file = "m.sql"
[[phase.step]]
kind = "sql"
id = "inline"
statements = ["select 1", """
create index concurrently i on t (x)"""]
[[phase.step]]
kind = "sql"
id = "ok"
transaction = false
statements = ["vacuum t", "create index concurrently i on t (x)"]
`, files: map[string]string{"m.sql": "\\set ON_ERROR_STOP on\nBEGIN;\nupdate t set x = 1;\nCOMMIT;\n"}, want: []problemLine{
			{"m.sql", 1, Error, `psql meta-command \set`},
			{"m.sql", 2, Error, "BEGIN inside a transactional step"},
			{"m.sql", 4, Error, "COMMIT inside a transactional step"},
			{"runbook.toml", 18, Error, "CREATE INDEX CONCURRENTLY cannot run inside a transaction block"},
		}},
		{name: "file paths", body: `[[phase.step]]
kind = "sql"
file = "../outside.sql"
[[phase.step]]
kind = "sql"
file = "empty.sql"
[[phase.step]]
kind = "sql"
file = "open.sql"
`, files: map[string]string{"empty.sql": "-- nothing\n", "open.sql": "select 1;\nselect $x$ never closed;\n"}, want: []problemLine{
			{"runbook.toml", 12, Error, "file must be inside the runbook directory"},
			{"runbook.toml", 15, Error, "contains no SQL statements"},
			{"open.sql", 2, Error, "unterminated dollar-quoted string (no closing $x$)"},
		}},
		{name: "nested unknown keys", body: `[[phase.step]]
kind = "checklist"
items = [
  { text = "a" },
  { text = "b", bogus = 1 },
]
[[phase.step]]
kind = "monitor"
duration = "1m"
every = "2m"
  [[phase.step.queries]]
  title = "q"
  sql = "select 1"
  alarm = "x > 1"
  [[phase.step.queries]]
  sql = "select 2"
  alert = "x >"
`, want: []problemLine{
			{"runbook.toml", 14, Error, `unknown key "bogus" in [[phase.step.items]]`},
			{"runbook.toml", 19, Error, "every (2m0s) is longer than duration (1m0s)"},
			{"runbook.toml", 23, Error, `unknown key "alarm" in [[phase.step.queries]]`},
			{"runbook.toml", 26, Error, "bad alert"},
		}},
		{name: "wrong types everywhere", body: `[[phase.step]]
kind = "sql"
statements = "select 1"
transaction = "no"
[[phase.step]]
kind = 5
[[phase.step]]
kind = "check"
sql = "select 1"
expect_empty = true
settings = "x"
[[phase.step]]
kind = "check"
sql = "select 1"
expect_rows = 1
settings = { a = 1 }
`, want: []problemLine{
			{"runbook.toml", 12, Error, `"statements" must be a list of strings, not the string "select 1"`},
			{"runbook.toml", 13, Error, `"transaction" must be true or false, not the string "no"`},
			{"runbook.toml", 15, Error, `"kind" must be a string, not the integer 5`},
			{"runbook.toml", 20, Error, `"settings" must be a table of strings, not the string "x"`},
			{"runbook.toml", 25, Error, `"settings" must be a table of strings, not a table`},
		}},
		{name: "table written as single table", whole: `phase = 3
[runbook]
id = "x"
[target]
project_id = "abcdefghijklmnopqrst"
identity = ["stamp"]
`, want: []problemLine{
			{"runbook.toml", 1, Error, `"phase" must be a list of tables, not the integer 3`},
			{"runbook.toml", 0, Error, "runbook has no steps"},
		}},
		{name: "on_fail rollback without rollback", whole: `[runbook]
id = "x"
[target]
project_id = "abcdefghijklmnopqrst"
identity = ["stamp"]
[[phase]]
[[phase.step]]
kind = "check"
sql = "select 1"
expect_empty = true
on_fail = "rollback"
`, want: []problemLine{
			{"runbook.toml", 11, Error, `on_fail = "rollback" but the runbook has no [rollback] steps`},
		}},
		{name: "report checks", body: `[[phase.step]]
kind = "check"
sql = "select 1"
report = true
[[phase.step]]
kind = "check"
sql = "select 1"
report = true
expect_rows = 1
[[phase.step]]
kind = "check"
sql = "select 1"
report = false
`, want: []problemLine{
			{"runbook.toml", 18, Error, `step "check-2" has report = true and expect_rows`},
			{"runbook.toml", 19, Error, `step "check-3" has no expectation`},
		}},
		{name: "dotted and quoted keys", body: `[[phase.step]]
kind = "check"
sql = "select 1"
expect_empty = true
settings."app.tenant" = "t1"
"as_role" = "r"
"tyep" = 1
`, want: []problemLine{
			{"runbook.toml", 16, Error, `unknown key "tyep"`},
		}},
		{name: "syntax error", whole: "[runbook]\nid = \"x\"\ntitle = \"unterminated\n", want: []problemLine{
			{"runbook.toml", 3, Error, "invalid TOML"},
		}},
		// The parser's line is one too far when it stops at a newline;
		// the error is on the header's line.
		{name: "unclosed table header", whole: "[runbook]\nid = \"x\"\n[target\nname = \"X\"\n", want: []problemLine{
			{"runbook.toml", 3, Error, "invalid TOML: expected '.' or ']'"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range tt.files {
				files[k] = v
			}
			files["runbook.toml"] = head + tt.body
			if tt.whole != "" {
				files["runbook.toml"] = tt.whole
			}
			_, ps := Load(writeRunbook(t, files))
			matchProblems(t, ps, tt.want)
		})
	}
}

// A SQL file's problems keep their order and columns where two share a
// line and column: the unterminated string first (the split reports it
// after the statements it checked as it went), then the statement's.
func TestLoadSQLProblemOrder(t *testing.T) {
	dir := writeRunbook(t, map[string]string{
		"runbook.toml": "[runbook]\nid = \"t\"\n[target]\nproject_id = \"abcdefghijklmnopqrst\"\nidentity = [\"stamp\"]\n" +
			"[[rollback.step]]\nkind = \"manual\"\n[[phase]]\ntitle = \"p\"\n[[phase.step]]\nkind = \"sql\"\nfile = \"late.sql\"\n",
		"late.sql": "\\set x 1\nselect 1;\n       /* c */\nvacuum 'never closed;\n",
	})
	_, ps := Load(dir)
	var got []string
	for _, p := range ps {
		got = append(got, fmt.Sprintf("%s:%d:%d %s", filepath.Base(p.Path), p.Line, p.Col, p.Msg))
	}
	want := []string{
		`late.sql:1:1 psql meta-command \set`,
		"late.sql:4:8 unterminated quoted string",
		"late.sql:4:8 VACUUM cannot run inside a transaction block",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestEveryStepKeyHasAKind(t *testing.T) {
	for key := range stepFields {
		if contains(commonStepKeys, key) || len(kindsWithKey(key)) > 0 {
			continue
		}
		t.Errorf("Step field %q is in no kind's list: add it to the keys of a kind's spec (kind_<name>.go)", key)
	}
}

func TestLoadPaths(t *testing.T) {
	dir := writeRunbook(t, goodFiles())
	// A .toml path works as well as its directory, and names the file.
	r, ps := Load(filepath.Join(dir, "runbook.toml"))
	if r == nil || ps.HasErrors() || r.Dir != dir {
		t.Fatalf("Load(toml path): %v %v", r, ps)
	}
	other := filepath.Join(dir, "other.toml")
	if err := os.WriteFile(other, []byte(goodRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	r2, _ := Load(other)
	if r2 == nil || r2.Path != other {
		t.Fatalf("Load(other.toml) = %v", r2)
	}
	if r2.Hash == r.Hash {
		t.Errorf("hash ignores the runbook file name")
	}
	st, _ := r2.StepStatements(r2.AllSteps()[4])
	if st[0].File != "other.toml" {
		t.Errorf("inline statement file = %q", st[0].File)
	}

	// Missing runbook.
	r, ps = Load(filepath.Join(dir, "nope"))
	if r != nil || len(ps) != 1 || !strings.Contains(ps[0].Msg, "cannot read runbook") || ps[0].Path != filepath.Join(dir, "nope", "runbook.toml") {
		t.Errorf("missing: %v %v", r, ps)
	}
}

func TestLoadFS(t *testing.T) {
	fsys := fstest.MapFS{}
	for name, content := range goodFiles() {
		fsys["examples/good/"+name] = &fstest.MapFile{Data: []byte(content)}
	}
	r, ps := LoadFS(fsys, "examples/good")
	if r == nil || len(ps) != 0 {
		t.Fatalf("LoadFS: %v", ps)
	}
	if r.Path != "examples/good/runbook.toml" || r.Dir != "examples/good" {
		t.Errorf("Path %q Dir %q", r.Path, r.Dir)
	}
	disk, _ := Load(writeRunbook(t, goodFiles()))
	if disk.Hash != r.Hash {
		t.Errorf("hash differs between fs and disk: %s vs %s", r.Hash, disk.Hash)
	}
	delete(fsys, "examples/good/rollback/001.sql")
	_, ps = LoadFS(fsys, "examples/good/runbook.toml")
	matchProblems(t, ps, []problemLine{{"runbook.toml", 113, Error, "no such file: examples/good/rollback/001.sql"}})
}

// A sql step's file that cannot be read (a directory) is a problem at
// its key, from disk and from a file system alike.
func TestLoadSQLFileUnreadable(t *testing.T) {
	files := map[string]string{
		"runbook.toml": "[runbook]\nid = \"t\"\n[target]\nproject_id = \"abcdefghijklmnopqrst\"\nidentity = [\"stamp\"]\n" +
			"[[rollback.step]]\nkind = \"manual\"\n[[phase]]\ntitle = \"p\"\n[[phase.step]]\nkind = \"sql\"\nfile = \"migrations\"\n",
		"migrations/001.sql": "select 1;\n",
	}
	_, ps := Load(writeRunbook(t, files))
	matchProblems(t, ps, []problemLine{{"runbook.toml", 12, Error, "cannot read: "}})
	fsys := fstest.MapFS{}
	for name, content := range files {
		fsys["rb/"+name] = &fstest.MapFile{Data: []byte(content)}
	}
	_, ps = LoadFS(fsys, "rb")
	matchProblems(t, ps, []problemLine{{"runbook.toml", 12, Error, "cannot read: rb/migrations"}})
}

func TestHash(t *testing.T) {
	dir := writeRunbook(t, goodFiles())
	r1, _ := Load(dir)
	r2, _ := Load(dir)
	if r1.Hash != r2.Hash {
		t.Fatal("hash is not deterministic")
	}
	mig := filepath.Join(dir, "migrations", "001.sql")
	if err := os.WriteFile(mig, []byte(goodMigration+"select 1;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r3, _ := Load(dir)
	if r3.Hash == r1.Hash {
		t.Error("hash unchanged after a referenced SQL file changed")
	}
	// The loaded runbook keeps the content it hashed: r1 still runs the old file.
	st1, err := r1.StepStatements(r1.AllSteps()[3])
	if err != nil || len(st1) != 3 {
		t.Errorf("pinned statements = %v, %v", st1, err)
	}
	st3, _ := r3.StepStatements(r3.AllSteps()[3])
	if len(st3) != 4 {
		t.Errorf("new statements = %d", len(st3))
	}
	rb := filepath.Join(dir, "runbook.toml")
	if err := os.WriteFile(rb, []byte(goodRunbook+"\n# comment\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r4, _ := Load(dir); r4.Hash == r3.Hash {
		t.Error("hash unchanged after runbook.toml changed")
	}
	// File boundaries cannot shift.
	a := computeHash("runbook.toml", []byte("x"), map[string]string{"a.sql": "ab", "b.sql": "c"})
	b := computeHash("runbook.toml", []byte("x"), map[string]string{"a.sql": "a", "b.sql": "bc"})
	if a == b {
		t.Error("hash ignores file boundaries")
	}
}

func TestStepStatementsWithoutLoad(t *testing.T) {
	dir := writeRunbook(t, map[string]string{"x.sql": "select 1;\n\nselect 2;"})
	r := &Runbook{Dir: dir}
	st, err := r.StepStatements(Step{Kind: KindSQL, File: "x.sql"})
	if err != nil || len(st) != 2 || st[1].Line != 3 || st[1].File != "x.sql" {
		t.Errorf("got %+v, %v", st, err)
	}
	st, _ = r.StepStatements(Step{Kind: KindSQL, Statements: []string{"select 1; select 2", "select 3"}})
	if len(st) != 3 || st[2].SQL != "select 3" || st[2].File != "runbook.toml" {
		t.Errorf("got %+v", st)
	}
	if _, err := r.StepStatements(Step{Kind: KindSQL, File: "../etc/passwd"}); err == nil {
		t.Error("path outside the runbook accepted")
	}
}

func TestLint(t *testing.T) {
	good := writeRunbook(t, goodFiles())
	out, ok := Lint(good)
	if !ok || len(out) != 0 {
		t.Errorf("Lint(good) = %v, %v", out, ok)
	}
	files := goodFiles()
	files["runbook.toml"] = strings.Replace(goodRunbook, "[rollback]", "[nothing]", 1)
	files["runbook.toml"] = strings.Split(files["runbook.toml"], "[nothing]")[0]
	files["runbook.toml"] = strings.Replace(files["runbook.toml"], `on_fail = "rollback"`, `on_fail = "stop"`, 1)
	warn := writeRunbook(t, files)
	out, ok = Lint(warn)
	if !ok || len(out) != 1 || out[0].Severity != Warning {
		t.Errorf("Lint(warning only) = %v, %v", out, ok)
	}
	broken := writeRunbook(t, map[string]string{"runbook.toml": brokenRunbook})
	out, ok = Lint(good, broken)
	if ok || len(out) == 0 {
		t.Errorf("Lint(broken) ok = %v", ok)
	}
	var buf bytes.Buffer
	FormatProblems(&buf, Problems(out))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if !strings.HasPrefix(lines[0], filepath.Join(broken, "runbook.toml")+":3:1: error: unknown key \"colour\" in [runbook] (") {
		t.Errorf("first line = %q", lines[0])
	}
	if last := lines[len(lines)-1]; !strings.HasSuffix(last, "errors, 1 warning") {
		t.Errorf("summary = %q", last)
	}
}

func TestProblemString(t *testing.T) {
	for _, tt := range []struct {
		p    Problem
		want string
	}{
		{Problem{Path: "a/runbook.toml", Line: 3, Col: 5, Msg: "bad", Hint: "fix it"}, "a/runbook.toml:3:5: error: bad (fix it)"},
		{Problem{Path: "x.sql", Line: 2, Severity: Warning, Msg: "hmm"}, "x.sql:2: warning: hmm"},
		{Problem{Path: "r", Msg: "gone"}, "r: error: gone"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	var ps Problems
	if ps.Err() != nil || ps.Summary() != "no problems" {
		t.Error("empty problems")
	}
	ps = Problems{{Severity: Warning, Msg: "w"}}
	if ps.Err() != nil {
		t.Error("warnings are not an error")
	}
}

func TestLocator(t *testing.T) {
	src := `# [[phase.step]] in a comment
a = """
[[phase.step]]
kind = "x"
"""
b.c = 1
"d.e" = { f = [1, { g = 2 }], 'h' = "]" }
[[phase]]
[[phase.step]]
x = [
  "one", # comment ]
  "two",
]
[[phase.step]]
[phase.sub]
k = 1
[[phase]]
[[phase.step]]
`
	l := newTOMLLocator(src)
	for _, tt := range []struct {
		path []string
		line int
	}{
		{[]string{"a"}, 2},
		{[]string{"b", "c"}, 6},
		{[]string{"d.e", "f", idxSeg(1), "g"}, 7},
		{[]string{"d.e", "h"}, 7},
		{[]string{"phase", idxSeg(0)}, 8},
		{[]string{"phase", idxSeg(0), "step", idxSeg(0)}, 9},
		{[]string{"phase", idxSeg(0), "step", idxSeg(0), "x", idxSeg(1)}, 12},
		{[]string{"phase", idxSeg(0), "step", idxSeg(1)}, 14},
		{[]string{"phase", idxSeg(0), "sub", "k"}, 16},
		{[]string{"phase", idxSeg(1), "step", idxSeg(0)}, 18},
	} {
		pos, ok := l.find(tt.path)
		if !ok || pos.Line != tt.line {
			t.Errorf("find(%q) = %+v, %v; want line %d", tt.path, pos, ok, tt.line)
		}
	}
	if pos, _ := l.find([]string{"a"}); l.contentLine(pos) != 3 {
		t.Errorf("contentLine(a) = %d", l.contentLine(pos))
	}
	if _, ok := l.find([]string{"kind"}); ok {
		t.Error("key inside a multi-line string was recorded")
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(goodRunbook)
	f.Add(brokenRunbook)
	f.Add("")
	f.Add("[runbook]\nid = 1\n[[phase]]\n[[phase.step]]\nkind = \"sql\"\nfile = \"a.sql\"\n")
	f.Add("[[phase]]\nstep = [{ kind = \"check\", sql = \"select 1\", expect = [{ a = { b = [1] } }] }]\n")
	f.Add("[[phase.step]]\nkind = \"sql\"\nstatements = [\"\"\"\nvacuum\"\"\", 'begin']\n")
	f.Add("[target]\nidentity = [\"sql\", 3]\nforbidden = \"x\"\n[[messages]]\nbody = \"{{\"\n")
	f.Add("a.b.c = 1\n[a.b]\n[[a.b]]\n")
	f.Add("[[rollback.step]]\nkind = \"monitor\"\nduration = \"-1s\"\nevery = 5\n[[rollback.step.queries]]\nalert = \"x\"\n")
	f.Add("x = [[[[[[[[[[1]]]]]]]]]]\n")
	f.Fuzz(func(t *testing.T, src string) {
		fsys := fstest.MapFS{
			"rb/runbook.toml": &fstest.MapFile{Data: []byte(src)},
			"rb/a.sql":        &fstest.MapFile{Data: []byte("select 1;\nvacuum;\n")},
		}
		r, ps := LoadFS(fsys, "rb")
		lines := strings.Count(src, "\n") + 1
		if r == nil && len(ps) == 0 {
			t.Fatal("no runbook and no problems")
		}
		for _, p := range ps {
			if p.Line < 0 || p.Col < 0 || p.Msg == "" || p.Path == "" {
				t.Fatalf("bad problem %+v", p)
			}
			if p.Path == "rb/runbook.toml" && p.Line > lines {
				t.Fatalf("line %d beyond the %d lines of the source: %+v", p.Line, lines, p)
			}
		}
		if r != nil {
			seen := map[string]bool{}
			for _, s := range append(r.AllSteps(), r.Rollback.Steps...) {
				if s.ID == "" {
					t.Fatal("step without id")
				}
				if seen[s.ID] && !ps.HasErrors() {
					t.Fatalf("duplicate id %q without an error", s.ID)
				}
				seen[s.ID] = true
				_, _ = r.StepStatements(s)
			}
			if len(r.Hash) != 64 {
				t.Fatal("no hash")
			}
		}
		newTOMLLocator(src) // also on sources the TOML parser rejects
	})
}
