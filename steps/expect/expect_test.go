package expect

import (
	"math"
	"math/big"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/jackc/pgx/v5/pgtype"
)

// tomlRows decodes `expect = [...]` the way the runbook decoder does, so
// the tests see the exact Go types TOML produces.
func tomlRows(t *testing.T, src string) []Row {
	t.Helper()
	var v struct {
		Expect []Row `toml:"expect"`
	}
	if _, err := toml.Decode("expect = "+src, &v); err != nil {
		t.Fatalf("decode %s: %v", src, err)
	}
	return v.Expect
}

func num(s string) pgtype.Numeric {
	var n pgtype.Numeric
	if err := n.Scan(s); err != nil {
		panic(err)
	}
	return n
}

var (
	uuidA = [16]byte{0xa1, 0x1c, 0xe0, 0x00, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 0x01}
	uuidB = [16]byte{0xb0, 0xb0, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 0x02}
)

// TestValueTypePairings checks every TOML type against the pgx types it
// should and should not match.
func TestValueTypePairings(t *testing.T) {
	cases := []struct {
		name   string
		expect string // one TOML value for column v
		got    any
		pass   bool
	}{
		// integers
		{"int=int16", "3", int16(3), true},
		{"int=int32", "3", int32(3), true},
		{"int=int64", "3", int64(3), true},
		{"int!=int64", "3", int64(4), false},
		{"int=integral numeric", "3", num("3"), true},
		{"int=numeric 3.00", "3", num("3.00"), true},
		{"int!=numeric 3.5", "3", num("3.5"), false},
		{"int!=numeric NaN", "3", pgtype.Numeric{NaN: true, Valid: true}, false},
		{"int!=float", "3", float64(3), false},
		{"int!=string", "3", "3", false},
		{"int!=bool", "1", true, false},
		{"negative int", "-7", int64(-7), true},
		{"big numeric int", "9223372036854775807", num("9223372036854775807"), true},
		{"numeric beyond int64", "1", num("18446744073709551617"), false},
		// floats
		{"float=float64", "1.5", float64(1.5), true},
		{"float=float32", "0.1", float32(0.1), true},
		{"float!=float64", "1.5", float64(1.25), false},
		{"float=numeric", "0.1", num("0.10"), true},
		{"float=numeric exact", "2.5", num("2.5"), true},
		{"float!=numeric", "0.1", num("0.1000001"), false},
		{"float!=int", "2.0", int64(2), false},
		{"nan=nan", "nan", math.NaN(), true},
		{"inf=numeric inf", "inf", pgtype.Numeric{InfinityModifier: pgtype.Infinity, Valid: true}, true},
		{"nan=numeric nan", "nan", pgtype.Numeric{NaN: true, Valid: true}, true},
		{"-inf=float", "-inf", math.Inf(-1), true},
		// bools
		{"bool=bool", "false", false, true},
		{"bool!=bool", "true", false, false},
		{"bool!=string", "true", "true", false},
		{"string!=bool", `"true"`, true, false},
		{"string f!=bool", `"f"`, false, false},
		{"bool!=int", "true", int64(1), false},
		// strings
		{"string=text", `"rate_limits"`, "rate_limits", true},
		{"string!=text", `"rate_limits"`, "rate_limit", false},
		{"string=bpchar with padding", `"x  "`, "x  ", true},
		{"string!=bpchar without padding", `"x"`, "x  ", false},
		{"string=uuid", `"a11ce000-0000-4000-8000-000000000001"`, uuidA, true},
		{"string=uuid upper", `"A11CE000-0000-4000-8000-000000000001"`, uuidA, true},
		{"string!=uuid", `"a11ce000-0000-4000-8000-000000000001"`, uuidB, false},
		{"string=pgtype.UUID", `"a11ce000-0000-4000-8000-000000000001"`, pgtype.UUID{Bytes: uuidA, Valid: true}, true},
		{"string=inet host", `"10.0.0.1"`, netip.MustParsePrefix("10.0.0.1/32"), true},
		{"string=cidr", `"10.0.0.0/8"`, netip.MustParsePrefix("10.0.0.0/8"), true},
		{"string!=int", `"3"`, int64(3), false},
		{"string!=char code", `"r"`, int32('r'), false},
		// NULL
		{"nothing=NULL", `"NULL"`, nil, false},
		{"int!=NULL", "0", nil, false},
		{"bool!=NULL", "false", nil, false},
		// times
		{"datetime=timestamptz", "2024-05-01T10:00:00Z", time.Date(2024, 5, 1, 12, 0, 0, 0, time.FixedZone("CEST", 7200)), true},
		{"datetime!=timestamptz", "2024-05-01T10:00:00Z", time.Date(2024, 5, 1, 10, 0, 1, 0, time.UTC), false},
		{"local date=date", "2024-05-01", time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), true},
		{"local date!=date", "2024-05-01", time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC), false},
		{"local date!=timestamp with time", "2024-05-01", time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC), false},
		{"local datetime=timestamp", "2024-05-01T09:30:00", time.Date(2024, 5, 1, 9, 30, 0, 0, time.UTC), true},
		{"local time=time", "09:30:00", pgtype.Time{Microseconds: (9*3600 + 30*60) * 1e6, Valid: true}, true},
		{"string!=timestamp", `"2024-05-01"`, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), false},
		// arrays
		{"array=text[]", `["anon", "authenticated"]`, []any{"anon", "authenticated"}, true},
		{"array order matters", `["authenticated", "anon"]`, []any{"anon", "authenticated"}, false},
		{"array=int[]", `[1, 2]`, []any{int32(1), int32(2)}, true},
		{"array!=shorter", `[1]`, []any{int32(1), int32(2)}, false},
		{"array!=string", `["a"]`, "{a}", false},
		// json
		{"table=json", `{ a = 1, b = "x" }`, map[string]any{"a": float64(1), "b": "x"}, true},
		{"table!=json extra key", `{ a = 1 }`, map[string]any{"a": float64(1), "b": "x"}, false},
		{"table=nested json", `{ a = [1, 2.5], b = { c = true } }`, map[string]any{"a": []any{float64(1), 2.5}, "b": map[string]any{"c": true}}, true},
		{"table!=json bool vs string", `{ c = true }`, map[string]any{"c": "true"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := tomlRows(t, "[{ v = "+c.expect+" }]")
			res := Evaluate(Expectation{Rows: want}, []string{"v"}, [][]any{{c.got}})
			if res.Pass != c.pass {
				t.Fatalf("expect v = %s against %T %#v: pass = %v, want %v (%s)", c.expect, c.got, c.got, res.Pass, c.pass, res.Summary)
			}
			if res.Summary == "" {
				t.Fatal("empty summary")
			}
		})
	}
}

