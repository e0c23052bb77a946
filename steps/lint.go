package steps

import (
	"fmt"
	"io"

	"github.com/handrail-dev/handrail/internal/termsafe"
)

// Lint loads and validates each runbook path (a directory or a .toml
// file) and returns every problem found; ok is false when any of them is
// an error (warnings alone are fine).
func Lint(paths ...string) (out []Problem, ok bool) {
	for _, p := range paths {
		_, ps := Load(p)
		out = append(out, ps...)
	}
	return out, !Problems(out).HasErrors()
}

// FormatProblems writes one line per problem, "path:line:col: error: msg
// (hint)", then a summary line when there were any. A message may quote
// the runbook or a SQL file: each line is escaped (termsafe), so it stays
// one line and cannot act on the terminal.
func FormatProblems(w io.Writer, ps Problems) {
	for _, p := range ps {
		fmt.Fprintln(w, termsafe.Line(p.String()))
	}
	if len(ps) > 0 {
		fmt.Fprintln(w, ps.Summary())
	}
}
