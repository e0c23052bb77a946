package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/db"
)

// buildPlan lists every step (phases, then rollback) with what the step
// list shows of it. Steps without an id get a stable one from their place.
func buildPlan(rb *Runbook) []planEntry {
	var plan []planEntry
	add := func(s Step, phase string, rollback bool, n int) {
		if s.ID == "" {
			prefix := "step"
			if rollback {
				prefix = "rollback"
			}
			s.ID = fmt.Sprintf("%s-%d", prefix, n)
		}
		plan = append(plan, planEntry{step: s, info: plannedStep(rb, s, phase, rollback)})
	}
	n := 0
	for _, ph := range rb.Phases {
		for _, s := range ph.Steps {
			n++
			add(s, ph.Title, false, n)
		}
	}
	for i, s := range rb.Rollback.Steps {
		add(s, "Rollback", true, i+1)
	}
	return plan
}

func plannedStep(rb *Runbook, s Step, phase string, rollback bool) PlannedStep {
	p := PlannedStep{
		ID: s.ID, Title: s.Title, Kind: s.Kind, Phase: phase, Rollback: rollback,
		Notes: s.Notes, Writes: s.Kind.Writes(),
	}
	if p.Title == "" {
		p.Title = s.ID
	}
	if u := unitOf(s.Kind); u != nil {
		u.plan(rb, s, rollback, &p)
	}
	return p
}

// onFail returns the step's effective on_fail: "stop" by default, but
// "continue" in the rollback, which must run to its end and then report.
func onFail(s Step, rollback bool) string {
	switch {
	case s.OnFail != "":
		return s.OnFail
	case rollback:
		return "continue"
	}
	return "stop"
}

func (e *Engine) sessionInfo() *SessionInfo {
	rb := e.rb
	info := &SessionInfo{
		SessionID:    e.cfg.SessionID,
		RunbookID:    rb.Meta.ID,
		RunbookTitle: rb.Meta.Title,
		RunbookVer:   rb.Meta.Version,
		RunbookHash:  rb.Hash,
		TargetName:   rb.Target.Name,
		ProjectID:    rb.Target.ProjectID,
		Production:   rb.Target.Production,
		Apply:        e.cfg.Apply,
		Rehearse:     e.cfg.Rehearse && !e.cfg.Apply,
		Operator:     e.cfg.Operator,
		DSN:          e.cfg.Target.Display(),
		HasRollback:  len(rb.Rollback.Steps) > 0,
		KeepRows:     rb.KeepRows(),
		Environment:  rb.Env,
		// A rehearsal writes nothing, so staging proof has nothing to gate;
		// its consent on production still stands (it takes the locks).
		Promotion: rb.PromotionGated() && !(e.cfg.Rehearse && !e.cfg.Apply),

		ApprovalRequired: max(rb.Approval.Required, e.cfg.RequireApproval),
		OperatorKeys:     e.cfg.OperatorKeys,

		RollbackWhen:    rb.Rollback.When,
		SuccessCriteria: rb.SuccessCriteria,
	}
	if rb.PromotionGated() {
		info.StagingProjectID = rb.Staging.ProjectID
	}
	for _, p := range e.plan {
		info.Plan = append(info.Plan, p.info)
	}
	return info
}

// begin emits session_started, or, when resuming, folds the prior events
// and emits session_resumed.
func (e *Engine) begin() error {
	if len(e.cfg.Prior) == 0 {
		return e.emit(Event{Type: EvSessionStarted, Session: e.sessionInfo()})
	}
	prior := Fold(e.cfg.Prior)
	if err := e.samePlan(prior); err != nil {
		return err
	}
	// The session's clock goes on across the downtime: offsets after a
	// resume count the time the session was down, so elapsed times (the
	// header, the transcript) agree with the wall clock and never go back.
	base := prior.Now
	if last := e.cfg.Prior[len(e.cfg.Prior)-1].Time; !last.IsZero() {
		base += max(0, e.cfg.Now().Sub(last))
	}
	e.mu.Lock()
	e.state = prior
	e.monoBase = base
	e.mu.Unlock()
	text := "resumed"
	if st := prior.CurrentStep(); st != nil {
		text = fmt.Sprintf("resumed at step %s (%s)", st.ID, st.Status)
	}
	if e.cfg.ResumeNote != "" {
		text += "; " + e.cfg.ResumeNote
	}
	return e.emit(Event{Type: EvSessionResumed, Session: e.sessionInfo(), Text: text})
}

