package journal

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/handrail-dev/handrail/internal/termsafe"
	"github.com/handrail-dev/handrail/steps"
)

// Transcript writes a readable account of a recorded session, for an
// incident ticket (`handrail replay LOG --plain`): a summary of the header
// and the plan, then one entry per event with its wall time (UTC) and
// offset from the start, and at the end the outcome, the verdict and the
// head hash.
//
// Nothing from the journal reaches the terminal raw: every control, invalid
// byte and bidi control is written escaped (termsafe), and a newline inside
// a value continues the entry indented, so data cannot forge an entry.
// The journal itself keeps the exact values.
func Transcript(w io.Writer, log *Log) error {
	sw := termsafe.NewWriter(w)
	t := &transcript{w: sw, log: log, plan: map[string]planPos{}}
	t.summary()
	for _, e := range log.Events {
		t.event(e)
	}
	t.flushRows()
	t.footer()
	if err := sw.Flush(); t.err == nil {
		t.err = err
	}
	return t.err
}

const (
	maxResultRows = 5  // rows shown per statement result
	maxCheckRows  = 10 // rows shown per side of a check
	maxRowWidth   = 160
	maxCellWidth  = 48
)

type planPos struct {
	steps.PlannedStep
	n, of int // 1-based position among phase (or rollback) steps
}

type transcript struct {
	w    io.Writer
	log  *Log
	err  error
	plan map[string]planPos
	// started is the offset at which each step last started.
	started map[string]time.Duration
	// held coalesces consecutive row batches without columns.
	held      *steps.Event
	heldCount int
	heldRows  int
	// apply: the session (as last started or resumed) writes.
	apply bool
	// escaped: some value held something that is shown escaped.
	escaped bool
}

// printf prints; the format is ours, every string argument is data (see
// value).
func (t *transcript) printf(format string, args ...any) {
	if t.err != nil {
		return
	}
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a
		// Any string, named string types (a step's Kind) included.
		if rv := reflect.ValueOf(a); rv.IsValid() && rv.Kind() == reflect.String {
			s := rv.String()
			vals[i] = value(s)
			t.escaped = t.escaped || strings.Contains(termsafe.MarkText(s), termsafe.MarkOpen)
		}
	}
	_, t.err = fmt.Fprintf(t.w, format, vals...)
}

// value is a string from the journal. A newline in it continues the line
// indented, behind the mark of a block, so it cannot start what reads as
// an entry or a summary field. (Controls are escaped by the transcript's
// termsafe.Writer; %q escapes the newline itself.)
type value string

// continuation starts the continued line of a value.
const continuation = indent + "| "

func (v value) Format(f fmt.State, verb rune) {
	s := string(v)
	if verb != 'q' {
		s = strings.ReplaceAll(s, "\n", "\n"+continuation)
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), s)
}

// field prints a label: value line of the summary.
func (t *transcript) field(label, format string, args ...any) {
	t.printf("%-10s%s\n", label, fmt.Sprintf(format, args...))
}

