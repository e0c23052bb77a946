// Package ui is handrail's terminal screen: a Bubble Tea v2 model whose
// state is the fold of the session's events (steps.Apply). It renders
// steps.State and sends steps.Commands; it never talks to the database.
// Live runs, replay, watch and resume are the same model fed from
// different sources.
package ui

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"charm.land/bubbles/v2/textinput"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/handrail-dev/handrail/internal/termsafe"
	"github.com/handrail-dev/handrail/steps"
)

// Mode says where events come from and whether keys may command anything.
type Mode int

const (
	// Live: events from the engine's Sink, commands back through Send.
	Live Mode = iota
	// Replay: a recorded session played with its recorded timing.
	Replay
	// Watch: a live session followed from its journal; read-only.
	Watch
)

// Options configure the screen. Mode, Events, Initial and Send together are
// the event source:
//
//   - Live: Initial (prior events of a resumed session) is folded at once,
//     then Events is read until it closes; Send carries the operator's
//     commands to the engine and must not block (Run wraps it in a queue).
//   - Replay: Initial, then anything arriving on Events, is played with the
//     events' recorded Mono offsets, scaled by Speed, gaps capped to IdleLimit.
//   - Watch: like Live without Send; every command key is inert.
type Options struct {
	Mode    Mode
	Send    func(steps.Command)
	Events  <-chan steps.Event
	Initial []steps.Event
	// Done, when set, is called (in a command, so it may block) once Events
	// has closed; it reports how the engine's Run returned.
	Done func() Result

	Speed     float64       // replay speed; 0 means 1
	IdleLimit time.Duration // replay gap cap; 0 means 2s, negative means none

	SSHWarning  string // shown once as a dismissable banner
	JournalPath string // shown in the end summary
	// Head, when set, returns the journal's head hash (journal.Writer.Head,
	// journal.Follower.Head). It is called, in a command, when the session
	// ends: the event is journaled before the screen sees it, so the hash
	// covers the whole session. The end summary shows it for the ticket.
	Head    func() string
	NoColor bool // also implied by the NO_COLOR environment variable
	Now     func() time.Time
	// Context, when it ends, makes the screen leave at once, without a
	// key: the terminal hung up (SIGHUP, a dropped SSH connection) or the
	// process was told to stop. A live engine is told to quit; the journal
	// stays resumable.
	Context context.Context
	// Watch, in Watch mode, carries what the journal's follower learns
	// besides events (see WatchStatus).
	Watch <-chan WatchStatus
	// Viewer names who watches a Watch screen ("alice (observer)" for a
	// pair partner over SSH); the badge says so.
	Viewer string
	// Partner, on a pair partner's Watch screen with Send set, is who
	// watches: the screen then takes that partner's commands (approve,
	// hold, release, ask for the rollback) as State.AcceptsFrom allows,
	// and sends them with Send.
	Partner *steps.Partner
	// IdentityFix is what the identity hard stop tells the operator to
	// do; "" for handrail run's (check --db and the runbook's target).
	// handrail demo has no --db: its sandbox stops on purpose.
	IdentityFix string
}

// Result is how the engine's Run returned, plus what the end summary shows
// about the journal.
type Result struct {
	Outcome steps.Outcome
	Err     error
	Journal string
	Head    string // hash of the journal's last line
}

// JournalMsg tells the screen the journal path and its head hash, for the
// end summary. Send it to the program when they become known.
type JournalMsg struct{ Path, Head string }

// Messages of the event plumbing.
type (
	stepEventMsg    struct{ steps.Event }
	eventBatchMsg   []steps.Event // several events that were already waiting
	eventsClosedMsg struct{}
	engineDoneMsg   struct{ Result }
	clockMsg        struct{}
	replayTickMsg   struct{ gen int }
	flashExpiredMsg struct{ id int }
	stopMsg         struct{} // Options.Context ended
)

// screen is what the operator is looking at. The base screen is derived
// from the fold (hard stop, lock held, consent, ended); dialogs are the
// explicit overlay the model holds.
type screen int

const (
	screenNone screen = iota // no overlay
	screenLoading
	screenRun
	screenHardStop
	screenLockHeld
	screenConsent
	screenPromotion
	screenRollbackDialog
	screenConfirmQuit
	screenConfirmCancel
	screenInput
	screenTooSmall
	screenEnded
	screenWatchError // watch: the journal cannot be followed
)

