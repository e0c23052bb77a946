// Package session runs a guided session: it creates or resumes the
// journal, builds the engine, shares the session with pair partners when
// asked, and shows it on a frontend (the operator's screen, or a scripted
// operator in tests) until the operator leaves. Every event is journaled
// before any screen sees it. main only parses flags and calls Run.
package session

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/internal/queue"
	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/promote"
	"github.com/handrail-dev/handrail/runbooks"
	"github.com/handrail-dev/handrail/share"
	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/ui"
)

// Frontend shows a live session and sends the operator's commands to the
// engine; it returns when the operator left.
type Frontend func(eng *steps.Engine, rb *steps.Runbook, opts ui.Options) (steps.Outcome, error)

// Spec is what `run` and `demo` ask for.
type Spec struct {
	RunbookArg string // RUNBOOK as given (a path or an example name)
	// Loaded is RunbookArg loaded already, without errors (the demo loads
	// its own runbook to check its project id): a new session uses it
	// rather than load it again (a runbook of a 50 MB file is loaded
	// once, not held twice). Nil: the session loads RunbookArg.
	Loaded *steps.Runbook
	Resume string // journal to resume
	Target *db.ConnTarget
	Apply  bool
	// Rehearse: run --rehearse (see steps.Config.Rehearse); not with Apply.
	Rehearse bool
	Operator string
	LogDir   string // "" for the default session directory
	Demo     bool   // the database is a throwaway sandbox: resuming makes no sense
	Env      string // --env: the runbook's environment
	// StagingJournal is --staging-journal: the promotion's proof.
	StagingJournal string
	ShareAddr      string // --share: serve the session to pair partners over SSH
	ShareKeys      string // --share-keys
	// RequireApproval is --require-approval: at least this many approvers
	// approve each write, whatever the runbook's [approval] says.
	RequireApproval int
	// resumedApproval is what the session being resumed required (the
	// most any of its runs did): a resume never asks for fewer.
	resumedApproval int

	Version        string   // handrail's, for the journal header
	Environ        []string // base environment of exec steps; USER, SSH_CONNECTION, TMUX
	Stdout, Stderr io.Writer
	// Frontend is nil for the operator's screen on the terminal.
	Frontend Frontend

	keys *share.Keys // --share-keys as read (nil without --share)
}

// stagingRun is the command that records this runbook's staging journal,
// for the promotion gate's message: handrail run with the RUNBOOK as
// given and a --db to fill in, or for a demo handrail demo, which runs on
// the demo's sandbox.
func (spec *Spec) stagingRun() string {
	arg := ""
	if spec.RunbookArg != "" {
		arg = " " + spec.RunbookArg
	}
	if !spec.Demo {
		// The RUNBOOK as given: the runbook's id names no directory.
		return "handrail run" + arg + " --env staging --db STAGING_DSN --apply"
	}
	return "handrail demo" + arg + " --env staging --apply"
}

// identityFix is what the identity hard stop tells a demo's operator to
// do: handrail demo has no --db, and its staging sandbox (--target
// staging) is there to show the stop ("" for handrail run's default).
func (spec *Spec) identityFix() string {
	if !spec.Demo {
		return ""
	}
	return "handrail demo has no --db: it runs on its own sandbox, and --target staging points it at the " +
		"sandbox's staging database to show this stop. Run handrail demo without --target staging to go on."
}

// opened is what Run sets up before the engine starts.
type opened struct {
	rb         *steps.Runbook
	w          *journal.Writer
	prior      []steps.Event
	resumeNote string
	sessionID  string
}

// Run runs the session and returns the process's exit code.
func Run(spec Spec) int {
	frontend, termWidth, termHeight, closeScreen, code := spec.frontend()
	if code != 0 {
		return code
	}
	defer closeScreen()
	// --share is bound before anything is journaled, so a mistake in it
	// stops here.
	shared, code := spec.openShare()
	if code != 0 {
		return code
	}
	defer shared.Close(share.LeftExited)
	spec.keys = shared.Keys()
	o, code := spec.open(termWidth, termHeight)
	if code != 0 {
		return code
	}
	defer o.w.Close()
	if shared != nil {
		// Said once the session will run: a session refused before
		// (approval, runbook) never announced a share.
		shared.Describe(spec.Stderr)
	}
	defer tuneGCFor(o.rb)()
	return spec.run(o, shared, frontend)
}

