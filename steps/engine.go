package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/db"
)

// Sink receives every event, in order, before anything acts on it: the
// journal (which fsyncs per its policy), then the UI. An error stops the
// engine at once: handrail never acts unrecorded.
type Sink func(Event) error

// BatchSink receives events the engine emits together (a statement
// finishing and the next one starting, sent to the server in one
// message), in order, before anything acts on them, as Sink receives one:
// the journal records them in one write (journal.Writer.RecordAll). An
// error stops the engine at once.
type BatchSink func([]Event) error

// Config configures an Engine.
type Config struct {
	Runbook *Runbook
	// Target is the database to change, as resolved by db.Resolve: the
	// engine connects to it, shows its Display and passes its credentials
	// to exec steps only through the environment.
	Target *db.ConnTarget
	Apply  bool // false: dry run, nothing writes
	// Rehearse (with Apply false): each transactional sql step runs in a
	// transaction that is always rolled back, and the locks it took are
	// recorded (run --rehearse).
	Rehearse  bool
	Operator  string
	SessionID string
	Sink      Sink
	// SinkBatch, when set, receives the events the engine emits together;
	// nil: Sink receives them one by one.
	SinkBatch BatchSink
	// Now is the wall clock for event times; default time.Now.
	Now func() time.Time
	// Prior are the events of the journal being resumed (nil for a new session).
	Prior []Event
	// ResumeNote, when resuming, is added to the session_resumed event's
	// text: what was recovered from the journal (a torn last line that was
	// dropped), so the record itself keeps saying so.
	ResumeNote string
	// ProveStaging looks for the staging journal that proves this runbook
	// succeeded on [staging] (the promotion gate; see Runbook.PromotionGated)
	// and says what it found or what is missing. nil: no proof can be
	// found, so the gate holds the first write until an override.
	ProveStaging func(context.Context) *PromotionProof
	// RequireApproval is --require-approval: at least this many approvers
	// approve each write, whatever the runbook's [approval] says.
	RequireApproval int
	// OperatorKeys are the fingerprints of the operator's own SSH keys
	// (a partner using one may not approve).
	OperatorKeys []string
	// Environ is the base environment of exec steps; default os.Environ().
	// PG* variables and DATABASE_URL in it are replaced by the target's.
	Environ []string
}

// Engine executes a runbook: it connects, proves the target's identity,
// takes the deploy lock, then runs the steps as the operator's commands
// (Send) allow, emitting every fact as an Event to the Sink. Its own State
// is the fold of those events, and every decision reads that State, so a
// resumed engine (Config.Prior) decides exactly as the original would.
//
// Run drives the session on the caller's goroutine; Send, State and Idle
// may be called from any goroutine.
type Engine struct {
	cfg  Config
	rb   *Runbook
	plan []planEntry
	host string

	// mu serializes emit (engine goroutine and database callbacks) and
	// guards the fields below it.
	mu       sync.Mutex
	state    State
	start    time.Time // monotonic origin
	monoBase time.Duration
	sinkErr  error
	noticeAt string // step that server notices belong to
	// lastBlockers are the sessions the running step last waited for.
	lastBlockers []db.Blocker
	stopRun      context.CancelFunc
	runCtx       context.Context // Run's: when it ended, why (see interrupted)

	qmu   sync.Mutex
	queue []Command
	wake  chan struct{}
	idle  chan struct{}
	done  chan struct{}

	target  *db.Target
	locked  bool
	lockKey int64
	// rollbackReason is what the operator gave with CmdRollback.
	rollbackReason string
}

// planEntry is one step of the plan: phase steps, then rollback steps. Its
// index is the step's index in State.Steps.
type planEntry struct {
	step Step
	info PlannedStep
}

// NewEngine returns an engine for cfg. It does nothing until Run.
func NewEngine(cfg Config) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Environ == nil {
		cfg.Environ = os.Environ()
	}
	e := &Engine{
		cfg:   cfg,
		rb:    cfg.Runbook,
		state: NewState(),
		wake:  make(chan struct{}, 1),
		idle:  make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	if e.rb != nil {
		e.plan = buildPlan(e.rb)
	}
	if cfg.Target != nil {
		e.host = cfg.Target.HostPort()
	}
	return e
}

