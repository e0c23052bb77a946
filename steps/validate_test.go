package steps

import (
	"slices"
	"strings"
	"testing"
)

// builtRunbook is a runbook built in code, as a program that generates
// runbooks (or a test) would, with no runbook.toml behind it.
func builtRunbook() *Runbook {
	return &Runbook{
		Meta:   Meta{ID: "built", Title: "Built in code"},
		Target: Target{Name: "Shop", ProjectID: "shop-prod", Identity: []string{IdentityStamp}},
		Phases: []Phase{{Title: "Change", Steps: []Step{
			{Kind: KindChecklist, ID: "ready", Items: []Item{{Text: "ticket approved"}}},
			{Kind: KindSQL, ID: "migrate", Statements: []string{"alter table t add column c int;\ncreate index on t (c)"}},
			{Kind: KindCheck, ID: "verify", SQL: "select c from t", ExpectEmpty: true},
		}}},
		Rollback: Rollback{Steps: []Step{{Kind: KindSQL, ID: "undo", Statements: []string{"alter table t drop column c"}}}},
	}
}

// A runbook built in code is linted like a runbook.toml: a valid one has
// no problem at all.
func TestValidateBuiltRunbook(t *testing.T) {
	if ps := Validate(builtRunbook()); len(ps) > 0 {
		t.Fatalf("a valid runbook built in code has problems:\n%s", ps.Error())
	}
}

// Problems of a runbook built in code name the key's path (the way Go
// code reaches it, indices from 0) instead of file:line, a line within
// an inline SQL string, and every problem is reported at once, with the
// same messages and hints as lint's.
func TestValidateBuiltRunbookProblems(t *testing.T) {
	r := builtRunbook()
	r.Target.Production = true
	r.Target.Identity = nil
	r.Phases[0].Steps[1].Statements = []string{"alter table t add column c int;\nvacuum t"}
	r.Phases[0].Steps[2].ExpectEmpty = false
	r.Phases[0].Steps = append(r.Phases[0].Steps,
		Step{Kind: KindConfirm, Prompt: "Go?", File: "x.sql"},
		Step{Kind: "sqll", ID: "typo"},
		Step{Kind: KindMessage, ID: "tell", Message: "announce"},
		Step{Kind: KindCheck, ID: "ready", SQL: "delete from t", ExpectRows: new(int)},
	)
	ps := Validate(r)
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	want := []string{
		`phase[0].step[1].statements[0]:2:1: error: VACUUM cannot run inside a transaction block (set transaction = false on step migrate)`,
		`phase[0].step[2]: error: step "verify" has no expectation (expect = [{ column = value }], expect_rows = N or expect_empty = true; report = true for an informational check)`,
		`phase[0].step[3].file: error: "file" does not apply to confirm steps ("file" belongs to sql steps)`,
		`phase[0].step[4].kind: error: unknown step kind "sqll" (one of ` + kindNames() + `) (did you mean "sql"?)`,
		`phase[0].step[5].message: error: no message with id "announce" (define it in [[messages]])`,
		`phase[0].step[6].id: error: duplicate step id "ready" (first used at phase[0].step[0].id; ids must be unique across phases and rollback)`,
		`phase[0].step[6].sql:1: error: step "ready": sql is not a read-only query (DELETE FROM T) (it runs read-only; put writes in a sql step)`,
		`target.production: error: production target has no identity source, so handrail cannot prove which database it is connected to (add identity = ["stamp"] (after "handrail stamp"), ["supabase"], ["system_identifier"] or ["sql"] with identity_sql)`,
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Like Load, Validate gives a step without an id its generated one.
	if id := r.Phases[0].Steps[3].ID; id != "confirm-1" {
		t.Errorf("generated id %q, want confirm-1", id)
	}
}

// A runbook built in code may name SQL files: they are read from Dir,
// kept, and checked at their own line and column.
func TestValidateBuiltRunbookReadsFiles(t *testing.T) {
	dir := writeRunbook(t, map[string]string{"m/001.sql": "select 1;\n  \\connect other\n"})
	r := builtRunbook()
	r.Dir = dir
	r.Phases[0].Steps[1].Statements = nil
	r.Phases[0].Steps[1].File = "./m/001.sql"
	ps := Validate(r)
	if len(ps) != 1 || ps[0].Line != 2 || ps[0].Col != 3 || !strings.HasSuffix(ps[0].Path, "001.sql") ||
		ps[0].Msg != `psql meta-command \connect` {
		t.Fatalf("problems: %v", ps)
	}
	if r.Phases[0].Steps[1].File != "m/001.sql" {
		t.Errorf("file %q not cleaned", r.Phases[0].Steps[1].File)
	}
}

// Validating a loaded runbook again finds what Load found, at the same
// file:line:col: Load keeps where each key was written.
func TestValidateLoadedRunbookKeepsPositions(t *testing.T) {
	files := goodFiles()
	files["runbook.toml"] = strings.Replace(files["runbook.toml"], `prompt = "Ready?"`, `prompt = " "`, 1)
	r, ps := Load(writeRunbook(t, files))
	if len(ps) == 0 {
		t.Fatal("the broken runbook loaded without problems")
	}
	again := Validate(r)
	if ps.Error() != again.Error() {
		t.Errorf("Validate after Load:\n%s\nLoad:\n%s", again.Error(), ps.Error())
	}
}