// samePlan refuses to resume a journal whose plan is not this runbook's.
func (e *Engine) samePlan(prior State) error {
	if prior.Session.RunbookID != e.rb.Meta.ID {
		return fmt.Errorf("cannot resume: the journal is of runbook %q, not %q", prior.Session.RunbookID, e.rb.Meta.ID)
	}
	if len(prior.Steps) != len(e.plan) {
		return fmt.Errorf("cannot resume: the journal plans %d steps, the runbook has %d; the runbook changed", len(prior.Steps), len(e.plan))
	}
	for i, p := range e.plan {
		if prior.Steps[i].ID != p.info.ID {
			return fmt.Errorf("cannot resume: step %d is %q in the journal and %q in the runbook; the runbook changed", i+1, prior.Steps[i].ID, p.info.ID)
		}
	}
	return nil
}

// openAnswering is open while answering the operator: quit stops the
// connection attempt (nothing was run), any other command is refused as
// not ready yet.
func (e *Engine) openAnswering(ctx context.Context) (flow, error) {
	if err := e.emit(Event{Type: EvConnecting, Text: "connecting to " + e.host}); err != nil {
		return flowQuit, err
	}
	f := flowQuit
	then, err := e.during(ctx, func(ctx context.Context) error {
		var err error
		f, err = e.open(ctx)
		return err
	})
	if then == flowQuit {
		if !e.ended() {
			e.end(OutcomeAborted, "the operator quit before the session was ready; nothing was run")
		}
		return flowQuit, nil
	}
	return f, err
}

// open connects, proves the target's identity, and takes the deploy lock.
func (e *Engine) open(ctx context.Context) (flow, error) {
	t, err := db.Connect(ctx, e.cfg.Target, db.ConnectOptions{AppName: e.appName(), OnNotice: e.onNotice})
	if err != nil {
		var pooler *db.TransactionPoolerError
		if errors.As(err, &pooler) {
			return flowEnd, fmt.Errorf("refusing %s: %w", e.cfg.Target, err)
		}
		return flowEnd, fmt.Errorf("cannot connect to %s (from %s): %w; check the connection settings and that the server is reachable, then run again",
			e.cfg.Target, e.cfg.Target.From(), err)
	}
	e.mu.Lock()
	e.target = t
	e.mu.Unlock()
	if f, err := e.verifyIdentity(ctx); err != nil || f != flowNext {
		return f, err
	}
	return e.takeLock(ctx)
}

// appName is the application_name every connection of the session shows
// in pg_stat_activity.
func (e *Engine) appName() string {
	op := e.cfg.Operator
	if op == "" {
		op = "unknown"
	}
	name := "handrail/" + e.rb.Meta.ID + "/" + op
	if len(name) > 63 { // NAMEDATALEN-1: the server truncates silently
		name = name[:63]
	}
	return name
}

// verifyIdentity runs the identity probes and emits the verdict. A
// mismatch is a hard stop: the session ends and nothing else runs.
func (e *Engine) verifyIdentity(ctx context.Context) (flow, error) {
	tg := e.rb.Target
	sources, ok, forbidden, reason := e.target.VerifyIdentity(ctx, db.IdentityConfig{
		Expected: tg.ProjectID, Forbidden: tg.Forbidden, Sources: tg.Identity, SQL: tg.IdentitySQL,
	})
	rep := &IdentityReport{Expected: tg.ProjectID, Sources: sources, Forbidden: forbidden, OK: ok, Reason: reason}
	if ok {
		return flowNext, e.emit(Event{Type: EvIdentityVerified, Identity: rep})
	}
	if err := e.emit(Event{Type: EvIdentityMismatch, Identity: rep}); err != nil {
		return flowEnd, err
	}
	e.end(OutcomeHardStop, fmt.Sprintf("identity hard stop: expected %s (%s): %s; nothing was run", tg.Name, tg.ProjectID, reason))
	return flowEnd, nil
}