// frontend is the spec's, or the operator's screen on the terminal.
func (spec *Spec) frontend() (Frontend, int, int, func(), int) {
	if spec.Frontend != nil {
		return spec.Frontend, 0, 0, func() {}, 0
	}
	screen, err := openScreen()
	if err != nil {
		fmt.Fprintf(spec.Stderr, "handrail: the guided run needs a terminal (%v); nothing was run or journaled.\n"+
			"Run it from an interactive shell (over SSH, inside tmux or screen); for unattended checks use handrail check RUNBOOK --db DSN.\n", err)
		return nil, 0, 0, nil, steps.ExitUsage
	}
	return screen.frontend, screen.width, screen.height, screen.close, 0
}

// refuseFinished refuses to resume a session that ended for good
// (succeeded, or rolled back): there is nothing left to do, and appending
// would change the head hash already pasted into the change ticket.
func refuseFinished(stderr io.Writer, path string, prior []steps.Event) int {
	st := steps.Fold(prior)
	if !st.Ended || (st.Outcome != steps.OutcomeSucceeded && st.Outcome != steps.OutcomeRolledBack) {
		return 0
	}
	fmt.Fprintf(stderr, "handrail run: %s: the session ended %s; there is nothing to resume (the journal was not touched).\n"+
		"To run the runbook again, start a new session: handrail run RUNBOOK --db DSN.\n", path, st.Outcome)
	return steps.ExitUsage
}

// open loads the runbook and creates the journal, or reopens the one to
// resume (refusing a runbook that changed since).
func (spec *Spec) open(termWidth, termHeight int) (*opened, int) {
	o := &opened{sessionID: newSessionID()}
	secrets := spec.Target.Secrets()
	if spec.Resume != "" {
		var err error
		o.w, o.prior, err = journal.OpenAppend(spec.Resume, secrets)
		if err != nil {
			fmt.Fprintf(spec.Stderr, "handrail run: %v\n", err)
			return nil, steps.ExitUsage
		}
		if line, n := o.w.TornTail(); line > 0 {
			fmt.Fprintf(spec.Stderr, "handrail run: the journal's last line (%d, %d bytes) was torn by a crash; it was dropped\n", line, n)
			o.resumeNote = fmt.Sprintf("the journal's last line %d (%d bytes) was torn by the crash and dropped", line, n)
		}
		h := o.w.Header()
		if o.rb = spec.resumedRunbook(h); o.rb == nil {
			o.w.Close()
			return nil, steps.ExitUsage
		}
		if code := refuseFinished(spec.Stderr, spec.Resume, o.prior); code != 0 {
			o.w.Close()
			return nil, code
		}
		if spec.Operator == "" {
			spec.Operator = h.Operator
		}
		spec.resumedApproval = approvalRequiredBy(o.prior)
	} else if o.rb = spec.freshRunbook(); o.rb == nil {
		return nil, steps.ExitUsage
	}
	code := spec.defaults()
	if code == 0 {
		code = spec.checkApproval(o.rb)
	}
	if code != 0 {
		if o.w != nil {
			o.w.Close()
		}
		return nil, code
	}
	if o.w != nil {
		return o, 0
	}
	var err error
	o.w, err = journal.Create(spec.LogDir, journal.Header{
		SessionID: o.sessionID, RunbookID: o.rb.Meta.ID, RunbookHash: o.rb.Hash,
		HandrailVersion: spec.Version, Operator: spec.Operator,
		TargetName: o.rb.Target.Name, ProjectID: o.rb.Target.ProjectID,
		DSN: spec.Target.Display(), TermWidth: termWidth, TermHeight: termHeight,
		Apply: spec.Apply, RunbookPath: RunbookRef(spec.RunbookArg), Environment: o.rb.Env,
	}, secrets)
	if err != nil {
		fmt.Fprintf(spec.Stderr, "handrail run: cannot create the session journal: %v\nNothing was run. Choose a writable directory with --log-dir.\n", err)
		return nil, steps.ExitFailed
	}
	return o, 0
}

