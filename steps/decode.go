package steps

import (
	"encoding"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// Severity grades a Problem.
type Severity int

const (
	// Error makes a runbook unusable: lint fails and run refuses it.
	Error Severity = iota
	// Warning is shown but does not stop anything.
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Problem is one finding of the decoder or lint, with the file and
// position it is about. Line and Col are 1-based; 0 means unknown (the
// whole file, or the whole line).
type Problem struct {
	Path      string
	Line, Col int
	Severity  Severity
	Msg       string
	Hint      string
}

// String formats the problem as "path:line:col: error: msg (hint)".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Path)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Col > 0 {
			fmt.Fprintf(&b, ":%d", p.Col)
		}
	}
	fmt.Fprintf(&b, ": %s: %s", p.Severity, p.Msg)
	if p.Hint != "" {
		fmt.Fprintf(&b, " (%s)", p.Hint)
	}
	return b.String()
}

// Problems is a list of findings. It implements error (listing its
// errors); use Err to get a nil error when it holds only warnings.
type Problems []Problem

// Errors returns the problems of severity Error.
func (ps Problems) Errors() Problems { return ps.filter(Error) }

// Warnings returns the problems of severity Warning.
func (ps Problems) Warnings() Problems { return ps.filter(Warning) }

func (ps Problems) filter(s Severity) Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == s {
			out = append(out, p)
		}
	}
	return out
}

// HasErrors reports whether any problem is an Error.
func (ps Problems) HasErrors() bool {
	for _, p := range ps {
		if p.Severity == Error {
			return true
		}
	}
	return false
}

// Err returns the problems as an error when there is at least one Error,
// else nil (warnings alone are not an error).
func (ps Problems) Err() error {
	if ps.HasErrors() {
		return ps.Errors()
	}
	return nil
}

// Error lists the problems one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Summary says "2 errors, 1 warning" (or "no problems").
func (ps Problems) Summary() string {
	e, w := len(ps.Errors()), len(ps.Warnings())
	if e == 0 && w == 0 {
		return "no problems"
	}
	plural := func(n int, s string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, s)
		}
		return fmt.Sprintf("%d %ss", n, s)
	}
	return plural(e, "error") + ", " + plural(w, "warning")
}

func (ps Problems) sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// RunbookFile is the name of the runbook file inside a runbook directory.
const RunbookFile = "runbook.toml"

// Load reads and validates the runbook at path: a directory holding
// runbook.toml, or the path of a .toml file (whose directory is then the
// runbook directory). It returns every problem found. The runbook is nil
// only when the file cannot be read or is not valid TOML; otherwise it is
// returned even with errors (check Problems.HasErrors before running it).
func Load(p string) (*Runbook, Problems) {
	dir, name := p, RunbookFile
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
		dir, name = filepath.Dir(p), filepath.Base(p)
	} else if err != nil && strings.HasSuffix(p, ".toml") {
		dir, name = filepath.Dir(p), filepath.Base(p)
	}
	dir = filepath.Clean(dir)
	show := func(rel string) string { return filepath.Join(dir, filepath.FromSlash(rel)) }
	return load(os.DirFS(dir), ".", name, dir, show)
}

// LoadFS is Load on a file system (e.g. the embedded examples): dir is
// the runbook directory inside fsys (or the path of its .toml file).
// Problem paths and Runbook.Path are fsys paths.
func LoadFS(fsys fs.FS, dir string) (*Runbook, Problems) {
	name := RunbookFile
	if strings.HasSuffix(dir, ".toml") {
		dir, name = path.Dir(dir), path.Base(dir)
	}
	dir = path.Clean(dir)
	show := func(rel string) string { return path.Join(dir, rel) }
	return load(fsys, dir, name, dir, show)
}

func load(fsys fs.FS, fsDir, name, showDir string, show func(rel string) string) (*Runbook, Problems) {
	tomlPath := show(name)
	data, err := fs.ReadFile(fsys, path.Join(fsDir, name))
	if err != nil {
		msg := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			msg = pe.Err.Error()
		}
		hint := ""
		if errors.Is(err, fs.ErrNotExist) {
			hint = "a runbook is a directory with a runbook.toml, or the path of a .toml file"
		}
		return nil, Problems{{Path: tomlPath, Severity: Error, Msg: "cannot read runbook: " + msg, Hint: hint}}
	}
	src := string(data)
	var top map[string]toml.Primitive
	md, err := toml.Decode(src, &top)
	if err != nil {
		return nil, Problems{syntaxProblem(tomlPath, src, err)}
	}
	d := &decoder{
		md:      md,
		loc:     newTOMLLocator(src),
		file:    tomlPath,
		present: map[string]map[string]bool{},
		covered: map[string]bool{},
		failed:  map[string]bool{},
	}
	r := &Runbook{Dir: showDir, Path: tomlPath}
	d.decodeTable(top, reflect.ValueOf(r).Elem(), nil)
	d.undecoded()
	r.source = data
	r.tomlName = name
	r.show = show
	r.read = func(rel string) (string, error) {
		f, err := fsys.Open(path.Join(fsDir, rel))
		if err != nil {
			return "", err
		}
		return readText(f)
	}
	r.where = &fileWhere{loc: d.loc, file: tomlPath, present: d.present, failed: d.failed}
	r.files = map[string]string{}
	r.stmtBase = map[string][]int{}
	r.splits = map[string]*StatementList{}
	r.loaded = true
	v := newValidator(r)
	v.validate()
	r.Hash = computeHash(name, data, r.files)
	probs := append(d.probs, v.probs...)
	probs.sort()
	return r, probs
}

