package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/handrail-dev/handrail/steps"
)

// hintSessions is a session stopped at one pane of each kind whose hint names
// an operator's key, with the hint the operator's screen shows there.
func hintSessions() []struct {
	name string
	f    *fake
	want hint
} {
	wouldRun := func(step string) *fake {
		f := new(fake).start(true).verified().stepStarted(step)
		return f.add(steps.Event{Type: steps.EvStepWouldRun, Step: step,
			Statements: steps.ListOf([]steps.StatementInfo{{Count: 1, SQL: "alter table public.rate_limits disable row level security"}})})
	}
	report := toApply().on(steps.EvStepSucceeded, "apply-001").stepStarted("policy-count")
	report.add(steps.Event{Type: steps.EvCheckPassed, Step: "policy-count", Check: &steps.CheckReport{
		Summary: "report: 2 rows", Expect: "report", Columns: []string{"policy"}, Actual: [][]string{{"a"}, {"b"}}}})
	failed := func(f *fake, step string) *fake {
		return f.add(steps.Event{Type: steps.EvStepFailed, Step: step, Error: &steps.ErrorInfo{
			Message: "lock timeout (5s)", SQLState: "55P03", RolledBack: true, Retryable: true}})
	}
	monitor := new(fake).start(true).verified().stepStarted("monitor")
	running := new(fake).start(true).verified().stepStarted("monitor")
	running.add(steps.Event{Type: steps.EvMonitorTick, Step: "monitor", Monitor: &steps.MonitorSample{
		Title: "errors", Remaining: 10 * time.Minute}})
	return []struct {
		name string
		f    *fake
		want hint
	}{
		{"checklist", connectStart(true), hintTickItems},
		{"confirm", new(fake).start(true).verified().stepStarted("verify-env"), hintConfirm},
		{"confirm typed", new(fake).start(true).verified().stepStarted("backup"), hintTypeToConfirm},
		{"exec failed", failed(new(fake).start(true).verified().stepStarted("pg-dump"), "pg-dump"), hintRetry},
		{"sql", wouldRun("apply-001"), hintSend},
		{"sql failed", failed(toApply(), "apply-001"), hintRetry},
		{"check not run", new(fake).start(true).verified().stepStarted("rate-limits-rls"), hintRunCheck},
		{"report check", report, hintReport},
		{"manual", new(fake).start(true).verified().stepStarted("upload-avatar"), hintManual},
		{"monitor closed", monitor, hintOpenWindow},
		{"monitor open", running, hintEndEarly},
	}
}

// operatorKeyHints are the phrases that tell a reader to press a key.
var operatorKeyHints = []string{"enter runs", "enter sends", "enter opens", "press enter", "press r", "p pass",
	"e ends early", "(type the rule id)", "tick every item", "(enter opens the input)", "read it, then"}

// The operator's screen tells the operator which key to press; a screen
// that watches (watch, replay, a pair partner's) tells no one to press a
// key it does not take: it says who acts.
func TestWatchingScreensShowNoOperatorKeyHints(t *testing.T) {
	for _, c := range hintSessions() {
		t.Run(c.name, func(t *testing.T) {
			now := func() time.Time { return t0.Add(c.f.mono) }
			live, _ := newLive(c.f)
			mustContain(t, flat(live), c.want.operator)

			watch := update(New(Options{Mode: Watch, Initial: c.f.evs, Now: now}), tea.WindowSizeMsg{Width: 80, Height: 24})
			replay := update(New(Options{Mode: Replay, Initial: c.f.evs, Now: now}), tea.WindowSizeMsg{Width: 80, Height: 24})
			for replay.replay.next < len(replay.replay.queue) {
				replay, _ = tick(replay)
			}
			partner, _ := partnerScreen(c.f, bobApprover)
			for name, m := range map[string]Model{"watch": watch, "replay": replay, "partner": partner} {
				s := flat(m)
				mustContain(t, s, c.want.watching)
				for _, h := range operatorKeyHints {
					if strings.Contains(s, h) {
						t.Errorf("%s screen tells the reader %q:\n%s", name, h, plain(m))
					}
				}
			}
		})
	}
}

// flat is the pane's text with wrapped lines joined, the footer left out.
func flat(m Model) string {
	lines := strings.Split(plain(m), "\n")
	lines = lines[:len(lines)-m.footerHeight(m.width)]
	for i, l := range lines {
		if _, pane, ok := strings.Cut(l, "│"); ok {
			l = pane
		}
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, " ")
}