func TestEvaluateExpectRows(t *testing.T) {
	cols := []string{"tablename", "rowsecurity", "n"}
	cases := []struct {
		name       string
		expect     string
		rows       [][]any
		pass       bool
		summary    string // substring of Summary
		missing    int
		unexpected int
	}{
		{
			name:    "one row, subset of columns",
			expect:  `[{ tablename = "rate_limits", rowsecurity = false }]`,
			rows:    [][]any{{"rate_limits", false, int64(9)}},
			pass:    true,
			summary: "1 row match",
		},
		{
			name:       "one value differs",
			expect:     `[{ tablename = "rate_limits", rowsecurity = false }]`,
			rows:       [][]any{{"rate_limits", true, int64(9)}},
			summary:    `1 of 1 row did not match: {tablename="rate_limits"} rowsecurity: expected false, got true`,
			missing:    1,
			unexpected: 1,
		},
		{
			name:    "no rows",
			expect:  `[{ tablename = "rate_limits" }]`,
			rows:    nil,
			summary: "expected 1 row, got 0",
			missing: 1,
		},
		{
			name:       "string where bool expected",
			expect:     `[{ rowsecurity = "false" }]`,
			rows:       [][]any{{"rate_limits", false, int64(1)}},
			summary:    `expected "false", got false (string vs bool)`,
			missing:    1,
			unexpected: 1,
		},
		{
			name:   "unordered",
			expect: `[{ tablename = "b" }, { tablename = "a" }, { tablename = "c" }]`,
			rows:   [][]any{{"a", true, int64(1)}, {"c", true, int64(1)}, {"b", true, int64(1)}},
			pass:   true,
		},
		{
			name:   "duplicates matched as a multiset",
			expect: `[{ tablename = "a" }, { tablename = "a" }]`,
			rows:   [][]any{{"a", true, int64(1)}, {"a", false, int64(2)}},
			pass:   true,
		},
		{
			name:       "duplicate expected, one actual",
			expect:     `[{ tablename = "a" }, { tablename = "a" }]`,
			rows:       [][]any{{"a", true, int64(1)}},
			summary:    "expected 2 rows, got 1",
			missing:    1,
			unexpected: 0,
		},
		{
			name:       "one expected, duplicate actual",
			expect:     `[{ tablename = "a" }]`,
			rows:       [][]any{{"a", true, int64(1)}, {"a", true, int64(1)}},
			summary:    "expected 1 row, got 2; unexpected",
			unexpected: 1,
		},
		{
			// A greedy pairing would give {tablename=a} the first row and
			// then find nothing for {n=1}; the matching must backtrack.
			name:   "needs augmenting path",
			expect: `[{ tablename = "a" }, { n = 1 }]`,
			rows:   [][]any{{"a", true, int64(1)}, {"a", true, int64(2)}},
			pass:   true,
		},
		{
			name:       "extra actual row",
			expect:     `[{ tablename = "a" }]`,
			rows:       [][]any{{"a", true, int64(1)}, {"b", true, int64(1)}},
			summary:    `unexpected {n=1, rowsecurity=true, tablename="b"}`,
			unexpected: 1,
		},
		{
			name:    "unknown column",
			expect:  `[{ tablename = "a", rls = true }]`,
			rows:    [][]any{{"a", true, int64(1)}},
			summary: `expected column "rls" is not in the result (columns: tablename, rowsecurity, n)`,
			missing: 1,
		},
		{
			name:    "empty expect list means no rows",
			expect:  `[]`,
			rows:    nil,
			pass:    true,
			summary: "no rows, as expected",
		},
		{
			name:       "empty expect list with rows",
			expect:     `[]`,
			rows:       [][]any{{"a", true, int64(1)}},
			summary:    "expected 0 rows, got 1",
			unexpected: 1,
		},
		{
			// The summary pairs the first missing row with the closest
			// unmatched row (a, not b, although b comes first).
			name:       "names the closest row",
			expect:     `[{ tablename = "a", rowsecurity = true }, { tablename = "b", rowsecurity = true }]`,
			rows:       [][]any{{"b", false, int64(1)}, {"a", false, int64(1)}},
			summary:    `2 of 2 rows did not match: {tablename="a"} rowsecurity: expected true, got false (2 missing, 2 unexpected)`,
			missing:    2,
			unexpected: 2,
		},
		{
			name:       "several differ",
			expect:     `[{ tablename = "a" }, { tablename = "b" }]`,
			rows:       [][]any{{"c", true, int64(1)}, {"d", true, int64(1)}},
			summary:    `2 of 2 rows did not match: tablename: expected "a", got "c" (2 missing, 2 unexpected)`,
			missing:    2,
			unexpected: 2,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := Evaluate(Expectation{Rows: tomlRows(t, c.expect)}, cols, c.rows)
			if res.Pass != c.pass {
				t.Fatalf("pass = %v, want %v (%s)", res.Pass, c.pass, res.Summary)
			}
			if !strings.Contains(res.Summary, c.summary) {
				t.Errorf("summary %q does not contain %q", res.Summary, c.summary)
			}
			if strings.Contains(res.Summary, "\n") {
				t.Errorf("summary is not one line: %q", res.Summary)
			}
			if len(res.Missing) != c.missing || len(res.Unexpected) != c.unexpected {
				t.Errorf("missing %d unexpected %d, want %d and %d (%v / %v)", len(res.Missing), len(res.Unexpected), c.missing, c.unexpected, res.Missing, res.Unexpected)
			}
		})
	}
}

