package promote

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/runbooks"
	"github.com/handrail-dev/handrail/steps"
)

// benchJournal writes a succeeded staging session of the Connect runbook
// with n row batches (a large report), and returns its path.
func benchJournal(b *testing.B, rb *steps.Runbook, n int) string {
	b.Helper()
	st, _ := rb.ForEnv(steps.EnvStaging)
	w, err := journal.Create(b.TempDir(), journal.Header{SessionID: "bench", RunbookID: rb.Meta.ID, RunbookHash: rb.Hash,
		HandrailVersion: "bench", Operator: "ci", TargetName: st.Target.Name, ProjectID: st.Target.ProjectID, Apply: true, Environment: steps.EnvStaging}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	seq := int64(0)
	rec := func(e steps.Event) {
		seq++
		e.Seq, e.Time, e.Mono = seq, time.Now(), time.Duration(seq)*time.Millisecond
		if _, err := w.Record(e); err != nil {
			b.Fatal(err)
		}
	}
	info := &steps.SessionInfo{SessionID: "bench", RunbookID: rb.Meta.ID, RunbookHash: rb.Hash, ProjectID: st.Target.ProjectID,
		Apply: true, Environment: steps.EnvStaging, KeepRows: 500, Plan: []steps.PlannedStep{{ID: "report", Kind: steps.KindCheck}}}
	rec(steps.Event{Type: steps.EvSessionStarted, Session: info})
	rec(steps.Event{Type: steps.EvIdentityVerified, Identity: &steps.IdentityReport{Expected: st.Target.ProjectID, OK: true}})
	rec(steps.Event{Type: steps.EvStepStarted, Step: "report"})
	for i := range n {
		rec(steps.Event{Type: steps.EvRows, Step: "report", Rows: &steps.RowBatch{Rows: [][]string{{fmt.Sprint(i), "some text in a row"}}, Total: int64(i + 1)}})
	}
	rec(steps.Event{Type: steps.EvCheckPassed, Step: "report", Check: &steps.CheckReport{Summary: "ok"}})
	rec(steps.Event{Type: steps.EvStepSucceeded, Step: "report"})
	rec(steps.Event{Type: steps.EvSessionEnded, Outcome: steps.OutcomeSucceeded})
	return w.Path()
}

// BenchmarkCheck is the proof check of a staging journal (verify, read,
// fold); BenchmarkVerify is journal.Verify alone on the same file, the
// reference: the ratio is what proving costs over verifying.
func BenchmarkCheck(b *testing.B) {
	rb, _ := steps.LoadFS(runbooks.FS, "connect-rls-hardening")
	path := benchJournal(b, rb, 20000)
	now := time.Now()
	b.ResetTimer()
	for b.Loop() {
		if p := Check(path, rb, now); !p.OK {
			b.Fatal(p.Problems)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	rb, _ := steps.LoadFS(runbooks.FS, "connect-rls-hardening")
	path := benchJournal(b, rb, 20000)
	b.ResetTimer()
	for b.Loop() {
		if r := journal.Verify(filepath.Clean(path)); !r.OK {
			b.Fatal(r.Problems)
		}
	}
}