func (t *transcript) summary() {
	h := t.log.Header
	var s *steps.SessionInfo
	for _, e := range t.log.Events {
		if e.Type == steps.EvSessionStarted && e.Session != nil {
			s = e.Session
			break
		}
	}
	t.printf("handrail session transcript\n\n")
	title, ver := "", ""
	if s != nil {
		title, ver = s.RunbookTitle, s.RunbookVer
	}
	rb := h.RunbookID
	if title != "" {
		rb += fmt.Sprintf(" %q", title)
	}
	if ver != "" {
		rb += " v" + ver
	}
	t.field("runbook", "%s", rb)
	if h.RunbookPath != "" {
		t.field("", "%s", h.RunbookPath)
	}
	t.field("", "sha256 %s", h.RunbookHash)
	target := fmt.Sprintf("%s, project %s", h.TargetName, h.ProjectID)
	if s != nil && s.Production {
		target += " (production)"
	}
	t.field("target", "%s", target)
	t.field("database", "%s", h.DSN)
	t.field("mode", "%s", mode(h.Apply))
	op := h.Operator
	if h.Host != "" {
		op += " on " + h.Host
	}
	if h.SSHClient != "" {
		op += " (ssh " + h.SSHClient + ")"
	}
	t.field("operator", "%s", op)
	t.field("started", "%s", h.Started.UTC().Format("2006-01-02 15:04:05 UTC"))
	sess := h.SessionID
	if h.HandrailVersion != "" {
		sess += ", handrail " + h.HandrailVersion
	}
	if h.TermWidth > 0 {
		sess += fmt.Sprintf(", terminal %dx%d", h.TermWidth, h.TermHeight)
	}
	t.field("session", "%s", sess)
	if s == nil {
		t.printf("\n")
		return
	}
	var phase, rollback []steps.PlannedStep
	for _, p := range s.Plan {
		if p.Rollback {
			rollback = append(rollback, p)
		} else {
			phase = append(phase, p)
		}
	}
	t.printf("\nplan: %s", count(len(phase), "step"))
	if len(rollback) > 0 {
		t.printf(", %s", count(len(rollback), "rollback step"))
	}
	t.printf("\n")
	list := func(ps []steps.PlannedStep, rollback bool) {
		cur := ""
		for i, p := range ps {
			t.plan[p.ID] = planPos{PlannedStep: p, n: i + 1, of: len(ps)}
			ph := p.Phase
			if rollback {
				ph = "Rollback"
			}
			if ph != cur || i == 0 {
				cur = ph
				t.printf("  %s\n", ph)
			}
			extra := ""
			if p.Writes {
				extra = ", writes"
			}
			t.printf("    %2d. %-24s %-9s %s%s\n", i+1, p.ID, p.Kind, p.Title, extra)
		}
	}
	list(phase, false)
	list(rollback, true)
	t.printf("\n")
}

func mode(apply bool) string {
	if apply {
		return "APPLY"
	}
	return "DRY RUN (nothing writes)"
}

// sessionMode is mode, or the rehearsal's (run --rehearse).
func sessionMode(s *steps.SessionInfo) string {
	if s.Rehearse && !s.Apply {
		return "REHEARSAL (each transactional sql step runs and is rolled back; nothing writes)"
	}
	return mode(s.Apply)
}

// line starts an event entry.
func (t *transcript) line(e steps.Event, format string, args ...any) {
	t.printf("%s %s  ", e.Time.UTC().Format("15:04:05"), offset(e.Mono))
	if e.Step != "" {
		t.printf("[%s] ", e.Step)
	}
	t.printf(format, args...)
	t.printf("\n")
}

// indent is where the text of continuation lines starts.
const indent = "                      "

// more prints a continuation line of the current entry.
func (t *transcript) more(format string, args ...any) {
	t.printf("%s%s\n", indent, fmt.Sprintf(format, args...))
}

// block prints multi-line text (SQL, output, a message) under an entry.
func (t *transcript) block(text string) {
	text = strings.TrimRight(text, " \t\r\n")
	if text == "" {
		return
	}
	for l := range strings.SplitSeq(text, "\n") {
		t.printf("%s| %s\n", indent, strings.TrimRight(l, " \t\r"))
	}
}

// offset formats a session offset: +MM:SS.mmm, or +H:MM:SS.mmm.
func offset(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	ms := d.Milliseconds()
	h, m, s, f := ms/3_600_000, ms/60_000%60, ms/1000%60, ms%1000
	if h > 0 {
		return fmt.Sprintf("+%d:%02d:%02d.%03d", h, m, s, f)
	}
	return fmt.Sprintf("+%02d:%02d.%03d", m, s, f)
}

func (t *transcript) event(e steps.Event) {
	if e.Type != steps.EvRows || e.Rows == nil || e.Rows.Columns != nil ||
		(t.held != nil && t.held.Step != e.Step) {
		t.flushRows()
	}
	if t.sessionEvent(e) || t.targetEvent(e) || t.stepEvent(e) ||
		t.statementEvent(e) || t.verdictEvent(e) || t.outputEvent(e) || t.lockEvent(e) {
		return
	}
	t.line(e, "%s (unknown event type)", e.Type)
	if e.Text != "" {
		t.more("%s", e.Text)
	}
}

