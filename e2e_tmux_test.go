package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/steps"
)

// The end-to-end test: the real handrail binary in a real terminal (a
// detached tmux session on a private socket), driven with keystrokes the
// way an operator types them, through the whole connect-rls-hardening
// runbook with --apply. It reads the screen with capture-pane, the
// database through the demo's --dsn-file, and the journal afterwards.
// Every wait polls an observable condition (the screen, a file) against a
// deadline; none sleeps and hopes.

// tmuxWait bounds each wait for the screen; a whole run takes seconds.
const tmuxWait = 30 * time.Second

// The terminal the demo runs in.
const (
	tmuxWidth  = 100
	tmuxHeight = 30
)

func TestTmuxDemoEndToEnd(t *testing.T) {
	tmuxPath := requireTmux(t)
	bin := buildHandrail(t)

	t.Run("apply-whole-runbook", func(t *testing.T) { tmuxApplyWholeRunbook(t, tmuxPath, bin) })
	t.Run("staging-hard-stop", func(t *testing.T) { tmuxStagingHardStop(t, tmuxPath, bin) })
	t.Run("output-piped", func(t *testing.T) { tmuxOutputPiped(t, tmuxPath, bin) })
}

// requireTmux skips, saying why, when this test cannot run here.
func requireTmux(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped with -short: the tmux end-to-end test builds handrail and drives a whole demo session in a terminal")
	}
	p, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("skipped: tmux is not on PATH; install tmux (apt-get install tmux) to run the end-to-end terminal test")
	}
	return p
}

