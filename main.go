// Command handrail walks an operator through a production PostgreSQL
// change. This file parses the command line and wires the packages
// together; the logic lives in steps, db, journal and ui.
package main

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"

	"github.com/handrail-dev/handrail/apply"
	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/internal/termsafe"
	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/promote"
	"github.com/handrail-dev/handrail/runbooks"
	"github.com/handrail-dev/handrail/share"
	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/steps/scaffold"
	"github.com/handrail-dev/handrail/ui"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// The sandbox fixtures are embedded so `handrail demo` and `handrail
// sandbox` work from an installed binary, without a checkout.
//
//go:embed testdata/fixtures/*.sql
var fixtureFS embed.FS

type command struct {
	name    string
	args    string
	summary string
	run     func(c *cli, args []string) int
}

// cli carries the process's streams and environment so tests can run commands.
type cli struct {
	stdout, stderr io.Writer
	// environ is the base environment of exec steps, and where the
	// operator's name and SSH session are read. The connection settings
	// (PG*, DATABASE_URL) are read from the process environment, by pgx as
	// by every libpq program (see db.Resolve).
	environ []string
	// frontend shows a live session and sends the operator's commands to
	// the engine; nil means the screen (openScreen). Tests put a
	// scripted operator here to run the real `run` command headless.
	frontend func(eng *steps.Engine, rb *steps.Runbook, opts ui.Options) (steps.Outcome, error)
}

var commands []command

func init() {
	commands = []command{
		{"run", "RUNBOOK --db DSN [--apply] [--env-file F] [--log-dir D] [--operator NAME] [--share ADDR --share-keys F] | --resume LOG --db DSN [--apply]", "run a runbook against a database (dry run unless --apply)", cmdRun},
		{"demo", "[RUNBOOK] [--target prod|staging] [--apply] [--dsn-file F] [--share ADDR --share-keys F]", "run an example runbook, or your own, against a throwaway local PostgreSQL", cmdDemo},
		{"sandbox", "", "start the throwaway PostgreSQL with the example databases; print DSNs; wait for ctrl+c", cmdSandbox},
		{"new", "MIGRATIONS_DIR [--out PATH] [--id ID] [--after VERSION]", "write a first runbook for a directory of migration files (one sql step per file)", cmdNew},
		{"lint", "RUNBOOK... [--strict]", "check runbooks for errors (exit 2) and warnings, lock hazards included", cmdLint},
		{"plan", "RUNBOOK --db DSN -o PLAN [--env production|staging] [--staging-journal LOG]", "prove the target, run the checks before the first write, fingerprint the schema: a plan for apply (no terminal)", cmdPlan},
		{"apply", "--plan PLAN --db DSN --confirm PROJECT_ID [--answers FILE] [--json]", "apply a plan unattended (CI): refuses a stale plan; human steps answered from --answers", cmdApply},
		{"check", "RUNBOOK --db DSN [--json]", "identity + read-only checks + the locks weighed on the target, no TTY (for cron); exit code says the result", cmdCheck},
		{"stamp", "--db DSN --id PROJECT_ID [--force]", "record the project id in the database, for the `stamp` identity source", cmdStamp},
		{"replay", "LOG [--speed N] [--idle-limit D] [--plain]", "replay a recorded session (or print a transcript with --plain)", cmdReplay},
		{"watch", "LOG", "follow a live session read-only", cmdWatch},
		{"verify", "LOG", "check a session journal: hash chain, structure, completeness; print its head hash", cmdVerify},
		{"version", "", "print the version", cmdVersion},
	}
}

func main() {
	c, flush := newCLI(os.Stdout, os.Stderr, os.Environ())
	code := c.main(os.Args[1:])
	flush()
	os.Exit(code)
}

