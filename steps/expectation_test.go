package steps

import "testing"

func TestStepAndItemExpectation(t *testing.T) {
	n := 2
	s := Step{Expect: []Row{{"a": int64(1)}}, ExpectRows: &n, ExpectEmpty: true, Report: true}
	e := s.Expectation()
	if len(e.Rows) != 1 || e.RowCount != &n || !e.Empty || !e.Report {
		t.Errorf("step expectation %+v", e)
	}
	it := Item{Expect: []Row{{"a": int64(1)}}, ExpectRows: &n, ExpectEmpty: true}
	e = it.Expectation()
	if len(e.Rows) != 1 || e.RowCount != &n || !e.Empty || e.Report {
		t.Errorf("item expectation %+v", e)
	}
}