// sessionEvent prints an event about the session: start, resume, end, and the commands the engine refused; false when e is not one.
func (t *transcript) sessionEvent(e steps.Event) bool {
	switch e.Type {
	case steps.EvSessionStarted:
		if s := e.Session; s != nil {
			t.apply = s.Apply
			t.line(e, "session started: %s on %s (%s), %s, operator %s", s.RunbookID, s.TargetName, s.ProjectID, sessionMode(s), s.Operator)
			t.environment(s)
		} else {
			t.line(e, "session started")
		}
	case steps.EvSessionResumed:
		t.printf("\n")
		if s := e.Session; s != nil {
			t.apply = s.Apply
			t.line(e, "SESSION RESUMED by %s, %s (session %s): %s", s.Operator, sessionMode(s), s.SessionID, e.Text)
		} else {
			t.line(e, "SESSION RESUMED: %s", e.Text)
		}
	case steps.EvSessionEnded:
		code := e.Outcome.ExitCode()
		if e.ExitCode != nil {
			code = *e.ExitCode
		}
		t.line(e, "session ended: %s (exit %d)", e.Outcome, code)
		if e.Text != "" {
			t.more("%s", e.Text)
		}
	case steps.EvCommandRefused:
		t.line(e, "refused %s: %s", commandName(e.Command), e.Text)
	default:
		return false
	}
	return true
}

// targetEvent prints an event about the target: the connection, its identity, the deploy lock, and the gates before the first write; false when e is not one.
func (t *transcript) targetEvent(e steps.Event) bool {
	switch e.Type {
	case steps.EvConnecting:
		t.line(e, "%s", e.Text)
	case steps.EvConnectionLost:
		t.line(e, "CONNECTION LOST: %s", e.Text)
	case steps.EvReconnectFailed:
		t.line(e, "RECONNECT FAILED%s", errSummary(e.Error))
		t.errorInfo(e.Error)
	case steps.EvReconnected:
		t.line(e, "reconnected: %s", e.Text)
	case steps.EvIdentityVerified, steps.EvIdentityMismatch:
		id := e.Identity
		if id == nil {
			id = &steps.IdentityReport{}
		}
		if e.Type == steps.EvIdentityVerified {
			t.line(e, "identity verified: the database is %s", id.Expected)
		} else {
			t.line(e, "IDENTITY MISMATCH, hard stop: expected %s: %s", id.Expected, id.Reason)
			if id.Forbidden != "" {
				t.more("found the forbidden id %s", id.Forbidden)
			}
		}
		for _, s := range id.Sources {
			if s.Resolved {
				t.more("%s: found %s%s", s.Source, s.Found, paren(s.Detail))
			} else {
				t.more("%s: not resolved%s", s.Source, paren(s.Detail))
			}
		}
	case steps.EvLockAcquired:
		key := int64(0)
		if e.Lock != nil {
			key = e.Lock.Key
		}
		t.line(e, "deploy lock acquired (advisory key %d)", key)
	case steps.EvLockHeld:
		if l := e.Lock; l != nil {
			t.line(e, "DEPLOY LOCK HELD by another session: pid %d, %s, client %s, since %s", l.PID, orDash(l.ApplicationName), orDash(l.Client), when(l.Since))
		} else {
			t.line(e, "DEPLOY LOCK HELD by another session")
		}
	case steps.EvConsentRequired:
		t.line(e, "production target: the operator must type the project id before the first write")
	case steps.EvConsentGiven:
		t.line(e, "operator typed the project id: consent given")
	case steps.EvConsentRejected:
		t.line(e, "consent refused: typed %q", e.Text)
	case steps.EvPromotionChecked, steps.EvPromotionRequired, steps.EvPromotionOverridden:
		t.promotion(e)
	default:
		return false
	}
	return true
}