// takeLock takes the session-level deploy lock, never waiting for it.
func (e *Engine) takeLock(ctx context.Context) (flow, error) {
	key := db.LockKey(e.rb.Target.ProjectID)
	ok, holder, err := e.target.TryDeployLock(ctx, key)
	if err != nil {
		return flowEnd, fmt.Errorf("cannot take the deploy lock: %w", err)
	}
	if !ok {
		if holder == nil {
			holder = &LockInfo{Key: key}
		}
		if err := e.emit(Event{Type: EvLockHeld, Lock: holder}); err != nil {
			return flowEnd, err
		}
		e.end(OutcomeLockHeld, lockHeldText(e.rb, holder))
		return flowEnd, nil
	}
	e.mu.Lock()
	e.locked, e.lockKey = true, key
	e.mu.Unlock()
	if holder == nil {
		holder = &LockInfo{Key: key, PID: e.target.LockPID(), ApplicationName: e.target.AppName(), Since: e.cfg.Now().Round(0)}
	}
	return flowNext, e.emit(Event{Type: EvLockAcquired, Lock: holder})
}

func lockHeldText(rb *Runbook, h *LockInfo) string {
	var who []string
	if h.Runbook != "" {
		who = append(who, "runbook "+h.Runbook)
	}
	if h.Operator != "" {
		who = append(who, "operator "+h.Operator)
	}
	if h.Runbook == "" && h.ApplicationName != "" {
		who = append(who, fmt.Sprintf("application_name %q", h.ApplicationName))
	}
	if h.Client != "" {
		who = append(who, "client "+h.Client)
	}
	if h.PID != 0 {
		who = append(who, fmt.Sprintf("server pid %d", h.PID))
	}
	if !h.Since.IsZero() {
		who = append(who, "since "+h.Since.Format(time.RFC3339))
	}
	by := "another session"
	if len(who) > 0 {
		by = strings.Join(who, ", ")
	}
	return fmt.Sprintf("another deploy to %s (%s) holds its deploy lock (%s); wait for it to end, or ask its operator", rb.Target.Name, rb.Target.ProjectID, by)
}