// Minimum terminal size; below it the screen says so instead of drawing.
const (
	minWidth  = 60
	minHeight = 16
)

// Model is the root model. Update returns a new Model; nothing mutates it
// from a command.
type Model struct {
	mode     Mode
	send     func(steps.Command)
	events   <-chan steps.Event
	stop     <-chan struct{} // Options.Context.Done()
	doneFn   func() Result
	headFn   func() string
	now      func() time.Time
	keys     KeyMap
	styles   *Styles // shared, never mutated; restyle replaces it
	isDark   bool
	noColor  bool
	showHelp bool // full help in the footer

	// Widgets are held by pointer and copied before a change (see clone),
	// so an Update never alters an older Model and the Model stays small
	// enough to copy on every message.
	state steps.State
	// shown is the same fold with every string escaped: what the views
	// draw (termsafe.go). applyEvents folds into state and derives shown
	// from it; nothing else may change either.
	shown   steps.State
	overlay screen
	// unbidden: the rollback dialog opened by itself (an approver's
	// proposal, the engine's offer), not by the operator's R: only y
	// confirms it, so an enter typed for the step never rolls back.
	unbidden bool
	input    *inputDialog
	consent  *textinput.Model
	// override is the promotion gate's typed reason.
	override *textinput.Model

	width, height int
	full          bool // pane full screen
	banner        string
	flash         string
	flashWarn     bool // the flash says no, not done
	flashID       int
	flashExpires  time.Duration // session time after which a refusal's flash is no longer shown
	connectingAt  time.Time     // wall time of the connecting event
	cursor        int           // checklist item under the cursor
	scroll        int           // pane scroll offset, in lines
	viewing       int           // step index shown while browsing; -1 follows the current step
	execView      *viewport.Model
	cache         *renderCache // what frames reuse (window.go); shared by copies
	pace          *pacer       // when the last batch of events was delivered; shared by copies
	execStale     bool         // the exec step's output changed since execView was fed
	clock         time.Time
	stmtStart     time.Duration // Mono of the running statement's start
	lockWaitAt    time.Duration // Mono of the last lock_wait event
	monitorAt     time.Duration // Mono of the last monitor_tick

	result   *Result // set when the engine (or the follow) finished
	journal  JournalMsg
	quitting bool // CmdQuit sent; leave when the engine is done
	replay   replayer

	// Watch mode (watch.go).
	viewer       string         // Options.Viewer
	identityFix  string         // Options.IdentityFix
	partner      *steps.Partner // Options.Partner
	fed          bool           // fed by FeedMsg (a pair partner's screen), not a journal's follower
	watch        <-chan WatchStatus
	watchProblem *WatchProblem // following stopped: the error screen
	writerGone   bool          // the operator's handrail is gone
	goneAt       time.Time     // when the watcher noticed
	aliveSeen    bool          // the watcher saw the operator's handrail hold the journal
}

// New builds the screen. It does no I/O; Init starts reading events.
func New(opts Options) Model {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := Model{
		mode: opts.Mode, send: opts.Send, events: opts.Events, doneFn: opts.Done, headFn: opts.Head,
		now: opts.Now, keys: DefaultKeyMap(), isDark: true,
		noColor: opts.NoColor || noColorEnv(),
		state:   steps.NewState(),
		shown:   steps.NewState(),
		banner:  opts.SSHWarning, clock: opts.Now(),
		journal:     JournalMsg{Path: opts.JournalPath},
		execView:    ptr(viewport.New()),
		cache:       &renderCache{},
		pace:        &pacer{},
		consent:     ptr(newTextInput("project id")),
		override:    ptr(newTextInput("reason")),
		input:       &inputDialog{ti: newTextInput("")},
		viewing:     -1,
		watch:       opts.Watch,
		viewer:      opts.Viewer,
		partner:     opts.Partner,
		identityFix: opts.IdentityFix,
	}
	if opts.Context != nil {
		m.stop = opts.Context.Done()
	}
	m.restyle()
	if m.mode == Replay {
		m.replay = newReplayer(opts.Initial, opts.Speed, opts.IdleLimit)
		return m
	}
	return m.applyEvents(opts.Initial)
}

