package scaffold

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/handrail-dev/handrail/steps"
)

// write creates files (slash paths relative to root) with their content.
func write(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// threeMigrations is a Supabase project's migrations directory: three
// migrations (the last one builds an index CONCURRENTLY), and what else
// such a directory holds.
var threeMigrations = map[string]string{
	"app/supabase/migrations/20240101000000_create_profiles.sql": `-- profiles, one per auth user
create table public.profiles (
	id uuid primary key references auth.users (id) on delete cascade,
	username text not null unique
);
alter table public.profiles enable row level security;
create policy "Users can view their own profile" on public.profiles
	for select to authenticated using (auth.uid() = id);
`,
	"app/supabase/migrations/20240102000000_add_bio.sql":    "alter table public.profiles add column bio text;\n",
	"app/supabase/migrations/20240103000000_index_name.sql": "create index concurrently profiles_username_lower_idx on public.profiles (lower(username));\n",
	"app/supabase/migrations/README.md":                     "how we write migrations\n",
	"app/supabase/migrations/20231231000000_empty.sql":      "-- nothing yet\n",
	"app/supabase/migrations/archive/19990101_old.sql":      "select 1;\n",
	"app/supabase/config.toml":                              "project_id = \"app\"\n",
}

func TestMakeSupabaseProject(t *testing.T) {
	root := t.TempDir()
	write(t, root, threeMigrations)
	mig := filepath.Join(root, "app", "supabase", "migrations")
	p, err := Make(Options{Migrations: mig})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "app", "supabase", "runbook.toml"); p.Path != want {
		t.Errorf("path %s, want %s", p.Path, want)
	}
	if !p.Supabase || p.ID != "app-migrations" {
		t.Errorf("supabase %v, id %q", p.Supabase, p.ID)
	}
	var files []string
	for _, m := range p.Migrations {
		files = append(files, m.File)
	}
	want := []string{
		"migrations/20240101000000_create_profiles.sql",
		"migrations/20240102000000_add_bio.sql",
		"migrations/20240103000000_index_name.sql",
	}
	if !slices.Equal(files, want) {
		t.Errorf("steps %q, want %q", files, want)
	}
	if m := p.Migrations[2]; !strings.Contains(m.NoTransaction, "CONCURRENTLY") || p.Migrations[0].NoTransaction != "" {
		t.Errorf("transaction = false on the wrong steps: %+v", p.Migrations)
	}
	skipped := map[string]string{}
	for _, s := range p.Skipped {
		skipped[s.Name] = s.Why
	}
	for name, why := range map[string]string{"README.md": "not a .sql file", "archive/": "a directory", "20231231000000_empty.sql": "no SQL statements"} {
		if !strings.Contains(skipped[name], why) {
			t.Errorf("skipped %s: %q, want %q", name, skipped[name], why)
		}
	}
	if err := p.Write(); err != nil {
		t.Fatal(err)
	}
	rb, problems := steps.Load(p.Path)
	if rb == nil || problems.HasErrors() {
		t.Fatalf("the scaffold does not lint clean:\n%s", problems)
	}
	// What lint still asks for are the placeholders and the rollback:
	// warnings, each with a hint.
	wantWarn := []string{`name is still the placeholder`, `project_id is still the placeholder`, `has no [rollback] steps`}
	if len(problems) != len(wantWarn) {
		t.Fatalf("problems:\n%s", problems)
	}
	for i, w := range wantWarn {
		if !strings.Contains(problems[i].Msg, w) || problems[i].Hint == "" {
			t.Errorf("problem %d = %s, want %q with a hint", i, problems[i], w)
		}
	}
	if !slices.Equal(rb.Target.Identity, []string{steps.IdentityStamp, steps.IdentitySupabase}) || !rb.Target.Production {
		t.Errorf("target %+v", rb.Target)
	}
	all := rb.AllSteps()
	if all[0].Kind != steps.KindChecklist || len(all[0].Items) < 5 || !all[0].Items[len(all[0].Items)-1].SelfTicking() {
		t.Errorf("no pre-flight checklist with a self-ticking item: %+v", all[0])
	}
	var sqlSteps []steps.Step
	for _, s := range all {
		if s.Kind == steps.KindSQL {
			sqlSteps = append(sqlSteps, s)
		}
	}
	if len(sqlSteps) != 3 || !sqlSteps[0].IsTransactional() || sqlSteps[2].IsTransactional() {
		t.Errorf("sql steps: %+v", sqlSteps)
	}
	if len(rb.Rollback.When) == 0 || len(rb.Rollback.Steps) != 0 {
		t.Errorf("rollback %+v: want conditions and no made-up steps", rb.Rollback)
	}
	var report strings.Builder
	p.Report(&report, problems)
	for _, w := range []string{"3 sql step(s)", "skipped README.md: not a .sql file", "transaction = false", "3 warning(s)", "handrail demo"} {
		if !strings.Contains(report.String(), w) {
			t.Errorf("report lacks %q:\n%s", w, report.String())
		}
	}
}

