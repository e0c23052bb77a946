package steps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// KindSQL: runs a file or inline statements against the target, in one
// transaction by default. Writes.
const KindSQL Kind = "sql"

func init() { registerKind(sqlKind{}) }

type sqlKind struct{}

func (sqlKind) spec() kindSpec {
	return kindSpec{
		kind: KindSQL, order: 30,
		keys:      []string{"file", "statements", "transaction"},
		misplaced: map[string]string{"sql": `a sql step runs file = "..." or statements = ["..."]`},
		writes:    writesSQL,
		doc: KindDoc{
			Summary: "runs a SQL file or inline statements against the target (writes)",
			Doc: "Shows what it would run; `enter` runs it. Without `--apply` (a dry run) it is skipped and nothing is sent. " +
				"Before the first write to a `production` target the operator types the project id. The intent is journaled and " +
				"fsynced before the first statement is sent; the statements stream their rows and notices into the pane; " +
				"`ctrl+c` sends a cancel request. `file` or `statements`, not both.",
			AnyOf: [][]string{{"file", "statements"}},
			Example: `[[phase.step]]
kind = "sql"
id = "apply-001"
title = "Apply migration 001"
file = "migrations/001.sql"`,
			Files: map[string]string{"migrations/001.sql": "alter table public.orders add column note text;\n"},
		},
	}
}

func (sqlKind) plan(rb *Runbook, s Step, _ bool, p *PlannedStep) {
	if n, err := rb.StatementCount(s); err == nil {
		p.Statements = n
	}
}

// run: see engine_sql.go.
func (sqlKind) run(e *Engine, ctx context.Context, i int, run bool) (flow, error) {
	return e.runSQL(ctx, i, run)
}

func (sqlKind) acceptsActive(st *StepState, t CommandType, apply bool) (bool, string) {
	return writeStepActive(st, t, apply)
}

// writeStepActive: a writing step waits for enter, and cannot be skipped.
func writeStepActive(st *StepState, t CommandType, apply bool) (bool, string) {
	if !apply {
		return t == CmdNext, fmt.Sprintf("step %q is shown, not run, in a dry run: press enter to go on", st.ID)
	}
	return t == CmdNext, fmt.Sprintf("step %q writes: run it, roll back, or quit; it cannot be skipped", st.ID)
}

func (sqlKind) acceptsRunning(st *StepState, t CommandType) (bool, string) {
	what := "the step"
	if s := st.Statement; s != nil {
		what = fmt.Sprintf("statement %d of %d", s.Index+1, s.Count)
	}
	return cancelWhileRunning(t, what)
}

// operate: a high-severity lock finding is a person's to acknowledge; a
// scripted operator has nothing to say to it.
func (sqlKind) operate(st *StepState, _ Step, _ Operator) (Command, bool) {
	if len(st.PendingAcks()) > 0 {
		return Command{}, false
	}
	return nextWhenActive(st)
}

func (sqlKind) questions(Step) []Question { return nil }

func (sqlKind) checks(Step) []checkQuery { return nil }

func (sqlKind) validate(v *validator, ref stepRef) {
	s, p := ref.s, ref.p
	hasFile, hasStmts := v.has(p, "file"), v.has(p, "statements")
	switch {
	case hasFile && hasStmts:
		v.at(addPath(p, "statements"), Error, "keep one of them", "sql step %q has both file and statements", s.ID)
		return
	case !hasFile && !hasStmts:
		v.at(p, Error, `file = "migrations/001.sql" or statements = ["..."]`, "sql step %q needs file or statements", s.ID)
		return
	}
	srcs, ok := v.sqlSources(ref, hasFile)
	if !ok {
		return
	}
	count, notText := 0, false
	for _, sc := range srcs {
		n, text := v.checkSQLSource(s, sc)
		count += n
		notText = notText || !text
	}
	if count == 0 && hasFile && !notText {
		v.at(addPath(p, "file"), Error, "", "%s contains no SQL statements", v.r.showPath(s.File))
	}
}

// sqlSource is one SQL text of a sql step: its file, or one string of
// its statements list.
type sqlSource struct {
	rel   string // the file, runbook-relative ("" for inline SQL)
	text  string
	where []string // the key it comes from
}

// atSource adds a problem at a line (1-based) and column of a SQL text.
func (v *validator) atSource(sc sqlSource, line, col int, sev Severity, hint, format string, args ...any) {
	if sc.rel != "" {
		v.inFile(sc.rel, line, col, sev, hint, format, args...)
		return
	}
	v.inText(sc.where, line, col, sev, hint, format, args...)
}