// Init asks for the background color and starts the event source.
func (m Model) Init() tea.Cmd {
	cmds := []tea.Cmd{tea.RequestBackgroundColor, m.waitForEvents(), m.waitForStop(), m.waitForWatch()}
	if m.mode == Replay {
		cmds = append(cmds, m.replay.schedule(0))
	} else {
		cmds = append(cmds, clockTick())
	}
	return tea.Batch(cmds...)
}

// Update dispatches a message to its handler.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		if m.watchProblem != nil {
			return m.handleWatchErrorKey(msg)
		}
		return m.handleKey(msg)
	case WatchStatus:
		return m.handleWatchStatus(msg)
	case stepEventMsg:
		return m.handleEvents([]steps.Event{msg.Event})
	case eventBatchMsg:
		return m.handleEvents(msg)
	case eventsClosedMsg:
		return m.handleEventsClosed()
	case FeedMsg:
		return m.handleFeed(msg)
	case engineDoneMsg:
		return m.handleEngineDone(msg.Result)
	case replayTickMsg:
		return m.handleReplayTick(msg)
	case stopMsg:
		return m.handleStop()
	}
	return m.handleOther(msg)
}

// handleOther takes the messages that change no step: size, colors,
// clock, journal facts, and anything the focused text input wants.
func (m Model) handleOther(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layoutPane()
	case tea.BackgroundColorMsg:
		m.isDark = msg.IsDark()
		m.restyle()
	case tea.ColorProfileMsg:
		if msg.Profile == colorprofile.ASCII || msg.Profile == colorprofile.NoTTY {
			m.noColor = true
			m.restyle()
		}
	case clockMsg:
		m.clock = m.now()
		return m, clockTick()
	case JournalMsg:
		if msg.Path != "" {
			m.journal.Path = msg.Path
		}
		if msg.Head != "" {
			m.journal.Head = msg.Head
		}
	case flashExpiredMsg:
		if msg.id == m.flashID {
			m.flash = ""
		}
	default:
		return m.updateInputs(msg)
	}
	return m, nil
}

// handleEvents folds events and keeps reading the source.
func (m Model) handleEvents(events []steps.Event) (tea.Model, tea.Cmd) {
	if m.mode == Replay {
		m.replay.enqueue(events)
		resume := m.replay.resume()
		return m, tea.Batch(m.waitForEvents(), resume)
	}
	ended := m.state.Ended
	m = m.applyEvents(events)
	m, flash := m.partnerFlash(events)
	return m, tea.Batch(m.waitForEvents(), m.headCmd(ended), flash)
}

// headCmd asks for the journal's head hash once the session has ended.
func (m Model) headCmd(wasEnded bool) tea.Cmd {
	head, path := m.headFn, m.journal.Path
	if head == nil || wasEnded || !m.state.Ended {
		return nil
	}
	return func() tea.Msg { return JournalMsg{Path: path, Head: head()} }
}

// waitForStop delivers stopMsg when Options.Context ends.
func (m Model) waitForStop() tea.Cmd {
	stop := m.stop
	if stop == nil {
		return nil
	}
	return func() tea.Msg {
		<-stop
		return stopMsg{}
	}
}

// handleStop leaves without waiting for the engine: after a hangup no key
// will ever come, and the caller waits for the engine to finish its
// journal.
func (m Model) handleStop() (tea.Model, tea.Cmd) {
	m.command(steps.Command{Type: steps.CmdQuit})
	m.quitting = true
	m.overlay = screenNone
	return m, tea.Quit
}

// handleEventsClosed: the source has no more events. A live engine reports
// its result through Done; a replay just has nothing more to queue.
func (m Model) handleEventsClosed() (tea.Model, tea.Cmd) {
	m.events = nil
	if m.mode == Replay || m.mode == Watch {
		// A follower stops only when told to, or with a WatchStatus
		// problem: never a session result to make up.
		return m, nil
	}
	done := m.doneFn
	return m, func() tea.Msg {
		if done == nil {
			return engineDoneMsg{}
		}
		return engineDoneMsg{done()}
	}
}

func (m Model) handleEngineDone(r Result) (tea.Model, tea.Cmd) {
	m.result = &r
	if r.Journal != "" {
		m.journal.Path = r.Journal
	}
	if r.Head != "" {
		m.journal.Head = r.Head
	}
	m.overlay = screenNone
	if m.quitting {
		return m, tea.Quit
	}
	return m, nil
}