// Send queues an operator command. It never blocks. Every command is
// answered: the engine acts on it, or records a command_refused event
// saying why not (State.Admit decides, State.Accepts publishes it).
func (e *Engine) Send(c Command) {
	e.qmu.Lock()
	e.queue = append(e.queue, c)
	e.qmu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// State returns a deep copy of the engine's state (a JSON round trip: it
// is meant for tests, the autopilot and occasional reads, not per event).
func (e *Engine) State() State {
	e.mu.Lock()
	b, err := json.Marshal(e.state)
	e.mu.Unlock()
	var s State
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil {
		panic("steps: state does not round-trip through JSON: " + err.Error())
	}
	return s
}

// Wrote reports whether the session has sent a write to the database
// (State.Wrote) without copying the state: a session's end asks it once,
// and State's deep copy of a 20,000-statement step costs tens of
// milliseconds.
func (e *Engine) Wrote() bool {
	var v bool
	e.with(func(s *State) { v = s.Wrote })
	return v
}

// Idle delivers a value whenever the engine starts waiting for an operator
// command with none queued: everything the last command caused has been
// emitted. A scripted operator (Drive) acts on it.
func (e *Engine) Idle() <-chan struct{} { return e.idle }

// Done is closed when Run has returned.
func (e *Engine) Done() <-chan struct{} { return e.done }

// Run executes the session and blocks until it is over. After the
// session_ended event it releases the deploy lock, closes its connections,
// then waits for CmdQuit (every other command is ignored) or for ctx to
// end, so a screen can show the end (or the hard stop) until the operator
// leaves. The error is non-nil when the engine could not go on by itself:
// the sink failed, the connection could not be made or re-made, or ctx
// ended.
func (e *Engine) Run(ctx context.Context) (out Outcome, err error) {
	defer close(e.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.mu.Lock()
	e.stopRun = cancel
	e.runCtx = ctx
	e.start = time.Now()
	e.mu.Unlock()
	defer e.closeTarget()

	if err := e.validateConfig(); err != nil {
		return OutcomeFailed, err
	}
	out, quit, err := e.session(ctx)
	if e.sinkFailed() != nil {
		return out, e.sinkFailed()
	}
	if err != nil && !e.ended() {
		if ctx.Err() != nil {
			out = OutcomeAborted
			e.end(out, "session interrupted: "+context.Cause(ctx).Error())
		} else {
			out = OutcomeFailed
			e.end(out, err.Error())
		}
	}
	e.closeTarget()
	if !quit && ctx.Err() == nil && e.sinkFailed() == nil {
		e.awaitQuit(ctx)
	}
	if err == nil {
		err = e.sinkFailed()
	}
	return out, err
}

func (e *Engine) validateConfig() error {
	if e.rb == nil {
		return errors.New("engine: no runbook")
	}
	if e.cfg.Sink == nil {
		return errors.New("engine: no sink: the engine never acts unrecorded")
	}
	if e.cfg.Target == nil {
		return errors.New("engine: no target database")
	}
	if e.cfg.Rehearse && e.cfg.Apply {
		return errors.New("engine: a rehearsal applies nothing: --rehearse and --apply exclude each other")
	}
	seen := map[string]bool{}
	for _, p := range e.plan {
		if seen[p.info.ID] {
			return fmt.Errorf("engine: step id %q is used twice; step ids must be unique (handrail lint)", p.info.ID)
		}
		seen[p.info.ID] = true
	}
	return nil
}

// session runs the whole session; quit reports the operator already quit.
func (e *Engine) session(ctx context.Context) (out Outcome, quit bool, err error) {
	if err := e.begin(); err != nil {
		return OutcomeFailed, false, err
	}
	f, err := e.openAnswering(ctx)
	if err != nil {
		// Run ends the session with the error as the reason: it is not
		// the operator quitting.
		return OutcomeFailed, false, err
	}
	if f != flowNext {
		return e.outcomeOf(f), f == flowQuit, nil
	}
	if err := e.markInFlight(); err != nil {
		return OutcomeFailed, false, err
	}
	if e.rollbackUnfinished() {
		f, err = flowRollback, nil
	} else {
		f, err = e.runPhases(ctx)
	}
	if err != nil {
		return OutcomeFailed, false, err
	}
	switch f {
	case flowRollback:
		out, f, err = e.runRollback(ctx)
		if err != nil || f == flowQuit || f == flowEnd {
			return e.outcomeOf(f), f == flowQuit, err
		}
	case flowQuit, flowEnd:
		return e.outcomeOf(f), f == flowQuit, nil
	default:
		out = e.phasesOutcome()
	}
	e.end(out, "")
	return out, false, e.sinkFailed()
}

// outcomeOf maps a flow that ends the session early to its outcome, ending
// the session when it has not ended yet.
func (e *Engine) outcomeOf(f flow) Outcome {
	if !e.ended() {
		if why := e.interrupted(); why != "" {
			e.end(OutcomeAborted, "session interrupted: "+why+"; the journal can be resumed with --resume")
		} else {
			e.end(OutcomeAborted, "the operator quit; the journal can be resumed with --resume")
		}
	}
	var o Outcome
	e.with(func(s *State) { o = s.Outcome })
	return o
}

// interrupted is why Run's context ended (the terminal hung up, SIGTERM),
// or "" while it has not: what was stopped then was not stopped by the
// operator, and the journal must not say so (the screen's quit after a
// hangup included).
func (e *Engine) interrupted() string {
	e.mu.Lock()
	ctx := e.runCtx
	e.mu.Unlock()
	if ctx == nil || ctx.Err() == nil {
		return ""
	}
	return context.Cause(ctx).Error()
}

// cancelledBy says who cancelled what ran: "by the operator", or, when
// Run's context ended, because of what.
func (e *Engine) cancelledBy() string {
	if why := e.interrupted(); why != "" {
		return "because " + why
	}
	return "by the operator"
}

// end emits session_ended and releases the deploy lock.
func (e *Engine) end(o Outcome, text string) {
	code := o.ExitCode()
	_ = e.emit(Event{Type: EvSessionEnded, Outcome: o, ExitCode: &code, Text: text})
	e.releaseLock()
}

// awaitQuit waits, after the end, for CmdQuit or ctx; anything else is
// refused on the record.
func (e *Engine) awaitQuit(ctx context.Context) {
	_, _ = e.await(ctx, "after the end", nil)
}

// flow is what a step (or a wait) asks the loop to do next.
type flow int

const (
	flowNext     flow = iota // the step is settled: go on
	flowFailed               // the step failed or was cancelled: wait for the operator
	flowUnknown              // the step's outcome is unknown: wait for the operator to resolve it
	flowRetry                // run the step again
	flowRollback             // run [rollback]
	flowQuit                 // the operator quit
	flowEnd                  // the session ended (identity hard stop, lock held)
)

// emit stamps e (Seq, Time, Mono), folds it into the engine's State and
// hands it to the sink. The first sink error is sticky: every later emit
// fails and the run is cancelled, so nothing acts unrecorded.
func (e *Engine) emit(ev Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sinkErr != nil {
		return e.sinkErr
	}
	ev = e.stamp(ev)
	return e.recorded(ev, e.cfg.Sink(ev))
}

// emitTogether emits events that happen at once, in order, through
// Config.SinkBatch (one write of the journal) when it is set.
func (e *Engine) emitTogether(evs ...Event) error {
	if e.cfg.SinkBatch == nil {
		for _, ev := range evs {
			if err := e.emit(ev); err != nil {
				return err
			}
		}
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sinkErr != nil {
		return e.sinkErr
	}
	for i := range evs {
		evs[i] = e.stamp(evs[i])
	}
	return e.recorded(evs[len(evs)-1], e.cfg.SinkBatch(evs))
}

// stamp numbers ev as the next event, times it and folds it (e.mu held).
func (e *Engine) stamp(ev Event) Event {
	ev.Seq = e.state.Seq + 1
	ev.Time = e.cfg.Now().Round(0)
	ev.Mono = e.monoBase + time.Since(e.start)
	if ev.Mono < e.state.Now {
		ev.Mono = e.state.Now
	}
	e.state = Apply(e.state, ev)
	return ev
}

// recorded stops the engine if the sink failed to record ev (e.mu held).
func (e *Engine) recorded(ev Event, err error) error {
	if err == nil {
		return nil
	}
	e.sinkErr = fmt.Errorf("recording event %d (%s) failed, handrail stopped: %w", ev.Seq, ev.Type, err)
	if e.stopRun != nil {
		e.stopRun()
	}
	return e.sinkErr
}

func (e *Engine) sinkFailed() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sinkErr
}

// with runs f on the engine's state under the lock.
func (e *Engine) with(f func(s *State)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(&e.state)
}

func (e *Engine) ended() bool {
	var v bool
	e.with(func(s *State) { v = s.Ended })
	return v
}

func (e *Engine) status(i int) Status {
	var v Status
	e.with(func(s *State) { v = s.Steps[i].Status })
	return v
}

// pop takes the oldest queued command.
func (e *Engine) pop() (Command, bool) {
	e.qmu.Lock()
	defer e.qmu.Unlock()
	if len(e.queue) == 0 {
		return Command{}, false
	}
	c := e.queue[0]
	e.queue = e.queue[1:]
	return c, true
}

func (e *Engine) signalIdle() {
	select {
	case e.idle <- struct{}{}:
	default:
	}
}

// next blocks until an operator command arrives or ctx ends.
func (e *Engine) next(ctx context.Context) (Command, error) {
	for {
		// An ended context wins over queued commands: a hangup is
		// recorded as what it is, not as the quit the screen sends after it.
		if ctx.Err() != nil {
			return Command{}, ctx.Err()
		}
		if c, ok := e.pop(); ok {
			return c, nil
		}
		e.signalIdle()
		select {
		case <-e.wake:
		case <-ctx.Done():
			return Command{}, ctx.Err()
		}
	}
}

// during runs fn on its own goroutine while the database (or a command)
// works, and answers the commands that arrive meanwhile: cancel stops fn
// (a cancel request for a statement, a kill for a process); quit does the
// same, then quits; rollback records the request, stops fn, then rolls
// back (then is flowRollback; if fn finished first, its result stands and
// the rollback still runs). Every other command is refused on the record.
func (e *Engine) during(ctx context.Context, fn func(context.Context) error) (then flow, err error) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn(rctx) }()
	then = flowNext
	for {
		select {
		case err := <-done:
			return then, err
		case <-e.wake:
			for c, ok := e.pop(); ok; c, ok = e.pop() {
				if f := e.duringCommand(c, cancel); f != flowNext && then != flowQuit {
					then = f
				}
			}
		}
	}
}

