// Package redact hides secrets in everything handrail writes or shows: the
// journal (before hashing), the screen, the transcript and `handrail check`.
// A secret is replaced wherever it occurs in any string of a value, in the
// spellings a connection string gives it too (URL-escaped, libpq-quoted), so
// a password echoed by a command, a server message or a row is hidden as
// well as the one in a DSN.
package redact

import (
	"bytes"
	"encoding/json"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"time"
)

// Mask replaces every secret.
const Mask = "[redacted]"

// MinLen is the shortest secret redacted: shorter strings would match
// everywhere and hide the recording without protecting anything.
const MinLen = 4

// Redactor replaces secrets in strings and in every string of a value. A
// nil *Redactor redacts nothing.
type Redactor struct {
	rep *strings.Replacer
	// encoded are the JSON spellings of the variants, to find out cheaply
	// whether an encoded line holds a secret at all.
	encoded [][]byte
	// variants are the spellings replaced, longest first.
	variants []string
}

// New returns a redactor for secrets and their other spellings
// (URL-escaped as in a DSN's userinfo or query, libpq-quoted), or nil when
// there is nothing to redact.
func New(secrets []string) *Redactor {
	seen := map[string]bool{}
	var vs []string
	add := func(s string) {
		if len(s) >= MinLen && !seen[s] {
			seen[s] = true
			vs = append(vs, s)
		}
	}
	for _, s := range secrets {
		if len(s) < MinLen {
			continue
		}
		add(s)
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
		if u := url.UserPassword("u", s).String(); strings.HasPrefix(u, "u:") {
			add(u[2:])
		}
		add(strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s))
	}
	if len(vs) == 0 {
		return nil
	}
	// Longest first: a spelling that contains another is replaced whole.
	sort.SliceStable(vs, func(i, j int) bool { return len(vs[i]) > len(vs[j]) })
	r := &Redactor{}
	args := make([]string, 0, 2*len(vs))
	for _, v := range vs {
		args = append(args, v, Mask)
		r.encoded = append(r.encoded, JSONString(v))
	}
	r.variants = vs
	r.rep = strings.NewReplacer(args...)
	return r
}

// String returns s with every secret replaced by Mask.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	return r.rep.Replace(s)
}

// Partial is how many bytes at the end of p start a secret (in any of its
// spellings) that the bytes after p may complete. Whoever cuts a stream
// into pieces that are redacted one by one (a command's output read in
// chunks) holds them for the next piece: a secret split between two
// pieces would be in neither, and both halves would be recorded.
func (r *Redactor) Partial(p []byte) int {
	if r == nil {
		return 0
	}
	held := 0
	for _, v := range r.variants {
		for k := min(len(v)-1, len(p)); k > held; k-- {
			if string(p[len(p)-k:]) == v[:k] {
				held = k
				break
			}
		}
	}
	return held
}

// JSONString is s as the line encoder spells it inside a JSON string
// (without the quotes).
func JSONString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	out := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	return out[1 : len(out)-1]
}

// InJSON reports whether line (JSON as encoding/json writes it, without
// HTML escaping) may hold a secret. A string holding a secret always holds
// its encoded spelling, since JSON escapes character by character.
func (r *Redactor) InJSON(line []byte) bool {
	if r == nil {
		return false
	}
	for _, e := range r.encoded {
		if bytes.Contains(line, e) {
			return true
		}
	}
	return false
}

// JSONScanner is InJSON for a line given in pieces (a long journal line
// written in chunks): a secret split between two pieces is found too.
// A nil *JSONScanner finds nothing.
type JSONScanner struct {
	r     *Redactor
	keep  int    // the longest spelling less one byte: what may straddle pieces
	tail  []byte // the last keep bytes given
	found bool
}

// Scanner returns a JSONScanner (nil when r is nil).
func (r *Redactor) Scanner() *JSONScanner {
	if r == nil {
		return nil
	}
	s := &JSONScanner{r: r}
	for _, e := range r.encoded {
		s.keep = max(s.keep, len(e)-1)
	}
	return s
}

// Write gives the scanner the next piece of the line.
func (s *JSONScanner) Write(p []byte) {
	if s == nil || s.found {
		return
	}
	// A secret across the seam starts in tail and ends in p's first keep
	// bytes; one inside p is found in p.
	s.tail = append(s.tail, p[:min(len(p), s.keep)]...)
	if s.r.InJSON(s.tail) || s.r.InJSON(p) {
		s.found = true
		return
	}
	if len(p) >= s.keep {
		s.tail = append(s.tail[:0], p[len(p)-s.keep:]...)
	} else if n := len(s.tail); n > s.keep {
		s.tail = s.tail[:copy(s.tail, s.tail[n-s.keep:])]
	}
}

