package journal

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/steps"
)

// approvalJournal writes a session that requires one approval: step w1
// is approved before its write; w2's write follows an approval of its
// previous attempt only (unless approveRetry); the rollback's write needs
// none.
func approvalJournal(t *testing.T, approveRetry bool) string {
	t.Helper()
	w, err := Create(t.TempDir(), Header{RunbookID: "r", SessionID: "s", Started: time.Unix(0, 0)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.noSync = true
	alice := &steps.Partner{ID: 1, Name: "alice", Role: steps.RoleApprover, Fingerprint: "SHA256:alice"}
	var b builder
	b.add(0, steps.Event{Type: steps.EvSessionStarted, Session: &steps.SessionInfo{RunbookID: "r", Apply: true, ApprovalRequired: 1,
		Plan: []steps.PlannedStep{{ID: "w1", Writes: true}, {ID: "w2", Writes: true}, {ID: "undo", Writes: true, Rollback: true}}}})
	b.add(1, steps.Event{Type: steps.EvPartnerJoined, Partner: alice})
	b.add(1, steps.Event{Type: steps.EvStepStarted, Step: "w1"})
	b.add(1, steps.Event{Type: steps.EvApprovalGiven, Step: "w1", Partner: alice})
	b.add(1, steps.Event{Type: steps.EvApprovalGiven, Step: "w1", Partner: alice}) // the same key twice counts once
	b.add(1, steps.Event{Type: steps.EvIntent, Step: "w1"})
	b.add(1, steps.Event{Type: steps.EvStepSucceeded, Step: "w1"})
	b.add(1, steps.Event{Type: steps.EvStepStarted, Step: "w2"})
	b.add(1, steps.Event{Type: steps.EvApprovalGiven, Step: "w2", Partner: alice})
	b.add(1, steps.Event{Type: steps.EvIntent, Step: "w2"})
	b.add(1, steps.Event{Type: steps.EvStepFailed, Step: "w2"})
	b.add(1, steps.Event{Type: steps.EvStepStarted, Step: "w2"}) // a retry needs its own approval
	if approveRetry {
		b.add(1, steps.Event{Type: steps.EvApprovalGiven, Step: "w2", Partner: alice})
	}
	b.add(1, steps.Event{Type: steps.EvIntent, Step: "w2"})
	b.add(1, steps.Event{Type: steps.EvStepSucceeded, Step: "w2"})
	b.add(1, steps.Event{Type: steps.EvRollbackStarted})
	b.add(1, steps.Event{Type: steps.EvStepStarted, Step: "undo"})
	b.add(1, steps.Event{Type: steps.EvIntent, Step: "undo"})
	b.add(1, steps.Event{Type: steps.EvStepSucceeded, Step: "undo"})
	b.add(1, steps.Event{Type: steps.EvSessionEnded, Outcome: steps.OutcomeRolledBack, ExitCode: ptr(5)})
	for _, e := range b.events {
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.Path()
}

// Verify checks that every write of a session that required approval
// followed approvals of that attempt, and lists them; streaming and
// reading agree.
func TestVerifyApprovals(t *testing.T) {
	ok := Verify(approvalJournal(t, true))
	if !ok.OK || ok.ApprovalRequired != 1 || ok.ApprovedWrites != 3 || len(ok.Approvals) != 3 {
		t.Fatalf("approved session: %+v", ok)
	}
	if !strings.Contains(ok.Approvals[0], "step w1 approved by alice (approver, key SHA256:alice)") {
		t.Errorf("approvals listed: %q", ok.Approvals)
	}
	path := approvalJournal(t, false)
	bad := Verify(path)
	if bad.OK || len(bad.Problems) != 1 || !strings.Contains(bad.Problems[0], "write of step w2 was sent with 0 of the 1 approvals") {
		t.Fatalf("unapproved retry: %+v", bad)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sameReport(t, "unapproved retry", bad, readReport(data))
	var out bytes.Buffer
	VerifyCommand(&out, approvalJournal(t, true))
	if !strings.Contains(out.String(), "approval 1 approver(s) required per write; 3 write(s) checked") ||
		!strings.Contains(out.String(), "approved line") {
		t.Errorf("verify output:\n%s", out.String())
	}
}

// A resume never lowers what the session required: a write after a
// resume that required fewer approvals (as handrail run --resume without
// --require-approval did) fails verification, as an unapproved write.
func TestVerifyApprovalsAcrossAResumeThatDroppedThem(t *testing.T) {
	w, err := Create(t.TempDir(), Header{RunbookID: "r", SessionID: "s", Started: time.Unix(0, 0)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.noSync = true
	var b builder
	b.add(0, steps.Event{Type: steps.EvSessionStarted, Session: &steps.SessionInfo{RunbookID: "r", Apply: true, ApprovalRequired: 1,
		Plan: []steps.PlannedStep{{ID: "w1", Writes: true}}}})
	b.add(1, steps.Event{Type: steps.EvStepStarted, Step: "w1"})
	b.add(1, steps.Event{Type: steps.EvSessionResumed, Session: &steps.SessionInfo{RunbookID: "r", Apply: true}})
	b.add(1, steps.Event{Type: steps.EvIntent, Step: "w1"})
	b.add(1, steps.Event{Type: steps.EvStepSucceeded, Step: "w1"})
	b.add(1, steps.Event{Type: steps.EvSessionEnded, Outcome: steps.OutcomeSucceeded, ExitCode: ptr(0)})
	for _, e := range b.events {
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := Verify(w.Path())
	if r.OK || r.ApprovalRequired != 1 || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "write of step w1 was sent with 0 of the 1 approvals") {
		t.Fatalf("a write after a resume that dropped the approval: %+v", r)
	}
	data, err := os.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	sameReport(t, "resume dropped approval", r, readReport(data))
}
