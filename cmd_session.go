package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/runbooks"
	"github.com/handrail-dev/handrail/session"
	"github.com/handrail-dev/handrail/steps"
)

// The guided session: run and demo (session.Run does the work).

func cmdRun(c *cli, args []string) int {
	fs := c.flags("run")
	dsnFlag := fs.String("db", "", "connection string (URL or key=value); default from --env-file, DATABASE_URL or PG* variables")
	envFile := fs.String("env-file", "", "read DB_NAME/DB_USER/DB_PASSWORD/DB_HOST/DB_PORT (or DATABASE_URL) from this file")
	apply := fs.Bool("apply", false, "really write; without it handrail is a dry run")
	rehearse := rehearseFlag(fs)
	logDir := fs.String("log-dir", "", "directory for the session journal (default $XDG_STATE_HOME/handrail/sessions)")
	operator := fs.String("operator", "", "who is running this (default $USER)")
	resume := fs.String("resume", "", "resume the session recorded in this journal")
	env := fs.String("env", "", "which environment of the runbook: production ([target], the default) or staging ([staging])")
	stagingJournal := fs.String("staging-journal", "", "the staging journal that proves the promotion (default: the newest that does, in the log directory)")
	shareAddr, shareKeys, requireApproval := shareFlags(fs)
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	spec := c.sessionSpec()
	spec.Apply, spec.Operator, spec.LogDir, spec.Env, spec.StagingJournal = *apply, *operator, *logDir, *env, *stagingJournal
	if code := checkRehearse(c, "run", *rehearse, *apply); code != 0 {
		return code
	}
	spec.Rehearse = *rehearse
	spec.ShareAddr, spec.ShareKeys, spec.RequireApproval = *shareAddr, *shareKeys, *requireApproval
	if code := checkRequireApproval(c, *requireApproval); code != 0 {
		return code
	}
	switch {
	case *resume != "" && len(pos) == 0:
		spec.Resume = *resume
	case *resume == "" && len(pos) == 1:
		spec.RunbookArg = pos[0]
	default:
		fs.Usage()
		return steps.ExitUsage
	}
	target, code := c.resolveTarget("run", *dsnFlag, *envFile)
	if code != 0 {
		return code
	}
	spec.Target = target
	return session.Run(spec)
}

// rehearseFlag is run's and demo's --rehearse.
func rehearseFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("rehearse", false, "rehearse: run each transactional sql step in a transaction that is always rolled back, and record the locks\nit takes and for how long against lockcheck's prediction (nothing stays; a production target asks the consent, as a write does)")
}

// sessionSpec is a guided session's spec with what the process gives it.
func (c *cli) sessionSpec() session.Spec {
	return session.Spec{Version: version, Environ: c.environ, Stdout: c.stdout, Stderr: c.stderr, Frontend: c.frontend}
}