// statementEvent prints an event about what a step sends: the statements it would run, the intent, each statement, its rows, notices and lock waits; false when e is not one.
func (t *transcript) statementEvent(e steps.Event) bool {
	switch e.Type {
	case steps.EvStepWouldRun:
		if t.apply {
			// In apply mode this is what the operator was shown before
			// letting it run; the intent follows when it does.
			t.line(e, "shown to the operator before running: %s", count(e.Statements.Len(), "statement"))
		} else {
			t.line(e, "dry run: would run %s", count(e.Statements.Len(), "statement"))
		}
		for _, s := range e.Statements.All() {
			t.more("statement %d/%d%s", s.Index+1, s.Count, at(s.File, s.Line))
			t.block(s.SQL)
		}
	case steps.EvIntent:
		t.line(e, "INTENT: about to run %s (recorded and fsynced before sending)", count(e.Statements.Len(), "statement"))
		for _, s := range e.Statements.All() {
			t.more("%d/%d%s: %s", s.Index+1, s.Count, at(s.File, s.Line), firstLine(s.SQL))
		}
	case steps.EvStatementStarted:
		if s := e.Statement; s != nil {
			t.line(e, "statement %d/%d%s", s.Index+1, s.Count, at(s.File, s.Line))
			t.block(s.SQL)
		} else {
			t.line(e, "statement started")
		}
	case steps.EvStatementFinished:
		if s := e.Statement; s != nil {
			t.line(e, "statement %d/%d done: %s, %s affected, %s", s.Index+1, s.Count, orDash(s.Tag), count(int(s.RowsAffected), "row"), dur(s.Elapsed))
		} else {
			t.line(e, "statement finished")
		}
	case steps.EvRows:
		t.rows(e)
	case steps.EvNotice:
		if n := e.Notice; n != nil {
			t.line(e, "%s: %s", orDash(n.Severity), n.Message)
			if n.Detail != "" {
				t.more("detail: %s", n.Detail)
			}
			if n.Hint != "" {
				t.more("hint: %s", n.Hint)
			}
		} else {
			t.line(e, "notice")
		}
	case steps.EvLockWait:
		if len(e.Blockers) == 0 {
			t.line(e, "no longer waiting for a lock")
			break
		}
		t.line(e, "WAITING FOR A LOCK held by %s:", count(len(e.Blockers), "backend"))
		for _, b := range e.Blockers {
			t.more("pid %d (%s, %s), %s, transaction running %s, waited %s: %s", b.PID, orDash(b.User), orDash(b.ApplicationName), b.State, dur(b.For), dur(b.Waited), firstLine(b.Query))
		}
	default:
		return false
	}
	return true
}

// verdictEvent prints an event about what decides a step: a check, checklist items, a confirmation, a manual result; false when e is not one.
func (t *transcript) verdictEvent(e steps.Event) bool {
	switch e.Type {
	case steps.EvCheckPassed, steps.EvCheckFailed:
		if e.Type == steps.EvCheckPassed {
			t.line(e, "check passed%s", summary(e.Check))
		} else {
			t.line(e, "CHECK FAILED%s", summary(e.Check))
		}
		t.check(e.Check)
	case steps.EvItemTicked:
		t.line(e, "item %s ticked by %s", t.item(e), e.TickedBy())
		if e.Text != "" {
			t.more("note: %s", e.Text)
		}
		if e.Check != nil {
			t.more("check: %s", e.Check.Summary)
		}
	case steps.EvItemUnticked:
		t.line(e, "item %s unticked", t.item(e))
	case steps.EvItemSkipped:
		t.line(e, "item %s skipped; reason: %s", t.item(e), e.Text)
	case steps.EvItemCheckFailed:
		t.line(e, "item %s: CHECK FAILED%s", t.item(e), summary(e.Check))
		t.check(e.Check)
	case steps.EvConfirmed:
		p := t.plan[e.Step]
		if p.TypeText != "" {
			t.line(e, "operator confirmed by typing %q", p.TypeText)
		} else {
			t.line(e, "operator confirmed")
		}
		if p.Prompt != "" {
			t.more("prompt: %s", firstLine(p.Prompt))
		}
	case steps.EvConfirmRejected:
		t.line(e, "confirmation refused: typed %q", e.Text)
	case steps.EvManualResult:
		v := "FAIL"
		if e.Pass != nil && *e.Pass {
			v = "PASS"
		}
		t.line(e, "manual result: %s", v)
		if e.Text != "" {
			t.more("note: %s", e.Text)
		}
	default:
		return false
	}
	return true
}

