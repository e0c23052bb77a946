package steps

import (
	"context"
	"strings"
)

// KindExec: a shell command with streamed output and exit code. Writes.
const KindExec Kind = "exec"

func init() { registerKind(execKind{}) }

type execKind struct{}

func (execKind) spec() kindSpec {
	return kindSpec{
		kind: KindExec, order: 70,
		keys:   []string{"command", "timeout"},
		writes: writesOther,
		doc: KindDoc{
			Summary: "a shell command with streamed output and exit code (writes)",
			Doc: "Like a sql step, it writes: skipped in a dry run, consent first on production. The command runs with `sh -c` in the " +
				"runbook directory; `PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE` (and `PGPASSWORD`, never on the command line) come from " +
				"the target's connection. A non-zero exit code fails the step.",
			Required: []string{"command"},
			Example: `[[phase.step]]
kind = "exec"
id = "backup"
title = "Backup with pg_dump"
command = "pg_dump --format=custom --file=backup.dump"
timeout = "30m"`,
		},
	}
}

func (execKind) validate(v *validator, ref stepRef) {
	s := ref.s
	v.require(ref, "command", strings.TrimSpace(s.Command) != "", `command = "pg_dump ..."`)
	if s.Timeout.Duration < 0 {
		v.at(addPath(ref.p, "timeout"), Error, "", "timeout must not be negative")
	}
}

func (execKind) plan(_ *Runbook, s Step, _ bool, p *PlannedStep) {
	p.SQL = s.Command
	p.Statements = 1
}

// run: see engine_exec.go.
func (execKind) run(e *Engine, ctx context.Context, i int, run bool) (flow, error) {
	return e.runExec(ctx, i, run)
}

func (execKind) acceptsActive(st *StepState, t CommandType, apply bool) (bool, string) {
	return writeStepActive(st, t, apply)
}

func (execKind) acceptsRunning(_ *StepState, t CommandType) (bool, string) {
	return cancelWhileRunning(t, "the step")
}

func (execKind) operate(st *StepState, _ Step, _ Operator) (Command, bool) { return nextWhenActive(st) }

func (execKind) questions(Step) []Question { return nil }

func (execKind) checks(Step) []checkQuery { return nil }