// Found reports whether the pieces given so far, joined, may hold a
// secret: InJSON of the whole.
func (s *JSONScanner) Found() bool { return s != nil && s.found }

var timeType = reflect.TypeFor[time.Time]()

// Mapper is a value that keeps text other than in exported fields (a
// list held compactly): MapStrings returns it with f applied to each of
// its strings, and whether any changed (else it returns itself).
type Mapper interface {
	MapStrings(f func(string) string) (any, bool)
}

var mapperType = reflect.TypeFor[Mapper]()

// Value returns v with every string in it redacted. v is not modified:
// what changes is copied (the engine keeps using the event it emitted).
func Value[T any](r *Redactor, v T) T {
	if r == nil {
		return v
	}
	nv, changed := r.value(reflect.ValueOf(&v).Elem())
	if !changed {
		return v
	}
	return nv.Interface().(T)
}

// value returns a redacted copy of v and whether anything changed; when
// nothing changed it returns v itself.
func (r *Redactor) value(v reflect.Value) (reflect.Value, bool) {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		ns := r.rep.Replace(s)
		if ns == s {
			return v, false
		}
		return reflect.ValueOf(ns).Convert(v.Type()), true
	case reflect.Pointer:
		if v.IsNil() {
			return v, false
		}
		if v.Type().Implements(mapperType) && v.CanInterface() {
			nv, ch := v.Interface().(Mapper).MapStrings(r.rep.Replace)
			if !ch {
				return v, false
			}
			return reflect.ValueOf(nv), true
		}
		ne, ch := r.value(v.Elem())
		if !ch {
			return v, false
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(ne)
		return p, true
	case reflect.Interface:
		if v.IsNil() {
			return v, false
		}
		ne, ch := r.value(v.Elem())
		if !ch {
			return v, false
		}
		ni := reflect.New(v.Type()).Elem()
		ni.Set(ne)
		return ni, true
	case reflect.Struct:
		return r.structValue(v)
	case reflect.Slice, reflect.Array:
		return r.listValue(v)
	case reflect.Map:
		return r.mapValue(v)
	}
	return v, false
}

// structValue redacts the exported fields of a struct (a time.Time holds
// no text), copying it only when a field changes.
func (r *Redactor) structValue(v reflect.Value) (reflect.Value, bool) {
	t := v.Type()
	if t == timeType {
		return v, false
	}
	var cp reflect.Value
	for i := range t.NumField() {
		if !t.Field(i).IsExported() {
			continue
		}
		nf, ch := r.value(v.Field(i))
		if !ch {
			continue
		}
		if !cp.IsValid() {
			cp = reflect.New(t).Elem()
			cp.Set(v)
		}
		cp.Field(i).Set(nf)
	}
	if !cp.IsValid() {
		return v, false
	}
	return cp, true
}

// listValue redacts the elements of a slice or array, copying it only
// when an element changes.
func (r *Redactor) listValue(v reflect.Value) (reflect.Value, bool) {
	if v.Kind() == reflect.Slice && v.IsNil() {
		return v, false
	}
	var cp reflect.Value
	for i := range v.Len() {
		ne, ch := r.value(v.Index(i))
		if !ch {
			continue
		}
		if !cp.IsValid() {
			if v.Kind() == reflect.Slice {
				cp = reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			} else {
				cp = reflect.New(v.Type()).Elem()
			}
			reflect.Copy(cp, v)
		}
		cp.Index(i).Set(ne)
	}
	if !cp.IsValid() {
		return v, false
	}
	return cp, true
}

// mapValue redacts the keys and values of a map, making a new map only
// when one changes.
func (r *Redactor) mapValue(v reflect.Value) (reflect.Value, bool) {
	if v.IsNil() {
		return v, false
	}
	changed := false
	type kv struct{ k, v reflect.Value }
	var all []kv
	for it := v.MapRange(); it.Next(); {
		nk, ck := r.value(it.Key())
		nv, cv := r.value(it.Value())
		changed = changed || ck || cv
		all = append(all, kv{nk, nv})
	}
	if !changed {
		return v, false
	}
	m := reflect.MakeMapWithSize(v.Type(), len(all))
	for _, e := range all {
		m.SetMapIndex(e.k, e.v)
	}
	return m, true
}