// syntaxProblem turns a toml parse error into a Problem with its position.
func syntaxProblem(file, src string, err error) Problem {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		p := Problem{Path: file, Line: pe.Position.Line, Col: pe.Position.Col, Severity: Error,
			Msg: "invalid TOML: " + pe.Message}
		// The byte offset is exact; the parser's line is one too far when
		// it stops at a newline ("[target" without its "]").
		if pe.Position.Start > 0 && pe.Position.Start < len(src) {
			li := sqlscan.NewLineIndex(src)
			p.Line, p.Col = li.Line(pe.Position.Start), li.Col(pe.Position.Start)
		}
		if pe.Usage != "" {
			p.Hint = firstLine(strings.TrimSpace(pe.Usage))
		}
		return p
	}
	return Problem{Path: file, Severity: Error, Msg: "invalid TOML: " + strings.TrimPrefix(err.Error(), "toml: ")}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// decoder decodes a TOML document into the runbook structs one key at a
// time, so that one bad value does not hide the problems after it. What
// it learns of where each key was written (and which values it reported
// as bad) it leaves to validation, through fileWhere.
type decoder struct {
	md   toml.MetaData
	loc  *tomlLocator
	file string // display path of runbook.toml
	// present records which keys each table had, by indexed path.
	present map[string]map[string]bool
	// covered holds plain keys whose subtree was reported (or is opaque
	// data such as expect rows), so Undecoded does not report it again.
	covered map[string]bool
	// failed holds indexed paths whose value was reported as bad, so
	// validation does not pile "missing" errors on top.
	failed map[string]bool
	probs  Problems
}

// at returns a Problem positioned at the key with indexed path p (or its
// nearest recorded ancestor).
func (d *decoder) at(p []string, sev Severity, hint, format string, args ...any) {
	pos := d.loc.near(p)
	d.probs = append(d.probs, Problem{Path: d.file, Line: pos.Line, Col: pos.Col, Severity: sev,
		Msg: fmt.Sprintf(format, args...), Hint: hint})
}

func (d *decoder) markBad(p []string) {
	d.covered[plainKey(p)] = true
	d.failed[pathKey(p)] = true
}

var (
	textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
	durationType    = reflect.TypeOf(Duration{})
	rowType         = reflect.TypeOf(Row{})
)

type fieldInfo struct {
	index int
	typ   reflect.Type
}

// tomlFields maps the toml tag names of a struct type to its fields, in
// declaration order. The answer is computed once per type (a runbook
// decodes hundreds of tables of the same few types); callers must not
// modify it.
func tomlFields(t reflect.Type) (map[string]fieldInfo, []string) {
	if c, ok := fieldCache.Load(t); ok {
		f := c.(typeFields)
		return f.byName, f.names
	}
	m, names := scanTOMLFields(t)
	fieldCache.Store(t, typeFields{m, names})
	return m, names
}

type typeFields struct {
	byName map[string]fieldInfo
	names  []string
}

var fieldCache sync.Map // reflect.Type -> typeFields

func scanTOMLFields(t reflect.Type) (map[string]fieldInfo, []string) {
	m := map[string]fieldInfo{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if tag == "-" || tag == "" {
			continue
		}
		m[tag] = fieldInfo{index: i, typ: f.Type}
		names = append(names, tag)
	}
	return m, names
}

// tableName renders an indexed path the way a TOML author wrote its
// header: [target], [[phase.step]].
func tableName(p []string) string {
	if len(p) == 0 {
		return "the top level"
	}
	name := strings.ReplaceAll(plainKey(p), "\x00", ".")
	if isIdxSeg(p[len(p)-1]) {
		return "[[" + name + "]]"
	}
	return "[" + name + "]"
}