// outputEvent prints an event about what a step shows as it runs: a monitoring window, a command's output, a message; false when e is not one.
func (t *transcript) outputEvent(e steps.Event) bool {
	switch e.Type {
	case steps.EvMonitorTick:
		m := e.Monitor
		if m == nil {
			t.line(e, "monitor")
			break
		}
		state := ""
		if m.Alerting {
			state = " ALERTING"
		}
		t.line(e, "monitor %q%s (%s left)", m.Title, state, dur(m.Remaining))
		if m.Error != "" {
			t.more("error: %s", m.Error)
		}
		t.table(m.Columns, m.Rows, maxResultRows, int64(len(m.Rows)))
	case steps.EvMonitorAlert:
		title := ""
		if e.Monitor != nil {
			title = fmt.Sprintf(" %q", e.Monitor.Title)
		}
		t.line(e, "MONITOR ALERT%s: %s", title, e.Text)
	case steps.EvMonitorEnded:
		if e.Text != "" {
			t.line(e, "monitor ended early: %s", e.Text)
		} else {
			t.line(e, "monitor window elapsed")
		}
	case steps.EvExecOutput:
		t.line(e, "output:")
		t.block(e.Text)
	case steps.EvExecExited:
		code := -1
		if e.ExitCode != nil {
			code = *e.ExitCode
		}
		t.line(e, "command exited with code %d", code)
	case steps.EvMessageRendered:
		if m := e.Message; m != nil {
			t.line(e, "message %q (%s) to %s:", m.ID, m.When, m.To)
			t.block(m.Body)
		} else {
			t.line(e, "message")
		}
	default:
		return false
	}
	return true
}

// stepEvent prints an event about a step's start and outcome, and the rollback; false when e is not one.
func (t *transcript) stepEvent(e steps.Event) bool {
	switch e.Type {
	case steps.EvStepStarted:
		t.stepStarted(e)
	case steps.EvStepSucceeded:
		t.line(e, "step succeeded%s", t.took(e))
		if e.Text != "" {
			t.more("%s", e.Text)
		}
	case steps.EvStepFailed:
		if e.Error != nil && e.Error.DryRun {
			t.line(e, "step failed, as expected in a dry run%s%s", t.took(e), errSummary(e.Error))
			t.errorInfo(e.Error)
			break
		}
		t.line(e, "STEP FAILED%s%s", t.took(e), errSummary(e.Error))
		t.errorInfo(e.Error)
	case steps.EvStepCancelled:
		t.line(e, "step cancelled%s%s", t.took(e), errSummary(e.Error))
		t.errorInfo(e.Error)
	case steps.EvStepSkipped:
		t.line(e, "step skipped: %s", orDash(e.Text))
	case steps.EvStepOutcomeUnknown:
		t.line(e, "OUTCOME UNKNOWN: it cannot be known whether the step's changes were committed%s", errSummary(e.Error))
		t.errorInfo(e.Error)
	case steps.EvStepMarked:
		v := "NOT applied (failed)"
		if e.Pass != nil && *e.Pass {
			v = "applied (succeeded)"
		}
		t.line(e, "operator marked the step as %s", v)
		if e.Text != "" {
			t.more("reason: %s", e.Text)
		}
	case steps.EvRollbackOffered:
		t.line(e, "rollback offered: %s", e.Text)
	case steps.EvRollbackRequested:
		t.line(e, "ROLLBACK REQUESTED while the step ran (cancelling it first): %s", orDash(e.Text))
	case steps.EvRollbackStarted:
		t.line(e, "ROLLBACK STARTED: %s", orDash(e.Text))
	case steps.EvRollbackFinished:
		if e.Pass != nil && *e.Pass {
			t.line(e, "rollback finished: every rollback step succeeded")
		} else {
			t.line(e, "ROLLBACK FINISHED WITH FAILURES")
		}
	case steps.EvShareOpened, steps.EvPartnerJoined, steps.EvPartnerLeft:
		t.partnerEvent(e)
	case steps.EvApprovalRequired, steps.EvApprovalGiven, steps.EvHoldPlaced, steps.EvHoldReleased, steps.EvRollbackProposed:
		t.approvalEvent(e)
	default:
		return false
	}
	return true
}