// applyEvent folds one event and keeps the screen's own bookkeeping (pane
// scroll, checklist cursor, dialogs the event opens or makes moot).
func (m Model) applyEvent(e steps.Event) Model {
	return m.applyEvents([]steps.Event{e})
}

// applyEvents is applyEvent for a batch. The exec pane's viewport is fed
// once, after the batch: it lays out the whole output tail (up to 64 KiB)
// each time, so feeding it per event made a burst of output (pg_dump -v,
// a pair partner catching up) cost the tail's size for every line.
func (m Model) applyEvents(events []steps.Event) Model {
	var ch shownChanges
	for _, e := range events {
		m.foldEvent(e)
		ch.note(&m.state, e)
	}
	m = m.deriveShown(ch)
	if m.execStale {
		m.refreshExec()
	}
	return m
}

// foldEvent folds e into m, in place: m is applyEvents's own copy, and a
// Model is 4 KB, which a copy in and out per event made a quarter of the
// screen's fold of a statement stream (40,000 events in a 20,000-statement
// step; BenchmarkStatementBatchInLongStep).
func (m *Model) foldEvent(e steps.Event) {
	prev := m.state.Current
	m.state = steps.Apply(m.state, e)
	m.noteEvent(e)
	// A step started again (a resumed session, a retry) is new too: its
	// items ticked before are not where the cursor belongs.
	if m.state.Current != prev || e.Type == steps.EvStepStarted {
		*m = m.stepChanged()
	}
	if m.overlay == screenConfirmCancel && !m.state.Running() {
		m.overlay = screenNone
	}
}

// noteEvent keeps what the fold does not: when the running statement,
// the lock wait and the monitor sample began, and the inputs and dialogs
// an event opens (in place, as foldEvent).
func (m *Model) noteEvent(e steps.Event) {
	switch e.Type {
	case steps.EvStatementStarted:
		m.stmtStart = e.Mono
	case steps.EvLockWait:
		m.lockWaitAt = e.Mono
	case steps.EvMonitorTick:
		m.monitorAt = e.Mono
	case steps.EvItemTicked, steps.EvItemSkipped:
		*m = m.itemTicked(e)
		if m.flashWarn {
			m.flash = "" // it counted the open items, which just changed
		}
	case steps.EvRollbackOffered, steps.EvRollbackProposed:
		if m.mode == Live && m.overlay == screenNone && m.state.CanRollback() {
			m.overlay, m.unbidden = screenRollbackDialog, true
		}
	case steps.EvConsentRequired, steps.EvConsentRejected:
		m.consent = clone(m.consent)
		m.consent.Reset()
		m.consent.Focus()
	case steps.EvPromotionRequired:
		m.override = clone(m.override)
		m.override.Reset()
		m.override.Focus()
	case steps.EvExecOutput:
		m.execStale = true
	case steps.EvCommandRefused:
		*m = m.noteRefusal(e)
	case steps.EvConnecting:
		m.connectingAt = e.Time
	}
}

// refusalShown is how long the engine's refusal stays in the footer.
const refusalShown = 6 * time.Second

// noteRefusal shows a refused command and the engine's reason.
func (m Model) noteRefusal(e steps.Event) Model {
	what := "a command"
	if e.Command != nil {
		what = strings.ReplaceAll(string(e.Command.Type), "_", " ")
	}
	// Whose command it was, when the screen is not the one that sent it:
	// a partner's refused approval on the operator's screen is not the
	// operator's mistake, nor the operator's refused key a partner's.
	why := e.Text
	switch {
	case e.Partner != nil && (m.partner == nil || m.partner.ID != e.Partner.ID):
		what = e.Partner.Name + "'s " + what
	case e.Partner != nil: // this partner's own
	case m.mode == Watch:
		what = "the operator's " + what
		fallthrough
	default:
		why = m.refusalReason(why)
	}
	m.flashID++
	m.flash, m.flashWarn = fmt.Sprintf("%s refused: %s", what, why), true
	m.flashExpires = e.Mono + refusalShown
	return m
}