// decodeTable decodes the keys of one TOML table into the struct rv.
func (d *decoder) decodeTable(tbl map[string]toml.Primitive, rv reflect.Value, p []string) {
	fields, names := tomlFields(rv.Type())
	keys := make([]string, 0, len(tbl))
	for k := range tbl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pres := map[string]bool{}
	d.present[pathKey(p)] = pres
	for _, k := range keys {
		kp := addPath(p, k)
		pres[k] = true
		f, ok := fields[k]
		if !ok {
			d.markBad(kp)
			d.at(kp, Error, unknownKeyHint(k, names, rv.Type()), "unknown key %q in %s", k, tableName(p))
			continue
		}
		d.decodeValue(tbl[k], rv.Field(f.index), kp)
	}
}

// decodeValue decodes one TOML value into v, recursing into tables and
// arrays of tables so their keys are checked individually.
func (d *decoder) decodeValue(prim toml.Primitive, v reflect.Value, p []string) {
	t := v.Type()
	isText := reflect.PointerTo(t).Implements(textUnmarshaler)
	switch {
	case t.Kind() == reflect.Struct && !isText:
		var tbl map[string]toml.Primitive
		if err := d.md.PrimitiveDecode(prim, &tbl); err != nil {
			d.typeProblem(prim, t, p)
			return
		}
		d.decodeTable(tbl, v, p)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct &&
		!reflect.PointerTo(t.Elem()).Implements(textUnmarshaler):
		var elems []toml.Primitive
		if err := d.md.PrimitiveDecode(prim, &elems); err != nil {
			d.typeProblem(prim, t, p)
			return
		}
		s := reflect.MakeSlice(t, len(elems), len(elems))
		for i, e := range elems {
			ep := addPath(p, idxSeg(i))
			var tbl map[string]toml.Primitive
			if err := d.md.PrimitiveDecode(e, &tbl); err != nil {
				d.typeProblem(e, t.Elem(), ep)
				continue
			}
			d.decodeTable(tbl, s.Index(i), ep)
		}
		v.Set(s)
	default:
		// BurntSushi/toml decodes a non-table into a map as an empty map
		// without an error, so check the shape of maps ourselves.
		if hasMap(t) && !shapeOK(d.raw(prim), t) {
			v.Set(reflect.Zero(t))
			d.markBad(p)
			d.at(p, Error, typeHint(t, lastKey(p)), "%s must be %s, not %s", keyDesc(p), typeDesc(t), shapeDesc(d.raw(prim), t))
			return
		}
		if err := d.md.PrimitiveDecode(prim, v.Addr().Interface()); err != nil {
			v.Set(reflect.Zero(t))
			d.leafProblem(prim, t, p, err)
			return
		}
		if t == rowType || (t.Kind() == reflect.Slice && t.Elem() == rowType) {
			// Rows are opaque data; validate checks their values.
			d.covered[plainKey(p)] = true
		}
	}
}

// shapeOK reports whether raw has the table/array structure t needs
// where maps are involved (scalars are left to the TOML decoder).
func shapeOK(raw any, t reflect.Type) bool {
	if raw == nil {
		return true
	}
	switch t.Kind() {
	case reflect.Pointer:
		return shapeOK(raw, t.Elem())
	case reflect.Map:
		m, ok := raw.(map[string]any)
		if !ok {
			return false
		}
		for _, v := range m {
			if !shapeOK(v, t.Elem()) {
				return false
			}
		}
	case reflect.Slice:
		switch a := raw.(type) {
		case []any:
			for _, v := range a {
				if !shapeOK(v, t.Elem()) {
					return false
				}
			}
		case []map[string]any:
			for _, v := range a {
				if !shapeOK(v, t.Elem()) {
					return false
				}
			}
		}
	}
	return true
}

// hasMap reports whether t holds a map (through pointers and slices):
// whether shapeOK can say anything but yes about a value for it, so the
// value is decoded a second time (d.raw) only then.
func hasMap(t reflect.Type) bool {
	for {
		switch t.Kind() {
		case reflect.Map:
			return true
		case reflect.Pointer, reflect.Slice:
			t = t.Elem()
		default:
			return false
		}
	}
}

// shapeDesc describes raw for a shape mismatch: the value itself, or the
// first array element of the wrong shape.
func shapeDesc(raw any, t reflect.Type) string {
	if a, ok := raw.([]any); ok && t.Kind() == reflect.Slice {
		for i, v := range a {
			if !shapeOK(v, t.Elem()) {
				return fmt.Sprintf("an array whose element %d is %s", i+1, tomlTypeDesc(v))
			}
		}
	}
	return tomlTypeDesc(raw)
}

func (d *decoder) raw(prim toml.Primitive) any {
	var v any
	_ = d.md.PrimitiveDecode(prim, &v)
	return v
}