// partnerEvent: the session shared over SSH, partners joining and leaving.
func (t *transcript) partnerEvent(e steps.Event) {
	switch e.Type {
	case steps.EvShareOpened:
		sh := e.Share
		if sh == nil {
			sh = &steps.ShareInfo{}
		}
		t.line(e, "session shared over SSH on %s, host key %s", orDash(sh.Addr), orDash(sh.HostKey))
		if sh.KeysFile != "" {
			t.more("partners who may join (%s):", sh.KeysFile)
		}
		for _, p := range sh.Allowed {
			t.more("%s (%s) key %s", p.Name, p.Role, p.Fingerprint)
		}
	case steps.EvPartnerJoined, steps.EvPartnerLeft:
		p := e.Partner
		if p == nil {
			p = &steps.Partner{}
		}
		who := partnerWho(p)
		if e.Type == steps.EvPartnerJoined {
			t.line(e, "%s joined from %s", who, orDash(p.Addr))
		} else {
			t.line(e, "%s left: %s", who, orDash(e.Text))
		}
	}
}

// partnerWho names a partner on the record: connection, name, role, key.
func partnerWho(p *steps.Partner) string {
	if p == nil {
		p = &steps.Partner{}
	}
	return fmt.Sprintf("partner #%d %s (%s), key %s", p.ID, orDash(p.Name), orDash(string(p.Role)), orDash(p.Fingerprint))
}

// approvalEvent: second-person approval, holds, an approver asking for
// the rollback.
func (t *transcript) approvalEvent(e steps.Event) {
	who := partnerWho(e.Partner)
	switch e.Type {
	case steps.EvApprovalRequired:
		t.line(e, "the write of step %s waits: %s", orDash(e.Step), orDash(e.Text))
	case steps.EvApprovalGiven:
		t.line(e, "APPROVED the write of step %s: %s typed the project id", orDash(e.Step), who)
	case steps.EvHoldPlaced:
		t.line(e, "HOLD placed by %s: no write starts until released", who)
	case steps.EvHoldReleased:
		t.line(e, "hold of %s released: %s", who, orDash(e.Text))
	case steps.EvRollbackProposed:
		t.line(e, "%s asks for the rollback (the dialog opened on the operator's screen)", who)
		if e.Text != "" {
			t.more("reason: %s", e.Text)
		}
	}
}

func (t *transcript) stepStarted(e steps.Event) {
	if t.started == nil {
		t.started = map[string]time.Duration{}
	}
	t.started[e.Step] = e.Mono
	t.printf("\n")
	p, ok := t.plan[e.Step]
	if !ok {
		t.line(e, "step started (%s)", orDash(e.Text))
		return
	}
	where := fmt.Sprintf("step %d/%d", p.n, p.of)
	if p.Rollback {
		where = "rollback " + where
	}
	t.line(e, "%s %q (%s) started", where, p.Title, p.Kind)
	if p.Notes != "" {
		t.block(p.Notes)
	}
}

// took is the time since the step last started.
func (t *transcript) took(e steps.Event) string {
	s, ok := t.started[e.Step]
	if !ok {
		return ""
	}
	return " after " + dur(e.Mono-s)
}

func (t *transcript) item(e steps.Event) string {
	if e.Item == nil {
		return "?"
	}
	n := *e.Item
	if p, ok := t.plan[e.Step]; ok && n >= 0 && n < len(p.Items) {
		return fmt.Sprintf("%d %q", n+1, p.Items[n])
	}
	return fmt.Sprint(n + 1)
}

