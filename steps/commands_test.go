package steps

import (
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/steps/lockcheck"
)

// readyState is a session past identity and lock, at step "s" of kind k.
func readyState(apply bool, k Kind, status Status) State {
	s := NewState()
	s.Session = SessionInfo{Apply: apply, HasRollback: true}
	s.Identity = &IdentityReport{OK: true}
	s.Lock = &LockInfo{Key: 1}
	s.Steps = []StepState{{PlannedStep: PlannedStep{ID: "s", Kind: k, Writes: k.Writes()}, Status: status}}
	s.Current = 0
	return s
}

// A session resumed without --apply after an applying one wrote: R is
// refused with what it needs, not offered and then failed.
func TestRollbackInDryRunResumeSaysItNeedsApply(t *testing.T) {
	s := readyState(false, KindCheck, StatusActive)
	s.Wrote = true
	a := s.Accepts(CmdRollback)
	if a.OK || !strings.Contains(a.Reason, "--apply") {
		t.Fatalf("rollback in a dry run: %+v, want refused naming --apply", a)
	}
	s.Session.Apply = true
	if !s.Accepts(CmdRollback).OK {
		t.Fatal("rollback refused in an applying session that wrote")
	}
}

// What each state takes, and the reason for what it refuses.
func TestAcceptsByState(t *testing.T) {
	for _, tc := range []struct {
		name   string
		state  State
		cmd    CommandType
		ok     bool
		reason string
	}{
		{"not ready", func() State { s := NewState(); s.Connection = "connecting to h"; return s }(), CmdNext, false, "not ready: connecting to h"},
		{"quit always", func() State { s := NewState(); s.Connection = "x"; return s }(), CmdQuit, true, ""},
		{"ended", func() State {
			s := readyState(true, KindSQL, StatusSucceeded)
			s.Ended = true
			s.Outcome = OutcomeSucceeded
			return s
		}(), CmdNext, false, "has ended"},
		{"retry not failed", readyState(true, KindSQL, StatusActive), CmdRetry, false, "has not failed"},
		{"write not skippable", readyState(true, KindSQL, StatusActive), CmdSkipStep, false, "cannot be skipped"},
		{"check skippable", readyState(true, KindCheck, StatusActive), CmdSkipStep, true, ""},
		{"cancel when running", readyState(true, KindSQL, StatusRunning), CmdCancel, true, ""},
		{"next while running", readyState(true, KindSQL, StatusRunning), CmdNext, false, "is running"},
		{"manual needs verdict", readyState(true, KindManual, StatusActive), CmdNext, false, "record the result first"},
		{"unknown takes mark", readyState(true, KindSQL, StatusUnknown), CmdMark, true, ""},
		{"failed write rolled back", func() State {
			s := readyState(true, KindSQL, StatusFailed)
			s.Steps[0].Error = &ErrorInfo{RolledBack: true}
			return s
		}(), CmdSkipStep, true, ""},
		{"failed write half done", func() State {
			s := readyState(true, KindSQL, StatusFailed)
			s.Steps[0].Error = &ErrorInfo{}
			return s
		}(), CmdSkipStep, false, "may have left part of its work"},
		{"consent first", func() State { s := readyState(true, KindSQL, StatusActive); s.ConsentAt = "s"; return s }(), CmdNext, false, "consent is asked first"},
		// The wait for approval names only what the operator can do now:
		// nothing written is nothing to roll back.
		{"approval wait, nothing written", func() State { s := readyState(true, KindSQL, StatusActive); s.ApprovalAt = "s"; return s }(), CmdNext, false, "; you may quit meanwhile"},
		{"approval wait after a write", func() State {
			s := readyState(true, KindSQL, StatusActive)
			s.ApprovalAt, s.Wrote = "s", true
			return s
		}(), CmdNext, false, "; you may quit or roll back meanwhile"},
		{"retry with an INVALID index left", func() State {
			s := readyState(true, KindSQL, StatusFailed)
			s.Steps[0].Invalid = []lockcheck.InvalidIndex{{Index: lockcheck.Rel{Schema: "public", Name: "ix"}, Table: lockcheck.Rel{Schema: "public", Name: "t"}}}
			return s
		}(), CmdRetry, false, "INVALID index public.ix"},
		{"skip with an INVALID index left", func() State {
			s := readyState(true, KindSQL, StatusFailed)
			s.Steps[0].Error = &ErrorInfo{RolledBack: true}
			s.Steps[0].Invalid = []lockcheck.InvalidIndex{{Index: lockcheck.Rel{Schema: "public", Name: "ix"}, Table: lockcheck.Rel{Schema: "public", Name: "t"}}}
			return s
		}(), CmdSkipStep, false, "drop it first (d), then skip"},
		{"offline retry", func() State {
			s := readyState(true, KindSQL, StatusFailed)
			s.Identity, s.Offline = nil, "down"
			return s
		}(), CmdRetry, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.state.Accepts(tc.cmd)
			if a.OK != tc.ok || !strings.Contains(a.Reason, tc.reason) {
				t.Fatalf("Accepts(%s) = %+v, want ok=%v with %q", tc.cmd, a, tc.ok, tc.reason)
			}
			if !a.OK && a.Reason == "" {
				t.Fatal("a refusal without a reason")
			}
		})
	}
}

