package steps

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// A file's list (views into the file) reads, compares and encodes as the
// list of its StatementInfos the engine made before.
func TestStatementListOfFile(t *testing.T) {
	src := "create table t (\n\tid int\n);\n-- why\ninsert into t values (1);\n\ninsert into t values ('<&>');\n"
	stmts := sqlscan.SplitStatements(src)
	for i := range stmts {
		stmts[i].File = "migrations/1.sql"
	}
	l := listOfFile(src, "migrations/1.sql", stmts)
	if l == nil || l.spans == nil {
		t.Fatal("not a list of views into the file")
	}
	want := statementInfos(stmts)
	if got := l.Infos(); !slices.Equal(got, want) {
		t.Fatalf("Infos() = %+v, want %+v", got, want)
	}
	for k, s := range l.All() {
		if s != want[k] || l.SQL(k) != want[k].SQL || l.Line(k) != want[k].Line {
			t.Fatalf("statement %d = %+v, want %+v", k, s, want[k])
		}
	}
	infos := ListOf(want)
	if !l.Equal(infos) || !infos.Equal(l) || l.Equal(ListOf(want[1:])) {
		t.Fatal("Equal disagrees with the statements")
	}
	for _, esc := range []bool{true, false} {
		a, b := marshal(t, esc, struct{ S *StatementList }{l}), marshal(t, esc, struct{ S []StatementInfo }{want})
		if a != b {
			t.Fatalf("escapeHTML %v: JSON\n%s\nwant\n%s", esc, a, b)
		}
	}
	var back StatementList
	if err := json.Unmarshal([]byte(marshal(t, false, l)), &back); err != nil || !back.Equal(l) {
		t.Fatalf("read back: %v, %+v", err, back.Infos())
	}
	// A statement that is not a view into src: the list holds the infos.
	bad := slices.Clone(stmts)
	bad[1].SQL = "select 1"
	if l := listOfFile(src, "migrations/1.sql", bad); l.spans != nil || l.At(1).SQL != "select 1" {
		t.Fatal("a statement not in the file was listed as a view into it")
	}
	if ListOf(nil) != nil || ListOf([]StatementInfo{}).Len() != 0 {
		t.Fatal("an empty list is not nil")
	}
	// MapStrings (the journal's redaction) leaves l as it is.
	nv, changed := l.MapStrings(func(s string) string {
		if s == want[2].SQL {
			return "[redacted]"
		}
		return s
	})
	if m := nv.(*StatementList); !changed || m.At(2).SQL != "[redacted]" || m.At(1) != want[1] || l.At(2) != want[2] {
		t.Fatal("MapStrings")
	}
	if nv, changed := l.MapStrings(func(s string) string { return s }); changed || nv.(*StatementList) != l {
		t.Fatal("MapStrings copied an unchanged list")
	}
}

func marshal(t *testing.T, escapeHTML bool, v any) string {
	t.Helper()
	if escapeHTML {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