// rows prints the first batch of a result with its first rows, and holds
// later batches to print them as one entry.
func (t *transcript) rows(e steps.Event) {
	r := e.Rows
	if r == nil {
		t.line(e, "rows")
		return
	}
	if r.Columns == nil {
		if t.held == nil {
			t.held = new(steps.Event)
		}
		*t.held = e
		t.heldCount++
		t.heldRows += len(r.Rows)
		return
	}
	t.line(e, "result: %s so far%s", count(int(r.Total), "row"), dropped(r.Dropped))
	t.table(r.Columns, r.Rows, maxResultRows, r.Total)
}

func (t *transcript) flushRows() {
	if t.held == nil {
		return
	}
	e := *t.held
	t.line(e, "result: %s in %s more, %s in all%s", count(t.heldRows, "row"), count(t.heldCount, "batch"), count(int(e.Rows.Total), "row"), dropped(e.Rows.Dropped))
	t.held, t.heldCount, t.heldRows = nil, 0, 0
}

func dropped(n int64) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d not kept)", n)
}

// table prints columns and up to limit rows compactly; total counts every
// row (for the "more" line).
func (t *transcript) table(cols []string, rows [][]string, limit int, total int64) {
	if len(cols) > 0 {
		t.more("%s", row(cols))
	}
	for i, r := range rows {
		if i == limit {
			break
		}
		t.more("%s", row(r))
	}
	if rest := total - int64(min(limit, len(rows))); rest > 0 {
		t.more("... %s more", count(int(rest), "row"))
	}
}