// Never overwrite a runbook: not one that is there, not one that
// appears between Make and Write.
func TestNeverOverwrites(t *testing.T) {
	root := t.TempDir()
	write(t, root, threeMigrations)
	mig := filepath.Join(root, "app", "supabase", "migrations")
	existing := filepath.Join(root, "app", "supabase", "runbook.toml")
	write(t, root, map[string]string{"app/supabase/runbook.toml": "mine"})
	if _, err := Make(Options{Migrations: mig}); !errors.Is(err, ErrExists) {
		t.Fatalf("Make over an existing runbook: %v", err)
	}
	os.Remove(existing)
	p, err := Make(Options{Migrations: mig})
	if err != nil {
		t.Fatal(err)
	}
	write(t, root, map[string]string{"app/supabase/runbook.toml": "mine"})
	if err := p.Write(); !errors.Is(err, ErrExists) {
		t.Fatalf("Write over a runbook that appeared: %v", err)
	}
	if b, _ := os.ReadFile(existing); string(b) != "mine" {
		t.Errorf("the runbook was overwritten: %q", b)
	}
}

func TestOutPaths(t *testing.T) {
	root := t.TempDir()
	write(t, root, threeMigrations)
	mig := filepath.Join(root, "app", "supabase", "migrations")
	for _, tt := range []struct {
		out, path, firstFile string
	}{
		{filepath.Join(root, "app"), filepath.Join(root, "app", "runbook.toml"), "supabase/migrations/20240101000000_create_profiles.sql"},
		{filepath.Join(root, "app", "deploy-42.toml"), filepath.Join(root, "app", "deploy-42.toml"), "supabase/migrations/20240101000000_create_profiles.sql"},
		{mig, filepath.Join(mig, "runbook.toml"), "20240101000000_create_profiles.sql"},
	} {
		p, err := Make(Options{Migrations: mig, Out: tt.out, ID: "deploy-42"})
		if err != nil {
			t.Errorf("--out %s: %v", tt.out, err)
			continue
		}
		if p.Path != tt.path || p.Migrations[0].File != tt.firstFile || p.ID != "deploy-42" {
			t.Errorf("--out %s: path %s, first file %s, id %s", tt.out, p.Path, p.Migrations[0].File, p.ID)
		}
	}
	// A runbook beside the migrations could not name them.
	if _, err := Make(Options{Migrations: mig, Out: filepath.Join(root, "elsewhere")}); err == nil || !strings.Contains(err.Error(), "or a directory above it") {
		t.Errorf("--out outside: %v", err)
	}
	if _, err := Make(Options{Migrations: filepath.Join(root, "nope")}); err == nil {
		t.Error("a missing directory was accepted")
	}
	if _, err := Make(Options{Migrations: filepath.Join(mig, "20240102000000_add_bio.sql")}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file: %v", err)
	}
	if _, err := Make(Options{Migrations: mig, ID: "two words"}); err == nil {
		t.Error("an id with a space was accepted")
	}
}

func TestNothingToScaffold(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{"m/README.md": "x", "m/0001_empty.sql": "-- later\n"})
	_, err := Make(Options{Migrations: filepath.Join(root, "m")})
	if err == nil || !strings.Contains(err.Error(), "no .sql file with a statement") || !strings.Contains(err.Error(), "README.md: not a .sql file") {
		t.Errorf("got %v", err)
	}
	// An empty directory (the wrong one, most likely) is said as such,
	// with what to give instead.
	empty := filepath.Join(root, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = Make(Options{Migrations: empty})
	if err == nil || !strings.Contains(err.Error(), "holds no .sql file") || !strings.Contains(err.Error(), "supabase/migrations") {
		t.Errorf("an empty directory: %v", err)
	}
}

