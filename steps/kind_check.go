package steps

import (
	"context"
	"strings"
)

// KindCheck: a read-only query compared with what is expected.
const KindCheck Kind = "check"

func init() { registerKind(checkKind{}) }

type checkKind struct{}

func (checkKind) spec() kindSpec {
	hint := `a check runs one read-only query: sql = "select ..."`
	return kindSpec{
		kind: KindCheck, order: 40,
		keys:      []string{"sql", "expect", "expect_rows", "expect_empty", "report", "as_role", "settings", "on_fail"},
		misplaced: map[string]string{"file": hint, "statements": hint},
		verifies:  true,
		doc: KindDoc{
			Summary: "a read-only query compared with what is expected",
			Doc: "Runs `sql` read-only (also in a dry run) and compares the result with `expect` (rows), `expect_rows` (a count) or " +
				"`expect_empty`; or, with `report = true`, just shows the rows. With `as_role` and `settings` it runs as that role " +
				"with those settings in a transaction that is always rolled back, which is how row level security is tested. " +
				"A failure does what `on_fail` says. `handrail check RUNBOOK` runs every check without a terminal, for cron.",
			Required: []string{"sql"},
			AnyOf:    [][]string{{"expect", "expect_rows", "expect_empty", "report"}},
			Example: `[[phase.step]]
kind = "check"
id = "viewer-sees-public-only"
title = "Another user sees the owner's public account only"
as_role = "authenticated"
settings = { "request.jwt.claims" = '{"sub":"f0000000-0000-4000-8000-0000000000b2","role":"authenticated"}' }
sql = "select name from public.business_accounts where owner_id = 'f0000000-0000-4000-8000-0000000000a1'"
expect = [{ name = "Smoke Test Public Business" }]
on_fail = "rollback"`,
		},
	}
}

func (checkKind) validate(v *validator, ref stepRef) {
	s, p := ref.s, ref.p
	what := stepWhat(s)
	v.require(ref, "sql", strings.TrimSpace(s.SQL) != "", `sql = "select ..."`)
	if s.SQL != "" {
		v.checkReadOnlySQL(s.SQL, addPath(p, "sql"), what)
		v.r.stmtBase[s.ID] = []int{v.w.textBase(addPath(p, "sql"))}
	}
	if s.Report {
		for _, k := range []string{"expect", "expect_rows", "expect_empty"} {
			if v.has(p, k) {
				v.at(addPath(p, k), Error, "report = true shows the rows and always passes; remove one of them",
					"%s has report = true and %s", what, k)
			}
		}
	} else if !v.bad(addPath(p, "report")) {
		v.validateExpect(p, s.Expect, s.ExpectRows, s.ExpectEmpty, what)
	}
	if v.has(p, "as_role") && strings.TrimSpace(s.AsRole) == "" {
		v.at(addPath(p, "as_role"), Error, "", "as_role is empty")
	}
	v.validateOnFail(ref)
}

func (checkKind) plan(_ *Runbook, s Step, rollback bool, p *PlannedStep) {
	p.SQL = s.SQL
	p.Expect = s.Expectation().String()
	p.OnFail = onFail(s, rollback)
}

// run: see engine_check.go.
func (checkKind) run(e *Engine, ctx context.Context, i int, run bool) (flow, error) {
	return e.runCheck(ctx, i, run)
}

// acceptsActive: a report check that ran shows its rows until enter.
func (checkKind) acceptsActive(st *StepState, t CommandType, _ bool) (bool, string) {
	if t == CmdSkipStep && st.Check != nil {
		return false, "the check has run: press enter to go on"
	}
	return st.acceptsReadOnly(t)
}

func (checkKind) acceptsRunning(_ *StepState, t CommandType) (bool, string) {
	return cancelWhileRunning(t, "the step")
}

func (checkKind) operate(st *StepState, _ Step, _ Operator) (Command, bool) {
	return nextWhenActive(st)
}

func (checkKind) questions(Step) []Question { return nil }

func (checkKind) checks(s Step) []checkQuery {
	return []checkQuery{{title: s.Title, sql: s.SQL, asRole: s.AsRole, settings: s.SessionVars, exp: s.Expectation()}}
}
