package runbookdoc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"github.com/BurntSushi/toml"

	"github.com/handrail-dev/handrail/steps"
)

// DurationPattern is what the schema accepts as a duration: what Go's
// time.ParseDuration accepts, without a sign or with "+" (lint refuses
// negative durations everywhere).
const DurationPattern = `^([0-9]+d|[+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+))$`

// defName is the definitions entry of each table struct.
var defName = map[reflect.Type]string{
	reflect.TypeOf(steps.Meta{}):         "runbook",
	reflect.TypeOf(steps.Target{}):       "target",
	reflect.TypeOf(steps.Settings{}):     "settings",
	reflect.TypeOf(steps.Message{}):      "message",
	reflect.TypeOf(steps.Phase{}):        "phase",
	stepType:                             "step",
	itemType:                             "item",
	reflect.TypeOf(steps.MonitorQuery{}): "query",
	reflect.TypeOf(steps.Rollback{}):     "rollback",
}

// minimum is the least value of integer keys (lint refuses negatives).
var minimum = map[string]int{"keep_rows": 0, "expect_rows": 0}

// Schema returns the JSON Schema (draft-07, the draft taplo validates) of
// runbook.toml, as indented JSON. Every table forbids unknown keys, like
// the decoder; a step accepts only the keys of its kind. Lint remains the
// authority: the schema accepts everything lint accepts and catches most
// of what it refuses (unknown or misplaced keys, wrong types, unknown
// kinds and enumerated values, missing required keys, bad durations).
func Schema() ([]byte, error) {
	defs := map[string]any{
		"duration": map[string]any{"type": "string", "pattern": DurationPattern,
			"description": `A duration like "30s", "5m" or "1h30m" (units ns, us, ms, s, m, h).`},
		"row": map[string]any{"type": "object", "minProperties": 1,
			"description":          "An expected row: column = value, for some of the result's columns.",
			"additionalProperties": map[string]any{"type": []string{"string", "integer", "number", "boolean"}}},
	}
	var root map[string]any
	for _, tb := range Tables {
		obj, err := tableSchema(tb)
		if err != nil {
			return nil, err
		}
		if tb.Name == "" {
			root = obj
			continue
		}
		name := defName[tb.Type]
		if _, dup := defs[name]; !dup {
			defs[name] = obj
		}
	}
	step := defs["step"].(map[string]any)
	var conds []any
	for _, kd := range Kinds {
		conds = append(conds, kindCondition(kd))
	}
	step["allOf"] = conds
	root["$schema"] = "http://json-schema.org/draft-07/schema#"
	root["title"] = "handrail runbook (runbook.toml)"
	root["definitions"] = defs
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func tableSchema(tb Table) (map[string]any, error) {
	names, types := Fields(tb.Type)
	props := map[string]any{}
	var required []string
	for _, name := range names {
		k, ok := tb.Key(name)
		if !ok {
			return nil, fmt.Errorf("%s: key %q is not documented", tb.Header(), name)
		}
		p, err := keySchema(tb, k, types[name])
		if err != nil {
			return nil, err
		}
		props[name] = p
		if k.Required {
			required = append(required, name)
		}
	}
	obj := map[string]any{"type": "object", "description": tb.Doc, "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		obj["required"] = required
	}
	return obj, nil
}

func keySchema(tb Table, k Key, t reflect.Type) (map[string]any, error) {
	s := typeSchema(t, Enum(tb.Name, k.Name))
	if _, ref := s["$ref"]; ref {
		// draft-07 ignores the siblings of $ref: keep the description
		// and default beside it, where editors show them.
		s = map[string]any{"allOf": []any{s}}
	}
	s["description"] = k.Doc
	if m, ok := minimum[k.Name]; ok {
		s["minimum"] = m
	}
	if k.Default != "" {
		v, err := tomlValue(k.Default)
		if err != nil {
			return nil, fmt.Errorf("%s %s: default %s: %w", tb.Header(), k.Name, k.Default, err)
		}
		s["default"] = v
	}
	if tb.Name == "" && k.Name == "phase" {
		s["minItems"] = 1
	}
	return s, nil
}

func typeSchema(t reflect.Type, enum []string) map[string]any {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	scalar := func(typ string) map[string]any {
		s := map[string]any{"type": typ}
		if enum != nil {
			s["enum"] = enum
		}
		return s
	}
	if st, ok := isTable(t); ok {
		ref := map[string]any{"$ref": "#/definitions/" + defName[st]}
		if t.Kind() == reflect.Slice {
			return map[string]any{"type": "array", "items": ref}
		}
		return ref
	}
	switch {
	case t == durationType:
		return map[string]any{"$ref": "#/definitions/duration"}
	case t.Kind() == reflect.Slice && t.Elem() == rowType:
		return map[string]any{"type": "array", "items": map[string]any{"$ref": "#/definitions/row"}}
	case t.Kind() == reflect.Slice:
		return map[string]any{"type": "array", "items": typeSchema(t.Elem(), enum)}
	case t.Kind() == reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": typeSchema(t.Elem(), nil)}
	case t.Kind() == reflect.Bool:
		return scalar("boolean")
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		return scalar("integer")
	}
	return scalar("string")
}

// kindCondition: a step of this kind takes only its kind's keys, and
// needs its required ones.
func kindCondition(kd KindDoc) map[string]any {
	then := map[string]any{"propertyNames": map[string]any{"enum": steps.StepKeys(kd.Kind)}}
	if len(kd.Required) > 0 {
		then["required"] = kd.Required
	}
	var groups []any
	for _, g := range kd.AnyOf {
		var alts []any
		for _, k := range g {
			alts = append(alts, map[string]any{"required": []string{k}})
		}
		groups = append(groups, map[string]any{"anyOf": alts})
	}
	if len(groups) > 0 {
		then["allOf"] = groups
	}
	return map[string]any{
		"if":   map[string]any{"properties": map[string]any{"kind": map[string]any{"const": string(kd.Kind)}}, "required": []string{"kind"}},
		"then": then,
	}
}

// tomlValue decodes a TOML literal (a default) into its JSON value.
func tomlValue(lit string) (any, error) {
	var v struct{ V any }
	if _, err := toml.Decode("V = "+lit, &v); err != nil {
		return nil, err
	}
	if v.V == nil {
		return nil, fmt.Errorf("no value")
	}
	if a, ok := v.V.([]any); ok && len(a) == 0 {
		return []any{}, nil
	}
	return v.V, nil
}

// requiredInKind reports whether key is required for kind.
func requiredInKind(kd KindDoc, key string) bool {
	return key == "kind" || slices.Contains(kd.Required, key)
}
