package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/session"
	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/steps/scaffold"
)

// Runbooks and databases: lint, new, sandbox, stamp and check.

func cmdLint(c *cli, args []string) int {
	fs := c.flags("lint")
	strict := fs.Bool("strict", false, "treat warnings (lock hazards included) as errors: exit 2 on any")
	paths, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(paths) == 0 {
		fs.Usage()
		return steps.ExitUsage
	}
	failed := false
	for _, p := range paths {
		rb, problems := session.LoadRunbook(p)
		if rb != nil && !problems.HasErrors() {
			problems = append(problems, rb.LintLocks()...)
		}
		if *strict {
			problems = problems.Strict()
		}
		steps.FormatProblems(c.stdout, problems)
		if len(problems.Errors()) > 0 || rb == nil {
			failed = true
			continue
		}
		fmt.Fprintf(c.stdout, "%s: ok (%d steps, %d warnings, sha256 %s)\n", p, len(rb.AllSteps()), len(problems.Warnings()), rb.Hash[:12])
	}
	if failed {
		return steps.ExitUsage
	}
	return steps.ExitOK
}

func cmdNew(c *cli, args []string) int {
	fs := c.flags("new")
	out := fs.String("out", "", "the runbook.toml to write, or its directory; it must be at or above MIGRATIONS_DIR\n(default: runbook.toml in MIGRATIONS_DIR's parent, e.g. supabase/runbook.toml)")
	id := fs.String("id", "", "the runbook id (default: from the project directory's name)")
	after := fs.String("after", "", "leave out the migrations the target already has: files named at or before this (e.g. a version like 20240601000000)")
	dir, code, ok := parseOne(fs, args, "MIGRATIONS_DIR (a directory of .sql files)")
	if !ok {
		return code
	}
	plan, err := scaffold.Make(scaffold.Options{Migrations: dir, Out: *out, ID: *id, After: *after})
	if err == nil {
		err = plan.Write()
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "handrail new: %v\n", err)
		return steps.ExitUsage
	}
	_, problems := steps.Load(plan.Path)
	plan.Report(c.stdout, problems)
	return steps.ExitOK
}

// signalContext is cancelled on ctrl+c, SIGTERM, a closed terminal (SIGHUP)
// or a reader of our output that went away (SIGPIPE, e.g. `| tee` stopped by
// the same ctrl+c), so that the sandbox is always stopped and removed
// instead of the process dying on the spot.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
}