// buildHandrail builds the binary under test into a temporary directory.
func buildHandrail(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to build handrail for the end-to-end test: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "handrail")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// tmuxApplyWholeRunbook runs `handrail demo --apply` through every step
// and checks the screen, the database and the journal.
func tmuxApplyWholeRunbook(t *testing.T, tmuxPath, bin string) {
	logDir, dsnFile := t.TempDir(), filepath.Join(t.TempDir(), "demo.env")
	term := startTmux(t, tmuxPath, bin, "demo", "--apply", "--log-dir", logDir, "--dsn-file", dsnFile)

	// The start: APPLY, the target verified, the first checklist.
	s := term.waitText("[checklist] Pre-deployment checklist", "VERIFIED")
	header := strings.Split(s, "\n")
	if !strings.HasPrefix(header[0], " APPLY ") || strings.Contains(s, "DRY RUN") {
		t.Fatalf("the header must say APPLY, and nothing DRY RUN:\n%s", s)
	}
	if !strings.Contains(header[1], "Connect-Prod rxlqtyfhsocxnsnnnlwl VERIFIED") {
		t.Fatalf("the header must show the target verified:\n%s", s)
	}

	// The database, through the file the demo wrote for this.
	target := waitForDSN(t, term, dsnFile)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, target.Config())
	if err != nil {
		t.Fatalf("connecting to the demo database from %s: %v", dsnFile, err)
	}
	defer conn.Close(context.Background())
	if got := readValidationState(t, ctx, conn); got != preMigration {
		t.Fatalf("before the run the database should be in the pre-migration state:\n got %+v\nwant %+v", got, preMigration)
	}
	if code, out := handrailCheck(t, bin, dsnFile); code != steps.ExitFailed {
		t.Fatalf("handrail check before the migration: exit %d, want %d (the validation checks fail)\n%s", code, steps.ExitFailed, out)
	}

	// Pre-deployment checklist: the staging proof item could not tick
	// itself (no staging journal in the log directory) and says what is
	// missing; enter too early says what is open; four items are ticked
	// by hand and the proof item is skipped with a reason.
	term.waitText("[!] Migration 001 run on Connect-Staging", "check: no journal in")
	term.keys("Enter")
	term.waitText("5 items are still open: tick them, or skip them")
	term.keys("Space")
	term.waitFor("1 ticked item", func(s string) bool { return strings.Count(s, "[x]") == 1 })
	term.keys("s")
	term.waitText("why skip this item?")
	term.typeText("tmux e2e: the sandbox has no staging run")
	term.keys("Enter")
	term.waitText("[-] Migration 001 run on Connect-Staging", "skipped:", "tmux e2e: the sandbox has no staging run")
	for i := 2; i <= 4; i++ {
		term.keys("Space")
		term.waitFor(fmt.Sprintf("%d ticked items", i), func(s string) bool { return strings.Count(s, "[x]") == i })
	}
	term.keys("Enter")

	term.waitText("[message] Announce the deploy", "Deploying RLS hardening (runbook", "connect-rls-hardening) to Connect-Prod")
	term.keys("Enter")
	term.waitText("[confirm] Confirm the target", "press enter to confirm")
	term.keys("Enter")

	term.check("Supabase auth and storage schemas are present", "[check] Current state")
	// A report check shows its rows and waits for enter.
	term.keys("Enter")
	term.waitText("report: read it, then press enter to go on", "report: 6 rows", "rate_limits RLS", "missing")
	term.keys("Enter")
	term.waitText("[confirm] Backup verified")

	// Typed confirmation: a wrong text is refused, the right one passes.
	term.keys("Enter")
	term.waitText(`type "backup verified" to confirm`)
	term.typeText("backup done")
	term.keys("Enter")
	term.waitText(`REJECTED: you typed "backup done"`)
	term.keys("Enter")
	term.waitText(`type "backup verified" to confirm`)
	term.typeText("backup verified")
	term.keys("Enter")

	// Application readiness: the first item ticks itself (no long
	// transactions), the operator ticks the other two.
	term.waitText("[checklist] Application readiness", "block the ALTER TABLEs (auto)")
	for i := 2; i <= 3; i++ {
		term.keys("Space")
		term.waitFor(fmt.Sprintf("%d ticked items", i), func(s string) bool { return strings.Count(s, "[x]") == i })
	}
	term.keys("Enter")

	// The first write needs typed consent: the staging id is refused and
	// nothing is written; the production id lets the migration run.
	term.waitText("[sql] Apply migration 001", "WRITES", "enter sends 19 statement(s) to Connect-Prod")
	term.keys("Enter")
	// The promotion gate holds the first write: nothing proves the
	// runbook succeeded on staging. An override needs a typed reason.
	term.waitText("PROMOTION GATE: NO STAGING PROOF", "missing: no journal in", "enter override with this reason")
	term.keys("Enter")
	term.waitText("needs a reason")
	if got := readValidationState(t, ctx, conn); got != preMigration {
		t.Fatalf("the promotion gate must hold the write:\n got %+v\nwant %+v", got, preMigration)
	}
	term.typeText("tmux e2e: hotfix, staging is being rebuilt")
	term.keys("Enter")
	term.waitText("PRODUCTION: TYPED CONSENT", "Type the project id to continue:", "  rxlqtyfhsocxnsnnnlwl")
	term.typeText(db.DemoStagingProjectID)
	term.keys("Enter")
	term.waitText(`REJECTED: "mohctrsopquwoyfweadl" is not the project id. Nothing`)
	if got := readValidationState(t, ctx, conn); got != preMigration {
		t.Fatalf("a refused consent must write nothing:\n got %+v\nwant %+v", got, preMigration)
	}
	term.typeText(db.DemoProdProjectID)
	term.keys("Enter")
	s = term.waitText("[sql] VACUUM ANALYZE the affected tables", "enter sends 4 statement(s)")
	mustShow(t, s, " ok   Apply migration 001", "R ROLLBACK")
	term.keys("Enter")

	// Validation and the automated smoke tests: each one PASSes.
	checks := []string{
		"rate_limits RLS is off",
		"business_accounts.is_public exists, boolean, default true",
		"New business_accounts policy in place, old one gone",
		"Buckets avatars and chat-media are public with a 10 MiB limit",
		"The six storage.objects policies exist",
		"Owner sees their public and private business accounts",
		"Another user sees the owner's public account only",
		"No user sees anyone else's private business accounts",
		"Chat members see their chat's media and nothing else",
	}
	for i, title := range checks {
		next := "[manual] Upload an avatar"
		if i+1 < len(checks) {
			next = "[check] " + checks[i+1]
		}
		term.check(title, next)
	}

	// Manual smoke tests: pass, with a note.
	term.manualPass("Upload an avatar", "avatar uploaded; 11 MiB file rejected with 413")
	term.waitText("[manual] Upload and view chat media")
	term.manualPass("Upload and view chat media", "chat media ok; foreign chat upload refused")

	// Monitoring: open the window, see the live queries, end it early.
	term.waitText("[monitor] Monitor for 15 minutes", "enter opens it")
	term.keys("Enter")
	term.waitText("left of 0:15:00", "Waiting locks", "e ends early")
	term.keys("e")
	term.waitText("why end the monitoring window early?")
	term.typeText("tmux e2e: nothing to watch in the sandbox")
	term.keys("Enter")

	term.waitText("[message] Announce success", "RLS hardening is live on Connect-Prod", "c copies it")
	term.keys("Enter")

	term.waitText("[checklist] Post-deployment tasks")
	for i := 1; i <= 5; i++ {
		term.keys("Space")
		term.waitFor(fmt.Sprintf("%d ticked items", i), func(s string) bool { return strings.Count(s, "[x]") == i })
	}
	term.keys("Enter")

	// The end summary: outcome, journal head, every step ok.
	s = term.waitText("SUCCEEDED", "exit code 0", "head:")
	headOnScreen := regexp.MustCompile(`head:\s+([0-9a-f]{64})`).FindStringSubmatch(s)
	if headOnScreen == nil {
		t.Fatalf("the end summary should show the journal head hash:\n%s", s)
	}
	summary := term.summary()
	for _, title := range append([]string{"Supabase auth and storage schemas are present", "Current state (before the migration)"}, checks...) {
		if !regexp.MustCompile(`(?m)^\s+ok\s+` + regexp.QuoteMeta(title) + ` - (\d+ rows? match|no rows, as expected|report: \d+ rows)`).MatchString(summary) {
			t.Errorf("the end summary should list %q as ok with its result:\n%s", title, summary)
		}
	}
	for _, title := range []string{"Apply migration 001 (RLS hardening)", "VACUUM ANALYZE the affected tables", "Monitor for 15 minutes - ENDED EARLY after 0:00:", "Upload an avatar - avatar uploaded"} {
		if !regexp.MustCompile(`(?m)^\s+ok\s+` + regexp.QuoteMeta(title)).MatchString(summary) {
			t.Errorf("the end summary should list %q as ok:\n%s", title, summary)
		}
	}

	// The database is in the post-migration state, by direct queries and
	// by the runbook's own checks (`handrail check`, as cron would run it).
	if got := readValidationState(t, ctx, conn); got != postMigration {
		t.Fatalf("after the run the database should be in the post-migration state:\n got %+v\nwant %+v", got, postMigration)
	}
	if code, out := handrailCheck(t, bin, dsnFile); code != steps.ExitOK {
		t.Fatalf("handrail check after the migration: exit %d, want 0\n%s", code, out)
	}
	conn.Close(ctx)

	// q leaves; the demo prints where its journal is and removes its files.
	term.keys("q")
	s = term.waitText("handrail exited with 0")
	mustShow(t, s, ": succeeded", "journal: ", "head:    "+headOnScreen[1])
	if _, err := os.Stat(dsnFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the demo should remove its --dsn-file on exit: %v", err)
	}

	verifyTmuxJournal(t, logDir, headOnScreen[1], target)
}