func TestEvaluateExpectUnexpectedCarriesActualValues(t *testing.T) {
	res := Evaluate(Expectation{Rows: tomlRows(t, `[{ id = "x" }]`)}, []string{"id", "owner"}, [][]any{{"y", uuidA}})
	if res.Pass || len(res.Unexpected) != 1 {
		t.Fatalf("got %+v", res)
	}
	if got := res.Unexpected[0]["owner"]; got != uuidA {
		t.Errorf("unexpected row owner = %#v, want the pgx value", got)
	}
	if !strings.Contains(res.Summary, `id: expected "x", got "y"`) {
		t.Errorf("summary %q", res.Summary)
	}
}

func TestEvaluateExpectCharHint(t *testing.T) {
	res := Evaluate(Expectation{Rows: tomlRows(t, `[{ relkind = "r" }]`)}, []string{"relkind"}, [][]any{{int32('r')}})
	if res.Pass || !strings.Contains(res.Summary, `cast it to text`) {
		t.Fatalf("got %+v", res)
	}
}

func TestEvaluateExpectDuplicateColumnName(t *testing.T) {
	res := Evaluate(Expectation{Rows: tomlRows(t, `[{ count = 1 }]`)}, []string{"count", "count"}, [][]any{{int64(1), int64(1)}})
	if res.Pass || !strings.Contains(res.Summary, "unique alias") {
		t.Fatalf("got %+v", res)
	}
}

