package runbookdoc

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/BurntSushi/toml"

	"github.com/handrail-dev/handrail/steps"
)

var update = flag.Bool("update", false, "rewrite docs/runbook.md and docs/runbook.schema.json")

var (
	docsDir    = filepath.Join("..", "..", "docs")
	durationRE = regexp.MustCompile(DurationPattern)
)

// The committed reference and schema are what this package generates.
func TestGeneratedDocsUpToDate(t *testing.T) {
	schema, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"runbook.md": []byte(Markdown()), "runbook.schema.json": schema} {
		p := filepath.Join(docsDir, name)
		if *update {
			if err := os.MkdirAll(docsDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%v: run go test ./steps/runbookdoc -update", err)
		}
		if string(got) != string(want) {
			t.Errorf("docs/%s is not what steps/runbookdoc generates: run go test ./steps/runbookdoc -update (and edit the text there, not in docs/)", name)
		}
	}
}

// Every key the decoder accepts is documented, in the table of the struct
// it decodes into, and every documented key is one the decoder accepts.
func TestEveryDecoderKeyIsDocumented(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(st reflect.Type, where string)
	walk = func(st reflect.Type, where string) {
		if seen[st] {
			return
		}
		seen[st] = true
		tb, ok := TableByType(st)
		if !ok {
			t.Errorf("%s (%s) has no documented table", where, st)
			return
		}
		names, types := Fields(st)
		var documented []string
		for _, k := range tb.Keys {
			documented = append(documented, k.Name)
			if !slices.Contains(names, k.Name) {
				t.Errorf("%s documents %q, which the decoder does not accept", tb.Header(), k.Name)
			}
			if k.Doc == "" {
				t.Errorf("%s %s: no description", tb.Header(), k.Name)
			}
		}
		for _, n := range names {
			if !slices.Contains(documented, n) {
				t.Errorf("%s: the decoder accepts %q, which the reference does not document", tb.Header(), n)
			}
			if strings.ContainsAny(TypeName(types[n]), ".[]") {
				t.Errorf("%s %s: the reference cannot name type %s", tb.Header(), n, types[n])
			}
			if sub, ok := isTable(types[n]); ok {
				walk(sub, tb.Header()+" "+n)
			}
		}
	}
	walk(reflect.TypeOf(steps.Runbook{}), "runbook.toml")
	for _, tb := range Tables {
		if !seen[tb.Type] {
			t.Errorf("%s is documented but the decoder never decodes %s", tb.Header(), tb.Type)
		}
		if tb.Doc == "" {
			t.Errorf("%s: no description", tb.Header())
		}
	}
}

func TestKindsAndSourcesAreDocumented(t *testing.T) {
	var kinds []steps.Kind
	for _, kd := range Kinds {
		kinds = append(kinds, kd.Kind)
		keys := steps.StepKeys(kd.Kind)
		for _, k := range kd.Required {
			if !slices.Contains(keys, k) {
				t.Errorf("%s requires %q, which it does not accept", kd.Kind, k)
			}
		}
		for _, g := range kd.AnyOf {
			for _, k := range g {
				if !slices.Contains(keys, k) {
					t.Errorf("%s: %q in a one-of group is not one of its keys", kd.Kind, k)
				}
			}
		}
		if kd.Summary == "" || kd.Doc == "" || kd.Example == "" {
			t.Errorf("%s: summary, doc and example are all needed", kd.Kind)
		}
	}
	if !slices.Equal(kinds, steps.Kinds) {
		t.Errorf("documented kinds %v, decoder kinds %v", kinds, steps.Kinds)
	}
	var sources []string
	for _, s := range Sources {
		sources = append(sources, s.Name)
	}
	if !slices.Equal(sources, steps.IdentitySources) {
		t.Errorf("documented identity sources %v, decoder's %v", sources, steps.IdentitySources)
	}
}

// decodeOne decodes a TOML snippet setting one key into the key's Go
// type, as the decoder would.
func decodeOne(t *testing.T, what, snippet, key string, typ reflect.Type) {
	t.Helper()
	var top map[string]toml.Primitive
	md, err := toml.Decode(snippet, &top)
	if err != nil {
		t.Errorf("%s: %q is not TOML: %v", what, snippet, err)
		return
	}
	if len(top) != 1 {
		t.Errorf("%s: %q sets %d keys, want only %q", what, snippet, len(top), key)
	}
	prim, ok := top[key]
	if !ok {
		t.Errorf("%s: %q does not set %q", what, snippet, key)
		return
	}
	if err := md.PrimitiveDecode(prim, reflect.New(typ).Interface()); err != nil {
		t.Errorf("%s: %q does not decode as %s: %v", what, snippet, TypeName(typ), err)
	}
}