// releaseLock releases the deploy lock (best effort: closing the
// connection releases it too).
func (e *Engine) releaseLock() {
	e.mu.Lock()
	t, locked, key := e.target, e.locked, e.lockKey
	e.locked = false
	e.mu.Unlock()
	if t == nil || !locked {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = t.ReleaseDeployLock(ctx, key)
}

func (e *Engine) closeTarget() {
	e.releaseLock()
	e.mu.Lock()
	t := e.target
	e.target = nil
	e.mu.Unlock()
	if t != nil {
		t.Close()
	}
}

// onNotice records a server notice against the step that is running.
func (e *Engine) onNotice(n db.Notice) {
	e.mu.Lock()
	step := e.noticeAt
	e.mu.Unlock()
	_ = e.emit(Event{Type: EvNotice, Step: step, Notice: &n})
}

func (e *Engine) setNoticeStep(id string) {
	e.mu.Lock()
	e.noticeAt = id
	e.mu.Unlock()
}

// markInFlight resolves, on resume, steps whose intent was recorded with
// no result: their outcome is unknown, and they are never re-run by
// themselves.
func (e *Engine) markInFlight() error {
	var ids []string
	var drops [][2]string // step, index
	e.with(func(s *State) {
		for _, st := range s.Steps {
			if st.InFlight {
				ids = append(ids, st.ID)
			}
			if st.Dropping != "" {
				drops = append(drops, [2]string{st.ID, st.Dropping})
			}
		}
	})
	// A drop of an INVALID index that was sent with no result: it may or
	// may not have run. The index stays offered (the drop is IF EXISTS).
	for _, d := range drops {
		err := e.emit(Event{Type: EvInvalidIndexDropped, Step: d[0], Text: d[1], Error: &ErrorInfo{
			Message: "handrail stopped after sending the drop of " + d[1] + "; its result was not recorded: the index may or may not be gone",
			Hint:    "d drops it again if it is still there (DROP INDEX CONCURRENTLY IF EXISTS), or look for it in pg_index",
		}})
		if err != nil {
			return err
		}
	}
	for _, id := range ids {
		err := e.emit(Event{Type: EvStepOutcomeUnknown, Step: id, Error: &ErrorInfo{
			Message: "handrail stopped after sending this step; check the database; never re-run automatically",
			Hint:    "look in the database whether the step's changes are there, then mark it applied or not applied (with a reason), or retry it explicitly",
		}})
		if err != nil {
			return err
		}
	}
	return nil
}

// reconnectAttempts bounds one recovery; the operator can retry later.
const reconnectAttempts = 8

// recoverConnection re-establishes the connections after one was lost and
// proves the target's identity again before anything else happens. While
// it tries, the operator may quit; other commands are refused as not
// ready. When the target cannot be reached, the session goes on offline:
// flowFailed, the failed step waits, and a retry reconnects first.
func (e *Engine) recoverConnection(ctx context.Context) (flow, error) {
	if err := e.emit(Event{Type: EvConnectionLost, Text: fmt.Sprintf("connection to %s lost; reconnecting (the target's identity is unproven until verified again)", e.host)}); err != nil {
		return flowEnd, err
	}
	var f flow
	then, rerr := e.during(ctx, func(ctx context.Context) error {
		if err := e.reconnect(ctx); err != nil {
			return err
		}
		if err := e.emit(Event{Type: EvReconnected, Text: "reconnected to " + e.host + "; verifying the target's identity again"}); err != nil {
			return err
		}
		var err error
		if f, err = e.verifyIdentity(ctx); err != nil || f != flowNext {
			return err
		}
		f, err = e.checkLock(ctx)
		return err
	})
	if then == flowQuit {
		return flowQuit, nil
	}
	if rerr == nil || e.ended() || e.sinkFailed() != nil || ctx.Err() != nil {
		if f == flowNext && rerr != nil {
			f = flowEnd
		}
		return f, rerr
	}
	return flowFailed, e.emit(Event{Type: EvReconnectFailed, Error: &ErrorInfo{
		Message: fmt.Sprintf("cannot reach %s again: %v", e.host, rerr),
		Hint:    "nothing more was sent; when the server is back, retry the step (it reconnects and verifies the target first), or quit (the journal can be resumed with --resume)",
	}})
}

// reconnect tries to re-open the connections a few times, backing off.
func (e *Engine) reconnect(ctx context.Context) error {
	var err error
	delay := 200 * time.Millisecond
	for attempt := 1; attempt <= reconnectAttempts; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = e.target.Reconnect(rctx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
		delay = min(2*delay, 5*time.Second)
	}
	return err
}

// offline reports whether the target could not be reached again.
func (e *Engine) offline() bool {
	v := false
	e.with(func(s *State) { v = s.Offline != "" })
	return v
}

// checkLock makes sure the deploy lock survived a connection loss; if its
// connection was lost too, the lock is taken again.
func (e *Engine) checkLock(ctx context.Context) (flow, error) {
	e.mu.Lock()
	key := e.lockKey
	e.mu.Unlock()
	held, err := e.target.DeployLockHeld(ctx, key)
	if err != nil {
		return flowEnd, err
	}
	if held {
		return flowNext, nil
	}
	e.mu.Lock()
	e.locked = false
	e.mu.Unlock()
	return e.takeLock(ctx)
}

// isConnLost reports whether err means the connection is gone.
func isConnLost(err error) bool {
	var ee *db.ExecError
	if errors.As(err, &ee) && (ee.ConnectionLost || ee.OutcomeUnknown) {
		return true
	}
	return db.IsConnectionLost(err)
}
