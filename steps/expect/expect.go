// Package expect compares a query's result with what a check expects:
// rows as a multiset, typed (TOML values against pgx's Go values), a row
// count, or no rows; and formats values for the screen and the journal. It
// knows nothing of runbooks or the engine.
package expect

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// Expectation is what a check (or a self-ticking checklist item) expects of
// its query's result. Any combination may be set; every condition that is
// set must hold. Rows is "set" when non-nil, so `expect = []` in TOML means
// "exactly no rows", like expect_empty.
type Expectation struct {
	// Rows are matched against the result as a multiset, ignoring order.
	// Each expected row names a subset of the result's columns.
	Rows []Row
	// RowCount is the exact number of rows expected (expect_rows).
	RowCount *int
	// Empty expects no rows at all (expect_empty).
	Empty bool
	// Report marks an informational query: it always passes.
	Report bool
}

// Row is one expected result row: column name to typed TOML value
// (string, int64, float64, bool; nil is not expressible in TOML).
type Row map[string]any

// IsSet reports whether the expectation says anything at all. A check
// without one fails: a safety tool must not read "no opinion" as "passed".
func (e Expectation) IsSet() bool {
	return e.Report || e.Empty || e.RowCount != nil || e.Rows != nil
}

// String is a one-line human summary of the expectation, for the pane and
// the journal, e.g. `1 row: {rowsecurity=false, tablename="rate_limits"}`.
func (e Expectation) String() string {
	if e.Report {
		return "report (informational, always passes)"
	}
	var parts []string
	if e.Empty {
		parts = append(parts, "no rows")
	}
	if e.RowCount != nil {
		parts = append(parts, "exactly "+CountNoun(*e.RowCount, "row"))
	}
	if e.Rows != nil {
		if len(e.Rows) == 0 {
			parts = append(parts, "no rows")
		} else {
			rows := make([]string, len(e.Rows))
			for i, r := range e.Rows {
				rows[i] = FormatRow(r)
			}
			parts = append(parts, CountNoun(len(e.Rows), "row")+" in any order: "+strings.Join(rows, ", "))
		}
	}
	if len(parts) == 0 {
		return "no expectation"
	}
	return strings.Join(parts, "; ")
}

// Result is the verdict of Evaluate.
type Result struct {
	Pass bool
	// Summary is one line, e.g. "expected 1 row, got 0".
	Summary string
	// Missing are the expected rows no actual row matched.
	Missing []Row
	// Unexpected are the actual rows no expected row matched, as column
	// name to value (the value as pgx returned it).
	Unexpected []Row
}

// Evaluate compares a query result with an expectation.
//
// rows hold values as pgx v5 returns them from rows.Values(). Comparison is
// typed: a TOML integer matches any PostgreSQL integer and an integral
// numeric; a TOML float matches float4/float8 and numeric (by decimal
// value, so 0.1 matches numeric 0.10); a bool matches only a bool (never
// the string "true"); a string matches text, varchar, name, bpchar (with
// its padding), enum labels, uuid (canonical form, case-insensitive) and
// inet/cidr; TOML dates and datetimes match date/timestamp/timestamptz;
// arrays match arrays element by element and inline tables match json
// objects. NULL cannot be written in TOML, so an actual NULL never matches:
// test for it with `col is null as col_is_null` or coalesce(). PostgreSQL's
// one-byte "char" type (pg_class.relkind, ...) comes back from pgx as an
// int32 code point: cast it to text in the query.
//
// Rows are matched as a multiset: the check passes iff the actual rows can
// be paired one to one with the expected rows. An expected row names a
// subset of the result's columns (extra result columns are ignored); a
// column it names that is not in the result fails the check.
func Evaluate(e Expectation, columns []string, rows [][]any) Result {
	n := len(rows)
	if e.Report {
		return Result{Pass: true, Summary: "report: " + CountNoun(n, "row")}
	}
	if !e.IsSet() {
		return Result{Summary: "no expectation set (use expect, expect_rows, expect_empty or report)"}
	}
	res := Result{Pass: true}
	var fails, passes []string
	if e.Empty {
		if n == 0 {
			passes = append(passes, "no rows, as expected")
		} else {
			fails = append(fails, "expected no rows, got "+strconv.Itoa(n))
			res.Unexpected = appendActual(res.Unexpected, columns, rows, allRows(len(rows)))
		}
	}
	if e.RowCount != nil {
		if n == *e.RowCount {
			passes = append(passes, CountNoun(n, "row")+", as expected")
		} else {
			fails = append(fails, fmt.Sprintf("expected %s, got %d", CountNoun(*e.RowCount, "row"), n))
		}
	}
	if e.Rows != nil {
		ok, summary, missing, unexpected := matchRows(e.Rows, columns, rows)
		if ok {
			passes = append(passes, summary)
		} else {
			fails = append(fails, summary)
			res.Missing = missing
			if !e.Empty { // already listed
				res.Unexpected = unexpected
			}
		}
	}
	if len(fails) > 0 {
		res.Pass = false
		res.Summary = strings.Join(fails, "; ")
	} else {
		res.Summary = strings.Join(passes, "; ")
	}
	return res
}