// defaults fills the log directory and the operator's name.
func (spec *Spec) defaults() int {
	if spec.LogDir == "" {
		d, err := journal.DefaultDir()
		if err != nil {
			fmt.Fprintf(spec.Stderr, "handrail run: %v\n", err)
			return steps.ExitUsage
		}
		spec.LogDir = d
	}
	if spec.Operator == "" {
		spec.Operator = CurrentUser(spec.Environ)
	}
	return 0
}

// run runs the engine on its own goroutine, journals every event before
// the screens see it, and shows the frontend until the operator leaves.
func (spec *Spec) run(o *opened, shared *share.Server, frontend Frontend) int {
	events := queue.NewCoalescing(ui.EventBuffer, steps.Superseded)
	// Journal first, then the screens (the operator's, the partners'):
	// nothing is shown that is not recorded, and shown as recorded, every
	// secret redacted (an exec step's output may print PGPASSWORD). Events
	// that happen together (a statement ends as the next one starts) go to
	// the journal in one write. A screen behind the session skips the
	// statement events a later start supersedes (steps.Superseded): its
	// backlog stays small however fast a step runs.
	sink, batch := o.w.Sinks(func(rec steps.Event) {
		events.Push(rec)
		shared.Publish(rec)
	})
	eng := steps.NewEngine(steps.Config{
		Runbook: o.rb, Target: spec.Target, Apply: spec.Apply, Rehearse: spec.Rehearse, Operator: spec.Operator,
		RequireApproval: max(spec.RequireApproval, spec.resumedApproval), OperatorKeys: share.OperatorKeys(EnvLookup(spec.Environ)("HOME")),
		SessionID: o.sessionID, Prior: o.prior, ResumeNote: o.resumeNote, Environ: spec.Environ,
		ProveStaging: promote.Prover(promote.Request{Runbook: o.rb, Journal: spec.StagingJournal, Dir: spec.LogDir, StagingRun: spec.stagingRun(), Demo: spec.Demo}),
		Sink:         sink, SinkBatch: batch,
	})
	shared.Start(eng, o.prior, o.w.Path())
	ctx, stop := signalContext()
	defer stop()
	var (
		outcome steps.Outcome
		runErr  error
		ran     = make(chan struct{}) // closed once outcome and runErr are set
	)
	go func() {
		outcome, runErr = eng.Run(ctx)
		close(ran)
		events.Close()
	}()
	uiOutcome, uiErr := frontend(eng, o.rb, ui.Options{
		Mode: ui.Live, Send: eng.Send, Events: events.Out(), Initial: o.prior,
		SSHWarning: sshWarning(spec.Environ), JournalPath: o.w.Path(), Head: o.w.Head, Context: ctx,
		IdentityFix: spec.identityFix(),
		Done: func() ui.Result {
			<-ran
			return ui.Result{Outcome: outcome, Err: runErr, Journal: o.w.Path(), Head: o.w.Head()}
		},
	})
	// The screen is gone; make sure the engine ends and the journal is complete.
	eng.Send(steps.Command{Type: steps.CmdQuit})
	<-ran
	shared.Close(share.LeftExited) // partners' leaves, before the journal closes
	if uiErr != nil {
		fmt.Fprintf(spec.Stderr, "handrail: the screen failed: %v\n", uiErr)
	}
	if runErr != nil {
		fmt.Fprintf(spec.Stderr, "handrail: %v\n", runErr)
	}
	if outcome == "" {
		outcome = uiOutcome
	}
	spec.report(o, outcome, eng.Wrote())
	return outcome.ExitCode()
}

// report is what a guided run prints once its screen is gone: the
// outcome, the journal and its head, and how to go on.
func (spec *Spec) report(o *opened, outcome steps.Outcome, wrote bool) {
	w := o.w
	fmt.Fprintf(spec.Stdout, "session %s: %s\njournal: %s\nhead:    %s\n", o.sessionID, outcome, w.Path(), w.Head())
	fmt.Fprintf(spec.Stdout, "replay:  handrail replay %s\n", w.Path())
	if outcome == steps.OutcomeAborted && !spec.Demo {
		if wrote {
			fmt.Fprintf(spec.Stdout, "resume:  handrail run --resume %s --db DSN%s%s\n", w.Path(), map[bool]string{true: " --apply"}[spec.Apply], spec.resumeShare(o.rb))
		} else {
			fmt.Fprintln(spec.Stdout, "nothing was written: run the runbook again to start over")
		}
	}
}

