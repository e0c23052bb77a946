// Package termsafetest builds hostile values for the tests that prove no
// output path lets data act on a terminal: every string a value can hold
// is set, so a field added later is covered without editing the test.
package termsafetest

import (
	"encoding/json"
	"reflect"
	"time"
)

// mapper is a value that keeps its text other than in exported fields (a
// list held compactly, internal/redact.Mapper): Fill reads it from a
// one-element JSON array and sets its strings through MapStrings, and
// Strings visits them through MapStrings.
type mapper interface {
	json.Unmarshaler
	MapStrings(f func(string) string) (any, bool)
}

var mapperType = reflect.TypeFor[mapper]()

// Fill sets every string reachable from ptr (a pointer) to successive
// results of pick, allocating pointers and one-element slices and maps on
// the way. Times are left zero.
func Fill(ptr any, pick func() string) {
	fill(reflect.ValueOf(ptr).Elem(), pick)
}

// Cycle returns a pick that cycles through strs.
func Cycle(strs ...string) func() string {
	i := 0
	return func() string {
		s := strs[i%len(strs)]
		i++
		return s
	}
}

func fill(v reflect.Value, pick func() string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(pick())
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), pick)
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		if m, ok := v.Interface().(mapper); ok {
			if err := m.UnmarshalJSON([]byte("[{}]")); err != nil {
				panic(err)
			}
			nv, _ := m.MapStrings(func(string) string { return pick() })
			v.Set(reflect.ValueOf(nv))
			return
		}
		fill(v.Elem(), pick)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), pick)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, pick)
		fill(e, pick)
		v.SetMapIndex(k, e)
	}
}

// Strings calls visit with every string reachable from v and a path to it.
func Strings(v any, visit func(path, s string)) {
	walk(reflect.ValueOf(v), reflect.TypeOf(v).String(), visit)
}

func walk(v reflect.Value, path string, visit func(path, s string)) {
	switch v.Kind() {
	case reflect.String:
		visit(path, v.String())
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				walk(v.Field(i), path+"."+f.Name, visit)
			}
		}
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return
		}
		if v.Type().Implements(mapperType) && v.CanInterface() {
			v.Interface().(mapper).MapStrings(func(s string) string { visit(path+"[]", s); return s })
			return
		}
		walk(v.Elem(), path, visit)
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walk(v.Index(i), path+"[]", visit)
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			walk(it.Key(), path+"{key}", visit)
			walk(it.Value(), path+"{}", visit)
		}
	}
}
