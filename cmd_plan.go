package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/handrail-dev/handrail/apply"
	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/session"
	"github.com/handrail-dev/handrail/steps"
)

// Unattended: plan and apply (package apply does the work).

func cmdPlan(c *cli, args []string) int {
	fs := c.flags("plan")
	dsnFlag := fs.String("db", "", "connection string; default from --env-file, DATABASE_URL or PG* variables")
	envFile := fs.String("env-file", "", "read DB_* variables (or DATABASE_URL) from this file")
	out := fs.String("o", "", "the plan file to write (plain JSON; review it with the change)")
	env := fs.String("env", "", "which environment of the runbook: production ([target], the default) or staging ([staging])")
	stagingJournal := fs.String("staging-journal", "", "the staging journal that proves the promotion (default: the newest that does, in the log directory)")
	logDir := fs.String("log-dir", "", "where staging journals are looked for (default $XDG_STATE_HOME/handrail/sessions)")
	operator := fs.String("operator", "", "who makes the plan (default $USER)")
	arg, code, ok := parseOne(fs, args, "RUNBOOK")
	if !ok {
		return code
	}
	if *out == "" {
		fmt.Fprintln(c.stderr, "handrail plan: -o PLAN is required (the plan file to write)")
		return steps.ExitUsage
	}
	rb, problems := session.LoadRunbook(arg)
	if rb == nil || len(problems.Errors()) > 0 {
		steps.FormatProblems(c.stderr, problems)
		return steps.ExitUsage
	}
	rb, err := rb.ForEnv(*env)
	if err != nil {
		fmt.Fprintf(c.stderr, "handrail plan: --env: %v\n", err)
		return steps.ExitUsage
	}
	target, code := c.resolveTarget("plan", *dsnFlag, *envFile)
	if code != 0 {
		return code
	}
	dir, code := c.logDir("plan", *logDir)
	if code != 0 {
		return code
	}
	if *operator == "" {
		*operator = session.CurrentUser(c.environ)
	}
	ctx, stop := signalContext()
	defer stop()
	return apply.MakePlan(ctx, apply.PlanOptions{
		Runbook: rb, RunbookPath: session.RunbookRef(arg), Warnings: problems, Target: target, Out: *out, Operator: *operator,
		Version: version, StagingJournal: *stagingJournal, LogDir: dir, Stdout: c.stdout, Stderr: c.stderr,
	})
}

func cmdApply(c *cli, args []string) int {
	fs := c.flags("apply")
	planPath := fs.String("plan", "", "the plan file written by handrail plan")
	dsnFlag := fs.String("db", "", "connection string; default from --env-file, DATABASE_URL or PG* variables")
	envFile := fs.String("env-file", "", "read DB_* variables (or DATABASE_URL) from this file")
	confirm := fs.String("confirm", "", "the target's project id, typed out: the production consent of an unattended apply (there is no --yes)")
	answers := fs.String("answers", "", "the answers file: checklist items, confirm texts and manual results answered in advance, with who and when")
	asJSON := fs.Bool("json", false, "print progress as JSON lines (the events as journaled)")
	logDir := fs.String("log-dir", "", "directory for the session journal, and where staging journals are looked for (default $XDG_STATE_HOME/handrail/sessions)")
	operator := fs.String("operator", "", "who runs the apply (default: who made the plan)")
	stagingJournal := fs.String("staging-journal", "", "the staging journal that proves the promotion (default: the newest that does, in the log directory)")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	if *planPath == "" || *confirm == "" {
		fmt.Fprintln(c.stderr, "handrail apply: --plan PLAN and --confirm PROJECT_ID are required")
		fs.Usage()
		return steps.ExitUsage
	}
	target, code := c.resolveTarget("apply", *dsnFlag, *envFile)
	if code != 0 {
		return code
	}
	dir, code := c.logDir("apply", *logDir)
	if code != 0 {
		return code
	}
	interrupt := make(chan struct{})
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; ok {
			close(interrupt)
		}
	}()
	return apply.Apply(context.Background(), apply.Options{
		PlanPath: *planPath, Load: session.LoadRunbook, Target: target, Confirm: *confirm, Answers: *answers, JSON: *asJSON,
		LogDir: dir, Operator: *operator, StagingJournal: *stagingJournal, Version: version, Environ: c.environ,
		Stdout: c.stdout, Stderr: c.stderr, Interrupt: interrupt,
	})
}

// logDir is --log-dir, or the default session directory.
func (c *cli) logDir(cmd, flagDir string) (string, int) {
	if flagDir != "" {
		return flagDir, 0
	}
	d, err := journal.DefaultDir()
	if err != nil {
		fmt.Fprintf(c.stderr, "handrail %s: %v\n", cmd, err)
		return "", steps.ExitUsage
	}
	return d, 0
}