// verifyTmuxJournal checks the session's journal: intact, ended as
// succeeded, with the head hash the screen showed, the operator's answers
// recorded in order, and no password in it.
func verifyTmuxJournal(t *testing.T, logDir, head string, target *db.ConnTarget) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(logDir, "*.jsonl"))
	if len(logs) != 1 {
		t.Fatalf("want one journal in %s, found %v", logDir, logs)
	}
	rep := journal.Verify(logs[0])
	if !rep.OK || !rep.Ended || rep.Outcome != steps.OutcomeSucceeded {
		t.Fatalf("journal.Verify: %+v", rep)
	}
	if rep.Head != head {
		t.Errorf("the end summary showed head %s, the journal's is %s", head, rep.Head)
	}
	log, err := journal.Read(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	seqOf := func(typ steps.EventType, step string) int64 {
		for _, e := range log.Events {
			if e.Type == typ && e.Step == step {
				return e.Seq
			}
		}
		t.Errorf("the journal has no %s event of %s", typ, step)
		return -1
	}
	rejected, given := seqOf(steps.EvConsentRejected, "apply-001"), seqOf(steps.EvConsentGiven, "apply-001")
	intent := seqOf(steps.EvIntent, "apply-001")
	if !(rejected < given && given < intent) {
		t.Errorf("consent: rejected at %d, given at %d, first write intent at %d; want that order", rejected, given, intent)
	}
	seqOf(steps.EvConfirmRejected, "confirm-backup")
	// The promotion gate: held the first write, refused an empty reason,
	// passed on the typed one, before the consent; on the record.
	held, overridden := seqOf(steps.EvPromotionRequired, "apply-001"), seqOf(steps.EvPromotionOverridden, "apply-001")
	if !(held < overridden && overridden < rejected) {
		t.Errorf("promotion gate: held at %d, overridden at %d, consent at %d; want that order", held, overridden, rejected)
	}
	for _, e := range log.Events {
		if e.Type == steps.EvPromotionOverridden && e.Text != "tmux e2e: hotfix, staging is being rebuilt" {
			t.Errorf("the override should record the typed reason, got %q", e.Text)
		}
		if e.Type == steps.EvCommandRefused && e.Command != nil && e.Command.Type == steps.CmdOverride && e.Seq > held && e.Seq < overridden {
			held = -1 // the empty reason was refused on the record
		}
	}
	if held != -1 {
		t.Errorf("the override without a reason should be refused on the record")
	}
	var tr bytes.Buffer
	if err := journal.Transcript(&tr, log); err != nil || !strings.Contains(tr.String(), "PROMOTION GATE OVERRIDDEN by the operator") {
		t.Errorf("the transcript should show the override as one (%v):\n%s", err, tr.String())
	}
	for _, e := range log.Events {
		if e.Type == steps.EvMonitorEnded && !strings.Contains(e.Text, "tmux e2e") {
			t.Errorf("the monitor's early end should record the typed reason, got %q", e.Text)
		}
	}
	cfg := target.Config()
	raw, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Password == "" || bytes.Contains(raw, []byte(cfg.Password)) {
		t.Errorf("the journal must not contain the database password")
	}
}

