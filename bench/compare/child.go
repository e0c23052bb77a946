package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/promote"
	"github.com/handrail-dev/handrail/steps"
)

// childCommand is the hidden subcommand that runs the handrail side of one
// measurement in its own process, so its peak RSS is its own.
const childCommand = "__handrail-session"

// spawnCommand is the hidden subcommand that makes this program the
// launcher (spawn.Main) when the small one cannot be built.
const spawnCommand = "__spawn"

// dsnEnv carries the DSN to the child (not in argv: it holds a password).
const dsnEnv = "HANDRAIL_BENCH_DSN"

// childResult is what the child prints (one JSON line on stdout).
type childResult struct {
	Outcome      steps.Outcome `json:"outcome"`
	Events       int           `json:"events"`
	Fsyncs       int           `json:"fsyncs"`
	JournalBytes int64         `json:"journal_bytes"`
	// BeforeFirst: the journal's size before the first statement (tty
	// workloads, read from the journal).
	BeforeFirst int64  `json:"before_first,omitempty"`
	Head        string `json:"head"`
	Error       string `json:"error,omitempty"`
}

// childMain runs one handrail session headless, the way `handrail run`
// does minus the screen: load the runbook, create the journal (fsync
// policy as in production), start the engine with the journal as its sink,
// and let the autopilot (steps.Drive) play the operator. The engine
// connects, verifies the target's identity, takes the deploy lock, and
// runs every step through the same code the TUI drives.
func childMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(childCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	runbookDir := fs.String("runbook", "", "runbook directory")
	journalDir := fs.String("journal", "", "journal directory")
	apply := fs.Bool("apply", false, "apply (default: dry run)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile here")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	res, err := runSession(*runbookDir, *journalDir, os.Getenv(dsnEnv), *apply, *cpuProfile)
	if err != nil {
		res.Error = err.Error()
	}
	_ = json.NewEncoder(stdout).Encode(res)
	if err != nil || res.Outcome != steps.OutcomeSucceeded {
		return 1
	}
	return 0
}

func runSession(runbookDir, journalDir, dsn string, apply bool, cpuProfile string) (res childResult, err error) {
	if runbookDir == "" || journalDir == "" || dsn == "" {
		return res, errors.New("need -runbook, -journal and $" + dsnEnv)
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return res, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, err
		}
		defer pprof.StopCPUProfile()
	}
	rb, err := loadRunbook(runbookDir)
	if err != nil {
		return res, err
	}
	target, err := db.ParseTarget(dsn)
	if err != nil {
		return res, err
	}
	sessionID := fmt.Sprintf("bench-%d", os.Getpid())
	w, err := journal.Create(journalDir, journal.Header{
		SessionID: sessionID, RunbookID: rb.Meta.ID, RunbookHash: rb.Hash,
		HandrailVersion: "bench", Operator: "bench",
		TargetName: rb.Target.Name, ProjectID: rb.Target.ProjectID,
		DSN: target.Display(), Apply: apply, RunbookPath: runbookDir,
	}, target.Secrets())
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := w.Close(); cerr != nil && err == nil {
			err = cerr
		}
		res.Fsyncs = w.Syncs()
		if fi, serr := os.Stat(w.Path()); serr == nil {
			res.JournalBytes = fi.Size()
		}
		res.Head = w.Head()
	}()

	sink, batch := w.Sinks(func(steps.Event) { res.Events++ })
	eng := steps.NewEngine(steps.Config{
		Runbook: rb, Target: target, Apply: apply, Operator: "bench", SessionID: sessionID,
		// The journal is the sink, as in `handrail run` (which then hands
		// the event to the screen): nothing acts unrecorded.
		// As `handrail run` does: the promotion gate and a staging_proof
		// item look for the staging journal in the log directory (the
		// bench has none there, so the autopilot skips the item and
		// overrides the gate, both on the record).
		ProveStaging: promote.Prover(promote.Request{Runbook: rb, Dir: journalDir}),
		Sink:         sink, SinkBatch: batch,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	driveErr := make(chan error, 1)
	go func() { driveErr <- steps.Drive(ctx, eng, rb, stopOnFailure(rb)) }()
	out, runErr := eng.Run(ctx)
	res.Outcome = out
	if err := <-driveErr; err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return res, runErr
	}
	if out != steps.OutcomeSucceeded {
		s := eng.State()
		return res, fmt.Errorf("session %s: %s", out, whatFailed(&s))
	}
	return res, nil
}

// stopOnFailure quits the session when a step or a self-ticking item
// failed: a benchmark of a failing run measures nothing (and the
// autopilot would skip a failed check in a dry run). A staging_proof item
// without a staging journal is not a failure: the autopilot skips it and
// overrides the promotion gate, saying so on the record, as a scripted
// run without a staging journal does.
func stopOnFailure(rb *steps.Runbook) func(*steps.State) (steps.Command, bool) {
	proofItem := map[string]map[int]bool{}
	for _, st := range rb.AllSteps() {
		for j, it := range st.Items {
			if it.StagingProof {
				if proofItem[st.ID] == nil {
					proofItem[st.ID] = map[int]bool{}
				}
				proofItem[st.ID][j] = true
			}
		}
	}
	return func(s *steps.State) (steps.Command, bool) {
		st := s.CurrentStep()
		if st == nil || s.Ended {
			return steps.Command{}, false
		}
		switch st.Status {
		case steps.StatusFailed, steps.StatusUnknown, steps.StatusCancelled:
			return steps.Command{Type: steps.CmdQuit}, true
		}
		for j, it := range st.ItemStates {
			if it.Check != nil && !it.Ticked && !it.Skipped && !proofItem[st.ID][j] {
				return steps.Command{Type: steps.CmdQuit}, true
			}
		}
		return steps.Command{}, false
	}
}

// whatFailed names the failed step (or item) and why.
func whatFailed(s *steps.State) string {
	for _, st := range s.Steps {
		if st.Error != nil {
			return fmt.Sprintf("step %s: %s", st.ID, st.Error.Message)
		}
		for j, it := range st.ItemStates {
			if it.Check != nil && !it.Ticked && !it.Skipped {
				return fmt.Sprintf("step %s item %d: %s", st.ID, j+1, it.Check.Summary)
			}
		}
	}
	if s.LastError != nil {
		return s.LastError.Message
	}
	return "no step failed"
}