// matchRows pairs expected with actual rows by a maximum bipartite matching
// (an expected row may match several actual rows and vice versa, so a
// greedy pairing could fail where a perfect one exists).
func matchRows(expected []Row, columns []string, rows [][]any) (ok bool, summary string, missing, unexpected []Row) {
	patterns, problem := resolvePatterns(expected, columns)
	if problem != "" {
		return false, problem, expected, nil
	}
	matched, actualOf := matchPatterns(patterns, rows)
	var unmatchedActual []int
	for j, i := range actualOf {
		if i < 0 {
			unmatchedActual = append(unmatchedActual, j)
		}
	}
	for i, m := range matched {
		if !m {
			missing = append(missing, expected[i])
		}
	}
	unexpected = appendActual(nil, columns, rows, unmatchedActual)
	if len(missing) == 0 && len(unexpected) == 0 {
		if len(rows) == 0 {
			return true, "no rows, as expected", nil, nil
		}
		return true, CountNoun(len(rows), "row") + " match", nil, nil
	}
	summary = mismatchSummary(expected, columns, rows, matched, unmatchedActual, missing, unexpected)
	return false, summary, missing, unexpected
}

// cell is one value an expected row names, at its column's position.
type cell struct {
	col  int
	name string
	want any
}

// resolvePatterns resolves each expected row's keys to column positions
// first: a key naming no column (or a column the result has twice) is a
// mistake in the runbook, not a data mismatch, and problem says so.
func resolvePatterns(expected []Row, columns []string) (patterns [][]cell, problem string) {
	index := make(map[string]int, len(columns))
	dup := map[string]bool{}
	for i, c := range columns {
		if _, seen := index[c]; seen {
			dup[c] = true
		}
		index[c] = i
	}
	patterns = make([][]cell, len(expected))
	for i, r := range expected {
		for _, k := range RowKeys(r) {
			if dup[k] {
				return nil, fmt.Sprintf("column %q appears more than once in the result; give it a unique alias", k)
			}
			pos, found := index[k]
			if !found {
				return nil, fmt.Sprintf("expected column %q is not in the result (columns: %s)", k, strings.Join(columns, ", "))
			}
			patterns[i] = append(patterns[i], cell{pos, k, r[k]})
		}
	}
	return patterns, ""
}

