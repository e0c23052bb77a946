package apply

import (
	"bytes"
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/steps/lockcheck"
)

// An unattended apply never acknowledges a high-severity lock finding: it
// stops (quit, the journal stays resumable) and says how to go on.
func TestApplyStopsAtAHighLockFinding(t *testing.T) {
	var stderr bytes.Buffer
	a := &answerer{rb: connectRunbook(t), answers: &Answers{}, stderr: &stderr}
	s := steps.NewState()
	s.Session.Apply = true
	s.Current = 0
	s.Steps = []steps.StepState{{PlannedStep: steps.PlannedStep{ID: "index", Kind: steps.KindSQL, Writes: true}, Status: steps.StatusActive,
		Locks: &steps.StepLocksReport{Analysis: &lockcheck.Analysis{Findings: []lockcheck.Finding{
			{Rule: lockcheck.RuleCreateIndexBlocking, Weight: &lockcheck.Weight{Level: lockcheck.High}}}}}}}
	c, ok := a.next(&s)
	if !ok || c.Type != steps.CmdQuit {
		t.Fatalf("next = %+v, %v; want quit", c, ok)
	}
	if msg := stderr.String(); !strings.Contains(msg, "does not acknowledge") || !strings.Contains(msg, "handrail:allow create-index-blocking") {
		t.Fatalf("stderr %q", msg)
	}
}

// A monitor's alert fails the apply even when the monitor is the last
// step: the answerer acts while the window is open (stop, or roll back),
// instead of ending the window early and waiting for a next step that
// never comes (the session then ended "succeeded", exit 0).
func TestApplyFailsOnAMonitorAlert(t *testing.T) {
	var stderr bytes.Buffer
	a := &answerer{rb: connectRunbook(t), answers: &Answers{}, stderr: &stderr}
	s := steps.NewState()
	s.Session.Apply = true
	s.Current = 0
	s.Steps = []steps.StepState{{PlannedStep: steps.PlannedStep{ID: "watch", Kind: steps.KindMonitor}, Status: steps.StatusRunning,
		Alerts: []string{"errors: errors > 0 (now 3)"}}}
	c, ok := a.next(&s)
	if !ok || c.Type != steps.CmdQuit {
		t.Fatalf("next = %+v, %v; want quit (on_failure = stop, nothing written)", c, ok)
	}
	if msg := stderr.String(); !strings.Contains(msg, "monitor watch raised an alert: errors: errors > 0 (now 3)") {
		t.Fatalf("stderr %q", msg)
	}
}