// --after leaves out what the target already has.
func TestAfter(t *testing.T) {
	root := t.TempDir()
	write(t, root, threeMigrations)
	mig := filepath.Join(root, "app", "supabase", "migrations")
	p, err := Make(Options{Migrations: mig, After: "20240101000000"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Migrations) != 2 || p.Migrations[0].Name != "20240102000000_add_bio.sql" {
		t.Errorf("migrations %+v", p.Migrations)
	}
	found := false
	for _, s := range p.Skipped {
		found = found || (s.Name == "20240101000000_create_profiles.sql" && strings.Contains(s.Why, "--after"))
	}
	if !found {
		t.Errorf("the left-out migration is not listed as skipped: %+v", p.Skipped)
	}
	if _, err := Make(Options{Migrations: mig, After: "20240103000000_index_name.sql"}); err == nil || !strings.Contains(err.Error(), "--after") {
		t.Errorf("everything left out: %v", err)
	}
}

// Lexical order, as the Supabase CLI applies them; numbered names of
// different widths are pointed out.
func TestOrderAndNames(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"db/m/9_add_column.sql":       "alter table t add column b int;",
		"db/m/10_create.sql":          "create table t (a int);",
		"db/m/11 it's \"odd\" ✓.SQL":  "create table u (a int);",
		"db/m/12_explicit_tx.sql":     "begin;\ncreate table v (a int);\ncommit;\n",
		"db/m/13_pre-flight.sql":      "create table w (a int);",
		"db/m/13_pre-flight.sql.orig": "x",
	})
	p, err := Make(Options{Migrations: filepath.Join(root, "db", "m")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range p.Migrations {
		ids = append(ids, m.StepID)
	}
	if want := []string{"10_create", "11-it-s--odd---", "12_explicit_tx", "13_pre-flight", "9_add_column"}; !slices.Equal(ids, want) {
		t.Errorf("ids %q, want %q", ids, want)
	}
	if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "different widths") {
		t.Errorf("notes %q", p.Notes)
	}
	if p.ID != "db-migrations" || p.Supabase {
		t.Errorf("id %q supabase %v", p.ID, p.Supabase)
	}
	if err := p.Write(); err != nil {
		t.Fatal(err)
	}
	rb, problems := steps.Load(p.Path)
	if rb == nil {
		t.Fatal(problems)
	}
	// The odd file name round-trips through TOML; the file with its own
	// BEGIN/COMMIT is the one error, and lint says what to do.
	errs := problems.Errors()
	if len(errs) != 2 || !strings.HasSuffix(errs[0].Path, "12_explicit_tx.sql") || !strings.Contains(errs[0].Hint, "remove it") {
		t.Errorf("errors:\n%s", errs)
	}
	if p.Migrations[2].TransactionControl == "" {
		t.Error("BEGIN/COMMIT not noticed")
	}
}

// quote is what keeps a file name from breaking the TOML: it decodes to
// the same string.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "plain", `it's "odd" \ ✓`, "tab\tnew\nline\r\x00\x1b\x7f", "\U0001F418"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // file names handrail writes come from the file system as UTF-8 or are replaced
		}
		for _, text := range []string{"a = " + quote(s) + "\n", "a = " + quoteLines(s) + "\n"} {
			var v struct{ A string }
			if _, err := toml.Decode(text, &v); err != nil {
				t.Fatalf("%q: %v", text, err)
			}
			want := s
			if strings.HasPrefix(text, `a = """`) {
				want = strings.TrimSuffix(s, "\n")
			}
			if v.A != want {
				t.Fatalf("%q decodes to %q, want %q", text, v.A, want)
			}
		}
	})
}

// In a Supabase project (supabase/migrations), a file the Supabase CLI
// would not apply (its name is not <version>_<name>.sql, lower-case .sql)
// does not become a step: handrail new took 20240102000000_x.SQL and
// seed.sql, which supabase db push skips, so the runbook would have run
// a migration production never gets through the CLI.
func TestSupabaseSkipsWhatTheCLISkips(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"supabase/migrations/20240101000000_create.sql": "create table t (a int);",
		"supabase/migrations/20240102000000_upper.SQL":  "create table u (a int);",
		"supabase/migrations/seed.sql":                  "insert into t values (1);",
		"supabase/migrations/20240103000000.sql":        "create table v (a int);",
	})
	p, err := Make(Options{Migrations: filepath.Join(root, "supabase", "migrations")})
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, m := range p.Migrations {
		files = append(files, m.Name)
	}
	if want := []string{"20240101000000_create.sql"}; !slices.Equal(files, want) {
		t.Errorf("steps %q, want %q", files, want)
	}
	skipped := map[string]string{}
	for _, s := range p.Skipped {
		skipped[s.Name] = s.Why
	}
	for _, name := range []string{"20240102000000_upper.SQL", "seed.sql", "20240103000000.sql"} {
		if !strings.Contains(skipped[name], "the Supabase CLI skips it") {
			t.Errorf("skipped %s: %q, want it skipped as the Supabase CLI does", name, skipped[name])
		}
	}
}