func (d *decoder) typeProblem(prim toml.Primitive, t reflect.Type, p []string) {
	d.markBad(p)
	key := lastKey(p)
	d.at(p, Error, typeHint(t, key), "%s must be %s, not %s", keyDesc(p), typeDesc(t), tomlTypeDesc(d.raw(prim)))
}

func (d *decoder) leafProblem(prim toml.Primitive, t reflect.Type, p []string, err error) {
	d.markBad(p)
	raw := d.raw(prim)
	if t == durationType {
		if s, ok := raw.(string); ok {
			d.at(p, Error, `write a duration like "30s", "5m" or "1h30m"`, "invalid duration %q for %s", s, keyDesc(p))
			return
		}
	}
	var pe toml.ParseError
	if errors.As(err, &pe) && strings.Contains(pe.Message, "out of range") {
		d.at(p, Error, "", "%s: %s", keyDesc(p), pe.Message)
		return
	}
	d.at(p, Error, typeHint(t, lastKey(p)), "%s must be %s, not %s", keyDesc(p), typeDesc(t), tomlTypeDesc(raw))
}

func lastKey(p []string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if !isIdxSeg(p[i]) {
			return p[i]
		}
	}
	return ""
}

// keyDesc names a key for messages: "expect", or "items[2]".
func keyDesc(p []string) string {
	if len(p) == 0 {
		return "the document"
	}
	if last := p[len(p)-1]; isIdxSeg(last) && len(p) > 1 {
		return fmt.Sprintf("%s[%s]", lastKey(p), strings.TrimPrefix(last, idxMark))
	}
	return fmt.Sprintf("%q", lastKey(p))
}

func typeDesc(t reflect.Type) string {
	switch {
	case t == durationType:
		return `a duration string like "30s"`
	case t == rowType:
		return "a table of column = value"
	case t.Kind() == reflect.Slice && t.Elem() == rowType:
		return "a list of rows like [{ column = value }]"
	case t.Kind() == reflect.Pointer:
		return typeDesc(t.Elem())
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "an integer"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "a list of strings"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return "a list of tables"
	case t.Kind() == reflect.Map:
		return "a table of " + strings.TrimPrefix(typeDesc(t.Elem()), "a ") + "s"
	case t.Kind() == reflect.Struct:
		return "a table"
	}
	return t.String()
}

func typeHint(t reflect.Type, key string) string {
	switch {
	case t.Kind() == reflect.Slice && t.Elem() == rowType:
		return key + ` = [{ col = "value", n = 1 }] lists the expected rows; use expect_rows or expect_empty for counts`
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return "write [[" + key + "]] tables or an array of inline tables"
	case t.Kind() == reflect.Struct && t != durationType:
		return "write it as a [" + key + "] table"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return key + ` = ["a", "b"]`
	}
	return ""
}

func tomlTypeDesc(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case string:
		return fmt.Sprintf("the string %q", v)
	case int64:
		return fmt.Sprintf("the integer %d", v)
	case float64:
		return fmt.Sprintf("the float %v", v)
	case bool:
		return fmt.Sprintf("%v", v)
	case time.Time:
		return "a datetime"
	case []any:
		return "an array"
	case []map[string]any:
		return "an array of tables"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", v)
}

func unknownKeyHint(k string, names []string, t reflect.Type) string {
	if s := closest(k, names); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	if t == reflect.TypeOf(Step{}) {
		return "step keys: " + strings.Join(names, ", ")
	}
	return "known keys: " + strings.Join(names, ", ")
}

// closest returns the candidate nearest to s by edit distance, if close.
func closest(s string, cands []string) string {
	best, bestD := "", 1<<30
	for _, c := range cands {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(s) <= 3 {
		limit = 1
	}
	if bestD <= limit {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	// optimal string alignment distance (Levenshtein plus transpositions)
	rows := make([][]int, len(a)+1)
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			rows[i][j] = min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				rows[i][j] = min(rows[i][j], rows[i-2][j-2]+1)
			}
		}
	}
	return rows[len(a)][len(b)]
}

// undecoded reports keys the TOML library saw but nothing decoded that
// are not already accounted for (a safety net: decodeTable reports
// unknown keys itself).
func (d *decoder) undecoded() {
	used := map[string]bool{}
	for _, k := range d.md.Undecoded() {
		plain := strings.Join(k, "\x00")
		skip := false
		for n := len(k); n > 0; n-- {
			if d.covered[strings.Join(k[:n], "\x00")] {
				skip = true
				break
			}
		}
		if skip {
			continue
		}
		pos, ip, ok := d.loc.firstUnused(plain, used)
		if ok {
			used[pathKey(ip)] = true
		}
		d.probs = append(d.probs, Problem{Path: d.file, Line: pos.Line, Col: pos.Col, Severity: Error,
			Msg: fmt.Sprintf("unknown key %q", k.String())})
	}
}