func TestEvaluateExpectCountsAndEmpty(t *testing.T) {
	six, zero := 6, 0
	rows := func(n int) [][]any {
		out := make([][]any, n)
		for i := range out {
			out[i] = []any{int64(i)}
		}
		return out
	}
	cases := []struct {
		name    string
		e       Expectation
		n       int
		pass    bool
		summary string
	}{
		{"count ok", Expectation{RowCount: &six}, 6, true, "6 rows, as expected"},
		{"count short", Expectation{RowCount: &six}, 5, false, "expected 6 rows, got 5"},
		{"count zero", Expectation{RowCount: &zero}, 0, true, "0 rows, as expected"},
		{"empty ok", Expectation{Empty: true}, 0, true, "no rows, as expected"},
		{"empty fails", Expectation{Empty: true}, 2, false, "expected no rows, got 2"},
		{"report always passes", Expectation{Report: true}, 3, true, "report: 3 rows"},
		{"report with no rows", Expectation{Report: true}, 0, true, "report: 0 rows"},
		{"no expectation fails", Expectation{}, 0, false, "no expectation set"},
		{"count and empty both checked", Expectation{Empty: true, RowCount: &six}, 6, false, "expected no rows, got 6"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := Evaluate(c.e, []string{"i"}, rows(c.n))
			if res.Pass != c.pass || !strings.Contains(res.Summary, c.summary) {
				t.Fatalf("got pass=%v %q, want pass=%v containing %q", res.Pass, res.Summary, c.pass, c.summary)
			}
		})
	}
	res := Evaluate(Expectation{Empty: true}, []string{"i"}, rows(2))
	if len(res.Unexpected) != 2 || res.Unexpected[1]["i"] != int64(1) {
		t.Errorf("expect_empty failure should list the rows: %+v", res.Unexpected)
	}
}