// resumeShare is what a resume of this session needs to be shared: a
// session that required approval requires it again (checkApproval).
func (spec *Spec) resumeShare(rb *steps.Runbook) string {
	if !spec.Apply || max(rb.Approval.Required, spec.RequireApproval, spec.resumedApproval) == 0 {
		return ""
	}
	return fmt.Sprintf(" --share %s --share-keys %s", spec.ShareAddr, spec.ShareKeys)
}

// resumedRunbook loads the runbook a journal records, in its environment,
// and makes sure it is the same content; nil (having said why) if not.
func (spec *Spec) resumedRunbook(h journal.Header) *steps.Runbook {
	rb, problems := LoadRunbook(h.RunbookPath)
	if rb == nil || len(problems.Errors()) > 0 {
		steps.FormatProblems(spec.Stderr, problems)
		fmt.Fprintf(spec.Stderr, "handrail run: cannot resume: the runbook %q recorded in the journal does not load\n", h.RunbookPath)
		return nil
	}
	rb, err := rb.ForEnv(h.Environment)
	if err != nil {
		fmt.Fprintf(spec.Stderr, "handrail run: cannot resume: %v\n", err)
		return nil
	}
	if rb.Hash != h.RunbookHash {
		fmt.Fprintf(spec.Stderr, "handrail run: cannot resume: runbook %s changed since the session started\n  recorded sha256 %s\n  now      sha256 %s\nRestore the runbook as it was (e.g. from version control) and resume again.\n", h.RunbookPath, h.RunbookHash, rb.Hash)
		return nil
	}
	return rb
}

// freshRunbook loads RUNBOOK for a new session in its environment; nil
// (having said why) if it does not load or has no such environment.
func (spec *Spec) freshRunbook() *steps.Runbook {
	rb := spec.Loaded
	if rb == nil {
		var problems steps.Problems
		rb, problems = LoadRunbook(spec.RunbookArg)
		if rb == nil || len(problems.Errors()) > 0 {
			steps.FormatProblems(spec.Stderr, problems)
			return nil
		}
	}
	rb, err := rb.ForEnv(spec.Env)
	if err != nil {
		fmt.Fprintf(spec.Stderr, "handrail run: --env: %v\n", err)
		return nil
	}
	return rb
}

// checkApproval refuses, before anything is journaled or run, an
// applying session that requires approval but cannot get it: it is not
// shared, or its keys file names fewer approvers (other than the
// operator) than it needs.
func (spec *Spec) checkApproval(rb *steps.Runbook) int {
	need := max(rb.Approval.Required, spec.RequireApproval, spec.resumedApproval)
	if need == 0 || !spec.Apply {
		return 0
	}
	if spec.keys == nil {
		fmt.Fprintf(spec.Stderr, "handrail run: every write of this session needs %d approver(s) (%s), and approvers join over SSH: "+
			"add --share ADDR --share-keys FILE (see Pair deploy in the README). Nothing was run.\n", need, spec.approvalSource(rb))
		return steps.ExitUsage
	}
	n := 0
	for _, k := range spec.keys.List {
		if k.Role == steps.RoleApprover && !strings.EqualFold(k.Name, spec.Operator) {
			n++
		}
	}
	if n < need {
		fmt.Fprintf(spec.Stderr, "handrail run: every write of this session needs %d approver(s) (%s), but %s names %d approver(s) other than the operator %s: "+
			"add a key with the role approver for each (a line: ssh-ed25519 AAAA... NAME approver). Nothing was run.\n", need, spec.approvalSource(rb), spec.keys.Path, n, spec.Operator)
		return steps.ExitUsage
	}
	return 0
}

func (spec *Spec) approvalSource(rb *steps.Runbook) string {
	flag := spec.RequireApproval
	switch {
	case spec.resumedApproval > max(flag, rb.Approval.Required):
		return fmt.Sprintf("the session being resumed required it, %d per write", spec.resumedApproval)
	case flag >= rb.Approval.Required:
		return fmt.Sprintf("--require-approval %d", flag)
	}
	return fmt.Sprintf("[approval] required = %d in the runbook", rb.Approval.Required)
}

