package scaffold

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/handrail-dev/handrail/steps"
)

// Report tells the author what was written, what was left out and why,
// and what lint says is still to do (problems: steps.Load of the written
// runbook).
func (p *Plan) Report(w io.Writer, problems steps.Problems) {
	fmt.Fprintf(w, "wrote %s: %d sql step(s), one per migration file, in this order:\n", p.Path, len(p.Migrations))
	for _, m := range p.Migrations {
		note := ""
		switch {
		case m.NoTransaction != "":
			note = "  (transaction = false: " + m.NoTransaction + ")"
		case m.TransactionControl != "":
			note = "  (has its own " + m.TransactionControl + ": see lint below)"
		}
		fmt.Fprintf(w, "  %-40s %s%s\n", m.StepID, m.File, note)
	}
	for _, s := range p.Skipped {
		fmt.Fprintf(w, "skipped %s: %s\n", s.Name, s.Why)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	arg := filepath.ToSlash(p.Dir)
	errs, warns := problems.Errors(), problems.Warnings()
	switch {
	case len(errs) > 0:
		fmt.Fprintf(w, "\nhandrail lint finds %s; fix the errors before the runbook can run:\n", problems.Summary())
	case len(warns) > 0:
		fmt.Fprintf(w, "\nhandrail lint: no errors; %d warning(s), the TODOs left for you before a real run:\n", len(warns))
	default:
		fmt.Fprintln(w, "\nhandrail lint: no problems.")
	}
	for _, pr := range problems {
		fmt.Fprintf(w, "  %s\n", pr)
	}
	fmt.Fprintf(w, `
next:
  handrail lint %[1]s              # what is still open
  handrail demo %[1]s              # dry run against a throwaway local PostgreSQL
  handrail demo %[1]s --apply      # really apply the migrations, to that sandbox
`, arg)
}