// matchPatterns pairs expected rows with actual rows, each used once, as
// many as possible (Kuhn's augmenting paths: O(E*V), fine for
// keep_rows-sized results). actualOf maps an actual row to its expected
// row, or -1.
func matchPatterns(patterns [][]cell, rows [][]any) (matched []bool, actualOf []int) {
	matches := func(p []cell, row []any) bool {
		for _, c := range p {
			if c.col >= len(row) || !valueMatches(c.want, row[c.col]) {
				return false
			}
		}
		return true
	}
	adj := make([][]int, len(patterns))
	for i, p := range patterns {
		for j, row := range rows {
			if matches(p, row) {
				adj[i] = append(adj[i], j)
			}
		}
	}
	actualOf = make([]int, len(rows))
	for j := range actualOf {
		actualOf[j] = -1
	}
	var try func(i int, seen []bool) bool
	try = func(i int, seen []bool) bool {
		for _, j := range adj[i] {
			if seen[j] {
				continue
			}
			seen[j] = true
			if actualOf[j] < 0 || try(actualOf[j], seen) {
				actualOf[j] = i
				return true
			}
		}
		return false
	}
	matched = make([]bool, len(patterns))
	for i := range patterns {
		matched[i] = try(i, make([]bool, len(rows)))
	}
	return matched, actualOf
}

// mismatchSummary says in one line how the rows differ from the
// expectation: the counts, then the values that differ between the first
// missing row and the unmatched actual row closest to it.
func mismatchSummary(expected []Row, columns []string, rows [][]any, matched []bool, unmatchedActual []int, missing, unexpected []Row) string {
	var b strings.Builder
	if len(rows) != len(expected) {
		fmt.Fprintf(&b, "expected %s, got %d", CountNoun(len(expected), "row"), len(rows))
	} else {
		fmt.Fprintf(&b, "%d of %s did not match", len(missing), CountNoun(len(expected), "row"))
	}
	switch {
	case len(missing) > 0 && len(unmatchedActual) > 0:
		want := expected[slices.Index(matched, false)]
		best, bestN := unmatchedActual[0], -1
		for _, j := range unmatchedActual {
			if n := len(diffColumns(want, columns, rows[j])); bestN < 0 || n < bestN {
				best, bestN = j, n
			}
		}
		b.WriteString(": ")
		if same := sharedPart(want, columns, rows[best]); len(same) > 0 {
			b.WriteString(FormatRow(same) + " ")
		}
		b.WriteString(describeDiff(want, columns, rows[best]))
		if len(missing) > 1 || len(unexpected) > 1 {
			fmt.Fprintf(&b, " (%d missing, %d unexpected)", len(missing), len(unexpected))
		}
	case len(missing) > 0:
		fmt.Fprintf(&b, "; missing %s", FormatRow(missing[0]))
		if len(missing) > 1 {
			fmt.Fprintf(&b, " and %d more", len(missing)-1)
		}
	default:
		fmt.Fprintf(&b, "; unexpected %s", FormatRow(unexpected[0]))
		if len(unexpected) > 1 {
			fmt.Fprintf(&b, " and %d more", len(unexpected)-1)
		}
	}
	return b.String()
}

// diffColumns lists the columns of want whose values row does not match.
func diffColumns(want Row, columns []string, row []any) []string {
	var out []string
	for _, k := range RowKeys(want) {
		pos := slices.Index(columns, k)
		if pos < 0 || pos >= len(row) || !valueMatches(want[k], row[pos]) {
			out = append(out, k)
		}
	}
	return out
}

// sharedPart is the part of want that row matches: it names the row.
func sharedPart(want Row, columns []string, row []any) Row {
	out := Row{}
	diff := diffColumns(want, columns, row)
	for k, v := range want {
		if !slices.Contains(diff, k) {
			out[k] = v
		}
	}
	return out
}

// describeDiff names the columns where an expected row and an actual row
// disagree, e.g. `rowsecurity: expected false, got true`.
func describeDiff(want Row, columns []string, row []any) string {
	var diffs []string
	for _, k := range diffColumns(want, columns, row) {
		got := row[slices.Index(columns, k)]
		d := fmt.Sprintf("%s: expected %s, got %s", k, formatExpected(want[k]), formatActual(got))
		if typeName(want[k]) != typeName(got) && got != nil {
			d += fmt.Sprintf(" (%s vs %s)", typeName(want[k]), typeName(got))
		}
		if s, ok := want[k].(string); ok {
			if r, ok := got.(int32); ok && len([]rune(s)) == 1 && []rune(s)[0] == rune(r) {
				d += `; a "char" column: cast it to text in the query`
			}
		}
		diffs = append(diffs, d)
	}
	return strings.Join(diffs, ", ")
}