// approvalRequiredBy is the most approvals per write that the journaled
// runs of a session required (its start, and every resume).
func approvalRequiredBy(prior []steps.Event) int {
	n := 0
	for _, e := range prior {
		if (e.Type == steps.EvSessionStarted || e.Type == steps.EvSessionResumed) && e.Session != nil {
			n = max(n, e.Session.ApprovalRequired)
		}
	}
	return n
}

// openShare binds --share before anything is journaled or run, so a
// mistake in it (keys file, address, host key) stops here. No --share:
// a nil server, whose methods do nothing.
func (spec *Spec) openShare() (*share.Server, int) {
	if shared, code := spec.shareFlags(); !shared || code != 0 {
		return nil, code
	}
	sh, err := share.Listen(spec.shareConfig())
	if err != nil {
		fmt.Fprintf(spec.Stderr, "handrail: %v\nNothing was run.\n", err)
		return nil, steps.ExitUsage
	}
	return sh, 0
}

// shareFlags reports whether the session is shared, refusing --share
// without --share-keys and the reverse.
func (spec *Spec) shareFlags() (shared bool, code int) {
	switch {
	case spec.ShareAddr == "" && spec.ShareKeys == "":
		return false, 0
	case spec.ShareAddr == "":
		fmt.Fprintln(spec.Stderr, "handrail: --share-keys needs --share ADDR (where partners connect, e.g. --share :2222)")
		return false, steps.ExitUsage
	case spec.ShareKeys == "":
		fmt.Fprintln(spec.Stderr, "handrail: --share needs --share-keys FILE: who may join (one OpenSSH public key a line, ending with the partner's name and role)")
		return false, steps.ExitUsage
	}
	return true, 0
}

func (spec *Spec) shareConfig() share.Config {
	return share.Config{Addr: spec.ShareAddr, KeysFile: spec.ShareKeys, Getenv: EnvLookup(spec.Environ)}
}

// Check refuses, before anything starts, what Run would refuse of a new
// session without a database: the --share flags and keys file, the
// runbook and its environment, an approval the session could never get.
// The demo calls it before its throwaway PostgreSQL starts; Run itself
// checks the same again (and binds --share).
func (spec Spec) Check() int {
	shared, code := spec.shareFlags()
	if code != 0 {
		return code
	}
	if shared {
		keys, err := share.Check(spec.shareConfig())
		if err != nil {
			fmt.Fprintf(spec.Stderr, "handrail: %v\nNothing was run.\n", err)
			return steps.ExitUsage
		}
		spec.keys = keys
	}
	rb := spec.freshRunbook()
	if rb == nil {
		return steps.ExitUsage
	}
	if code := spec.defaults(); code != 0 {
		return code
	}
	return spec.checkApproval(rb)
}

// LoadRunbook resolves RUNBOOK as the CLI takes it: a directory, a
// runbook.toml path, or the name of an embedded example.
func LoadRunbook(arg string) (*steps.Runbook, steps.Problems) {
	if _, err := os.Stat(arg); err == nil {
		return steps.Load(arg)
	}
	if slices.Contains(runbooks.Names(), arg) {
		return steps.LoadFS(runbooks.FS, arg)
	}
	return nil, steps.Problems{{Path: arg, Severity: steps.Error,
		Msg:  "no such runbook directory or file",
		Hint: "give a directory holding runbook.toml, a runbook.toml path, or an example: " + strings.Join(runbooks.Names(), ", ")}}
}

// EnvLookup reads environ like os.Getenv.
func EnvLookup(environ []string) func(string) string {
	return func(k string) string {
		for i := len(environ) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(environ[i], k+"="); ok {
				return v
			}
		}
		return ""
	}
}

// RunbookRef is RUNBOOK as a later command finds it again: an absolute
// path when it is one on disk, else the example's name.
func RunbookRef(arg string) string {
	if _, err := os.Stat(arg); err == nil {
		if abs, err := filepath.Abs(arg); err == nil {
			return abs
		}
	}
	return arg
}

// CurrentUser is the operator by default: $USER, else the login name.
func CurrentUser(environ []string) string {
	if u := EnvLookup(environ)("USER"); u != "" {
		return u
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
	env := EnvLookup(environ)
	if env("SSH_CONNECTION") == "" || env("TMUX") != "" || env("STY") != "" {
		return ""
	}
	return "You are on SSH outside tmux/screen: if the connection drops, this session stops (the journal stays resumable with --resume). Consider running inside tmux."
}
