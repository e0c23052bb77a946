// Command compare measures handrail against psql on the same work, in the
// same run, against one throwaway PostgreSQL (the project's sandbox):
//
//	go run ./bench/compare [-n 5] [-only migration,check-1m,...] [-v] [-cpuprofile DIR]
//
// Each side runs as a child process, so wall time includes process start
// and connecting on both sides, and peak RSS (getrusage ru_maxrss) is each
// process's own. The handrail side is this program re-executed with a
// hidden subcommand: the engine headless (steps.NewEngine driven by the
// steps.Drive autopilot, the code path the TUI drives), with the identity
// check, the deploy lock and the journal (journal.Create, production fsync
// policy) as in `handrail run`. The two sides alternate (A/B, then B/A)
// for -n rounds after a warm-up round; the database is reset between runs
// where the work writes. bench/RESULTS.md records a run.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/bench/internal/spawn"
	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/runbooks"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case spawnCommand:
			os.Exit(spawn.Main(os.Args[2:]))
		case childCommand:
			os.Exit(childMain(os.Args[2:], os.Stdout, os.Stderr))
		case pgxCommand:
			os.Exit(pgxMain(os.Args[2:], os.Stderr))
		}
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Workload names, in the order they run.
const (
	wlMigration = "migration"
	wlCheck1M   = "check-1m"
	wlChecks200 = "checks-200"
	// wlCheckCmd is checks-200 through the handrail binary's own `handrail
	// check` (built for the run), as cron runs it: a process of its own.
	wlCheckCmd = "check-cmd"
	// wlVerify is `handrail verify` (the binary) of a large journal.
	wlVerify = "verify-500k"
	// wlMigrationTTY is the migration through `handrail run` with the real
	// screen, in tmux (tty.go).
	wlMigrationTTY = "migration-tty"
	// wlBigFile is bigFileSQL in one step through `handrail run` with the
	// real screen, as wlMigrationTTY, keys probed at its prompt.
	wlBigFile = "bigfile-tty"
	wlConnect = "connect-e2e"
	wlRows1e4 = "rows-1e4"
	wlRows1e5 = "rows-1e5"
)

var allWorkloads = []string{wlMigration, wlMigrationTTY, wlCheck1M, wlChecks200, wlCheckCmd, wlVerify, wlConnect, wlRows1e4, wlRows1e5, wlBigFile}

type options struct {
	n          int
	warmup     int
	only       []string
	verbose    bool
	cpuProfile string // directory for the handrail side's CPU profiles
	keys       bool   // probe key-to-frame latency during migration-tty's step
	psql       string
	fixtures   string
}

func parseArgs(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.n, "n", 5, "measured rounds per workload (each runs handrail and psql once, alternating which goes first)")
	fs.IntVar(&o.warmup, "warmup", 1, "unmeasured rounds before the measured ones")
	only := fs.String("only", "", "comma-separated workloads to run (default all): "+strings.Join(allWorkloads, ", "))
	fs.BoolVar(&o.verbose, "v", false, "print every run")
	fs.BoolVar(&o.keys, "keys", false, "migration-tty: while the step runs, toggle the help with ? and time each key to its frame (the probing loads the machine: measure CPU in a run without it)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the handrail side's first measured run of each workload into this directory")
	fs.StringVar(&o.psql, "psql", "", "psql binary (default: the sandbox server's, else psql on PATH)")
	fs.StringVar(&o.fixtures, "fixtures", "", "the demo fixtures directory (default: testdata/fixtures of the module)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench/compare [flags]\n\nMeasures handrail against psql on the same work in one sandbox.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.n < 1 {
		return o, fmt.Errorf("-n must be at least 1, not %d", o.n)
	}
	if o.warmup < 0 {
		return o, fmt.Errorf("-warmup must not be negative")
	}
	if *only == "" {
		o.only = allWorkloads
	} else {
		for _, w := range strings.Split(*only, ",") {
			w = strings.TrimSpace(w)
			if !slices.Contains(allWorkloads, w) {
				return o, fmt.Errorf("unknown workload %q (have: %s)", w, strings.Join(allWorkloads, ", "))
			}
			if !slices.Contains(o.only, w) {
				o.only = append(o.only, w)
			}
		}
	}
	return o, nil
}

