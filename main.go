// Command handrail walks an operator through a production PostgreSQL
// change. Package main only parses the command line and wires the
// packages together: this file holds the command table and flag parsing;
// cmd_*.go one group of commands each (a guided session, runbooks, the
// journal, plan and apply). The logic lives in session, steps, db,
// journal, ui, share, promote and apply.
package main

import (
	"embed"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/handrail-dev/handrail/internal/termsafe"
	"github.com/handrail-dev/handrail/session"
	"github.com/handrail-dev/handrail/steps"
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
	frontend session.Frontend
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