// tmuxStagingHardStop: against the staging database the production
// runbook stops hard; no key but q does anything; the exit code says so.
func tmuxStagingHardStop(t *testing.T, tmuxPath, bin string) {
	term := startTmux(t, tmuxPath, bin, "demo", "--target", "staging", "--log-dir", t.TempDir())
	s := term.waitText("HARD STOP: IDENTITY MISMATCH", "press q to quit")
	if !strings.HasPrefix(s, " DRY RUN ") {
		t.Errorf("without --apply the header must say DRY RUN:\n%s", s)
	}
	mustShow(t, s, "Connect-Prod rxlqtyfhsocxnsnnnlwl MISMATCH", "FORBIDDEN id matched: mohctrsopquwoyfweadl", "Nothing was written.")
	term.keys("Enter", "Space", "y", "R", "Escape", "Tab")
	term.keys("q")
	s = term.waitText("handrail exited with 3")
	mustShow(t, s, ": identity_hard_stop")
}

// tmuxOutputPiped: with stdout piped (| tee, > file) and stdin not the
// terminal either, the screen is still drawn on the terminal the keys
// come from (/dev/tty), and only the plain summary goes down the pipe.
func tmuxOutputPiped(t *testing.T, tmuxPath, bin string) {
	out := filepath.Join(t.TempDir(), "out.txt")
	term := startTmuxScript(t, tmuxPath, fmt.Sprintf("%s demo --target staging --log-dir %s </dev/null | cat > %s",
		shellQuote(bin), shellQuote(t.TempDir()), shellQuote(out)))
	term.waitText("HARD STOP: IDENTITY MISMATCH", "press q to quit")
	term.keys("q")
	term.waitText("handrail exited with")
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	if !strings.Contains(got, ": identity_hard_stop") || !strings.Contains(got, "journal: ") {
		t.Fatalf("the pipe did not get the session summary:\n%s", got)
	}
	if strings.ContainsRune(got, '\x1b') || strings.Contains(got, "HARD STOP") {
		t.Fatalf("the screen went down the pipe:\n%q", got)
	}
}