// workload is one piece of work done by both sides.
type workload struct {
	name, title string
	runbookDir  string
	apply       bool
	dbname      string
	dsn         string
	psqlArgs    []string // after the connection arguments
	reset       string   // SQL run (untimed) on dbname before every run, "" for none
	// pgxFile, when set, adds a third side: its statements through pgx
	// alone (pgxCommand), in one transaction when pgxTx.
	pgxFile string
	pgxTx   bool
	// command, when set, is the handrail side instead of the headless
	// engine: the handrail binary with these arguments (DSN in --db).
	command []string
	// refArgv, when set, is the reference side instead of psql (a whole
	// command line, run through the launcher).
	refArgv []string
	// events is the number of events the handrail side handles (verify),
	// for events/s.
	events int
	// tty: the handrail side is `handrail run` in tmux (handrailTTY).
	tty bool
	// statements: how many statements the tty step's prompt announces;
	// fileBytes: the size of its file. promptKeys: probe key-to-frame at
	// the prompt before sending them (runner.promptKeys).
	statements int
	fileBytes  int64
	promptKeys bool
}

// sample is one run of one side.
type sample struct {
	wall   time.Duration
	cpu    time.Duration // user + system
	maxRSS int64         // bytes
	child  *childResult  // handrail side only
}

type result struct {
	w        *workload
	handrail []sample
	psql     []sample
	pgx      []sample
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "compare: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := compare(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "compare: %v\n", err)
		return 1
	}
	return 0
}

