package runbookdoc

import (
	"reflect"
	"strings"

	"github.com/handrail-dev/handrail/steps"
)

var (
	durationType = reflect.TypeOf(steps.Duration{})
	rowType      = reflect.TypeOf(steps.Row{})
	kindType     = reflect.TypeOf(steps.Kind(""))
)

// Fields returns the TOML keys of a decoder struct and their Go types, in
// declaration order, as the decoder sees them (the toml tags).
func Fields(t reflect.Type) ([]string, map[string]reflect.Type) {
	var names []string
	types := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if !f.IsExported() || tag == "" || tag == "-" {
			continue
		}
		names = append(names, tag)
		types[tag] = f.Type
	}
	return names, types
}

// isTable reports whether a field of type t is a table or an array of
// tables (a struct the decoder descends into), and which struct.
func isTable(t reflect.Type) (reflect.Type, bool) {
	if t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct && t != durationType {
		return t, true
	}
	return nil, false
}

// TypeName is how the reference spells a Go field type in TOML terms.
func TypeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t == kindType:
		return "string"
	case t.Kind() == reflect.Pointer:
		return TypeName(t.Elem())
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() == reflect.Bool:
		return "boolean"
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		return "integer"
	case t.Kind() == reflect.Slice && t.Elem() == rowType:
		return "array of rows"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "array of strings"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return "array of tables"
	case t.Kind() == reflect.Map && t.Elem().Kind() == reflect.String:
		return "table of strings"
	case t.Kind() == reflect.Struct:
		return "table"
	}
	return t.String() // a type the reference does not know yet: the tests fail on it
}

// TableByType returns the documented table a struct decodes, by Go type;
// a struct used under several names (Step) returns its first table.
func TableByType(t reflect.Type) (Table, bool) {
	for _, tb := range Tables {
		if tb.Type == t {
			return tb, true
		}
	}
	return Table{}, false
}

// fieldType returns the Go type of key in table t.
func fieldType(t Table, key string) reflect.Type {
	_, types := Fields(t.Type)
	return types[key]
}
