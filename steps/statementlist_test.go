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
	var checked []Statement
	n, l, issue := splitFile(src, "migrations/1.sql", true, func(s Statement) { checked = append(checked, s) })
	if l == nil || l.spans == nil || n != len(stmts) || issue != nil {
		t.Fatal("not a list of views into the file")
	}
	for k := range checked {
		checked[k].File = "migrations/1.sql"
	}
	if !slices.Equal(checked, stmts) || !slices.Equal(l.statements(), stmts) {
		t.Fatalf("checked %+v, listed %+v; want %+v", checked, l.statements(), stmts)
	}
	if n, l, _ := splitFile(src, "migrations/1.sql", false, func(Statement) {}); n != len(stmts) || l != nil {
		t.Fatal("a list kept when not asked for")
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

// StatementCount and stepSQL answer what StepStatements does, from a
// loaded runbook's file lists and from a runbook built in code.
func TestStatementCountAndSQL(t *testing.T) {
	loaded, ps := Load(writeRunbook(t, goodFiles()))
	if ps.HasErrors() {
		t.Fatal(ps.Error())
	}
	dir := writeRunbook(t, map[string]string{"m/001.sql": "select 1;\nselect 2;\n"})
	built := builtRunbook()
	built.Dir = dir
	built.Rollback.Steps[0].Statements, built.Rollback.Steps[0].File = nil, "m/001.sql"
	for _, r := range []*Runbook{loaded, built} {
		files := 0
		for _, s := range append(r.AllSteps(), r.Rollback.Steps...) {
			stmts, err := r.StepStatements(s)
			if err != nil {
				t.Fatal(err)
			}
			if s.File != "" {
				files++
			}
			n, err := r.StatementCount(s)
			if err != nil || n != len(stmts) {
				t.Errorf("step %s: StatementCount %d, %v; want %d", s.ID, n, err, len(stmts))
			}
			seq, err := r.stepSQL(s)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, st := range stmts {
				want = append(want, st.SQL)
			}
			if got := slices.Collect(seq); !slices.Equal(got, want) {
				t.Errorf("step %s: stepSQL %q, want %q", s.ID, got, want)
			}
		}
		if files == 0 {
			t.Fatal("no step of a file")
		}
	}
}