func allRows(n int) []int {
	out := make([]int, n)
	for j := range out {
		out[j] = j
	}
	return out
}

// appendActual appends the rows at positions which, as column -> value.
func appendActual(dst []Row, columns []string, rows [][]any, which []int) []Row {
	for _, j := range which {
		r := make(Row, len(columns))
		for i, c := range columns {
			if i < len(rows[j]) {
				r[c] = rows[j][i]
			}
		}
		dst = append(dst, r)
	}
	return dst
}

// valueMatches compares one expected TOML value with one pgx value.
func valueMatches(want, got any) bool {
	if got == nil || want == nil {
		return false // NULL is not expressible in TOML and matches nothing
	}
	switch w := want.(type) {
	case bool:
		g, ok := got.(bool)
		return ok && g == w
	case string:
		return stringMatches(w, got)
	case time.Time:
		return timeMatches(w, got)
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !valueMatches(w[i], g[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		g, ok := got.(map[string]any)
		return ok && jsonEqual(w, g)
	}
	if wi, ok := asInt(want); ok {
		return intMatches(wi, got)
	}
	if wf, ok := asFloat(want); ok {
		return floatMatches(wf, got)
	}
	return false
}

func stringMatches(w string, got any) bool {
	switch g := got.(type) {
	case string:
		return g == w
	case [16]byte:
		return strings.EqualFold(w, formatUUID(g))
	case pgtype.UUID:
		return g.Valid && strings.EqualFold(w, formatUUID(g.Bytes))
	case netip.Prefix:
		return w == formatPrefix(g) || w == g.String()
	case netip.Addr:
		return w == g.String()
	}
	return false
}

// asInt returns an expected integer (TOML gives int64; Go callers may use int).
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	}
	return 0, false
}

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	return 0, false
}

func intMatches(w int64, got any) bool {
	switch g := got.(type) {
	case uint64:
		return w >= 0 && uint64(w) == g
	case uint:
		return w >= 0 && uint64(w) == uint64(g)
	case pgtype.Numeric:
		r, ok := numericRat(g)
		return ok && r.IsInt() && r.Num().IsInt64() && r.Num().Int64() == w
	}
	if gi, ok := asInt(got); ok {
		return gi == w
	}
	return false
}

func floatMatches(w float64, got any) bool {
	switch g := got.(type) {
	case float64:
		return g == w || (math.IsNaN(g) && math.IsNaN(w))
	case float32:
		// Compare at real's precision: TOML 0.1 is a float64, real 0.1 is not.
		return float32(w) == g || (math.IsNaN(float64(g)) && math.IsNaN(w))
	case pgtype.Numeric:
		if !g.Valid {
			return false
		}
		if g.NaN {
			return math.IsNaN(w)
		}
		switch g.InfinityModifier {
		case pgtype.Infinity:
			return math.IsInf(w, 1)
		case pgtype.NegativeInfinity:
			return math.IsInf(w, -1)
		}
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return false
		}
		// The shortest decimal that round-trips is what the author wrote.
		want, ok := new(big.Rat).SetString(strconv.FormatFloat(w, 'g', -1, 64))
		r, ok2 := numericRat(g)
		return ok && ok2 && want.Cmp(r) == 0
	}
	return false
}

// numericRat is the exact value of a finite numeric.
func numericRat(n pgtype.Numeric) (*big.Rat, bool) {
	if !n.Valid || n.NaN || n.InfinityModifier != pgtype.Finite || n.Int == nil {
		return nil, false
	}
	r := new(big.Rat).SetInt(n.Int)
	if n.Exp != 0 {
		p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(absInt32(n.Exp))), nil)
		if n.Exp > 0 {
			r.Mul(r, new(big.Rat).SetInt(p))
		} else {
			r.Quo(r, new(big.Rat).SetInt(p))
		}
	}
	return r, true
}