func TestZeroExpectationIsNotSet(t *testing.T) {
	if (Expectation{}).IsSet() {
		t.Error("zero expectation reports set")
	}
}

func TestExpectationString(t *testing.T) {
	six := 6
	cases := []struct {
		e    Expectation
		want string
	}{
		{Expectation{Rows: []Row{{"tablename": "rate_limits", "rowsecurity": false}}}, `1 row in any order: {rowsecurity=false, tablename="rate_limits"}`},
		{Expectation{RowCount: &six}, "exactly 6 rows"},
		{Expectation{Empty: true}, "no rows"},
		{Expectation{Rows: []Row{}}, "no rows"},
		{Expectation{Report: true}, "report (informational, always passes)"},
		{Expectation{}, "no expectation"},
	}
	for _, c := range cases {
		if got := c.e.String(); got != c.want {
			t.Errorf("%+v: got %q, want %q", c.e, got, c.want)
		}
	}
}

func TestFormatValue(t *testing.T) {
	huge, _ := new(big.Int).SetString("-123456789012345678901234567890", 10)
	cases := []struct {
		v    any
		want string
	}{
		{nil, "NULL"},
		{"text", "text"},
		{true, "true"},
		{int16(-3), "-3"},
		{int64(10485760), "10485760"},
		{uint32(7), "7"},
		{1.5, "1.5"},
		{float32(0.1), "0.1"},
		{math.NaN(), "NaN"},
		{math.Inf(-1), "-Infinity"},
		{uuidA, "a11ce000-0000-4000-8000-000000000001"},
		{pgtype.UUID{Bytes: uuidB, Valid: true}, "b0b00000-0000-4000-8000-000000000002"},
		{num("0.10"), "0.10"},
		{num("-0.005"), "-0.005"},
		{num("1500"), "1500"},
		{pgtype.Numeric{Int: big.NewInt(15), Exp: 2, Valid: true}, "1500"},
		{pgtype.Numeric{Int: huge, Exp: -5, Valid: true}, "-1234567890123456789012345.67890"},
		{pgtype.Numeric{NaN: true, Valid: true}, "NaN"},
		{pgtype.Numeric{InfinityModifier: pgtype.Infinity, Valid: true}, "Infinity"},
		{pgtype.Interval{Days: 1, Microseconds: 7200e6, Valid: true}, "1 day 02:00:00"},
		{pgtype.Interval{Months: 14, Microseconds: 1500, Valid: true}, "1 year 2 mons 00:00:00.0015"},
		{pgtype.Interval{Valid: true}, "00:00:00"},
		{pgtype.Time{Microseconds: 9*3600e6 + 500000, Valid: true}, "09:00:00.5"},
		{time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), "2024-05-01"},
		{time.Date(2024, 5, 1, 9, 30, 0, 0, time.UTC), "2024-05-01 09:30:00Z"},
		{time.Date(2024, 5, 1, 9, 30, 0, 0, time.FixedZone("", 7200)), "2024-05-01 09:30:00+02:00"},
		{[]byte("abc"), `\x616263`},
		{netip.MustParsePrefix("10.0.0.1/32"), "10.0.0.1"},
		{netip.MustParsePrefix("10.0.0.0/8"), "10.0.0.0/8"},
		{[]any{"anon", nil, int32(3)}, "{anon,NULL,3}"},
		{map[string]any{"sub": "x", "n": float64(1)}, `{"n":1,"sub":"x"}`},
	}
	for _, c := range cases {
		if got := FormatValue(c.v); got != c.want {
			t.Errorf("FormatValue(%#v) = %q, want %q", c.v, got, c.want)
		}
	}
}

func TestFormatRow(t *testing.T) {
	got := FormatRow(Row{"b": "true", "a": true, "c": int64(3)})
	if want := `{a=true, b="true", c=3}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