// stepChanged resets what belonged to the previous step's pane; a new
// step ends browsing, since it may need the operator.
func (m Model) stepChanged() Model {
	m.flash = "" // it was about the previous step
	m.scroll = 0
	m.cursor = 0
	m.viewing = -1
	if st := m.state.CurrentStep(); st != nil {
		m.cursor = firstOpenItem(st.ItemStates)
	}
	m.execStale = true
	return m
}

// itemTicked moves the cursor off an item a query just ticked.
func (m Model) itemTicked(e steps.Event) Model {
	st := m.state.CurrentStep()
	if e.Auto && e.Item != nil && *e.Item == m.cursor && st != nil && st.ID == e.Step {
		m.cursor = firstOpenItem(st.ItemStates)
	}
	return m
}

func firstOpenItem(items []steps.ItemState) int {
	for i, it := range items {
		if !it.Ticked && !it.Skipped {
			return i
		}
	}
	return 0
}

// waitForEvents is the re-armed wait-for-activity command of Bubble Tea's
// realtime example. It delivers what was already waiting as one batch, so a
// burst of row events costs one render, not hundreds.
func (m Model) waitForEvents() tea.Cmd {
	ch := m.events
	if ch == nil {
		return nil
	}
	pace := m.pace
	return func() tea.Msg {
		e, ok := <-ch
		if !ok {
			return eventsClosedMsg{}
		}
		pace.wait()
		msg := drain(ch, e)
		pace.delivered(gapAfter(msg))
		return msg
	}
}

// minBatchGap is the least time between two deliveries of events: each
// delivery costs an Update, a View and a frame of the renderer, while the
// renderer shows at most 60 frames a second (Bubble Tea's default rate).
// What arrives in between waits (at most this long) and comes with the
// next batch. The first event after a quiet spell is delivered at once.
//
// streamGap is the gap after a delivery that carried a statement stream
// (statements starting and finishing, rows): a step of thousands of
// statements emits tens of thousands of events a second, and redrawing
// its progress 60 times a second cost about a fifth of the process's CPU
// (issue 15: the renderer's diff and output, Update and View) for a
// counter nobody reads at that rate. 20 updates a second still look live.
// Keys are not paced: the wait happens in the command's goroutine, outside
// the program's loop, so a key's Update and frame come at once whatever
// the events' pace (bench/RESULTS.md measures key to frame during a run).
const (
	minBatchGap = time.Second / 60
	streamGap   = time.Second / 20
)

// gapAfter is the least time before the delivery after msg (a delivery of
// drain).
func gapAfter(msg tea.Msg) time.Duration {
	switch msg := msg.(type) {
	case stepEventMsg:
		if streamEvent(msg.Type) {
			return streamGap
		}
	case eventBatchMsg:
		if len(msg) >= maxBatch {
			// A full delivery: more is waiting, the screen is behind.
			// Waiting would cap it at maxBatch events per gap while a
			// pipelined step emits more (the 50 MB file: 57,000 a
			// second), and the backlog grows in the session's queue
			// (about 400 bytes an event: 150 MB of it in that step).
			return 0
		}
		for i := range msg {
			if streamEvent(msg[i].Type) {
				return streamGap
			}
		}
	}
	return minBatchGap
}

// streamEvent reports whether t is one of the events a running sql or
// check step emits by the thousand.
func streamEvent(t steps.EventType) bool {
	switch t {
	case steps.EvStatementStarted, steps.EvStatementFinished, steps.EvRows:
		return true
	}
	return false
}

// pacer spaces deliveries of events (see minBatchGap). Only the one pending
// wait-for-events command uses it at a time; the atomics keep the race
// detector's view simple across the commands' goroutines.
type pacer struct {
	last atomic.Int64 // UnixNano of the last delivery
	gap  atomic.Int64 // least time before the next one
}

func (p *pacer) wait() {
	if p == nil {
		return
	}
	if last := p.last.Load(); last != 0 {
		if d := time.Duration(p.gap.Load()) - time.Since(time.Unix(0, last)); d > 0 {
			time.Sleep(d)
		}
	}
}

func (p *pacer) delivered(gap time.Duration) {
	if p != nil {
		p.gap.Store(int64(gap))
		p.last.Store(time.Now().UnixNano())
	}
}

// maxBatch bounds a batch so the screen still redraws during a flood
// (paced, a delivery holds what arrived in minBatchGap: a statement step
// emits tens of thousands of events a second).
const maxBatch = 4096