// --- the terminal ---

// tmuxTerm is one detached tmux session on a private server.
type tmuxTerm struct {
	t       *testing.T
	tmux    string
	socket  string
	session string
}

// startTmux runs bin with args in a new detached tmux session of
// tmuxWidth x tmuxHeight on its own server socket (never the user's). A
// shell around it prints the exit status and keeps the pane open, so the
// test can read what handrail printed last.
func startTmux(t *testing.T, tmuxPath, bin string, args ...string) *tmuxTerm {
	t.Helper()
	quoted := []string{shellQuote(bin)}
	for _, a := range args {
		quoted = append(quoted, shellQuote(a))
	}
	return startTmuxScript(t, tmuxPath, strings.Join(quoted, " "))
}

// startTmuxScript runs the shell command line in the tmux session.
func startTmuxScript(t *testing.T, tmuxPath, command string) *tmuxTerm {
	t.Helper()
	dir, err := os.MkdirTemp("", "hr-tmux-") // short: a socket path is limited to ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	term := &tmuxTerm{t: t, tmux: tmuxPath, socket: filepath.Join(dir, "s"), session: "handrail"}
	script := command + `; echo "handrail exited with $?"; exec sleep 3600`
	t.Cleanup(func() {
		term.shutdown()
		os.RemoveAll(dir)
	})
	term.tmuxCmd("-f", "/dev/null", "new-session", "-d", "-s", term.session,
		"-x", fmt.Sprint(tmuxWidth), "-y", fmt.Sprint(tmuxHeight), "sh", "-c", script)
	return term
}