func fixtures() fs.FS {
	sub, err := fs.Sub(fixtureFS, "testdata/fixtures")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

func cmdSandbox(c *cli, args []string) int {
	fs := c.flags("sandbox")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	ctx, stop := signalContext()
	defer stop()
	sb, err := db.StartSandbox(ctx, db.SandboxOptions{Stdout: c.stderr})
	if err != nil {
		fmt.Fprintf(c.stderr, "handrail sandbox: %v\n", err)
		return steps.ExitFailed
	}
	defer sb.Stop()
	dbs, err := db.SetupDemoDatabases(ctx, sb, fixtures())
	if err != nil {
		fmt.Fprintf(c.stderr, "handrail sandbox: loading the example databases: %v\n", err)
		return steps.ExitFailed
	}
	fmt.Fprintln(c.stdout, "Sandbox PostgreSQL is running. Databases:")
	for _, d := range dbs {
		id := d.ProjectID
		if id == "" {
			id = "(not stamped)"
		}
		fmt.Fprintf(c.stdout, "  %-16s %-22s %s\n", d.Name, id, d.DSN)
	}
	fmt.Fprintf(c.stdout, "\nTry: psql '%s'\n", dbs[0].DSN)
	fmt.Fprintf(c.stdout, "     handrail run connect-rls-hardening --db '%s'\n", dbs[0].DSN)
	fmt.Fprintln(c.stdout, "Press ctrl+c to stop and remove it.")
	<-ctx.Done()
	fmt.Fprintln(c.stderr, "stopping sandbox")
	return steps.ExitOK
}

func cmdStamp(c *cli, args []string) int {
	fs := c.flags("stamp")
	dsnFlag := fs.String("db", "", "connection string (URL or key=value); default from DATABASE_URL or PG* variables")
	envFile := fs.String("env-file", "", "read DB_NAME/DB_USER/DB_PASSWORD/DB_HOST/DB_PORT (or DATABASE_URL) from this file")
	id := fs.String("id", "", "the project id to record (e.g. a Supabase project ref)")
	force := fs.Bool("force", false, "overwrite a different id already recorded")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	if *id == "" {
		fmt.Fprintln(c.stderr, "handrail stamp: --id is required")
		return steps.ExitUsage
	}
	if err := db.ValidateStampID(*id); err != nil {
		fmt.Fprintf(c.stderr, "handrail stamp: --id: %v\n", err)
		return steps.ExitUsage
	}
	target, code := c.resolveTarget("stamp", *dsnFlag, *envFile)
	if code != 0 {
		return code
	}
	ctx, stop := signalContext()
	defer stop()
	// Through db.Connect, as a session connects: the transaction-mode
	// pooler is refused, and pg_stat_activity says who is there.
	t, err := db.Connect(ctx, target, db.ConnectOptions{AppName: "handrail-stamp"})
	if err != nil {
		fmt.Fprintf(c.stderr, "handrail stamp: connecting to %s (from %s): %v\n", target, target.From(), err)
		return steps.ExitFailed
	}
	defer t.Close()
	prev, err := t.Stamp(ctx, *id, *force)
	if err != nil {
		fmt.Fprintf(c.stderr, "handrail stamp: %v\n", err)
		if errors.Is(err, db.ErrStampConflict) {
			return steps.ExitIdentity
		}
		return steps.ExitFailed
	}
	switch prev {
	case *id:
		fmt.Fprintf(c.stdout, "database %s already stamped %s; nothing to do\n", t.Database(), *id)
	case "":
		fmt.Fprintf(c.stdout, "stamped database %s as %s\n", t.Database(), *id)
	default:
		fmt.Fprintf(c.stdout, "re-stamped database %s: %s -> %s\n", t.Database(), prev, *id)
	}
	return steps.ExitOK
}

// resolveTarget applies --db, --env-file, DATABASE_URL and PG* variables.
// A connection that cannot be resolved is a usage error: nothing connected.
func (c *cli) resolveTarget(cmd, flagDSN, envFile string) (*db.ConnTarget, int) {
	target, warnings, err := db.Resolve(db.DSNSource{Flag: flagDSN, EnvFile: envFile})
	if code := c.targetResolved(cmd, warnings, err); code != 0 {
		return nil, code
	}
	return target, 0
}

// targetResolved prints what db.Resolve said (its warnings, its error)
// and returns the exit code: usage when the connection is not resolved.
func (c *cli) targetResolved(cmd string, warnings []string, err error) int {
	for _, w := range warnings {
		fmt.Fprintf(c.stderr, "handrail %s: warning: %s\n", cmd, w)
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "handrail %s: %v\n", cmd, err)
		return steps.ExitUsage
	}
	return 0
}

// checkGCPercent is handrail check's GOGC (see cmdCheck).
const checkGCPercent = 400

func cmdCheck(c *cli, args []string) int {
	fs := c.flags("check")
	dsnFlag := fs.String("db", "", "connection string; default from DATABASE_URL or PG* variables")
	envFile := fs.String("env-file", "", "read DB_* variables (or DATABASE_URL) from this file")
	asJSON := fs.Bool("json", false, "print results as JSON")
	arg, code, ok := parseOne(fs, args, "RUNBOOK")
	if !ok {
		return code
	}
	if os.Getenv("GOGC") == "" {
		// check is a short process with a small live heap (the runbook,
		// the rows kept per check): with the default GOGC=100 the garbage
		// collector runs several times while the runbook loads, ~3 ms of a
		// ~40 ms check of 200 queries (issue 15). A user's GOGC wins.
		defer debug.SetGCPercent(debug.SetGCPercent(checkGCPercent))
	}
	// The connection is dialled while the runbook loads (the two take
	// about as long, ~5 ms each for 200 checks): it sends nothing until
	// the runbook has loaded and names the target whose identity the
	// probes check first. What either says is printed in the order it
	// always was: the runbook's problems, then the connection's.
	target, warnings, rerr := db.Resolve(db.DSNSource{Flag: *dsnFlag, EnvFile: *envFile})
	ctx, stop := signalContext()
	defer stop()
	var dial *steps.CheckDial
	if rerr == nil {
		dial = steps.DialChecks(ctx, target)
	}
	rb, problems := session.LoadRunbook(arg)
	if rb == nil || len(problems.Errors()) > 0 {
		if dial != nil {
			dial.Close()
		}
		steps.FormatProblems(c.stderr, problems)
		return steps.CheckStoppedEarly(c.stdout, *asJSON, arg, "the runbook does not load: "+problems.Errors().Error(), steps.ExitUsage)
	}
	if code := c.targetResolved("check", warnings, rerr); code != 0 {
		return steps.CheckStoppedEarly(c.stdout, *asJSON, arg, rerr.Error(), code)
	}
	return steps.RunChecksDialed(ctx, rb, dial, c.stdout, *asJSON)
}