// EventBuffer is the capacity Options.Events should have for a live
// screen: a delivery takes what the channel holds, so with a smaller
// buffer a flood is delivered a buffer at a time, and the screen falls
// behind the session (a 256-event buffer, paced at 20 deliveries a
// second, showed a 20,000-statement step's progress seconds late).
const EventBuffer = maxBatch

func drain(ch <-chan steps.Event, first steps.Event) tea.Msg {
	var batch eventBatchMsg
	for len(batch) < maxBatch {
		select {
		case e, ok := <-ch:
			if !ok {
				return finishBatch(batch, first)
			}
			if batch == nil {
				batch = append(make(eventBatchMsg, 0, 16), first)
			}
			batch = append(batch, e)
		default:
			return finishBatch(batch, first)
		}
	}
	return batch
}

func finishBatch(batch eventBatchMsg, first steps.Event) tea.Msg {
	if batch == nil {
		return stepEventMsg{first}
	}
	return batch
}

// clockTick refreshes elapsed times and the spinner four times a second.
func clockTick() tea.Cmd {
	return tea.Tick(250*time.Millisecond, func(time.Time) tea.Msg { return clockMsg{} })
}

// canCommand reports whether keys may command the engine now.
func (m Model) canCommand() bool {
	return m.mode == Live && m.send != nil && m.result == nil
}

// command sends one operator command (or, on a partner's screen, one of
// the partner's), in order, from Update. Send must not block; Run
// guarantees that with a queue.
func (m Model) command(c steps.Command) {
	if m.canCommand() || (m.partnerMode() && c.Type.Partner()) {
		m.send(c)
	}
}

// screen derives what is on screen: size first, then the hard stop (which
// nothing may cover), then an open dialog, then what the fold says.
func (m Model) screen() screen {
	switch {
	case m.width > 0 && (m.width < minWidth || m.height < minHeight):
		return screenTooSmall
	case m.watchProblem != nil:
		return screenWatchError
	case m.state.HardStop:
		return screenHardStop
	case m.overlay != screenNone:
		return m.overlay
	case m.state.LockHeld:
		return screenLockHeld
	case m.state.Ended || m.result != nil:
		return screenEnded
	case m.state.PromotionAt != "":
		return screenPromotion
	case m.state.ConsentAt != "":
		return screenConsent
	case len(m.state.Steps) == 0:
		return screenLoading
	}
	return screenRun
}

// Outcome is how the session ended, as far as the screen knows.
func (m Model) Outcome() steps.Outcome {
	switch {
	case m.state.Ended && m.state.Outcome != "":
		return m.state.Outcome
	case m.result != nil && m.result.Outcome != "":
		return m.result.Outcome
	case m.state.HardStop:
		return steps.OutcomeHardStop
	case m.state.LockHeld:
		return steps.OutcomeLockHeld
	}
	return steps.OutcomeAborted
}

// Err is the engine's error, if it returned one.
func (m Model) Err() error {
	if m.result == nil {
		return nil
	}
	return m.result.Err
}

// State is the fold the screen shows.
func (m Model) State() steps.State { return m.state }

// View draws the screen in the alternate screen buffer.
func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = m.windowTitle()
	return v
}

func (m Model) windowTitle() string {
	// The title goes out in an OSC sequence: escaped, with no markers.
	if t := m.state.Session.RunbookTitle; t != "" {
		return "handrail: " + termsafe.Line(t)
	}
	return "handrail"
}

// Run shows the screen until the operator leaves, and returns how the
// session ended (read back from the final model, gum style).
func Run(opts Options, progOpts ...tea.ProgramOption) (steps.Outcome, error) {
	if opts.Send != nil {
		out := newOutbox(opts.Send)
		defer out.stop()
		opts.Send = out.queue
	}
	final, err := tea.NewProgram(New(opts), progOpts...).Run()
	if err != nil {
		return steps.OutcomeAborted, err
	}
	m, ok := final.(Model)
	if !ok {
		return steps.OutcomeAborted, nil
	}
	return m.Outcome(), m.Err()
}

// clone returns a copy of *p to change, leaving older Models untouched.
func clone[T any](p *T) *T {
	c := *p
	return &c
}

func ptr[T any](v T) *T { return &v }