// sqlSources reads a sql step's file (keeping it in r, so that what is
// validated and hashed is what runs) or lists its inline statements.
func (v *validator) sqlSources(ref stepRef, hasFile bool) ([]sqlSource, bool) {
	r, s, p := v.r, ref.s, ref.p
	if hasFile {
		fp := addPath(p, "file")
		if v.bad(fp) {
			return nil, false
		}
		rel, err := cleanRel(s.File)
		if err != nil {
			v.at(fp, Error, "paths are relative to the runbook directory", "%v: %q", err, s.File)
			return nil, false
		}
		s.File = rel
		text, ok := r.files[rel]
		if !ok {
			var err error
			if text, err = r.readFile(rel); err != nil {
				msg := "cannot read"
				if errors.Is(err, fs.ErrNotExist) {
					msg = "no such file"
				}
				v.at(fp, Error, "paths are relative to the runbook directory "+r.showPath("."), "%s: %s", msg, r.showPath(rel))
				return nil, false
			}
			r.files[rel] = text
		}
		return []sqlSource{{rel: rel, text: text, where: fp}}, true
	}
	sp := addPath(p, "statements")
	if v.bad(sp) {
		return nil, false
	}
	if len(s.Statements) == 0 {
		v.at(sp, Error, "", "sql step %q has an empty statements list", s.ID)
		return nil, false
	}
	var srcs []sqlSource
	var bases []int
	for i, text := range s.Statements {
		ep := addPath(sp, idxSeg(i))
		bases = append(bases, v.w.textBase(ep))
		srcs = append(srcs, sqlSource{text: text, where: ep})
	}
	r.stmtBase[s.ID] = bases
	return srcs, true
}

// checkSQLSource splits one SQL text and checks its statements: text
// PostgreSQL can read, no psql meta-commands, and, in a transactional
// step, nothing that cannot run or would end the transaction. It returns
// how many statements the text holds, and false when it is not text.
func (v *validator) checkSQLSource(s *Step, sc sqlSource) (int, bool) {
	if f := sqlTextFault(sc.text); f != nil {
		col := f.Col
		if sc.rel == "" {
			col = 0 // escapes in a TOML string make the column unknowable
		}
		v.atSource(sc, f.Line, col, Error, f.Hint, "%s", f.What)
		return 0, false
	}
	// StepStatements and stepList answer from the list kept here: a long
	// migration is split once, not again for the plan and for the run.
	// It is kept as views into the file (12 bytes a statement), the list
	// the step's events share. Each statement is checked as the split
	// finds it.
	keep := sc.rel != "" && v.r.splits != nil
	first := len(v.probs)
	n, l, issue := splitFile(sc.text, sc.rel, keep, func(st Statement) { v.checkStatement(s, sc, st) })
	if l != nil {
		v.r.splits[sc.rel] = l
	}
	if issue != nil {
		v.atSource(sc, issue.Line, column(sc.text, issue.Offset), Error,
			"the rest of the script would be swallowed into one statement", "%s", issue.What)
		// Reported before the statements' problems, as when the whole
		// text was split first.
		last := v.probs[len(v.probs)-1]
		copy(v.probs[first+1:], v.probs[first:len(v.probs)-1])
		v.probs[first] = last
	}
	if n == 0 && sc.rel == "" {
		v.at(sc.where, Error, "", "statement is empty")
	}
	return n, true
}

// column is the 1-based byte column of offset off in src.
func column(src string, off int) int {
	return off - strings.LastIndexByte(src[:off], '\n')
}

// checkStatement checks one statement of a sql step.
func (v *validator) checkStatement(s *Step, sc sqlSource, st Statement) {
	if strings.HasPrefix(st.SQL, `\`) {
		v.atSource(sc, st.Line, column(sc.text, st.Offset), Error, "handrail sends statements to the server; psql meta-commands cannot run",
			"psql meta-command %s", strings.Fields(st.SQL)[0])
		return
	}
	if !s.IsTransactional() {
		return
	}
	reason, tc := sqlscan.StatementTransactionFaults(st.SQL)
	if reason == "" && tc == "" {
		return
	}
	col := column(sc.text, st.Offset)
	if reason != "" {
		v.atSource(sc, st.Line, col, Error, fmt.Sprintf("set transaction = false on step %s", s.ID), "%s", reason)
	}
	if tc != "" {
		v.atSource(sc, st.Line, col, Error,
			fmt.Sprintf("remove it: step %s already runs in one transaction (or set transaction = false)", s.ID),
			"%s inside a transactional step would end handrail's transaction early", tc)
	}
}
