// Package runbookdoc is the reference of the runbook format: every table,
// key, step kind and identity source with its type, default and an
// example. docs/runbook.md and docs/runbook.schema.json (a JSON Schema for
// editors such as Even Better TOML / taplo) are generated from it, and its
// tests hold it against the decoder (the steps types, steps.StepKeys, the
// enumerations) so that neither can drift:
//
//	go test ./steps/runbookdoc -update   # after changing the format or the text
package runbookdoc

import (
	"reflect"

	"github.com/handrail-dev/handrail/steps"
)

// Key documents one key of a table. Its type comes from the decoder's Go
// type, never from here.
type Key struct {
	Name string
	// Doc says what the key does, in Markdown.
	Doc string
	// Required: decoding fails without it.
	Required bool
	// Default is the value when the key is left out, as a TOML literal
	// (e.g. `"5s"`, `true`); empty when there is none.
	Default string
	// Example is a TOML line setting the key.
	Example string
}

// Table documents one TOML table (or array of tables) and the Go struct
// it decodes into.
type Table struct {
	// Name is the table's header without brackets ("target",
	// "phase.step"); "" for the top level.
	Name string
	// Array: [[name]], an array of tables.
	Array bool
	Type  reflect.Type
	Doc   string
	Keys  []Key
}

// Header is the table as written in TOML: [target], [[phase.step]].
func (t Table) Header() string {
	switch {
	case t.Name == "":
		return "top level"
	case t.Array:
		return "[[" + t.Name + "]]"
	}
	return "[" + t.Name + "]"
}

// Key returns the key named name, if the table documents it.
func (t Table) Key(name string) (Key, bool) {
	for _, k := range t.Keys {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

// KindDoc documents one step kind.
type KindDoc = steps.KindDoc

// SourceDoc documents one identity source.
type SourceDoc struct {
	Name     string
	Compares string // what it compares with project_id
	Doc      string
	Example  string // a [target] table using it
}

var (
	stepType = reflect.TypeOf(steps.Step{})
	itemType = reflect.TypeOf(steps.Item{})
)

// enums are the closed sets of values, by table name and key, from the
// decoder's own lists.
func enums() map[[2]string][]string {
	kinds := make([]string, len(steps.Kinds))
	for i, k := range steps.Kinds {
		kinds[i] = string(k)
	}
	return map[[2]string][]string{
		{"phase.step", "kind"}:    kinds,
		{"phase.step", "on_fail"}: steps.OnFailValues,
		{"target", "identity"}:    steps.IdentitySources,
		{"messages", "when"}:      steps.MessageWhens,
	}
}

// Enum returns the allowed values of a key, or nil.
func Enum(table, key string) []string { return enums()[[2]string{table, key}] }