// duringCommand answers one command that arrived while fn runs.
func (e *Engine) duringCommand(c Command, cancel context.CancelFunc) flow {
	if !e.admit(c) {
		return flowNext
	}
	if c.Type.Partner() {
		_ = e.actPartner(c)
		return flowNext
	}
	switch c.Type {
	case CmdCancel:
		cancel()
	case CmdQuit:
		cancel()
		return flowQuit
	case CmdRollback:
		e.rollbackReason = reasonForRollback(c)
		if err := e.emit(Event{Type: EvRollbackRequested, Text: e.rollbackReason}); err != nil {
			return flowQuit
		}
		cancel()
		return flowRollback
	default:
		_ = e.refuse(c, "the step is still working (a query is running): wait for it, or cancel it")
	}
	return flowNext
}

// handlers are what one wait for the operator does with each command type
// it takes. A handler returns done when the wait is over (with the flow
// that follows), or done == false to keep waiting.
type handlers map[CommandType]func(Command) (f flow, done bool, err error)

// await is every wait for the operator but during: it takes the queued
// commands in order and answers each one. State.Admit decides whether the
// engine acts on it; a refused command is recorded (command_refused) with
// the reason. Quit and rollback are taken here for every wait; the others
// go to their handler.
func (e *Engine) await(ctx context.Context, where string, h handlers) (flow, error) {
	for {
		c, err := e.next(ctx)
		if err != nil {
			return flowQuit, err
		}
		if f, done, err := e.answer(c, where, h); done || err != nil {
			return f, err
		}
	}
}