// Admit checks what a command names: its step, item and text.
func TestAdmitArguments(t *testing.T) {
	s := readyState(true, KindChecklist, StatusActive)
	s.Steps[0].ItemStates = []ItemState{{Text: "a"}}
	for _, tc := range []struct {
		c      Command
		reason string
	}{
		{Command{Type: CmdTick, Item: 3}, "no checklist item 4"},
		{Command{Type: CmdSkipItem, Item: 0}, "needs a reason"},
		{Command{Type: CmdTick, Step: "other"}, `meant for step "other"`},
	} {
		if why, ok := s.Admit(tc.c); ok || !strings.Contains(why, tc.reason) {
			t.Errorf("Admit(%+v) = %q, %v; want refused with %q", tc.c, why, ok, tc.reason)
		}
	}
	if _, ok := s.Admit(Command{Type: CmdTick, Step: "s"}); !ok {
		t.Error("a tick of item 1 of the current step refused")
	}
}

// Affordances answers every command type, in order.
func TestAffordancesCoverEveryCommand(t *testing.T) {
	s := readyState(true, KindSQL, StatusActive)
	got := s.Affordances()
	if len(got) != len(Commands) {
		t.Fatalf("%d affordances for %d commands", len(got), len(Commands))
	}
	for i, a := range got {
		if a.Cmd != Commands[i] {
			t.Fatalf("affordance %d is %s, want %s", i, a.Cmd, Commands[i])
		}
	}
}

// A resumed session's clock counts the downtime: the first offset after
// the resume is the prior's last offset plus the time the session was
// down, so elapsed times never go back.
func TestResumeClockCountsDowntime(t *testing.T) {
	rb := sqlRunbook(t, `statements = ["select 1"]`, nil)
	target := testTarget(t, "postgres://u@127.0.0.1:1/x")
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	prior := []Event{
		{Seq: 1, Time: t0, Mono: 0, Type: EvSessionStarted, Session: NewEngine(Config{Runbook: rb, Target: target}).sessionInfo()},
		{Seq: 2, Time: t0.Add(5 * time.Minute), Mono: 5 * time.Minute, Type: EvSessionEnded, Outcome: OutcomeAborted},
	}
	rec := newEvRecorder()
	e := NewEngine(Config{Runbook: rb, Target: target, Prior: prior, Sink: rec.sink, Now: func() time.Time { return t0.Add(2 * time.Hour) }})
	e.start = time.Now() // as Run sets it
	if err := e.begin(); err != nil {
		t.Fatal(err)
	}
	ev := rec.all()[0]
	if ev.Type != EvSessionResumed || ev.Mono < 2*time.Hour {
		t.Fatalf("first event after the resume: %s at %s, want session_resumed at 2h or later", ev.Type, ev.Mono)
	}
}

// The promotion gate is followed by the typed consent, which asks for the
// project id: the project id typed at the gate is not taken as the
// override's reason (it would pass the gate with no reason recorded).
func TestOverrideReasonIsNotTheProjectID(t *testing.T) {
	s := readyState(true, KindSQL, StatusActive)
	s.PromotionAt = s.Steps[0].ID
	s.Session.ProjectID = "rxlqtyfhsocxnsnnnlwl"
	if why, ok := s.Admit(Command{Type: CmdOverride, Text: " rxlqtyfhsocxnsnnnlwl "}); ok || !strings.Contains(why, "the project id is not a reason") {
		t.Errorf("override with the project id as its reason: %q, %v; want refused", why, ok)
	}
	if why, ok := s.Admit(Command{Type: CmdOverride, Text: "hotfix for INC-42; staging is being rebuilt"}); !ok {
		t.Errorf("override with a reason refused: %q", why)
	}
}
