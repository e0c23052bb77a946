package ui

import (
	"fmt"
	"strconv"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/handrail-dev/handrail/steps"
)

// MinSpeed and MaxSpeed bound the replay's speed (handrail replay
// --speed refuses one outside them; + and - stop at them).
const (
	MinSpeed float64 = 0.25
	MaxSpeed float64 = 64
)

// defaultIdleLimit is the default cap on idle gaps.
const defaultIdleLimit = 2 * time.Second

// replayer plays recorded events with their recorded timing. Each
// scheduled tick carries a generation; pausing, changing speed or jumping
// bumps it, so a tick scheduled before is ignored when it fires.
type replayer struct {
	queue   []steps.Event
	next    int
	speed   float64
	idle    time.Duration // <= 0: gaps are not capped
	paused  bool
	gen     int
	waiting bool // a tick for queue[next] is scheduled
}

func newReplayer(initial []steps.Event, speed float64, idle time.Duration) replayer {
	if speed <= 0 {
		speed = 1
	}
	if idle == 0 {
		idle = defaultIdleLimit
	}
	r := replayer{queue: append([]steps.Event(nil), initial...), speed: clampSpeed(speed), idle: idle}
	r.waiting = len(r.queue) > 0 // Init schedules the first tick
	return r
}

func clampSpeed(s float64) float64 { return max(MinSpeed, min(MaxSpeed, s)) }

// schedule is a tick after d of replay time, for the current generation.
func (r replayer) schedule(d time.Duration) tea.Cmd {
	if !r.waiting {
		return nil
	}
	gen := r.gen
	return tea.Tick(max(time.Millisecond, d), func(time.Time) tea.Msg { return replayTickMsg{gen: gen} })
}

// gap is the recorded pause before queue[i], capped to the idle limit and
// scaled by the speed.
func (r replayer) gap(i int) time.Duration {
	if i <= 0 || i >= len(r.queue) {
		return 0
	}
	d := max(0, r.queue[i].Mono-r.queue[i-1].Mono)
	if r.idle > 0 {
		d = min(d, r.idle)
	}
	return time.Duration(float64(d) / r.speed)
}

// scheduleNext arms the tick for the next event, if any and not paused.
func (r *replayer) scheduleNext() tea.Cmd {
	r.waiting = !r.paused && r.next < len(r.queue)
	return r.schedule(r.gap(r.next))
}

// restart drops the pending tick and schedules afresh (after a control).
func (r *replayer) restart() tea.Cmd {
	r.gen++
	return r.scheduleNext()
}

func (r *replayer) enqueue(events []steps.Event) {
	r.queue = append(r.queue, events...)
}

// resume schedules a tick when new events arrive while idle.
func (r *replayer) resume() tea.Cmd {
	if r.waiting || r.paused {
		return nil
	}
	return r.scheduleNext()
}

func (r *replayer) pop() (steps.Event, bool) {
	if r.next >= len(r.queue) {
		return steps.Event{}, false
	}
	e := r.queue[r.next]
	r.next++
	return e, true
}

func (m Model) handleReplayTick(msg replayTickMsg) (tea.Model, tea.Cmd) {
	if msg.gen != m.replay.gen || m.replay.paused {
		return m, nil
	}
	ended := m.state.Ended
	m = m.replayOne()
	cmd := m.replay.scheduleNext()
	return m, tea.Batch(cmd, m.headCmd(ended))
}

// replayOne applies the next recorded event.
func (m Model) replayOne() Model {
	if e, ok := m.replay.pop(); ok {
		m = m.applyEvent(e)
	}
	return m
}

// replayToNextStep applies events up to and including the next step_started.
func (m Model) replayToNextStep() Model {
	for {
		e, ok := m.replay.pop()
		if !ok {
			return m
		}
		m = m.applyEvent(e)
		if e.Type == steps.EvStepStarted {
			return m
		}
	}
}

// handleReplayKey: space pause, + and - speed, . one event, ] next step.
func (m Model) handleReplayKey(msg tea.KeyPressMsg) (Model, tea.Cmd, bool) {
	ended := m.state.Ended
	switch {
	case key.Matches(msg, m.keys.Pause):
		m.replay.paused = !m.replay.paused
	case key.Matches(msg, m.keys.Faster):
		m.replay.speed = clampSpeed(m.replay.speed * 2)
	case key.Matches(msg, m.keys.Slower):
		m.replay.speed = clampSpeed(m.replay.speed / 2)
	case key.Matches(msg, m.keys.OneEvent):
		m.replay.paused = true
		m = m.replayOne()
	case key.Matches(msg, m.keys.NextStep):
		m = m.replayToNextStep()
	default:
		return m, nil, false
	}
	cmd := m.replay.restart()
	return m, tea.Batch(cmd, m.headCmd(ended)), true
}

// replayBadge: "REPLAY x2", paused or finished, and the position.
func (m Model) replayBadge() string {
	r := m.replay
	label := "REPLAY x" + strconv.FormatFloat(r.speed, 'g', -1, 64)
	switch {
	case r.next >= len(r.queue) && m.events == nil:
		label += " END"
	case r.paused:
		label += " PAUSED"
	}
	return m.styles.Mode.Render(label) + m.styles.Muted.Render(fmt.Sprintf(" %d/%d", r.next, len(r.queue)))
}