// newCLI is the command line on these streams. Whatever a command prints
// may quote data (a server's error, SQL, a runbook, a journal): it goes
// out escaped (termsafe), so it cannot act on the terminal. flush writes
// what is held of a rune split between two writes. (The screen draws on
// a stream of its own.)
func newCLI(stdout, stderr io.Writer, environ []string) (c *cli, flush func()) {
	o, e := termsafe.NewWriter(stdout), termsafe.NewWriter(stderr)
	return &cli{stdout: o, stderr: e, environ: environ}, func() { _, _ = o.Flush(), e.Flush() }
}

func (c *cli) main(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			return c.main([]string{args[1], "--help"})
		}
		c.usage(c.stdout)
		if len(args) == 0 {
			return steps.ExitUsage
		}
		return steps.ExitOK
	}
	for _, cmd := range commands {
		if cmd.name == args[0] {
			return cmd.run(c, args[1:])
		}
	}
	fmt.Fprintf(c.stderr, "handrail: unknown command %q\n\n", args[0])
	c.usage(c.stderr)
	return steps.ExitUsage
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprintf(w, "handrail %s: a guided, recorded, reversible PostgreSQL change.\n\nUsage:\n", version)
	for _, cmd := range commands {
		fmt.Fprintf(w, "  handrail %-8s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprint(w, `
Try it:   handrail demo                 (dry run of the example against a local sandbox)
Your own: handrail new supabase/migrations, then handrail demo supabase
Help:     handrail CMD --help
Exit codes: 0 ok, 1 a check or step failed, or the session was quit (aborted),
            2 usage or runbook error, 3 identity hard stop, 4 deploy lock held,
            5 rolled back.
`)
}

// flags builds a FlagSet whose --help prints the command's usage.
func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("handrail "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		for _, cmd := range commands {
			if cmd.name == name {
				fmt.Fprintf(fs.Output(), "handrail %s: %s\n\nUsage: handrail %s %s\n", name, cmd.summary, name, cmd.args)
			}
		}
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if any {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses flags wherever they appear among the positional arguments
// (`handrail run RUNBOOK --db DSN` and `handrail run --db DSN RUNBOOK`).
// It returns the positional arguments and, on error, the exit code.
func parse(fs *flag.FlagSet, args []string) ([]string, int, bool) {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			// Asked-for help goes to stdout (pipeable to less); usage
			// printed because of a mistake stays on stderr.
			fs.SetOutput(os.Stdout)
			fs.Usage()
			return nil, steps.ExitOK, false
		}
		if a == "--" {
			break
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, steps.ExitUsage, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, 0, true
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), 0, true
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseOne is parse for commands that take exactly one positional
// argument (what names it in the message when the count is wrong).
func parseOne(fs *flag.FlagSet, args []string, what string) (string, int, bool) {
	pos, code, ok := parse(fs, args)
	if !ok {
		return "", code, false
	}
	if len(pos) != 1 {
		fmt.Fprintf(fs.Output(), "%s: give exactly one %s (got %d)\n\n", fs.Name(), what, len(pos))
		fs.Usage()
		return "", steps.ExitUsage, false
	}
	return pos[0], 0, true
}

func cmdVersion(c *cli, args []string) int {
	fs := c.flags("version")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	fmt.Fprintf(c.stdout, "handrail %s\n", version)
	return steps.ExitOK
}

// loadRunbook resolves RUNBOOK: a directory, a runbook.toml path, or the
// name of an embedded example.
func loadRunbook(arg string) (*steps.Runbook, steps.Problems) {
	if _, err := os.Stat(arg); err == nil {
		return steps.Load(arg)
	}
	for _, name := range runbooks.Names() {
		if arg == name {
			return steps.LoadFS(runbooks.FS, name)
		}
	}
	return nil, steps.Problems{{Path: arg, Severity: steps.Error,
		Msg:  "no such runbook directory or file",
		Hint: "give a directory holding runbook.toml, a runbook.toml path, or an example: " + strings.Join(runbooks.Names(), ", ")}}
}

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
		rb, problems := loadRunbook(p)
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
	for _, w := range warnings {
		fmt.Fprintf(c.stderr, "handrail %s: warning: %s\n", cmd, w)
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "handrail %s: %v\n", cmd, err)
		return nil, steps.ExitUsage
	}
	return target, 0
}

func cmdCheck(c *cli, args []string) int {
	fs := c.flags("check")
	dsnFlag := fs.String("db", "", "connection string; default from DATABASE_URL or PG* variables")
	envFile := fs.String("env-file", "", "read DB_* variables (or DATABASE_URL) from this file")
	asJSON := fs.Bool("json", false, "print results as JSON")
	arg, code, ok := parseOne(fs, args, "RUNBOOK")
	if !ok {
		return code
	}
	rb, problems := loadRunbook(arg)
	if rb == nil || len(problems.Errors()) > 0 {
		steps.FormatProblems(c.stderr, problems)
		return steps.ExitUsage
	}
	target, code := c.resolveTarget("check", *dsnFlag, *envFile)
	if code != 0 {
		return code
	}
	ctx, stop := signalContext()
	defer stop()
	return steps.RunChecks(ctx, rb, target, c.stdout, *asJSON)
}

func cmdRun(c *cli, args []string) int {
	fs := c.flags("run")
	dsnFlag := fs.String("db", "", "connection string (URL or key=value); default from --env-file, DATABASE_URL or PG* variables")
	envFile := fs.String("env-file", "", "read DB_NAME/DB_USER/DB_PASSWORD/DB_HOST/DB_PORT (or DATABASE_URL) from this file")
	apply := fs.Bool("apply", false, "really write; without it handrail is a dry run")
	logDir := fs.String("log-dir", "", "directory for the session journal (default $XDG_STATE_HOME/handrail/sessions)")
	operator := fs.String("operator", "", "who is running this (default $USER)")
	resume := fs.String("resume", "", "resume the session recorded in this journal")
	env := fs.String("env", "", "which environment of the runbook: production ([target], the default) or staging ([staging])")
	stagingJournal := fs.String("staging-journal", "", "the staging journal that proves the promotion (default: the newest that does, in the log directory)")
	shareAddr, shareKeys := shareFlags(fs)
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	spec := sessionSpec{apply: *apply, operator: *operator, logDir: *logDir, env: *env, stagingJournal: *stagingJournal,
		shareAddr: *shareAddr, shareKeys: *shareKeys}
	switch {
	case *resume != "" && len(pos) == 0:
		spec.resume = *resume
	case *resume == "" && len(pos) == 1:
		spec.runbookArg = pos[0]
	default:
		fs.Usage()
		return steps.ExitUsage
	}
	target, code := c.resolveTarget("run", *dsnFlag, *envFile)
	if code != 0 {
		return code
	}
	spec.target = target
	return c.runSession(spec)
}

func cmdDemo(c *cli, args []string) int {
	fs := c.flags("demo")
	target := fs.String("target", "prod", "which sandbox database to run against: prod, or staging to see the identity hard stop")
	apply := fs.Bool("apply", false, "really write (to the throwaway sandbox)")
	logDir := fs.String("log-dir", "", "directory for the session journal (default $XDG_STATE_HOME/handrail/demo-sessions, apart from real sessions)")
	env := fs.String("env", "", "which environment of the runbook: production (default) or staging, which runs its [staging] environment against\nthe sandbox's staging database: its journal then proves the promotion to a later production demo")
	dsnFile := fs.String("dsn-file", "", "write the sandbox's connection strings to this file while the demo runs (removed on exit), to look at its databases\nfrom another window: . FILE; psql \"$DATABASE_URL\" (or handrail check RUNBOOK --env-file FILE)")
	shareAddr, shareKeys := shareFlags(fs)
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
	spec := sessionSpec{runbookArg: name, apply: *apply, operator: "demo", logDir: *logDir, demo: true, env: *env,
		shareAddr: *shareAddr, shareKeys: *shareKeys}
	var dsn string
	for _, d := range dbs {
		if d.Role == role {
			dsn = d.DSN
		}
	}
	if spec.target, err = db.ParseTarget(dsn); err != nil {
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
	return c.runSession(spec)
}

// ownDemoRunbook loads RUNBOOK for the demo when it is not one of the
// examples (nil if it is): the demo proves the scratch database with a
// stamp of its project_id, so that must be a stampable id.
func (c *cli) ownDemoRunbook(name string) (*steps.Runbook, int) {
	if _, err := os.Stat(name); err != nil && slices.Contains(runbooks.Names(), name) {
		return nil, 0
	}
	rb, problems := loadRunbook(name)
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

// sessionSpec is what `run` and `demo` hand to runSession.
type sessionSpec struct {
	runbookArg string // RUNBOOK as given (a path or an example name)
	resume     string // journal to resume
	target     *db.ConnTarget
	apply      bool
	operator   string
	logDir     string
	demo       bool // the database is a throwaway sandbox: resuming makes no sense
	env        string
	// stagingJournal is --staging-journal: the promotion's proof.
	stagingJournal string
	shareAddr      string // --share: serve the session to pair partners over SSH
	shareKeys      string // --share-keys
}

// shareFlags declares --share and --share-keys (run and demo).
func shareFlags(fs *flag.FlagSet) (addr, keys *string) {
	addr = fs.String("share", "", "let pair partners watch this session over SSH on ADDR (ssh -p PORT HOST). A port alone\n"+
		"(:2222) listens on loopback (127.0.0.1) only; any other address must be given explicitly,\n"+
		"e.g. 0.0.0.0:2222 for every interface. Needs --share-keys")
	keys = fs.String("share-keys", "", "who may join with --share: one OpenSSH public key a line, its comment the partner's\n"+
		"name and role: ssh-ed25519 AAAA... alice observer (role observer or approver)")
	return addr, keys
}

// openShare binds --share before anything is journaled or run, so a
// mistake in it (keys file, address, host key) stops here. No --share:
// a nil server, whose methods do nothing.
func (c *cli) openShare(spec sessionSpec) (*share.Server, int) {
	switch {
	case spec.shareAddr == "" && spec.shareKeys == "":
		return nil, 0
	case spec.shareAddr == "":
		fmt.Fprintln(c.stderr, "handrail: --share-keys needs --share ADDR (where partners connect, e.g. --share :2222)")
		return nil, steps.ExitUsage
	case spec.shareKeys == "":
		fmt.Fprintln(c.stderr, "handrail: --share needs --share-keys FILE: who may join (one OpenSSH public key a line, ending with the partner's name and role)")
		return nil, steps.ExitUsage
	}
	sh, err := share.Listen(share.Config{Addr: spec.shareAddr, KeysFile: spec.shareKeys, Getenv: envLookup(c.environ)})
	if err != nil {
		fmt.Fprintf(c.stderr, "handrail: %v\nNothing was run.\n", err)
		return nil, steps.ExitUsage
	}
	sh.Describe(c.stderr)
	return sh, 0
}

// envLookup reads environ like os.Getenv.
func envLookup(environ []string) func(string) string {
	return func(k string) string {
		for i := len(environ) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(environ[i], k+"="); ok {
				return v
			}
		}
		return ""
	}
}

// runSession runs the engine on its own goroutine, journals every event
// before the screen sees it, and shows the screen until the operator leaves.
func (c *cli) runSession(spec sessionSpec) int {
	frontend := c.frontend
	termWidth, termHeight := 0, 0
	if frontend == nil {
		screen, err := openScreen()
		if err != nil {
			fmt.Fprintf(c.stderr, "handrail: the guided run needs a terminal (%v); nothing was run or journaled.\n"+
				"Run it from an interactive shell (over SSH, inside tmux or screen); for unattended checks use handrail check RUNBOOK --db DSN.\n", err)
			return steps.ExitUsage
		}
		defer screen.close()
		frontend = screen.frontend
		termWidth, termHeight = screen.width, screen.height
	}
	secrets := spec.target.Secrets()
	var (
		w          *journal.Writer
		prior      []steps.Event
		rb         *steps.Runbook
		resumeNote string
	)
	if spec.resume != "" {
		var err error
		w, prior, err = journal.OpenAppend(spec.resume, secrets)
		if err != nil {
			fmt.Fprintf(c.stderr, "handrail run: %v\n", err)
			return steps.ExitUsage
		}
		defer w.Close()
		if line, n := w.TornTail(); line > 0 {
			fmt.Fprintf(c.stderr, "handrail run: the journal's last line (%d, %d bytes) was torn by a crash; it was dropped\n", line, n)
			resumeNote = fmt.Sprintf("the journal's last line %d (%d bytes) was torn by the crash and dropped", line, n)
		}
		h := w.Header()
		if rb = c.resumedRunbook(h); rb == nil {
			return steps.ExitUsage
		}
		if spec.operator == "" {
			spec.operator = h.Operator
		}
	} else if rb = c.freshRunbook(spec.runbookArg, spec.env); rb == nil {
		return steps.ExitUsage
	}
	var code int
	if spec.logDir, code = c.logDir("run", spec.logDir); code != 0 {
		return code
	}
	if spec.operator == "" {
		spec.operator = currentUser(c.environ)
	}
	shared, code := c.openShare(spec)
	if code != 0 {
		return code
	}
	defer shared.Close(share.LeftExited)
	sessionID := newSessionID()
	if w == nil {
		ref := runbookRef(spec.runbookArg)
		var err error
		w, err = journal.Create(spec.logDir, journal.Header{
			SessionID: sessionID, RunbookID: rb.Meta.ID, RunbookHash: rb.Hash,
			HandrailVersion: version, Operator: spec.operator,
			TargetName: rb.Target.Name, ProjectID: rb.Target.ProjectID,
			DSN: spec.target.Display(), TermWidth: termWidth, TermHeight: termHeight,
			Apply: spec.apply, RunbookPath: ref, Environment: rb.Env,
		}, secrets)
		if err != nil {
			fmt.Fprintf(c.stderr, "handrail run: cannot create the session journal: %v\nNothing was run. Choose a writable directory with --log-dir.\n", err)
			return steps.ExitFailed
		}
		defer w.Close()
	}

	events := newEventQueue()
	eng := steps.NewEngine(steps.Config{
		Runbook: rb, Target: spec.target, Apply: spec.apply, Operator: spec.operator,
		SessionID: sessionID, Prior: prior, ResumeNote: resumeNote, Environ: c.environ,
		ProveStaging: promote.Prover(promote.Request{Runbook: rb, Journal: spec.stagingJournal, Dir: spec.logDir}),
		// Journal first, then the screens (the operator's, the partners'):
		// nothing is shown that is not recorded, and shown as recorded,
		// every secret redacted (an exec step's output may print PGPASSWORD).
		Sink: func(e steps.Event) error {
			rec, err := w.Record(e)
			if err != nil {
				return err
			}
			events.push(rec)
			shared.Publish(rec)
			return nil
		},
	})
	shared.Start(eng, prior, w.Path())
	ctx, stop := sessionContext()
	defer stop()
	var (
		outcome steps.Outcome
		runErr  error
		ran     = make(chan struct{}) // closed once outcome and runErr are set
	)
	go func() {
		outcome, runErr = eng.Run(ctx)
		close(ran)
		events.close()
	}()
	uiOutcome, uiErr := frontend(eng, rb, ui.Options{
		Mode: ui.Live, Send: eng.Send, Events: events.out, Initial: prior,
		SSHWarning: sshWarning(c.environ), JournalPath: w.Path(), Head: w.Head, Context: ctx,
		Done: func() ui.Result {
			<-ran
			return ui.Result{Outcome: outcome, Err: runErr, Journal: w.Path(), Head: w.Head()}
		},
	})
	// The screen is gone; make sure the engine ends and the journal is complete.
	eng.Send(steps.Command{Type: steps.CmdQuit})
	<-ran
	shared.Close(share.LeftExited) // partners' leaves, before the journal closes
	if uiErr != nil {
		fmt.Fprintf(c.stderr, "handrail: the screen failed: %v\n", uiErr)
	}
	if runErr != nil {
		fmt.Fprintf(c.stderr, "handrail: %v\n", runErr)
	}
	if outcome == "" {
		outcome = uiOutcome
	}
	c.sessionReport(spec, sessionID, outcome, eng.State().Wrote, w)
	return outcome.ExitCode()
}

// sessionReport is what a guided run prints once its screen is gone: the
// outcome, the journal and its head, and how to go on.
func (c *cli) sessionReport(spec sessionSpec, sessionID string, outcome steps.Outcome, wrote bool, w *journal.Writer) {
	fmt.Fprintf(c.stdout, "session %s: %s\njournal: %s\nhead:    %s\n", sessionID, outcome, w.Path(), w.Head())
	fmt.Fprintf(c.stdout, "replay:  handrail replay %s\n", w.Path())
	if outcome == steps.OutcomeAborted && !spec.demo {
		if wrote {
			fmt.Fprintf(c.stdout, "resume:  handrail run --resume %s --db DSN%s\n", w.Path(), map[bool]string{true: " --apply"}[spec.apply])
		} else {
			fmt.Fprintln(c.stdout, "nothing was written: run the runbook again to start over")
		}
	}
}

// resumedRunbook loads the runbook a journal records, in its environment,
// and makes sure it is the same content; nil (having said why) if not.
func (c *cli) resumedRunbook(h journal.Header) *steps.Runbook {
	rb, problems := loadRunbook(h.RunbookPath)
	if rb == nil || len(problems.Errors()) > 0 {
		steps.FormatProblems(c.stderr, problems)
		fmt.Fprintf(c.stderr, "handrail run: cannot resume: the runbook %q recorded in the journal does not load\n", h.RunbookPath)
		return nil
	}
	rb, err := rb.ForEnv(h.Environment)
	if err != nil {
		fmt.Fprintf(c.stderr, "handrail run: cannot resume: %v\n", err)
		return nil
	}
	if rb.Hash != h.RunbookHash {
		fmt.Fprintf(c.stderr, "handrail run: cannot resume: runbook %s changed since the session started\n  recorded sha256 %s\n  now      sha256 %s\nRestore the runbook as it was (e.g. from version control) and resume again.\n", h.RunbookPath, h.RunbookHash, rb.Hash)
		return nil
	}
	return rb
}

// freshRunbook loads RUNBOOK for a new session in environment env; nil
// (having said why) if it does not load or has no such environment.
func (c *cli) freshRunbook(arg, env string) *steps.Runbook {
	rb, problems := loadRunbook(arg)
	if rb == nil || len(problems.Errors()) > 0 {
		steps.FormatProblems(c.stderr, problems)
		return nil
	}
	rb, err := rb.ForEnv(env)
	if err != nil {
		fmt.Fprintf(c.stderr, "handrail run: --env: %v\n", err)
		return nil
	}
	return rb
}

// sessionContext ends when the terminal hangs up (SIGHUP) or handrail is
// told to stop (SIGTERM); its cause says which, so the journal records
// what happened rather than "context canceled".
func sessionContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		select {
		case sig := <-ch:
			cancel(signalCause(sig))
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(nil)
	}
}

func signalCause(sig os.Signal) error {
	switch sig {
	case syscall.SIGHUP:
		return errors.New("the terminal hung up (SIGHUP: its window was closed or the SSH connection dropped)")
	case syscall.SIGTERM:
		return errors.New("handrail was told to stop (SIGTERM)")
	}
	return fmt.Errorf("signal %v", sig)
}

// screenTTY is where the operator's screen is drawn and read: stdin and
// stdout when they are the terminal; the controlling terminal (/dev/tty)
// for whichever of them is redirected (| tee, > file), so that the screen
// is always seen where the keys are typed. No terminal at all is refused.
type screenTTY struct {
	opts          []tea.ProgramOption
	tty           *os.File
	width, height int
}

func openScreen() (*screenTTY, error) {
	s := &screenTTY{}
	inTTY, outTTY := term.IsTerminal(os.Stdin.Fd()), term.IsTerminal(os.Stdout.Fd())
	out := os.Stdout
	if !inTTY || !outTTY {
		tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
		if err != nil {
			return nil, errors.New("no terminal: stdin or stdout is redirected and /dev/tty cannot be opened")
		}
		s.tty = tty
		if !inTTY {
			s.opts = append(s.opts, tea.WithInput(tty))
		}
		if !outTTY {
			out = tty
			s.opts = append(s.opts, tea.WithOutput(tty))
		}
	}
	s.width, s.height, _ = term.GetSize(out.Fd())
	return s, nil
}

// frontend is the operator's screen: the Bubble Tea program on the terminal.
func (s *screenTTY) frontend(_ *steps.Engine, _ *steps.Runbook, opts ui.Options) (steps.Outcome, error) {
	return ui.Run(opts, s.opts...)
}

func (s *screenTTY) close() {
	if s.tty != nil {
		s.tty.Close()
	}
}

// eventQueue hands events from the engine to the screen without ever
// blocking the engine (the screen may be slow or already gone).
type eventQueue struct {
	mu     sync.Mutex
	buf    []steps.Event
	closed bool
	wake   chan struct{}
	out    chan steps.Event
}

func newEventQueue() *eventQueue {
	q := &eventQueue{wake: make(chan struct{}, 1), out: make(chan steps.Event, 256)}
	go q.pump()
	return q
}

func (q *eventQueue) push(e steps.Event) {
	q.mu.Lock()
	q.buf = append(q.buf, e)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) pump() {
	for {
		q.mu.Lock()
		batch, closed := q.buf, q.closed
		q.buf = nil
		q.mu.Unlock()
		for _, e := range batch {
			q.out <- e
		}
		if closed && len(batch) == 0 {
			close(q.out)
			return
		}
		if len(batch) == 0 {
			<-q.wake
		}
	}
}

func currentUser(environ []string) string {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "USER="); ok && v != "" {
			return v
		}
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

func newSessionID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sshWarning is shown once when a dropped SSH connection would end the session.
func sshWarning(environ []string) string {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if env["SSH_CONNECTION"] == "" || env["TMUX"] != "" || env["STY"] != "" {
		return ""
	}
	return "You are on SSH outside tmux/screen: if the connection drops, this session stops (the journal stays resumable with --resume). Consider running inside tmux."
}

func cmdReplay(c *cli, args []string) int {
	fs := c.flags("replay")
	speed := fs.Float64("speed", 1, "playback speed (the + and - keys change it)")
	idle := fs.Duration("idle-limit", 2*time.Second, "cap on a pause between two events")
	plain := fs.Bool("plain", false, "print a readable transcript instead of the screen")
	arg, code, ok := parseOne(fs, args, "LOG (a session journal)")
	if !ok {
		return code
	}
	log, err := journal.Read(arg)
	if err != nil {
		fmt.Fprintf(c.stderr, "handrail replay: %v\n", err)
		return steps.ExitFailed
	}
	if log.TornTail {
		fmt.Fprintf(c.stderr, "handrail replay: line %d was torn (the session crashed); it is not shown\n", log.TornLine)
	}
	if *plain {
		if err := journal.Transcript(c.stdout, log); err != nil {
			fmt.Fprintf(c.stderr, "handrail replay: %v\n", err)
			return steps.ExitFailed
		}
		return steps.ExitOK
	}
	if _, err := ui.Run(ui.Options{Mode: ui.Replay, Initial: log.Events, Speed: *speed, IdleLimit: *idle}); err != nil {
		fmt.Fprintf(c.stderr, "handrail replay: %v\n", err)
		return steps.ExitFailed
	}
	return steps.ExitOK
}

func cmdWatch(c *cli, args []string) int {
	fs := c.flags("watch")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(fs.Output(), `
Follows the journal as it is written and draws the operator's screen, read-only.
Says so when the operator's handrail is gone (crashed or killed without ending
the session), and shows an error screen when the journal is missing, cannot be
read, or fails its hash chain. Needs read access to the journal (the operator's
Unix user, or a group the operator shared it with). Exits when its terminal
hangs up. Exit codes: 0 left with q, 1 the journal could not be followed.
`)
	}
	arg, code, ok := parseOne(fs, args, "LOG (a session journal)")
	if !ok {
		return code
	}
	// A hangup (the watcher's SSH connection dropped) ends the context,
	// and with it the screen and the follower: no orphan keeps running.
	ctx, stop := signalContext()
	defer stop()
	events, follow := journal.FollowLog(ctx, arg)
	news := make(chan ui.WatchStatus)
	left := make(chan struct{})
	stopped := make(chan error, 1)
	go func() { stopped <- relayWatch(arg, follow, news, left) }()
	_, uiErr := ui.Run(ui.Options{Mode: ui.Watch, Events: events, Watch: news, Context: ctx, JournalPath: arg})
	close(left)
	stop()
	err := <-stopped
	if uiErr != nil {
		fmt.Fprintf(c.stderr, "handrail watch: %v\n", uiErr)
		return steps.ExitFailed
	}
	if err != nil {
		tr := journal.Explain(arg, err)
		fmt.Fprintf(c.stderr, "handrail watch: %s: %s\nWhat to do: %s\n", tr.Title, tr.Detail, tr.Advice)
		return steps.ExitFailed
	}
	return steps.ExitOK
}

// relayWatch hands the follower's news to the watch screen in the
// screen's terms until the follower stops (or the screen has left), and
// returns why following stopped (nil when it was told to).
func relayWatch(path string, in <-chan journal.Status, out chan<- ui.WatchStatus, left <-chan struct{}) error {
	var stopErr error
	for st := range in {
		news := ui.WatchStatus{WriterGone: st.Writer == journal.WriterGone}
		if st.Stopped {
			if st.Err == nil {
				continue
			}
			stopErr = st.Err
			tr := journal.Explain(path, st.Err)
			news = ui.WatchStatus{Problem: &ui.WatchProblem{Title: tr.Title, Detail: tr.Detail, Advice: tr.Advice}}
		}
		select {
		case out <- news:
		case <-left:
		}
	}
	return stopErr
}

func cmdVerify(c *cli, args []string) int {
	fs := c.flags("verify")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprintf(fs.Output(), "\nPrints the journal's head hash (paste it into the change ticket) and a verdict.\n%s", journal.VerifyExitCodes)
	}
	arg, code, ok := parseOne(fs, args, "LOG (a session journal)")
	if !ok {
		return code
	}
	return journal.VerifyCommand(c.stdout, arg)
}

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
	rb, problems := loadRunbook(arg)
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
		*operator = currentUser(c.environ)
	}
	ctx, stop := signalContext()
	defer stop()
	return apply.MakePlan(ctx, apply.PlanOptions{
		Runbook: rb, RunbookPath: runbookRef(arg), Warnings: problems, Target: target, Out: *out, Operator: *operator,
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
		PlanPath: *planPath, Load: loadRunbook, Target: target, Confirm: *confirm, Answers: *answers, JSON: *asJSON,
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

// runbookRef is RUNBOOK as a later command finds it again: an absolute
// path when it is one on disk, else the example's name.
func runbookRef(arg string) string {
	if _, err := os.Stat(arg); err == nil {
		if abs, err := filepath.Abs(arg); err == nil {
			return abs
		}
	}
	return arg
}
