package steps

import (
	"reflect"
	"testing"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// A loaded runbook splits a file once, at load; StepStatements answers
// from that, with the same statements as splitting the file again, and
// a caller changing what it got changes nothing for the next caller.
func TestStepStatementsFromLoadTimeSplit(t *testing.T) {
	body := `
[[phase]]
title = "Main"

  [[phase.step]]
  kind = "sql"
  id = "migrate"
  file = "migrations/m.sql"
`
	src := "create table a (id int);\n-- two\ninsert into a values (1);\ninsert into a values (2)\n"
	rb := writeTestRunbook(t, body, map[string]string{"migrations/m.sql": src})
	if _, ok := rb.splits["migrations/m.sql"]; !ok {
		t.Fatalf("no load-time split: %v", rb.splits)
	}
	s := rb.AllSteps()[0]
	got, err := rb.StepStatements(s)
	if err != nil {
		t.Fatal(err)
	}
	want := sqlscan.SplitStatements(src)
	for i := range want {
		want[i].File = "migrations/m.sql"
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	got[0].SQL = "drop table a"
	again, _ := rb.StepStatements(s)
	if !reflect.DeepEqual(again, want) {
		t.Fatalf("a caller's change leaked into the cache: %+v", again)
	}
	// A runbook built in code (not loaded) splits the file it reads.
	built := &Runbook{Dir: rb.Dir}
	fromDisk, err := built.StepStatements(s)
	if err != nil || !reflect.DeepEqual(fromDisk, want) {
		t.Fatalf("built runbook: %+v, %v", fromDisk, err)
	}
}
