package runbookdoc

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/BurntSushi/toml"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/handrail-dev/handrail/runbooks"
	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/steps/scaffold"
)

// compileSchema compiles the generated schema with an independent,
// complete JSON Schema implementation (which also checks it against the
// draft-07 meta-schema).
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("runbook.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("runbook.schema.json")
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	return sch
}

// instance is runbook.toml as the JSON an editor validates: TOML decoded,
// datetimes as strings.
func instance(t *testing.T, src string) any {
	t.Helper()
	var v map[string]any
	if _, err := toml.Decode(src, &v); err != nil {
		t.Fatalf("not TOML: %v\n%s", err, src)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// The schema accepts every runbook lint accepts: the two examples, the
// reference's own examples, and what handrail new writes.
func TestSchemaAcceptsWhatLintAccepts(t *testing.T) {
	sch := compileSchema(t)
	accepted := map[string]string{}
	for _, name := range runbooks.Names() {
		b, err := fs.ReadFile(runbooks.FS, name+"/runbook.toml")
		if err != nil {
			t.Fatal(err)
		}
		accepted["example "+name] = string(b)
	}
	for _, kd := range Kinds {
		accepted[string(kd.Kind)+" example"] = exampleRunbook("[[phase]]\ntitle = \"Example\"\n\n" + kd.Example)
	}
	for _, sd := range Sources {
		accepted[sd.Name+" example"] = exampleRunbook(sd.Example)
	}
	root := t.TempDir()
	mig := filepath.Join(root, "supabase", "migrations")
	if err := os.MkdirAll(mig, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, sql := range map[string]string{"001_a.sql": "create table a (x int);", "002_b.sql": "create index concurrently on a (x);"} {
		if err := os.WriteFile(filepath.Join(mig, name), []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := scaffold.Make(scaffold.Options{Migrations: mig})
	if err != nil {
		t.Fatal(err)
	}
	accepted["handrail new"] = string(p.Text)

	for what, src := range accepted {
		if err := sch.Validate(instance(t, src)); err != nil {
			t.Errorf("%s: lint accepts it, the schema refuses it: %v", what, err)
		}
	}
}

const validRunbook = `[runbook]
id = "shop"

[target]
name = "Shop-Prod"
project_id = "shop-prod"
identity = ["stamp"]

[settings]
lock_timeout = "5s"

[[messages]]
id = "announce"
when = "before"
body = "Deploying {{.Runbook}}"

[[phase]]
title = "Work"

  [[phase.step]]
  kind = "checklist"
  id = "pre"
  items = [{ text = "ticket approved" }]

  [[phase.step]]
  kind = "sql"
  id = "apply"
  statements = ["create table t (a int)"]

  [[phase.step]]
  kind = "check"
  id = "verify"
  sql = "select count(*) as n from pg_tables where tablename = 't'"
  expect = [{ n = 1 }]
  on_fail = "rollback"

  [[phase.step]]
  kind = "monitor"
  id = "watch"
  duration = "1m"
  every = "10s"
  watch = ["errors"]

[rollback]
  [[rollback.step]]
  kind = "sql"
  id = "undo"
  statements = ["drop table t"]
`

// What the schema refuses, lint refuses too: each mistake an editor
// marks as it is typed.
func TestSchemaRefusesWhatLintRefuses(t *testing.T) {
	sch := compileSchema(t)
	lint := func(src string) steps.Problems {
		_, ps := steps.LoadFS(fstest.MapFS{"rb/runbook.toml": &fstest.MapFile{Data: []byte(src)}}, "rb")
		return ps
	}
	if ps := lint(validRunbook); ps.HasErrors() {
		t.Fatalf("the base runbook does not lint clean: %s", ps)
	}
	if err := sch.Validate(instance(t, validRunbook)); err != nil {
		t.Fatalf("the schema refuses the base runbook: %v", err)
	}
	for _, tt := range []struct{ name, old, new string }{
		{"unknown top-level key", `[runbook]`, "colour = \"red\"\n[runbook]"},
		{"unknown [target] key", `project_id = "shop-prod"`, `projectid = "shop-prod"`},
		{"missing project_id", `project_id = "shop-prod"`, ``},
		{"missing [runbook] id", `id = "shop"`, `title = "Shop"`},
		{"bad duration", `lock_timeout = "5s"`, `lock_timeout = "5 seconds"`},
		{"duration as a number", `lock_timeout = "5s"`, `lock_timeout = 5`},
		{"negative keep_rows", `lock_timeout = "5s"`, `keep_rows = -1`},
		{"unknown identity source", `identity = ["stamp"]`, `identity = ["stamps"]`},
		{"unknown message when", `when = "before"`, `when = "later"`},
		{"unknown kind", `kind = "monitor"`, `kind = "monitr"`},
		{"step without kind", "kind = \"checklist\"\n", ""},
		{"key of another kind", `kind = "check"
  id = "verify"`, `kind = "check"
  id = "verify"
  file = "x.sql"`},
		{"unknown on_fail", `on_fail = "rollback"`, `on_fail = "abort"`},
		{"check without sql", `sql = "select count(*) as n from pg_tables where tablename = 't'"`, ``},
		{"check without expectation", `expect = [{ n = 1 }]`, ``},
		{"expected value not a scalar", `expect = [{ n = 1 }]`, `expect = [{ n = [1] }]`},
		{"sql step without SQL", `statements = ["create table t (a int)"]`, ``},
		{"monitor without duration", `duration = "1m"`, ``},
		{"checklist item without text", `items = [{ text = "ticket approved" }]`, `items = [{ sql = "select 1", expect_rows = 1 }]`},
		{"transaction not a boolean", `statements = ["create table t (a int)"]`, "statements = [\"create table t (a int)\"]\n  transaction = \"no\""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(validRunbook, tt.old) {
				t.Fatalf("%q is not in the base runbook", tt.old)
			}
			src := strings.Replace(validRunbook, tt.old, tt.new, 1)
			if ps := lint(src); !ps.HasErrors() {
				t.Errorf("lint accepts it:\n%s", src)
			}
			if err := sch.Validate(instance(t, src)); err == nil {
				t.Errorf("the schema accepts it")
			}
		})
	}
}

// Every table of the schema lists exactly the decoder's keys and forbids
// others; a step's keys are its kind's (steps.StepKeys).
func TestSchemaCoversTheDecoder(t *testing.T) {
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	var root struct {
		Definitions map[string]struct {
			Properties           map[string]any
			AdditionalProperties any
			AllOf                []struct {
				If struct {
					Properties struct{ Kind struct{ Const string } }
				}
				Then struct {
					PropertyNames struct{ Enum []string }
				}
			}
		}
		Properties           map[string]any
		AdditionalProperties any
	}
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]any) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	top, _ := Fields(Tables[0].Type)
	if !slices.Equal(keys(root.Properties), sorted(top)) || root.AdditionalProperties != false {
		t.Errorf("top level: %v, additionalProperties %v", keys(root.Properties), root.AdditionalProperties)
	}
	for typ, name := range defName {
		def, ok := root.Definitions[name]
		names, _ := Fields(typ)
		if !ok || !slices.Equal(keys(def.Properties), sorted(names)) || def.AdditionalProperties != false {
			t.Errorf("definition %s: keys %v, want %v; additionalProperties %v", name, keys(def.Properties), sorted(names), def.AdditionalProperties)
		}
	}
	byKind := map[string][]string{}
	for _, c := range root.Definitions["step"].AllOf {
		byKind[c.If.Properties.Kind.Const] = c.Then.PropertyNames.Enum
	}
	for _, k := range steps.Kinds {
		if !slices.Equal(byKind[string(k)], steps.StepKeys(k)) {
			t.Errorf("kind %s: schema allows %v, the decoder %v", k, byKind[string(k)], steps.StepKeys(k))
		}
	}
	if len(byKind) != len(steps.Kinds) {
		t.Errorf("schema conditions for %d kinds, decoder has %d", len(byKind), len(steps.Kinds))
	}
}
