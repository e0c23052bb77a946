package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/runbooks"
	"github.com/handrail-dev/handrail/steps"
)

// SPEC section 2: live run, replay and watch are the same fold and the
// same views. This test runs the real engine on the sandbox with the
// journal as its sink, feeds its events into a live screen while a
// scripted operator drives the session through that screen's own keys,
// then rebuilds a replay screen from the journal file and compares the
// two: the folded state, and what they draw.

const (
	equivWidth  = 100
	equivHeight = 30
	equivWait   = 90 * time.Second
)

// equivSession is the real engine on the sandbox, journaled, feeding a
// live screen that a scripted operator drives with keys.
type equivSession struct {
	op      *operator
	w       *journal.Writer
	eng     *steps.Engine
	events  chan steps.Event
	ran     chan struct{}
	outcome steps.Outcome
	runErr  error
}

func startEquivSession(t *testing.T) *equivSession {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	dbs, err := db.SetupDemoDatabases(ctx, sb, os.DirFS(filepath.Join("..", "testdata", "fixtures")))
	if err != nil {
		t.Fatal(err)
	}
	var dsn string
	for _, d := range dbs {
		if d.Role == db.DemoRoleConnectProd {
			dsn = d.DSN
		}
	}
	rb, problems := steps.LoadFS(runbooks.FS, "connect-rls-hardening")
	if rb == nil || problems.HasErrors() {
		t.Fatalf("runbook: %v", problems.Errors())
	}

	target, err := db.ParseTarget(dsn)
	if err != nil {
		t.Fatal(err)
	}
	w, err := journal.Create(t.TempDir(), journal.Header{
		SessionID: "equivalence", RunbookID: rb.Meta.ID, RunbookHash: rb.Hash, HandrailVersion: "test",
		Operator: "equivalence", TargetName: rb.Target.Name, ProjectID: rb.Target.ProjectID,
		DSN: target.Display(), TermWidth: equivWidth, TermHeight: equivHeight, Apply: true,
		RunbookPath: "connect-rls-hardening",
	}, target.Secrets())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })

	// Journal first, then the screen, as runSession does. The buffer is
	// far larger than the session; if it ever fills, the sink fails and
	// the engine stops with that error instead of blocking.
	es := &equivSession{w: w, events: make(chan steps.Event, 1<<14), ran: make(chan struct{})}
	es.eng = steps.NewEngine(steps.Config{
		Runbook: rb, Target: target, Apply: true, Operator: "equivalence", SessionID: "equivalence",
		Sink: func(e steps.Event) error {
			rec, err := w.Record(e)
			if err != nil {
				return err
			}
			select {
			case es.events <- rec:
				return nil
			default:
				return errors.New("equivalence test: event buffer full")
			}
		},
	})
	go func() {
		es.outcome, es.runErr = es.eng.Run(ctx)
		close(es.ran)
	}()
	t.Cleanup(func() {
		es.eng.Send(steps.Command{Type: steps.CmdQuit})
		<-es.ran
	})

	es.op = &operator{t: t, eng: es.eng, rb: rb}
	live := New(Options{Mode: Live, Send: es.op.send, Events: es.events,
		Done: func() Result { <-es.ran; return Result{Outcome: es.outcome, Err: es.runErr} }})
	es.op.live = update(live, tea.WindowSizeMsg{Width: equivWidth, Height: equivHeight})
	return es
}

