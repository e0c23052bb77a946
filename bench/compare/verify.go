package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/steps"
)

// verifyEvents is the size of the verify workload's journal.
const verifyEvents = 500_000

// Targets of issue 15 for `handrail verify` as a process.
const (
	targetVerifyRate = 200_000  // events/s
	targetVerifyRSS  = 32 << 20 // bytes
)

// writeVerifyJournal writes a completed session of n events into dir
// (journal.Create, the production fsync policy) and returns its path: 20
// sql steps cycled, each started, intent, a statement with 12 row
// batches and a notice, finished, succeeded.
func writeVerifyJournal(dir string, n int) (string, error) {
	w, err := journal.Create(dir, journal.Header{RunbookID: "bench-verify", SessionID: "bench-verify"}, nil)
	if err != nil {
		return "", err
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for seq := 1; seq <= n; seq++ {
		if err := w.Append(synthEvent(int64(seq), int64(n), t0)); err != nil {
			w.Close()
			return "", err
		}
	}
	return w.Path(), w.Close()
}

const synthSteps = 20

func synthEvent(seq, n int64, t0 time.Time) steps.Event {
	e := steps.Event{Seq: seq, Time: t0.Add(time.Duration(seq) * time.Millisecond), Mono: time.Duration(seq) * time.Millisecond}
	switch seq {
	case 1:
		plan := make([]steps.PlannedStep, synthSteps)
		for i := range plan {
			plan[i] = steps.PlannedStep{ID: fmt.Sprintf("step-%02d", i), Title: fmt.Sprintf("Step %d", i), Kind: steps.KindSQL, Phase: "Execution", Writes: true, Statements: 1}
		}
		e.Type = steps.EvSessionStarted
		e.Session = &steps.SessionInfo{SessionID: "bench-verify", RunbookID: "bench-verify", RunbookHash: "00", TargetName: "t", ProjectID: "p", Apply: true, KeepRows: 500, Plan: plan}
		return e
	case n:
		e.Type, e.Outcome = steps.EvSessionEnded, steps.OutcomeSucceeded
		return e
	}
	k := seq - 2
	step, i := k/18, k%18
	e.Step = fmt.Sprintf("step-%02d", step%synthSteps)
	st := &steps.StatementInfo{Index: 0, Count: 1, SQL: "update accounts set flag = true where id < 1000", File: "m.sql", Line: 3}
	switch {
	case i == 0:
		e.Type = steps.EvStepStarted
	case i == 1:
		e.Type, e.Statements = steps.EvIntent, steps.ListOf([]steps.StatementInfo{*st})
	case i == 2:
		e.Type, e.Statement = steps.EvStatementStarted, st
	case i < 15:
		e.Type = steps.EvRows
		e.Rows = &steps.RowBatch{Rows: [][]string{{"1", "alice", "true"}, {"2", "bob", "false"}, {"3", "carol", "true"}, {"4", "dave", "true"}}, Total: 4 * (i - 2)}
		if i == 3 {
			e.Rows.Columns = []string{"id", "name", "flag"}
		}
	case i == 15:
		e.Type, e.Notice = steps.EvNotice, &steps.Notice{Severity: "NOTICE", Message: "relation accounts: 48 rows updated"}
	case i == 16:
		done := *st
		done.Tag, done.RowsAffected, done.Elapsed = "UPDATE 48", 48, 3*time.Millisecond
		e.Type, e.Statement = steps.EvStatementFinished, &done
	default:
		e.Type = steps.EvStepSucceeded
	}
	return e
}

// verifyWorkload sets w up as `handrail verify` of a verifyEvents-event
// journal, against sha256sum of the same file (reading and hashing it
// once: what no verify can beat).
func verifyWorkload(w *workload, tmp string) error {
	p, err := writeVerifyJournal(filepath.Join(tmp, "verify-journal"), verifyEvents)
	if err != nil {
		return err
	}
	w.title = fmt.Sprintf("`handrail verify` (the binary) of a %d-event journal; the psql column is sha256sum of the file", verifyEvents)
	w.command = []string{"verify", p}
	w.refArgv = []string{"sha256sum", p}
	w.events = verifyEvents
	return nil
}
