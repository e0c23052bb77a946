package runbookdoc

import (
	"fmt"
	"strings"

	"github.com/handrail-dev/handrail/steps"
)

const intro = `# Runbook reference

<!-- Generated from steps/runbookdoc by "go test ./steps/runbookdoc -update"; edit it there. -->

A runbook is a directory holding ` + "`runbook.toml`" + ` and the SQL files it names. This page
lists every table, key, step kind and identity source of ` + "`runbook.toml`" + `, with its
type, default and an example. It is generated from the same tables the decoder is
tested against, so it cannot drift from what ` + "`handrail lint`" + ` accepts.

- Decoding is strict: an unknown key, or a key that does not belong to its step's
  kind, is an error with ` + "`file:line:col`" + ` (and "did you mean"), so a typo never
  silently disables a safety setting. ` + "`handrail lint RUNBOOK`" + ` reports every problem at once.
- Types are TOML types. A *duration* is a string like ` + "`\"30s\"`, `\"5m\"` or `\"1h30m\"`" + `. A *row*
  is an inline table of column = value.
- ` + "`handrail new MIGRATIONS_DIR`" + ` writes a first runbook for a directory of migration files;
  the complete examples are ` + "`runbooks/connect-rls-hardening`" + ` and ` + "`runbooks/tenant-rls-fix`" + `.

Contents: [Tables](#tables) · [Step kinds](#step-kinds) · [Identity sources](#identity-sources) ·
[Editor support](#editor-support-json-schema)
`

const editorSupport = `## Editor support (JSON Schema)

` + "`docs/runbook.schema.json`" + ` is a JSON Schema (draft-07) of this format, generated with this
page. Editors that validate TOML against a JSON Schema (VS Code's Even Better TOML, and
any editor using the taplo language server) then complete keys, show these descriptions
and mark mistakes as you type: unknown keys and keys of another step kind, wrong types,
unknown kinds, identity sources and ` + "`on_fail`" + ` values, missing required keys, malformed
durations. Lint stays the authority (it also checks files, SQL and expectations); the
schema accepts every runbook lint accepts.

Point the editor at it in one of two ways:

- a directive on the first line of ` + "`runbook.toml`" + ` (a path relative to the file, or a URL;
  outside this repository, copy the schema into yours):

  ` + "```toml" + `
  #:schema ../../docs/runbook.schema.json
  ` + "```" + `

- or, for every runbook of a repository, a ` + "`.taplo.toml`" + ` at its root:

  ` + "```toml" + `
  [[rule]]
  include = ["**/runbook.toml"]

  [rule.schema]
  path = "docs/runbook.schema.json"   # or the file's URL
  ` + "```" + `

The taplo command line checks the same way: ` + "`taplo lint --schema file://$PWD/docs/runbook.schema.json runbook.toml`" + `.
A ` + "`\"$schema\"`" + ` key inside the document does not work here: the decoder refuses unknown keys.
`

// Markdown returns docs/runbook.md.
func Markdown() string {
	var b strings.Builder
	b.WriteString(intro)
	b.WriteString("\n## Tables\n")
	for _, tb := range Tables {
		writeTable(&b, tb)
	}
	b.WriteString("\n## Step kinds\n\n")
	b.WriteString("Every step has `kind` and may have `id`, `title` and `notes`; the other keys depend on the kind. ")
	b.WriteString("`sql` and `exec` steps write: they are skipped in a dry run (without `--apply`), need typed consent on a production target, and make the rollback available.\n\n")
	b.WriteString("| kind | does | writes |\n|---|---|---|\n")
	for _, kd := range Kinds {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s |\n", kd.Kind, kd.Kind, kd.Summary, yesNo(kd.Kind.Writes()))
	}
	for _, kd := range Kinds {
		writeKind(&b, kd)
	}
	b.WriteString("\n## Identity sources\n\n")
	b.WriteString("`[target] identity` lists how to prove which database the connection reaches. Every source that resolves must find " +
		"`project_id`; at least one must resolve; a source that fails (an error, an ambiguous answer) refuses, since it might have said \"staging\"; " +
		"finding an id of `forbidden` stops hard, naming it. The probes are the only statements sent before identity is proved, all read-only.\n")
	for _, sd := range Sources {
		fmt.Fprintf(&b, "\n### `%s`\n\nCompares `project_id` with %s. %s\n\n```toml\n%s\n```\n", sd.Name, sd.Compares, sd.Doc, sd.Example)
	}
	b.WriteString("\n")
	b.WriteString(editorSupport)
	return b.String()
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

func writeTable(b *strings.Builder, tb Table) {
	if tb.Name == "" {
		fmt.Fprintf(b, "\n### Top level\n\n%s\n\n", tb.Doc)
	} else {
		fmt.Fprintf(b, "\n### `%s`\n\n%s\n\n", tb.Header(), tb.Doc)
	}
	names, _ := Fields(tb.Type)
	if tb.Type == stepType {
		b.WriteString("Which kinds take a key: see [Step kinds](#step-kinds).\n\n")
	}
	b.WriteString("| key | type | required | default | description |\n|---|---|---|---|---|\n")
	for _, name := range names {
		k, _ := tb.Key(name)
		doc := k.Doc
		if k.Example != "" {
			doc += " Example: `" + k.Example + "`"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s |\n", name, typeCell(tb, name), yesNo(k.Required), code(k.Default), doc)
	}
}

// typeCell is the type, with the allowed values of an enumerated key.
func typeCell(tb Table, name string) string {
	ft := fieldType(tb, name)
	s := TypeName(ft)
	if e := Enum(tb.Name, name); e != nil {
		s += ": " + strings.Join(quoteAll(e), ", ")
	}
	return s
}

func quoteAll(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = "`\"" + v + "\"`"
	}
	return out
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

func writeKind(b *strings.Builder, kd KindDoc) {
	fmt.Fprintf(b, "\n### `%s`\n\n%s. %s\n\n", kd.Kind, upperFirst(kd.Summary), kd.Doc)
	step, _ := TableByType(stepType)
	b.WriteString("| key | type | required | default |\n|---|---|---|---|\n")
	for _, name := range steps.StepKeys(kd.Kind) {
		k, _ := step.Key(name)
		req := yesNo(requiredInKind(kd, name))
		for _, g := range kd.AnyOf {
			for _, alt := range g {
				if alt == name {
					req = "one of " + strings.Join(g, ", ")
				}
			}
		}
		typ := typeCell(step, name)
		if name == "kind" {
			typ = fmt.Sprintf("string: `\"%s\"`", kd.Kind)
		}
		fmt.Fprintf(b, "| [`%s`](#phasestep) | %s | %s | %s |\n", name, typ, req, code(k.Default))
	}
	fmt.Fprintf(b, "\n```toml\n%s\n```\n", kd.Example)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