func TestLiveRunEqualsJournalReplay(t *testing.T) {
	es := startEquivSession(t)
	op, w, eng, events := es.op, es.w, es.eng, es.events

	// At every point where the session waits for the operator, the
	// journal so far, replayed, draws what the live screen draws.
	op.atDecision = func(live Model) {
		replay := replayJournal(t, w.Path(), len(live.state.Steps) > 0)
		compareScreens(t, fmt.Sprintf("at seq %d", live.state.Seq), live, replay, false)
	}
	op.drive(es.ran)
	// The script went through every kind of answer, wrong ones included,
	// and compared the screens at each decision.
	// No staging journal: the proof item is skipped and the promotion
	// gate overridden, each with its reason.
	wantCommands := map[steps.CommandType]int{steps.CmdTick: 11, steps.CmdSkipItem: 1, steps.CmdOverride: 1, steps.CmdConfirm: 3, steps.CmdConsent: 2,
		steps.CmdManual: 2, steps.CmdEndMonitor: 1, steps.CmdQuit: 1}
	for typ, n := range wantCommands {
		if got := op.commandsByType[typ]; got != n {
			t.Errorf("the operator sent %d %s commands, want %d (all: %v)", got, typ, n, op.commandsByType)
		}
	}
	t.Logf("decisions %d, commands %v", op.decisions, op.commandsByType)
	if op.decisions < 30 {
		t.Errorf("only %d decisions compared; the runbook has more gates than that", op.decisions)
	}

	// The engine returned: the screen reads the rest, then its result.
	close(events)
	live := op.live
	for {
		msg := live.waitForEvents()()
		var cmd tea.Cmd
		live, cmd = updateCmd(live, msg)
		if _, closed := msg.(eventsClosedMsg); closed {
			var quit tea.Cmd
			live, quit = updateCmd(live, cmd())
			if !isQuit(quit) {
				t.Fatal("the live screen should leave once the engine it was quitting is done")
			}
			break
		}
	}
	<-es.ran
	if es.runErr != nil || es.outcome != steps.OutcomeSucceeded || live.Outcome() != steps.OutcomeSucceeded {
		t.Fatalf("the scripted run should succeed: engine %s (%v), screen %s", es.outcome, es.runErr, live.Outcome())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if rep := journal.Verify(w.Path()); !rep.OK || !rep.Ended {
		t.Fatalf("journal: %s %v", rep.Verdict, rep.Problems)
	}

	replay := replayJournal(t, w.Path(), true)

	// The fold: the live screen's, the replay's and the engine's own.
	// The journal stores times as JSON text; folding a JSON round trip of
	// the live state's events would give the same values, so both sides
	// are compared after one (it only normalises time.Time's location and
	// monotonic reading, and nil versus empty slices).
	liveState, replayState := jsonRoundTrip(t, live.State()), jsonRoundTrip(t, replay.State())
	if !reflect.DeepEqual(liveState, replayState) {
		t.Fatalf("the replayed fold differs from the live one:\n%s", stateDiff(t, liveState, replayState))
	}
	if engState := jsonRoundTrip(t, eng.State()); !reflect.DeepEqual(liveState, engState) {
		t.Fatalf("the live screen's fold differs from the engine's:\n%s", stateDiff(t, liveState, engState))
	}
	if n := len(liveState.Steps); n < 20 || !liveState.Ended || liveState.Outcome != steps.OutcomeSucceeded {
		t.Fatalf("suspicious final state: %d steps, ended %v, outcome %s", n, liveState.Ended, liveState.Outcome)
	}

	// The views: the end summary, then every step's pane (tab browses).
	compareScreens(t, "end summary", live, replay, true)
	live, replay = update(live, press("tab")...), update(replay, press("tab")...)
	for live.viewing > 0 {
		compareScreens(t, fmt.Sprintf("step %d", live.viewing), live, replay, true)
		live, replay = update(live, press("shift+tab")...), update(replay, press("shift+tab")...)
	}
	for i := 0; i < len(live.state.Steps); i++ {
		if live.viewing != i || replay.viewing != i {
			t.Fatalf("browsing: live shows step %d, replay %d, want %d", live.viewing, replay.viewing, i)
		}
		compareScreens(t, fmt.Sprintf("step %d (%s)", i, live.state.Steps[i].ID), live, replay, true)
		live, replay = update(live, press("tab")...), update(replay, press("tab")...)
	}
}

// replayJournal reads the journal and plays all of it in a replay screen,
// tick by tick as `handrail replay` does (without waiting).
func replayJournal(t *testing.T, path string, wantEvents bool) Model {
	t.Helper()
	log, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if wantEvents && len(log.Events) == 0 {
		t.Fatalf("%s holds no events", path)
	}
	m := New(Options{Mode: Replay, Initial: log.Events})
	m = update(m, tea.WindowSizeMsg{Width: equivWidth, Height: equivHeight})
	for m.replay.next < len(m.replay.queue) {
		m, _ = tick(m)
	}
	return m
}

// Explicit normalisations of what legitimately differs between a live
// screen and a replay of it.
var (
	// The replay's source badge ("REPLAY x1 END 42/42") on the first line.
	replayBadge = regexp.MustCompile(`\s*REPLAY x[0-9.]+( END| PAUSED)?\s+\d+/\d+`)
	// The session clock at the end of the target line: a live screen
	// shows wall time since the start, a replay the last event's offset.
	headerClock = regexp.MustCompile(`\d+:\d\d:\d\d\s*$`)
	// A running monitor's countdown derives from the same clock.
	countdown = regexp.MustCompile(`\d+:\d\d:\d\d left of`)
	// The checklist cursor belongs to the live operator; a replay has none.
	cursorMark = regexp.MustCompile(`│> \[`)
	// The input of the operator's question (consent, promotion override)
	// is the operator's; a replay says who answers it.
	answerLine = regexp.MustCompile(`│(> .*|` + regexp.QuoteMeta(watchingAnswer) + `)$`)
	// A hint naming a key only the operator's screen takes says, on a
	// watching screen, who acts (hints.go): either text of a hint becomes
	// that hint's mark, so the rest of the line is still compared, and a
	// hint drawn in place of another still differs. Longest text first,
	// since a watching text may be the start of the operator's.
	hintsBack = func() *strings.Replacer {
		var pairs [][2]string
		for i, h := range paneHints {
			mark := fmt.Sprintf("‹hint %d›", i)
			pairs = append(pairs, [2]string{h.operator, mark}, [2]string{h.watching, mark})
		}
		slices.SortStableFunc(pairs, func(a, b [2]string) int { return len(b[0]) - len(a[0]) })
		var flat []string
		for _, p := range pairs {
			flat = append(flat, p[0], p[1])
		}
		return strings.NewReplacer(flat...)
	}()
)

// normalised is the screen as text with those differences taken out. The
// footer lists the keys that work in the screen's mode (replay keys in a
// replay); it is compared only when withFooter is set.
func normalised(m Model, withFooter bool) []string {
	lines := strings.Split(plain(m), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	lines[0] = strings.TrimRight(replayBadge.ReplaceAllString(lines[0], ""), " ")
	lines[1] = headerClock.ReplaceAllString(lines[1], "H:MM:SS")
	for i := range lines {
		lines[i] = countdown.ReplaceAllString(lines[i], "H:MM:SS left of")
		lines[i] = cursorMark.ReplaceAllString(lines[i], "│  [")
		lines[i] = answerLine.ReplaceAllString(lines[i], "│ANSWER")
		lines[i] = hintsBack.Replace(lines[i])
	}
	if !withFooter {
		lines = lines[:len(lines)-m.footerHeight(equivWidth)]
	}
	return lines
}

func compareScreens(t *testing.T, where string, live, replay Model, withFooter bool) {
	t.Helper()
	if live.screen() != replay.screen() {
		t.Fatalf("%s: live shows screen %v, the replay %v", where, live.screen(), replay.screen())
	}
	l, r := normalised(live, withFooter), normalised(replay, withFooter)
	if len(l) != len(r) {
		t.Fatalf("%s: live screen has %d lines, replay %d:\n%s\n---\n%s", where, len(l), len(r), plain(live), plain(replay))
	}
	for i := range l {
		if l[i] != r[i] {
			t.Fatalf("%s: line %d differs\nlive:   %q\nreplay: %q\n\nlive screen:\n%s\n\nreplay screen:\n%s",
				where, i, l[i], r[i], plain(live), plain(replay))
		}
	}
}

// operator is the scripted operator: steps.Autopilot decides what to do
// from the live screen's fold, and the operator does it with the keys a
// person would press on that screen. Every key sequence must make the
// screen send exactly the command the autopilot meant. It also gives one
// wrong answer at each typed gate, as people do.
type operator struct {
	t    *testing.T
	eng  *steps.Engine
	rb   *steps.Runbook
	live Model

	mu   sync.Mutex
	sent []steps.Command

	atDecision     func(Model)
	wrongConsent   bool
	wrongConfirm   bool
	decisions      int
	commandsByType map[steps.CommandType]int
}

func (o *operator) send(c steps.Command) {
	o.mu.Lock()
	o.sent = append(o.sent, c)
	o.mu.Unlock()
	o.eng.Send(c)
}

func (o *operator) takeSent() []steps.Command {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.sent
	o.sent = nil
	return out
}

// catchUp feeds the live screen, through its own event plumbing, every
// event up to seq.
func (o *operator) catchUp(seq int64) {
	for o.live.state.Seq < seq {
		msg := o.live.waitForEvents()()
		if _, closed := msg.(eventsClosedMsg); closed {
			o.t.Fatalf("the event stream closed at seq %d, before %d", o.live.state.Seq, seq)
		}
		o.live = update(o.live, msg)
	}
}

// drive runs the session to its end: whenever the engine waits, the
// screen catches up, the autopilot decides, the operator presses keys.
func (o *operator) drive(ran <-chan struct{}) {
	t := o.t
	o.commandsByType = map[steps.CommandType]int{}
	deadline := time.After(equivWait)
	var lastSeq int64 = -1
	for {
		select {
		case <-ran:
			if o.commandsByType[steps.CmdQuit] == 0 {
				t.Fatal("the engine returned before the operator quit")
			}
			return
		case <-deadline:
			s := o.eng.State()
			t.Fatalf("the scripted run did not finish within %s; at seq %d:\n%s", equivWait, s.Seq, plain(o.live))
		case <-o.eng.Idle():
		}
		es := o.eng.State()
		o.catchUp(es.Seq)
		if es.Seq == lastSeq && !es.Ended {
			continue // a stale wake-up: nothing happened since the last command
		}
		state := o.live.State()
		c, ok := steps.Autopilot(&state, o.rb)
		if !ok {
			continue
		}
		lastSeq = es.Seq
		o.live = update(o.live, clockMsg{})
		if o.live.overlay != screenNone {
			t.Fatalf("a dialog is open while the session waits for the operator:\n%s", plain(o.live))
		}
		if o.atDecision != nil {
			o.atDecision(o.live)
			// What it sent the engine (refused commands) is not a step of
			// the script: a wake-up for those alone is stale.
			lastSeq = max(lastSeq, o.eng.State().Seq)
		}
		o.decisions++
		o.act(c)
	}
}

// act presses the keys that make the live screen send c.
func (o *operator) act(want steps.Command) {
	t := o.t
	m := o.live
	st := m.state.CurrentStep()
	switch want.Type {
	case steps.CmdQuit:
		m = update(m, press("q")...)
	case steps.CmdConsent:
		if m.screen() != screenConsent {
			t.Fatalf("consent is due but the screen is %v:\n%s", m.screen(), plain(m))
		}
		if !o.wrongConsent {
			o.wrongConsent = true
			want.Text = db.DemoStagingProjectID
		}
		m = update(typeText(m, want.Text), press("enter")...)
	case steps.CmdOverride:
		if m.screen() != screenPromotion {
			t.Fatalf("the promotion gate holds the write but the screen is %v:\n%s", m.screen(), plain(m))
		}
		m = update(typeText(m, want.Text), press("enter")...)
	case steps.CmdSkipItem:
		for m.cursor < want.Item {
			m = update(m, press("down")...)
		}
		for m.cursor > want.Item {
			m = update(m, press("up")...)
		}
		m = update(m, press("s")...)
		m = update(typeText(m, want.Text), press("enter")...)
	case steps.CmdTick:
		for m.cursor < want.Item {
			m = update(m, press("down")...)
		}
		for m.cursor > want.Item {
			m = update(m, press("up")...)
		}
		m = update(m, press("space")...)
	case steps.CmdConfirm:
		m = update(m, press("enter")...)
		if st.TypeText != "" {
			if !o.wrongConfirm {
				o.wrongConfirm = true
				want.Text = "backup done"
			}
			m = update(typeText(m, want.Text), press("enter")...)
		}
	case steps.CmdManual:
		m = update(m, press("p")...)
		m = update(typeText(m, want.Text), press("enter")...)
	case steps.CmdEndMonitor:
		m = update(m, press("e")...)
		m = update(typeText(m, want.Text), press("enter")...)
	case steps.CmdNext:
		m = update(m, press("enter")...)
	default:
		t.Fatalf("the happy path should not need %+v (step %s is %s)", want, st.ID, st.Status)
	}
	if sent := o.takeSent(); !reflect.DeepEqual(sent, []steps.Command{want}) {
		t.Fatalf("the keys for %+v made the screen send %+v:\n%s", want, sent, plain(m))
	}
	o.commandsByType[want.Type]++
	o.live = m
}

func jsonRoundTrip(t *testing.T, s steps.State) steps.State {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out steps.State
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// stateDiff shows the first line where the two states' JSON differ.
func stateDiff(t *testing.T, a, b steps.State) string {
	t.Helper()
	ab, _ := json.MarshalIndent(a, "", " ")
	bb, _ := json.MarshalIndent(b, "", " ")
	al, bl := strings.Split(string(ab), "\n"), strings.Split(string(bb), "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			lo := max(0, i-5)
			return fmt.Sprintf("line %d:\n%s\n>>> %s\n<<< %s", i, strings.Join(al[lo:i], "\n"), al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths differ: %d vs %d lines", len(al), len(bl))
}