// Every key's example and default is TOML of the key's type.
func TestKeyExamplesAndDefaultsDecode(t *testing.T) {
	for _, tb := range Tables {
		_, types := Fields(tb.Type)
		for _, k := range tb.Keys {
			typ := types[k.Name]
			if typ == nil {
				continue // reported by TestEveryDecoderKeyIsDocumented
			}
			if _, table := isTable(typ); table {
				if k.Example != "" || k.Default != "" {
					t.Errorf("%s %s: a table documents its keys in its own section", tb.Header(), k.Name)
				}
				continue
			}
			if k.Example == "" {
				t.Errorf("%s %s: no example", tb.Header(), k.Name)
				continue
			}
			if strings.ContainsAny(k.Doc+k.Example+k.Default, "|\n") || strings.Contains(k.Example, "`") {
				t.Errorf("%s %s: a | or newline (or a backquote in the example) breaks its row of the Markdown table", tb.Header(), k.Name)
			}
			decodeOne(t, tb.Header()+" "+k.Name+" example", k.Example, k.Name, typ)
			if k.Default != "" {
				decodeOne(t, tb.Header()+" "+k.Name+" default", k.Name+" = "+k.Default, k.Name, typ)
			}
		}
	}
}

// exampleRunbook wraps TOML tables in a runbook that lints clean: a
// [runbook], a [target] unless extra has one, the "announce" message the
// message example uses, a step and a rollback step.
func exampleRunbook(extra string) string {
	var b strings.Builder
	b.WriteString("[runbook]\nid = \"example\"\n\n")
	if !strings.Contains(extra, "[target]") {
		b.WriteString("[target]\nname = \"Example\"\nproject_id = \"example-prod\"\nidentity = [\"stamp\"]\n\n")
	}
	b.WriteString("[[messages]]\nid = \"announce\"\nwhen = \"before\"\nbody = \"Deploying {{.Runbook}}\"\n\n")
	b.WriteString(extra)
	b.WriteString("\n\n[[phase]]\ntitle = \"Steps\"\n\n[[phase.step]]\nkind = \"manual\"\nid = \"look\"\n\n")
	b.WriteString("[rollback]\n[[rollback.step]]\nkind = \"sql\"\nid = \"undo\"\nstatements = [\"select 1\"]\n")
	return b.String()
}

func lintClean(t *testing.T, what, src string, files map[string]string) {
	t.Helper()
	fsys := fstest.MapFS{"rb/runbook.toml": &fstest.MapFile{Data: []byte(src)}}
	for name, content := range files {
		fsys["rb/"+name] = &fstest.MapFile{Data: []byte(content)}
	}
	_, ps := steps.LoadFS(fsys, "rb")
	if ps.HasErrors() {
		t.Errorf("%s does not lint clean:\n%s\n%s", what, ps.Errors(), src)
	}
}

// The kind and identity source examples are runbook fragments lint
// accepts, using only their kind's keys.
func TestExamplesLintClean(t *testing.T) {
	for _, kd := range Kinds {
		lintClean(t, string(kd.Kind)+" example", exampleRunbook("[[phase]]\ntitle = \"Example\"\n\n"+kd.Example), kd.Files)
		var top struct {
			Phase []struct{ Step []map[string]any }
		}
		if _, err := toml.Decode("[[phase]]\n"+kd.Example, &top); err != nil || len(top.Phase) != 1 || len(top.Phase[0].Step) != 1 {
			t.Errorf("%s example is not one [[phase.step]]: %v", kd.Kind, err)
			continue
		}
		for key := range top.Phase[0].Step[0] {
			if !slices.Contains(steps.StepKeys(kd.Kind), key) {
				t.Errorf("%s example uses %q, which is not a %s key", kd.Kind, key, kd.Kind)
			}
		}
	}
	for _, sd := range Sources {
		lintClean(t, sd.Name+" example", exampleRunbook(sd.Example), nil)
	}
}

// The duration pattern of the schema accepts what the decoder's
// steps.Duration does (time.ParseDuration, and whole days like "14d"),
// negative durations aside (lint refuses those).
func TestDurationPattern(t *testing.T) {
	for _, s := range []string{"5s", "2m", "1h30m", "1.5h", ".5s", "5.s", "0", "+5s", "300ms", "10us", "10µs", "10μs", "1h2m3s4ms5us6ns",
		"1d", "14d", "0d",
		"", "5", "s", "5 s", "5 seconds", "-5s", "d", "1.5d", "-1d", "1d2h", "5S", "0x5s", "1e3s", "5s ", "..5s"} {
		var d steps.Duration
		err := d.UnmarshalText([]byte(s))
		want := err == nil && d.Duration >= 0
		if got := durationRE.MatchString(s); got != want {
			t.Errorf("%q: pattern %v, steps.Duration %v (%v)", s, got, want, err)
		}
	}
}