// answer acts on one command of a wait, or refuses it on the record.
func (e *Engine) answer(c Command, where string, h handlers) (flow, bool, error) {
	if !e.admit(c) {
		return flowQuit, false, e.sinkFailed()
	}
	if c.Type.Partner() {
		return flowQuit, false, e.actPartner(c)
	}
	switch c.Type {
	case CmdQuit:
		return flowQuit, true, nil
	case CmdRollback:
		e.rollbackReason = reasonForRollback(c)
		return flowRollback, true, nil
	}
	handle, ok := h[c.Type]
	if !ok {
		// The state said yes but this wait has no use for it: a gap
		// between State.accepts and the engine's waits. Still answered.
		return flowQuit, false, e.refuse(c, "not taken "+where)
	}
	return handle(c)
}

// admit reports whether the engine acts on c in its current state; when
// it does not, the refusal is recorded.
func (e *Engine) admit(c Command) bool {
	var why string
	var ok bool
	e.with(func(s *State) { why, ok = s.Admit(c) })
	if !ok {
		_ = e.refuse(c, why)
	}
	return ok
}

// refuse records that command c was not acted on, and why.
func (e *Engine) refuse(c Command, why string) error {
	info := &CommandInfo{Type: c.Type, Step: c.Step, By: c.By}
	if c.Type == CmdTick || c.Type == CmdSkipItem {
		item := c.Item
		info.Item = &item
	}
	return e.emit(Event{Type: EvCommandRefused, Command: info, Text: why})
}

func reasonForRollback(c Command) string {
	if c.Text != "" && !c.Secret {
		return c.Text
	}
	return "rollback requested by the operator"
}

// runbookFile names runbook.toml for "where" in messages.
func (e *Engine) runbookFile() string {
	if e.rb.Path != "" {
		return filepath.Base(e.rb.Path)
	}
	return RunbookFile
}

func (e *Engine) stepWhere(i int) string {
	if l := e.plan[i].step.Line; l > 0 {
		return fmt.Sprintf("%s:%d", e.runbookFile(), l)
	}
	return e.runbookFile()
}
