package ui

import (
	"strconv"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/handrail-dev/handrail/steps"
)

func newReplay(evs []steps.Event, rec *recorder) Model {
	var send func(steps.Command)
	if rec != nil {
		send = rec.send
	}
	m := New(Options{Mode: Replay, Send: send, Initial: evs, Speed: 2, IdleLimit: time.Second})
	return update(m, tea.WindowSizeMsg{Width: 80, Height: 24})
}

func tick(m Model) (Model, tea.Cmd) { return updateCmd(m, replayTickMsg{gen: m.replay.gen}) }

func TestReplayPlaysWithTimingAndControls(t *testing.T) {
	f := toApply()
	rec := &recorder{}
	m := newReplay(f.evs, rec)
	if m.replay.next != 0 || len(m.state.Steps) != 0 {
		t.Fatalf("replay must not fold before playing")
	}
	mustContain(t, plain(m), "REPLAY x2", "0/"+strconv.Itoa(len(f.evs)))

	m, cmd := tick(m)
	if m.replay.next != 1 || cmd == nil || m.state.Session.RunbookID == "" {
		t.Fatalf("a tick plays one event and schedules the next: next=%d", m.replay.next)
	}

	m = update(m, press("space")...)
	if !m.replay.paused {
		t.Fatal("space pauses")
	}
	mustContain(t, plain(m), "PAUSED")
	stale := m.replay.gen - 1
	m = update(m, replayTickMsg{gen: stale})
	if m.replay.next != 1 {
		t.Fatal("a tick scheduled before the pause must be ignored")
	}
	m, _ = tick(m)
	if m.replay.next != 1 {
		t.Fatal("no event plays while paused")
	}

	m = update(m, press(".")...)
	if m.replay.next != 2 || !m.replay.paused {
		t.Fatalf(". plays exactly one event and stays paused: next=%d", m.replay.next)
	}

	m = update(m, press("]")...)
	if st := m.state.CurrentStep(); st == nil || st.ID != "pre-checklist" {
		t.Fatalf("] should stop at the first step_started, at %+v", st)
	}
	m = update(m, press("]", "]")...)
	if st := m.state.CurrentStep(); st.ID != "backup" {
		t.Fatalf("two more ] should reach the backup step, at %s", st.ID)
	}

	for range 10 {
		m = update(m, keyMsg("+"))
	}
	if m.replay.speed != MaxSpeed {
		t.Fatalf("speed = %v, want capped at %v", m.replay.speed, MaxSpeed)
	}
	mustContain(t, plain(m), "REPLAY x64")
	for range 20 {
		m = update(m, keyMsg("-"))
	}
	if m.replay.speed != MinSpeed {
		t.Fatalf("speed = %v, want floored at %v", m.replay.speed, MinSpeed)
	}

	m = update(m, press("space")...)
	for m.replay.next < len(f.evs) {
		m, _ = tick(m)
	}
	if !m.state.Wrote || m.state.CurrentStep().ID != "apply-001" {
		t.Fatalf("playing to the end should give the recorded state")
	}
	for _, k := range allKeys {
		if k != "ctrl+c" {
			m = update(m, keyMsg(k))
		}
	}
	wantCmds(t, rec)
	_, cmd = updateCmd(m, keyMsg("q"))
	if !isQuit(cmd) {
		t.Fatal("q leaves a replay at once")
	}
}

func TestReplayGapIsCappedAndScaled(t *testing.T) {
	f := new(fake).start(false)
	f.wait(10 * time.Minute).verified()
	r := newReplayer(f.evs, 4, 2*time.Second)
	if g := r.gap(1); g != 500*time.Millisecond {
		t.Fatalf("10 minutes idle at x4 with a 2s cap: gap = %v, want 500ms", g)
	}
	r = newReplayer(f.evs, 1, -1)
	if g := r.gap(1); g < 10*time.Minute {
		t.Fatalf("a negative idle limit leaves gaps alone: %v", g)
	}
	if g := r.gap(0); g != 0 {
		t.Fatalf("the first event plays at once: %v", g)
	}
}

func TestReplayFollowsEventsArrivingLater(t *testing.T) {
	m := newReplay(nil, nil)
	if m.replay.waiting {
		t.Fatal("nothing to wait for yet")
	}
	m, cmd := updateCmd(m, eventBatchMsg(connectStart(false).evs))
	if cmd == nil || !m.replay.waiting {
		t.Fatal("new events should schedule playback")
	}
	if m.replay.next != 0 {
		t.Fatal("arriving events are queued, not folded at once")
	}
}