func compare(ctx context.Context, o options, stdout, stderr io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	root, rootErr := moduleRoot()
	if o.fixtures == "" {
		if rootErr != nil {
			return rootErr
		}
		o.fixtures = filepath.Join(root, "testdata", "fixtures")
	}
	if o.cpuProfile != "" {
		if err := os.MkdirAll(o.cpuProfile, 0o755); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "handrail-compare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	var progress io.Writer
	if o.verbose {
		progress = stderr
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	sb, err := db.StartSandbox(sctx, db.SandboxOptions{Stdout: progress})
	cancel()
	if err != nil {
		return err
	}
	defer sb.Stop()
	psql, err := findPsql(o.psql)
	if err != nil {
		return err
	}
	psqlVersion, _ := exec.Command(psql, "--version").Output()

	wls, err := setup(ctx, sb, tmp, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "handrail vs psql: PostgreSQL %s (sandbox, fsync=off), %s\n", sb.ServerVersion(), strings.TrimSpace(string(psqlVersion)))
	fmt.Fprintf(stdout, "%d measured rounds per workload after %d warm-up round(s), alternating which side goes first; medians below.\n", o.n, o.warmup)
	fmt.Fprintf(stdout, "handrail side: the engine headless (steps.NewEngine + steps.Drive autopilot) in its own process, with the\n")
	fmt.Fprintf(stdout, "identity check, the deploy lock and the journal (journal.Create, fsync policy as in production) included.\n")
	fmt.Fprintf(stdout, "Both sides: wall time from process start to exit (connecting included); peak RSS is ru_maxrss of the process.\n")

	launcher := ""
	if rootErr == nil {
		if launcher, err = buildLauncher(ctx, root, tmp); err != nil {
			return err
		}
	}
	binary := ""
	if rootErr == nil {
		if binary, err = buildHandrail(ctx, root, tmp); err != nil {
			return err
		}
	}
	r := &runner{o: o, self: self, launcher: launcher, binary: binary, psql: psql, sb: sb, tmp: tmp, stderr: stderr}
	floor, err := r.floor(ctx)
	if err != nil {
		return fmt.Errorf("measuring the launcher: %w", err)
	}
	fmt.Fprintf(stdout, "RSS floor: a process that allocates nothing (true) measures %s through the launcher.\n\n", mb(floor))
	var results []*result
	for _, w := range wls {
		res, err := r.measure(ctx, w)
		if err != nil {
			return fmt.Errorf("%s: %w", w.name, err)
		}
		results = append(results, res)
	}
	fsync, err := fsyncLatency(tmp, 50)
	if err != nil {
		return err
	}
	report(stdout, results, fsync)
	if len(r.keyLatency) > 0 {
		k := slices.Clone(r.keyLatency)
		slices.Sort(k)
		fmt.Fprintf(stdout, "\nkey to frame during migration-tty's step (? toggling the help, tmux): %d keys, median %s, p90 %s, max %s\n",
			len(k), fmtDur(k[len(k)/2]), fmtDur(k[len(k)*9/10]), fmtDur(k[len(k)-1]))
	}
	if len(r.promptKeys) > 0 {
		k := slices.Clone(r.promptKeys)
		slices.Sort(k)
		v := verdict{fmt.Sprintf("%s: keys at its prompt <= %s (max)", wlBigFile, fmtDur(targetPromptKey)), fmtDur(k[len(k)-1]), k[len(k)-1] <= targetPromptKey}
		fmt.Fprintf(stdout, "\nkey to frame at %s's prompt (? toggling the help, tmux): %d keys, median %s, p90 %s, max %s\n  %s  %s  %s\n",
			wlBigFile, len(k), fmtDur(k[len(k)/2]), fmtDur(k[len(k)*9/10]), fmtDur(k[len(k)-1]), v.mark(), v.target, v.value)
	}
	return nil
}

// setup creates the databases and the runbooks of the chosen workloads.
func setup(ctx context.Context, sb *db.Sandbox, tmp string, o options) ([]*workload, error) {
	demo, err := db.SetupDemoDatabases(ctx, sb, os.DirFS(o.fixtures))
	if err != nil {
		return nil, err
	}
	dsn := map[string]string{}
	for _, d := range demo {
		dsn[d.Name] = d.DSN
	}
	if err := sb.CreateDatabase(ctx, benchDatabase, "create schema bench"); err != nil {
		return nil, err
	}
	dsn[benchDatabase] = sb.DSN(benchDatabase)
	if err := stamp(ctx, dsn[benchDatabase], benchProjectID); err != nil {
		return nil, err
	}

	var out []*workload
	for _, name := range o.only {
		dir := filepath.Join(tmp, "runbooks", name)
		w := &workload{name: name, runbookDir: dir}
		switch name {
		case wlMigration:
			w.title = fmt.Sprintf("%d-statement migration, one transaction", migrationStatements)
			if err := writeRunbook(dir, migrationRunbook(), map[string]string{"migrations/bench.sql": migrationSQL(migrationStatements)}); err != nil {
				return nil, err
			}
			w.apply, w.dbname, w.reset = true, benchDatabase, migrationReset
			w.psqlArgs = []string{"-1", "-v", "ON_ERROR_STOP=1", "-f", filepath.Join(dir, "migrations", "bench.sql")}
			w.pgxFile, w.pgxTx = filepath.Join(dir, "migrations", "bench.sql"), true
		case wlMigrationTTY:
			w.title = fmt.Sprintf("%d-statement migration through `handrail run` with the real screen (tmux %dx%d, keys sent as an operator types them); handrail time: the step, journal intent -> result", migrationStatements, ttyWidth, ttyHeight)
			if err := writeRunbook(dir, migrationRunbook(), map[string]string{"migrations/bench.sql": migrationSQL(migrationStatements)}); err != nil {
				return nil, err
			}
			w.apply, w.dbname, w.reset, w.tty, w.statements = true, benchDatabase, migrationReset, true, migrationStatements
			w.psqlArgs = []string{"-1", "-v", "ON_ERROR_STOP=1", "-f", filepath.Join(dir, "migrations", "bench.sql")}
		case wlBigFile:
			sql := bigFileSQL(bigFileInserts)
			w.title = fmt.Sprintf("%s file of %d statements in one step through `handrail run` with the real screen (tmux %dx%d), keys probed at its prompt; handrail time: the step, journal intent -> result; RSS: the whole process",
				mb(int64(len(sql))), bigFileInserts+1, ttyWidth, ttyHeight)
			if err := writeRunbook(dir, migrationRunbook(), map[string]string{"migrations/bench.sql": sql}); err != nil {
				return nil, err
			}
			w.apply, w.dbname, w.reset, w.tty = true, benchDatabase, migrationReset, true
			w.statements, w.fileBytes, w.promptKeys = bigFileInserts+1, int64(len(sql)), true
			w.psqlArgs = []string{"-1", "-v", "ON_ERROR_STOP=1", "-f", filepath.Join(dir, "migrations", "bench.sql")}
		case wlCheck1M, wlRows1e4, wlRows1e5:
			n := map[string]int{wlCheck1M: 1_000_000, wlRows1e4: 10_000, wlRows1e5: 100_000}[name]
			w.title = fmt.Sprintf("check over %d rows (expect_rows, default keep_rows)", n)
			if err := writeRunbook(dir, rowsRunbook(n), nil); err != nil {
				return nil, err
			}
			w.dbname = benchDatabase
			w.psqlArgs = []string{"-c", rowsQuery(n)}
		case wlChecks200, wlCheckCmd:
			// The same 200 checks: through the headless engine, or through
			// `handrail check` (the binary).
			w.title = "200 small catalog checks vs one psql session"
			if name == wlCheckCmd {
				w.title = "`handrail check` (the binary) on 200 small catalog checks vs one psql session"
			}
			t := target{name: "Connect-Staging", projectID: db.DemoStagingProjectID, forbidden: []string{db.DemoProdProjectID}}
			if err := writeRunbook(dir, checksRunbook(200, t), nil); err != nil {
				return nil, err
			}
			w.dbname = "connect_staging"
			if w.psqlArgs, err = psqlFileArgs(dir, tmp, name); err != nil {
				return nil, err
			}
			if name == wlCheckCmd {
				w.command = []string{"check", "--db", dsn[w.dbname], dir}
			} else {
				w.pgxFile = w.psqlArgs[len(w.psqlArgs)-1]
			}
		case wlVerify:
			if err := verifyWorkload(w, tmp); err != nil {
				return nil, err
			}
			out = append(out, w)
			continue
		case wlConnect:
			w.title = "connect-rls-hardening end to end (migration 001, VACUUM, checks, smoke checks)"
			sub, err := runbooks.Sub("connect-rls-hardening")
			if err != nil {
				return nil, err
			}
			if err := os.CopyFS(dir, sub); err != nil {
				return nil, err
			}
			rollback, err := os.ReadFile(filepath.Join(dir, "rollback", "001_rls_hardening_rollback.sql"))
			if err != nil {
				return nil, err
			}
			w.apply, w.dbname, w.reset = true, "connect_prod", string(rollback)
			if w.psqlArgs, err = psqlFileArgs(dir, tmp, name); err != nil {
				return nil, err
			}
			w.pgxFile = w.psqlArgs[len(w.psqlArgs)-1]
		}
		w.dsn = dsn[w.dbname]
		if _, err := loadRunbook(dir); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// psqlFileArgs writes the psql script of the runbook in dir and returns
// the psql arguments that run it in one session.
func psqlFileArgs(dir, tmp, name string) ([]string, error) {
	rb, err := loadRunbook(dir)
	if err != nil {
		return nil, err
	}
	script, err := psqlScript(rb)
	if err != nil {
		return nil, err
	}
	p := filepath.Join(tmp, name+".psql.sql")
	if err := os.WriteFile(p, []byte(script), 0o644); err != nil {
		return nil, err
	}
	return []string{"-v", "ON_ERROR_STOP=1", "-f", p}, nil
}

func stamp(ctx context.Context, dsn, id string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = db.Stamp(ctx, conn, id, true)
	return err
}

// exec runs sql (simple protocol, may hold several statements) on dsn.
func execSQL(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.PgConn().Exec(ctx, sql).ReadAll()
	return err
}

type runner struct {
	o        options
	self     string
	launcher string // "": self with spawnCommand
	binary   string // the handrail binary, for workloads with a command
	psql     string
	sb       *db.Sandbox
	tmp      string
	stderr   io.Writer
	runs     int
	// keyLatency: each key's time to its frame during migration-tty's
	// step, over every round (-keys).
	keyLatency []time.Duration
	// promptKeys: each key's time to its frame at the prompt of a
	// workload's step (workload.promptKeys), over every round.
	promptKeys []time.Duration
}

// measure runs the warm-up rounds, then the measured rounds, rotating
// which side goes first.
func (r *runner) measure(ctx context.Context, w *workload) (*result, error) {
	res := &result{w: w}
	sides := []string{"handrail", "psql"}
	if w.pgxFile != "" {
		sides = append(sides, "pgx")
	}
	for round := -r.o.warmup; round < r.o.n; round++ {
		measured := round >= 0
		k := (round + r.o.warmup) % len(sides)
		order := append(slices.Clone(sides[k:]), sides[:k]...)
		for _, side := range order {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if w.reset != "" {
				if err := execSQL(ctx, w.dsn, w.reset); err != nil {
					return nil, fmt.Errorf("reset: %w", err)
				}
			}
			var s sample
			var err error
			switch side {
			case "handrail":
				profile := ""
				if r.o.cpuProfile != "" && round == 0 {
					profile = filepath.Join(r.o.cpuProfile, w.name+".pprof")
				}
				s, err = r.handrail(ctx, w, profile)
			case "psql":
				s, err = r.runPsql(ctx, w)
			case "pgx":
				s, err = r.runPgx(ctx, w)
			}
			if err != nil {
				return nil, fmt.Errorf("%s side: %w", side, err)
			}
			if r.o.verbose {
				tag := "warm-up"
				if measured {
					tag = fmt.Sprintf("round %d", round+1)
				}
				fmt.Fprintf(r.stderr, "%-12s %-8s %-8s %9s  cpu %9s  rss %s\n", w.name, tag, side,
					s.wall.Round(time.Millisecond), s.cpu.Round(time.Millisecond), mb(s.maxRSS))
			}
			if !measured {
				continue
			}
			switch side {
			case "handrail":
				res.handrail = append(res.handrail, s)
			case "psql":
				res.psql = append(res.psql, s)
			case "pgx":
				res.pgx = append(res.pgx, s)
			}
		}
	}
	return res, nil
}

// runPgx runs the workload's statements through pgx alone.
func (r *runner) runPgx(ctx context.Context, w *workload) (sample, error) {
	args := []string{r.self, pgxCommand, "-file", w.pgxFile}
	if w.pgxTx {
		args = append(args, "-tx")
	}
	cmd := r.launcherCmd(ctx, args...)
	cmd.Env = append(os.Environ(), dsnEnv+"="+w.dsn)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	s, err := timed(cmd)
	if err != nil {
		return s, fmt.Errorf("%v: %s", err, stderr.String())
	}
	return s, nil
}

func (r *runner) handrail(ctx context.Context, w *workload, profile string) (sample, error) {
	if w.command != nil {
		return r.handrailCommand(ctx, w)
	}
	if w.tty {
		return r.handrailTTY(ctx, w)
	}
	r.runs++
	jdir := filepath.Join(r.tmp, fmt.Sprintf("journal-%d", r.runs))
	defer os.RemoveAll(jdir)
	args := []string{childCommand, "-runbook", w.runbookDir, "-journal", jdir}
	if w.apply {
		args = append(args, "-apply")
	}
	if profile != "" {
		args = append(args, "-cpuprofile", profile)
	}
	cmd := r.launcherCmd(ctx, append([]string{r.self}, args...)...)
	cmd.Env = append(os.Environ(), dsnEnv+"="+w.dsn)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	s, err := timed(cmd)
	var cr childResult
	if jerr := json.Unmarshal(stdout.Bytes(), &cr); jerr != nil {
		return s, fmt.Errorf("%v: %s%s", err, stdout.String(), stderr.String())
	}
	if err != nil || cr.Error != "" {
		return s, fmt.Errorf("%v: %s %s", err, cr.Error, stderr.String())
	}
	s.child = &cr
	return s, nil
}

func (r *runner) runPsql(ctx context.Context, w *workload) (sample, error) {
	if w.refArgv != nil {
		var stderr bytes.Buffer
		cmd := r.launcherCmd(ctx, w.refArgv...)
		cmd.Stderr = &stderr
		s, err := timed(cmd)
		if err != nil {
			return s, fmt.Errorf("%v: %s", err, stderr.String())
		}
		return s, nil
	}
	args := []string{"-X", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(r.sb.Port()), "-U", r.sb.User(), "-d", w.dbname}
	cmd := r.launcherCmd(ctx, append(append([]string{r.psql}, args...), w.psqlArgs...)...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+r.sb.Password(), "PGSSLMODE=disable", "PGAPPNAME=psql-bench")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // stdout: /dev/null
	s, err := timed(cmd)
	if err != nil {
		return s, fmt.Errorf("%v: %s", err, stderr.String())
	}
	return s, nil
}

// timed runs cmd, a launcher (spawn.Main) of the measured process, and
// returns the wall time, CPU time and peak RSS the launcher reports.
func timed(cmd *exec.Cmd) (sample, error) {
	rep, err := spawn.Run(cmd)
	return sample{wall: rep.Wall, cpu: rep.CPU, maxRSS: rep.MaxRSS}, err
}

// launcherCmd returns a command running argv through the launcher.
func (r *runner) launcherCmd(ctx context.Context, argv ...string) *exec.Cmd {
	if r.launcher == "" {
		return exec.CommandContext(ctx, r.self, append([]string{spawnCommand}, argv...)...)
	}
	return exec.CommandContext(ctx, r.launcher, argv...)
}

// buildLauncher builds the small launcher program (bench/compare/launcher)
// into dir. Without a Go toolchain it returns "", and this program serves
// as the launcher (with a higher floor).
func buildLauncher(ctx context.Context, root, dir string) (string, error) {
	return goBuild(ctx, root, filepath.Join(dir, "launcher"), "./bench/compare/launcher")
}

// floor measures the launcher's own contribution to ru_maxrss: the peak
// RSS it reports for a process that uses almost no memory.
func (r *runner) floor(ctx context.Context) (int64, error) {
	t, err := exec.LookPath("true")
	if err != nil {
		return 0, err
	}
	s, err := timed(r.launcherCmd(ctx, t))
	return s.maxRSS, err
}

// findPsql returns the psql to compare with: flag, the sandbox server's
// bin directory, then PATH.
func findPsql(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if dir, err := db.FindServerBinaries(); err == nil {
		p := filepath.Join(dir, "psql")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return exec.LookPath("psql")
}

// moduleRoot finds the directory of handrail's go.mod from the working
// directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/handrail-dev/handrail\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the handrail module, or pass -fixtures")
		}
		dir = parent
	}
}

// handrailCommand runs the handrail binary (built by compare) with the
// workload's command line; stdout is discarded, as psql's is.
func (r *runner) handrailCommand(ctx context.Context, w *workload) (sample, error) {
	if r.binary == "" {
		return sample{}, errors.New("no handrail binary (run from inside the module with a Go toolchain)")
	}
	cmd := r.launcherCmd(ctx, append([]string{r.binary}, w.command...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	s, err := timed(cmd)
	if err != nil {
		return s, fmt.Errorf("%v: %s", err, stderr.String())
	}
	return s, nil
}

// buildHandrail builds the handrail binary into dir ("" without a Go
// toolchain).
func buildHandrail(ctx context.Context, root, dir string) (string, error) {
	return goBuild(ctx, root, filepath.Join(dir, "handrail"), ".")
}

// goBuild builds pkg (relative to the module root) into out; "" and no
// error without a Go toolchain.
func goBuild(ctx context.Context, root, out, pkg string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", nil
	}
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %v: %s", pkg, err, b)
	}
	return out, nil
}