func cmdDemo(c *cli, args []string) int {
	fs := c.flags("demo")
	target := fs.String("target", "prod", "which sandbox database to run against: prod, or staging to see the identity hard stop")
	apply := fs.Bool("apply", false, "really write (to the throwaway sandbox)")
	rehearse := rehearseFlag(fs)
	logDir := fs.String("log-dir", "", "directory for the session journal (default $XDG_STATE_HOME/handrail/demo-sessions, apart from real sessions)")
	env := fs.String("env", "", "which environment of the runbook: production (default) or staging, which runs its [staging] environment against\nthe sandbox's staging database: its journal then proves the promotion to a later production demo")
	dsnFile := fs.String("dsn-file", "", "write the sandbox's connection strings to this file while the demo runs (removed on exit), to look at its databases\nfrom another window: . FILE; psql \"$DATABASE_URL\" (or handrail check RUNBOOK --env-file FILE)")
	shareAddr, shareKeys, requireApproval := shareFlags(fs)
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	name := "connect-rls-hardening"
	if len(pos) == 1 {
		name = pos[0]
	} else if len(pos) > 1 {
		fs.Usage()
		return steps.ExitUsage
	}
	if code := checkRehearse(c, "demo", *rehearse, *apply); code != 0 {
		return code
	}
	if *target != "prod" && *target != "staging" {
		fmt.Fprintf(c.stderr, "handrail demo: --target must be prod or staging, not %q\n", *target)
		return steps.ExitUsage
	}
	if *env == steps.EnvStaging {
		*target = "staging"
	}
	if *logDir == "" {
		d, err := journal.DemoDir()
		if err != nil {
			fmt.Fprintf(c.stderr, "handrail demo: %v\n", err)
			return steps.ExitUsage
		}
		*logDir = d
	}
	own, code := c.ownDemoRunbook(name)
	if code != 0 {
		return code
	}
	spec := c.sessionSpec()
	spec.RunbookArg, spec.Apply, spec.Operator, spec.LogDir, spec.Demo, spec.Env = name, *apply, "demo", *logDir, true, *env
	spec.Loaded = own // loaded once (nil for an example: the session loads it)
	spec.Rehearse = *rehearse
	spec.ShareAddr, spec.ShareKeys, spec.RequireApproval = *shareAddr, *shareKeys, *requireApproval
	if code := checkRequireApproval(c, *requireApproval); code != 0 {
		return code
	}
	// Whatever the session would refuse without a database is refused
	// before the throwaway PostgreSQL starts (seconds, for nothing).
	if code := spec.Check(); code != 0 {
		return code
	}
	if code := c.demoTerminal(); code != 0 {
		return code
	}
	ctx, stop := signalContext()
	defer stop()
	fmt.Fprintln(c.stderr, "handrail demo: starting a throwaway PostgreSQL (removed on exit)...")
	sb, err := db.StartSandbox(ctx, db.SandboxOptions{})
	if err != nil {
		fmt.Fprintf(c.stderr, "handrail demo: %v\n", err)
		return steps.ExitFailed
	}
	defer sb.Stop()
	dbs, err := db.SetupDemoDatabases(ctx, sb, fixtures())
	if err != nil {
		fmt.Fprintf(c.stderr, "handrail demo: loading the example databases: %v\n", err)
		return steps.ExitFailed
	}
	role := db.DemoRoleConnectProd
	switch {
	case name == "tenant-rls-fix":
		role = db.DemoRoleTenant
	case *target == "staging":
		role = db.DemoRoleConnectStaging
	case own != nil:
		d, err := db.CreateScratchDatabase(ctx, sb, fixtures(), own.Target.ProjectID)
		if err != nil {
			fmt.Fprintf(c.stderr, "handrail demo: %v\n", err)
			return steps.ExitFailed
		}
		dbs, role = append(dbs, d), d.Role
		fmt.Fprintf(c.stderr, "handrail demo: your runbook runs against database %q: Supabase-like (roles, auth and storage schemas, none of your tables), stamped %s\n", d.Name, d.ProjectID)
	}
	var dsn string
	for _, d := range dbs {
		if d.Role == role {
			dsn = d.DSN
		}
	}
	if spec.Target, err = db.ParseTarget(dsn); err != nil {
		fmt.Fprintf(c.stderr, "handrail demo: the sandbox's connection string: %v\n", err)
		return steps.ExitFailed
	}
	if *dsnFile != "" {
		if err := writeDSNFile(*dsnFile, dsn, dbs); err != nil {
			fmt.Fprintf(c.stderr, "handrail demo: --dsn-file: %v\n", err)
			return steps.ExitFailed
		}
		defer os.Remove(*dsnFile)
	}
	return session.Run(spec)
}

// demoTerminal refuses a demo without a terminal before its sandbox
// starts (seconds, for nothing); a scripted operator (tests) needs none.
func (c *cli) demoTerminal() int {
	if c.frontend != nil {
		return 0
	}
	_, closeScreen, err := session.Screen()
	if err != nil {
		fmt.Fprintf(c.stderr, "handrail demo: the demo needs a terminal (%v); nothing was started.\n"+
			"Run it from an interactive shell (over SSH, inside tmux or screen).\n", err)
		return steps.ExitUsage
	}
	closeScreen()
	return 0
}