func absInt32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

// TOML local date/time values are decoded by BurntSushi/toml as time.Time
// in these marker zones.
const (
	tomlLocalDate     = "date-local"
	tomlLocalDatetime = "datetime-local"
	tomlLocalTime     = "time-local"
)

func timeMatches(w time.Time, got any) bool {
	switch w.Location().String() {
	case tomlLocalDate:
		g, ok := got.(time.Time)
		if !ok {
			return false
		}
		y, m, d := g.Date()
		wy, wm, wd := w.Date()
		return y == wy && m == wm && d == wd && g.Hour() == 0 && g.Minute() == 0 && g.Second() == 0 && g.Nanosecond() == 0
	case tomlLocalDatetime:
		// Wall clock as the column holds it: timestamp comes back in UTC.
		g, ok := got.(time.Time)
		return ok && sameWallClock(w, g)
	case tomlLocalTime:
		micros := int64(w.Hour())*3600e6 + int64(w.Minute())*60e6 + int64(w.Second())*1e6 + int64(w.Nanosecond())/1e3
		switch g := got.(type) {
		case pgtype.Time:
			return g.Valid && g.Microseconds == micros
		case string:
			return g == w.Format("15:04:05.999999")
		}
		return false
	}
	g, ok := got.(time.Time)
	return ok && g.Equal(w)
}

func sameWallClock(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd && a.Hour() == b.Hour() && a.Minute() == b.Minute() &&
		a.Second() == b.Second() && a.Nanosecond() == b.Nanosecond()
}

// jsonEqual compares an inline table with a decoded json value; JSON has
// one number type, so numbers compare by value here.
func jsonEqual(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok || !jsonEqual(wv, gv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !jsonEqual(w[i], g[i]) {
				return false
			}
		}
		return true
	case string:
		g, ok := got.(string)
		return ok && g == w
	case bool:
		g, ok := got.(bool)
		return ok && g == w
	}
	wf, wok := jsonNumber(want)
	gf, gok := jsonNumber(got)
	return wok && gok && wf == gf
}

func jsonNumber(v any) (float64, bool) {
	if i, ok := asInt(v); ok {
		return float64(i), true
	}
	return asFloat(v)
}

// FormatValue renders a pgx value (or an expected TOML value) for display,
// close to how psql shows it: NULL for nil, canonical uuids, exact
// numerics, {a,b} for arrays, JSON for json objects.
func FormatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return formatFloat(x, 64)
	case float32:
		return formatFloat(float64(x), 32)
	case [16]byte:
		return formatUUID(x)
	case pgtype.UUID:
		if !x.Valid {
			return "NULL"
		}
		return formatUUID(x.Bytes)
	case pgtype.Numeric:
		return formatNumeric(x)
	case pgtype.Interval:
		return formatInterval(x)
	case pgtype.Time:
		if !x.Valid {
			return "NULL"
		}
		return formatMicrosOfDay(x.Microseconds)
	case time.Time:
		return formatTime(x)
	case []byte:
		return `\x` + hex.EncodeToString(x)
	case netip.Prefix:
		return formatPrefix(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = FormatValue(e)
		}
		return "{" + strings.Join(parts, ",") + "}"
	case map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	case fmt.Stringer:
		return x.String()
	}
	if i, ok := asInt(v); ok {
		return strconv.FormatInt(i, 10)
	}
	return fmt.Sprint(v)
}

