package lockcheck

import (
	"strings"
	"testing"
)

func TestParseAllow(t *testing.T) {
	tests := []struct {
		text   string
		rules  string
		reason string
		ok     bool
	}{
		{"-- handrail:allow create-index-blocking small lookup table", "create-index-blocking", "small lookup table", true},
		{"--handrail:allow drop-table,truncate-table  scratch data", "drop-table truncate-table", "scratch data", true},
		{"-- handrail:allow drop-table, truncate-table scratch", "drop-table truncate-table", "scratch", true},
		{"/* handrail:allow lock-held-until-commit tiny tables */", "lock-held-until-commit", "tiny tables", true},
		{"-- handrail:allow", "", "", true},
		{"-- handrail:allowed x y", "", "", false},
		{"-- a note about handrail:allow", "", "", false},
	}
	for _, tt := range tests {
		rules, reason, ok := parseAllow(tt.text)
		if ok != tt.ok || strings.Join(rules, " ") != tt.rules || reason != tt.reason {
			t.Errorf("%q: %q %q %v, want %q %q %v", tt.text, rules, reason, ok, tt.rules, tt.reason, tt.ok)
		}
	}
}

func TestAllowAcceptsAFindingAndKeepsTheReason(t *testing.T) {
	src := `-- handrail:allow create-index-blocking lookup table of 300 rows
create index on country (name);
create index on orders (x);`
	an := analyze(src, false)
	if len(an.Findings) != 2 {
		t.Fatalf("findings %+v", an.Findings)
	}
	a, b := an.Findings[0], an.Findings[1]
	if a.Allowed == nil || a.Allowed.Reason != "lookup table of 300 rows" || a.Allowed.Line != 1 || a.Allowed.File != "m.sql" {
		t.Fatalf("the first finding should be allowed with its reason: %+v", a.Allowed)
	}
	if b.Allowed != nil {
		t.Fatalf("the allow comment must not reach the next statement: %+v", b.Allowed)
	}
	if len(an.Problems) != 0 {
		t.Fatalf("problems: %+v", an.Problems)
	}
}

// A comment after the semicolon, on the statement's last line, is for
// that statement, not the next one.
func TestAllowOnTheSameLineBelongsToThePreviousStatement(t *testing.T) {
	src := "create index on a (x); -- handrail:allow create-index-blocking tiny\ncreate index on b (x);"
	an := analyze(src, false)
	if an.Findings[0].Allowed == nil || an.Findings[1].Allowed != nil {
		t.Fatalf("allowed: %v, %v", an.Findings[0].Allowed, an.Findings[1].Allowed)
	}
	if an.Findings[0].Allowed.Line != 1 {
		t.Fatalf("allow line %d", an.Findings[0].Allowed.Line)
	}
}

func TestAllowProblems(t *testing.T) {
	src := `-- handrail:allow create-index-blockng typo
-- handrail:allow drop-table
-- handrail:allow truncate-table nothing to truncate here
create index on a (x);`
	an := analyze(src, false)
	var msgs []string
	for _, p := range an.Problems {
		msgs = append(msgs, p.Msg+" | "+p.Hint)
	}
	got := strings.Join(msgs, "\n")
	for _, want := range []string{
		`unknown rule "create-index-blockng" | did you mean create-index-blocking?`,
		"allow comment for drop-table gives no reason",
		"allow comment for truncate-table accepts nothing",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	errs := 0
	for _, p := range an.Problems {
		if p.Error {
			errs++
		}
	}
	if errs != 2 {
		t.Errorf("want the unknown rule and the missing reason as errors, the unused allow as a warning: %+v", an.Problems)
	}
	if an.Findings[0].Allowed != nil {
		t.Error("a misspelled allow must not accept the finding")
	}
}

func TestAllowLines(t *testing.T) {
	src := "select 1;\n-- handrail:allow drop-table x\n/* handrail:allow truncate-table y */ select 2;\n-- handrail:allow drop-column trailing\n"
	if got := AllowLines(src); len(got) != 3 || got[0] != 2 || got[1] != 3 || got[2] != 4 {
		t.Fatalf("AllowLines = %v", got)
	}
}