// ownDemoRunbook loads RUNBOOK for the demo when it is not one of the
// examples (nil if it is): the demo proves the scratch database with a
// stamp of its project_id, so that must be a stampable id.
func (c *cli) ownDemoRunbook(name string) (*steps.Runbook, int) {
	if _, err := os.Stat(name); err != nil && slices.Contains(runbooks.Names(), name) {
		return nil, 0
	}
	rb, problems := session.LoadRunbook(name)
	if rb == nil || len(problems.Errors()) > 0 {
		steps.FormatProblems(c.stderr, problems)
		return nil, steps.ExitUsage
	}
	if err := db.ValidateStampID(rb.Target.ProjectID); err != nil {
		fmt.Fprintf(c.stderr, "handrail demo: the demo proves its database with a stamp of [target] project_id, and this one cannot be stamped: %v\n", err)
		return nil, steps.ExitUsage
	}
	if !slices.Contains(rb.Target.Identity, steps.IdentityStamp) {
		fmt.Fprintf(c.stderr, "handrail demo: warning: [target] identity has no %q source, and the sandbox can prove nothing else: the run will stop at the identity check\n", steps.IdentityStamp)
	}
	return rb, 0
}

// writeDSNFile writes the demo's connection strings as a dotenv file that
// a shell can source and --env-file reads: DATABASE_URL is the demo's
// target, NAME_URL each sandbox database. It appears complete or not at
// all (rename), readable by the owner only: it holds the password.
func writeDSNFile(path, target string, dbs []db.DemoDatabase) error {
	var b strings.Builder
	b.WriteString("# handrail demo sandbox: valid while the demo runs; removed when it exits.\n")
	b.WriteString("# . THIS_FILE; psql \"$DATABASE_URL\"    or    handrail check RUNBOOK --env-file THIS_FILE\n")
	fmt.Fprintf(&b, "DATABASE_URL='%s'\n", target)
	for _, d := range dbs {
		fmt.Fprintf(&b, "%s_URL='%s'\n", strings.ToUpper(d.Name), d.DSN)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".handrail-dsn-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// shareFlags declares --share, --share-keys and --require-approval (run
// and demo).
func shareFlags(fs *flag.FlagSet) (addr, keys *string, approvals *int) {
	addr = fs.String("share", "", "let pair partners watch this session over SSH on ADDR (ssh -p PORT HOST). A port alone\n"+
		"(:2222) listens on loopback (127.0.0.1) only; any other address must be given explicitly,\n"+
		"e.g. 0.0.0.0:2222 for every interface. Needs --share-keys")
	keys = fs.String("share-keys", "", "who may join with --share: one OpenSSH public key a line, its comment the partner's\n"+
		"name and role: ssh-ed25519 AAAA... alice observer (role observer or approver)")
	approvals = fs.Int("require-approval", 0, "every write waits until N approvers (partners with the approver role, never the operator)\n"+
		"typed the project id on their own screens; at least the runbook's [approval] required. Needs --share")
	return addr, keys, approvals
}

// checkRehearse refuses --rehearse with --apply (run's and demo's).
func checkRehearse(c *cli, cmd string, rehearse, apply bool) int {
	if rehearse && apply {
		fmt.Fprintf(c.stderr, "handrail %s: --rehearse applies nothing (every transactional sql step is rolled back): it cannot be combined with --apply. "+
			"Nothing was run: drop --apply to rehearse, or --rehearse to apply.\n", cmd)
		return steps.ExitUsage
	}
	return 0
}

// checkRequireApproval refuses a --require-approval out of range.
func checkRequireApproval(c *cli, n int) int {
	if n < 0 || n > steps.MaxApprovers {
		fmt.Fprintf(c.stderr, "handrail: --require-approval %d: give a number of approvers from 0 to %d\n", n, steps.MaxApprovers)
		return steps.ExitUsage
	}
	return 0
}