// FormatRow renders a row as {col=value, ...}, keys sorted, strings quoted
// so that "true" and true look different.
func FormatRow(r Row) string {
	keys := RowKeys(r)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + formatExpected(r[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// formatExpected shows a TOML value with strings quoted.
func formatExpected(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	if t, ok := v.(time.Time); ok {
		switch t.Location().String() {
		case tomlLocalDate:
			return t.Format("2006-01-02")
		case tomlLocalDatetime:
			return t.Format("2006-01-02T15:04:05.999999999")
		case tomlLocalTime:
			return t.Format("15:04:05.999999999")
		}
	}
	return FormatValue(v)
}

// formatActual shows an actual value; text values are quoted like expected
// strings so that a mismatch between "true" and true is visible.
func formatActual(v any) string {
	switch v.(type) {
	case string, [16]byte:
		return strconv.Quote(FormatValue(v))
	}
	return FormatValue(v)
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "NULL"
	case string:
		return "string"
	case bool:
		return "bool"
	case [16]byte, pgtype.UUID:
		return "uuid"
	case pgtype.Numeric:
		return "numeric"
	case float32, float64:
		return "float"
	case time.Time:
		return "time"
	case []any:
		return "array"
	case map[string]any:
		return "json"
	}
	if _, ok := asInt(v); ok {
		return "integer"
	}
	if _, ok := v.(uint64); ok {
		return "integer"
	}
	return fmt.Sprintf("%T", v)
}

func formatUUID(b [16]byte) string {
	var buf [36]byte
	hex.Encode(buf[0:8], b[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], b[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], b[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], b[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], b[10:])
	return string(buf[:])
}

// formatPrefix shows an inet host address without its full-length mask,
// as PostgreSQL does.
func formatPrefix(p netip.Prefix) string {
	if p.IsValid() && p.Bits() == p.Addr().BitLen() {
		return p.Addr().String()
	}
	return p.String()
}

func formatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

func formatNumeric(n pgtype.Numeric) string {
	switch {
	case !n.Valid:
		return "NULL"
	case n.NaN:
		return "NaN"
	case n.InfinityModifier == pgtype.Infinity:
		return "Infinity"
	case n.InfinityModifier == pgtype.NegativeInfinity:
		return "-Infinity"
	case n.Int == nil:
		return "0"
	}
	digits := new(big.Int).Abs(n.Int).String()
	sign := ""
	if n.Int.Sign() < 0 {
		sign = "-"
	}
	if n.Exp >= 0 {
		if n.Int.Sign() == 0 {
			return "0"
		}
		return sign + digits + strings.Repeat("0", int(n.Exp))
	}
	scale := int(-n.Exp)
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	return sign + digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
}

func formatInterval(iv pgtype.Interval) string {
	if !iv.Valid {
		return "NULL"
	}
	var parts []string
	if iv.Months != 0 {
		y, m := iv.Months/12, iv.Months%12
		if y != 0 {
			parts = append(parts, CountNoun(int(y), "year"))
		}
		if m != 0 {
			parts = append(parts, CountNoun(int(m), "mon"))
		}
	}
	if iv.Days != 0 {
		parts = append(parts, CountNoun(int(iv.Days), "day"))
	}
	if iv.Microseconds != 0 || len(parts) == 0 {
		parts = append(parts, formatMicrosOfDay(iv.Microseconds))
	}
	return strings.Join(parts, " ")
}

// formatMicrosOfDay renders microseconds as [-]HH:MM:SS[.ffffff]; hours
// may exceed 24 (intervals).
func formatMicrosOfDay(us int64) string {
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	h := us / 3600e6
	us -= h * 3600e6
	m := us / 60e6
	us -= m * 60e6
	s := us / 1e6
	us -= s * 1e6
	out := fmt.Sprintf("%s%02d:%02d:%02d", sign, h, m, s)
	if us != 0 {
		out += strings.TrimRight(fmt.Sprintf(".%06d", us), "0")
	}
	return out
}

func formatTime(t time.Time) string {
	if t.Location() == time.UTC && t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		return t.Format("2006-01-02") // date columns come back as UTC midnight
	}
	return t.Format("2006-01-02 15:04:05.999999Z07:00")
}

func RowKeys(r Row) []string {
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func CountNoun(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