func (tt *tmuxTerm) tmuxCmd(args ...string) string {
	tt.t.Helper()
	out, err := tt.run(args...)
	if err != nil {
		tt.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// run runs tmux on the private socket, outside any tmux the test runs in.
func (tt *tmuxTerm) run(args ...string) (string, error) {
	cmd := exec.Command(tt.tmux, append([]string{"-S", tt.socket}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TMUX=") && !strings.HasPrefix(kv, "TMUX_PANE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// screen is the visible pane as text.
func (tt *tmuxTerm) screen() string {
	tt.t.Helper()
	return tt.tmuxCmd("capture-pane", "-p", "-t", tt.session)
}

// keys sends tmux key names: Enter, Space, Escape, BTab, PgDn, C-c, q.
func (tt *tmuxTerm) keys(keys ...string) {
	tt.t.Helper()
	tt.tmuxCmd(append([]string{"send-keys", "-t", tt.session}, keys...)...)
}

// typeText types s literally.
func (tt *tmuxTerm) typeText(s string) {
	tt.t.Helper()
	tt.tmuxCmd("send-keys", "-t", tt.session, "-l", s)
}

// waitFor polls the screen until ok holds, failing after tmuxWait with
// the last screen.
func (tt *tmuxTerm) waitFor(what string, ok func(string) bool) string {
	tt.t.Helper()
	deadline := time.Now().Add(tmuxWait)
	for {
		s := tt.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			tt.t.Fatalf("waited %s for %s; the screen:\n%s", tmuxWait, what, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitText waits until the screen shows every one of texts.
func (tt *tmuxTerm) waitText(texts ...string) string {
	tt.t.Helper()
	return tt.waitFor(fmt.Sprintf("%q", texts), func(s string) bool {
		for _, x := range texts {
			if !strings.Contains(s, x) {
				return false
			}
		}
		return true
	})
}

// check runs the check step on screen with enter, waits until the
// session moved on to next (a passed check moves on at once), then shows
// the check's pane again with shift+tab to read its verdict, and returns
// to the current step with esc.
func (tt *tmuxTerm) check(title, next string) string {
	tt.t.Helper()
	head := "[check] " + prefix(title, 40)
	tt.waitText(head, "not run yet: enter runs it")
	tt.keys("Enter")
	tt.waitText(prefix(next, 40), "previous: ok ")
	tt.keys("BTab")
	s := tt.waitText(head, "viewing another step")
	verdict := regexp.MustCompile(`(?m)│\s+(PASS|FAIL)\s`).FindStringSubmatch(s)
	if verdict == nil || verdict[1] != "PASS" {
		tt.t.Fatalf("check %q should show PASS:\n%s", title, s)
	}
	tt.keys("Escape")
	tt.waitFor("back to "+next, func(s string) bool {
		return strings.Contains(s, prefix(next, 40)) && !strings.Contains(s, "viewing another step")
	})
	return s
}

// manualPass records a pass with a note on the manual step on screen.
func (tt *tmuxTerm) manualPass(title, note string) {
	tt.t.Helper()
	tt.waitText("[manual] "+title, "p pass, f fail")
	tt.keys("p")
	tt.waitText("PASS: note (optional)")
	tt.typeText(note)
	tt.keys("Enter")
	tt.waitText("previous: ok   " + prefix(title, 30))
}

// summary reads the whole end summary, a page at a time, down to its
// last line (the last rollback step, not run).
func (tt *tmuxTerm) summary() string {
	tt.t.Helper()
	const last = "Announce the rollback"
	var all []string
	seen := map[string]bool{}
	for page := 0; ; page++ {
		s := tt.screen()
		for _, l := range strings.Split(s, "\n") {
			if !seen[l] {
				seen[l] = true
				all = append(all, l)
			}
		}
		if strings.Contains(s, last) {
			return strings.Join(all, "\n")
		}
		if page == 10 {
			tt.t.Fatalf("the end summary never reached %q:\n%s", last, strings.Join(all, "\n"))
		}
		tt.keys("PgDn")
		tt.waitFor("the summary to scroll", func(now string) bool { return now != s })
	}
}

// shutdown leaves a session still running the way an operator would
// (ctrl+c asks, a second one confirms), so the demo removes its sandbox,
// then ends the private tmux server.
func (tt *tmuxTerm) shutdown() {
	run := tt.run
	deadline := time.Now().Add(tmuxWait)
	for time.Now().Before(deadline) {
		s, err := run("capture-pane", "-p", "-t", tt.session)
		if err != nil || strings.Contains(s, "handrail exited with") {
			break
		}
		_, _ = run("send-keys", "-t", tt.session, "C-c")
		time.Sleep(100 * time.Millisecond)
	}
	_, _ = run("kill-server")
}

// --- the database and the CLI ---

// validationState is what migration 001 changes, read directly.
type validationState struct {
	RateLimitsRLS    bool
	IsPublicDefault  string // "" when the column does not exist
	OldPolicy        bool
	NewPolicy        bool
	PublicBuckets    int
	LimitedBuckets   int // with a 10 MiB file_size_limit
	StoragePolicies  int
	PrivateAccounts  int // business accounts not public (is_public false)
	SettingsPrivates int // business accounts whose settings say private
}

var (
	preMigration  = validationState{RateLimitsRLS: true, OldPolicy: true, SettingsPrivates: 3}
	postMigration = validationState{IsPublicDefault: "true", NewPolicy: true, PublicBuckets: 2, LimitedBuckets: 2,
		StoragePolicies: 6, PrivateAccounts: 3, SettingsPrivates: 3}
)

func readValidationState(t *testing.T, ctx context.Context, conn *pgx.Conn) validationState {
	t.Helper()
	var v validationState
	err := conn.QueryRow(ctx, `
select (select rowsecurity from pg_tables where schemaname = 'public' and tablename = 'rate_limits'),
       coalesce((select column_default from information_schema.columns
                  where table_schema = 'public' and table_name = 'business_accounts' and column_name = 'is_public'), ''),
       exists (select 1 from pg_policies where schemaname = 'public' and tablename = 'business_accounts'
                  and policyname = 'Users can view business accounts'),
       exists (select 1 from pg_policies where schemaname = 'public' and tablename = 'business_accounts'
                  and policyname = 'Users can view public or owned business accounts'),
       (select count(*) from storage.buckets where id in ('avatars', 'chat-media') and public),
       (select count(*) from storage.buckets where id in ('avatars', 'chat-media') and file_size_limit = 10485760),
       (select count(*) from pg_policies where schemaname = 'storage' and tablename = 'objects'
                  and policyname like 'Users can %'),
       (select count(*) from public.business_accounts where settings ->> 'visibility' = 'private')`,
	).Scan(&v.RateLimitsRLS, &v.IsPublicDefault, &v.OldPolicy, &v.NewPolicy, &v.PublicBuckets, &v.LimitedBuckets,
		&v.StoragePolicies, &v.SettingsPrivates)
	if err != nil {
		t.Fatalf("reading the validation state: %v", err)
	}
	if v.IsPublicDefault != "" {
		if err := conn.QueryRow(ctx, `select count(*) from public.business_accounts where not is_public`).Scan(&v.PrivateAccounts); err != nil {
			t.Fatalf("counting private business accounts: %v", err)
		}
	}
	return v
}

// waitForDSN reads DATABASE_URL from the demo's --dsn-file the way
// `--env-file` does (the file is written whole, by rename).
func waitForDSN(t *testing.T, term *tmuxTerm, path string) *db.ConnTarget {
	t.Helper()
	deadline := time.Now().Add(tmuxWait)
	for {
		if _, err := os.Stat(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not write %s; the screen:\n%s", path, term.screen())
		}
		time.Sleep(20 * time.Millisecond)
	}
	target, warnings, err := db.Resolve(db.DSNSource{EnvFile: path})
	if err != nil || len(warnings) > 0 {
		t.Fatalf("the --dsn-file should be a clean env file: %v %v", err, warnings)
	}
	return target
}

// handrailCheck runs `handrail check connect-rls-hardening --env-file F`.
func handrailCheck(t *testing.T, bin, envFile string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, "check", "connect-rls-hardening", "--env-file", envFile)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("handrail check: %v\n%s", err, out)
	return -1, ""
}

// --- small helpers ---

func mustShow(t *testing.T, screen string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(screen, w) {
			t.Errorf("the screen lacks %q:\n%s", w, screen)
		}
	}
}

// prefix is s cut to n runes: long step titles are cut on screen.
func prefix(s string, n int) string {
	r := []rune(s)
	return string(r[:min(n, len(r))])
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