func row(cells []string) string {
	cs := make([]string, len(cells))
	for i, c := range cells {
		cs[i] = clip(strings.Join(strings.Fields(c), " "), maxCellWidth)
		if c == "" {
			cs[i] = "''"
		}
	}
	return clip(strings.Join(cs, " | "), maxRowWidth)
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func (t *transcript) check(c *steps.CheckReport) {
	if c == nil {
		return
	}
	if c.AsRole != "" {
		t.more("as role %s", c.AsRole)
	}
	if c.SQL != "" {
		t.more("sql: %s", clip(strings.Join(strings.Fields(c.SQL), " "), maxRowWidth))
	}
	t.more("expected: %s", orDash(c.Expect))
	for i, r := range c.Expected {
		if i == maxCheckRows {
			t.more("  ... %d more", len(c.Expected)-i)
			break
		}
		t.more("  %s", row(r))
	}
	t.more("actual: %s", count(len(c.Actual), "row"))
	if len(c.Columns) > 0 && len(c.Actual) > 0 {
		t.more("  %s", row(c.Columns))
	}
	for i, r := range c.Actual {
		if i == maxCheckRows {
			t.more("  ... %d more", len(c.Actual)-i)
			break
		}
		t.more("  %s", row(r))
	}
	for _, m := range c.Missing {
		t.more("missing: %s", m)
	}
	for _, u := range c.Unexpected {
		t.more("unexpected: %s", u)
	}
}

func summary(c *steps.CheckReport) string {
	if c == nil || c.Summary == "" {
		return ""
	}
	return ": " + c.Summary
}

func errSummary(e *steps.ErrorInfo) string {
	if e == nil {
		return ""
	}
	return ": " + e.Message
}

func (t *transcript) errorInfo(e *steps.ErrorInfo) {
	if e == nil {
		return
	}
	if e.SQLState != "" {
		t.more("sqlstate: %s", e.SQLState)
	}
	if e.Where != "" {
		t.more("at: %s", e.Where)
	}
	if e.Detail != "" {
		t.more("detail: %s", e.Detail)
	}
	if e.Hint != "" {
		t.more("hint: %s", e.Hint)
	}
	if e.RolledBack {
		t.more("rolled back: the database is as it was before the step")
	}
	if e.Retryable {
		t.more("retryable: the step may be run again")
	}
}

func (t *transcript) footer() {
	r := check(t.log)
	t.printf("\n")
	if r.Ended {
		t.field("outcome", "%s (exit %d)", r.Outcome, r.Outcome.ExitCode())
	} else {
		t.field("outcome", "none: the session did not end (crashed, killed, or still running)")
	}
	if len(t.log.Events) > 0 {
		last := t.log.Events[len(t.log.Events)-1]
		t.field("duration", "%s", dur(last.Mono))
	}
	t.field("events", "%d (%d lines)", len(t.log.Events), t.log.Lines)
	if t.log.TornTail {
		t.field("torn", "last line %d was incomplete and was dropped", t.log.TornLine)
	}
	t.field("verdict", "%s", r.Verdict)
	t.field("head", "%s", t.log.Head)
	if t.escaped {
		t.printf("\nnote: some values hold control characters or bidi controls; they are shown\n" +
			"escaped (\\x1b for ESC, \\u009b for CSI, \\u202e for RLO). The journal holds the exact values.\n")
	}
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	if strings.HasSuffix(what, "ch") {
		return fmt.Sprintf("%d %ses", n, what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func at(file string, line int) string {
	switch {
	case file != "" && line > 0:
		return fmt.Sprintf(" (%s:%d)", file, line)
	case file != "":
		return " (" + file + ")"
	}
	return ""
}

// firstLine is the statement's first line of SQL, past the comments
// that head it (a migration's "-- why" header says nothing of what runs),
// with " ..." when more follows.
func firstLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	start, inBlock := 0, false
	for i, l := range lines {
		l = strings.TrimSpace(l)
		switch {
		case inBlock:
			inBlock = !strings.Contains(l, "*/")
			continue
		case l == "" || strings.HasPrefix(l, "--"):
			continue
		case strings.HasPrefix(l, "/*") && !strings.Contains(l[2:], "*/"):
			inBlock = true
			continue
		}
		start = i
		break
	}
	if inBlock || start >= len(lines) {
		start = 0 // nothing but comments: show them
	}
	first := strings.TrimSpace(lines[start])
	if start < len(lines)-1 {
		first += " ..."
	}
	return clip(first, maxRowWidth)
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// dur formats a duration compactly: 12ms, 3.2s, 4m05s, 1h02m.
func dur(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// commandName names a refused command for the transcript: "next (step
// apply-001)", "tick (item 2)".
func commandName(c *steps.CommandInfo) string {
	if c == nil {
		return "a command"
	}
	name := string(c.Type)
	var about []string
	if c.Step != "" {
		about = append(about, "step "+c.Step)
	}
	if c.Item != nil {
		about = append(about, fmt.Sprintf("item %d", *c.Item+1))
	}
	if len(about) > 0 {
		name += " (" + strings.Join(about, ", ") + ")"
	}
	if c.By != nil {
		name += " from " + partnerWho(c.By)
	}
	return name
}

// environment notes a staging run, or the promotion gate of a production one.
func (t *transcript) environment(s *steps.SessionInfo) {
	if s.Environment != "" {
		t.more("environment: %s", s.Environment)
	}
	if s.Promotion {
		t.more("promotion gate: the first write needs a journal proving this runbook succeeded on staging (%s)", s.StagingProjectID)
	}
}

// promotion prints the promotion gate's events; an override stands out.
func (t *transcript) promotion(e steps.Event) {
	switch e.Type {
	case steps.EvPromotionChecked:
		p := e.Promotion
		if p == nil {
			t.line(e, "promotion: not checked")
			return
		}
		if p.OK {
			t.line(e, "promotion proven by staging journal %s", p.Journal)
			t.more("head %s, session %s, operator %s, ended %s", p.Head, p.SessionID, orDash(p.Operator), when(p.Ended))
			return
		}
		t.line(e, "promotion NOT proven%s", paren(p.Searched))
		for _, pr := range p.Problems {
			t.more("%s", pr)
		}
	case steps.EvPromotionRequired:
		t.line(e, "PROMOTION GATE: the first write is refused: %s", e.Text)
	case steps.EvPromotionOverridden:
		t.line(e, "PROMOTION GATE OVERRIDDEN by the operator, without staging proof: %q", e.Text)
	}
}
