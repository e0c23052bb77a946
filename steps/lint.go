package steps

import (
	"fmt"
	"io"
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
// (hint)", then a summary line when there were any.
func FormatProblems(w io.Writer, ps Problems) {
	for _, p := range ps {
		fmt.Fprintln(w, p.String())
	}
	if len(ps) > 0 {
		fmt.Fprintln(w, ps.Summary())
	}
}
