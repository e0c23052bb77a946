package steps

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/steps/lockcheck"
)

// TestEventTypesIsTheWholeSet: EventTypes, the one declaration of the
// closed set that the journal and the screens use, lists every EventType
// constant of event.go, once.
func TestEventTypesIsTheWholeSet(t *testing.T) {
	declared := declaredEventTypes(t)
	if len(declared) != len(EventTypes) {
		t.Fatalf("event.go declares %d EventType constants, EventTypes lists %d", len(declared), len(EventTypes))
	}
	for _, typ := range declared {
		if !typ.Known() {
			t.Errorf("EventTypes lacks %s", typ)
		}
	}
	if EventType("no_such_event").Known() {
		t.Error("an undeclared type is Known")
	}
}

// declaredEventTypes lists the EventType constants declared in event.go.
func declaredEventTypes(t *testing.T) []EventType {
	t.Helper()
	f, err := parser.ParseFile(gotoken.NewFileSet(), "event.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []EventType
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != gotoken.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "EventType" {
				continue
			}
			for _, v := range vs.Values {
				if lit, ok := v.(*ast.BasicLit); ok {
					out = append(out, EventType(strings.Trim(lit.Value, `"`)))
				}
			}
		}
	}
	if len(out) < 30 {
		t.Fatalf("found only %d event types in event.go", len(out))
	}
	return out
}

// snapshotSession is a session touching every event type, with the
// repeats that make Apply append and update in place.
func snapshotSession() []Event {
	plan := []PlannedStep{
		{ID: "list", Kind: KindChecklist, Items: []string{"a", "b", "c"}},
		{ID: "ok", Kind: KindConfirm, TypeText: "yes"},
		{ID: "sql", Kind: KindSQL, Writes: true, Statements: 2},
		{ID: "chk", Kind: KindCheck, SQL: "select 1"},
		{ID: "man", Kind: KindManual},
		{ID: "mon", Kind: KindMonitor},
		{ID: "cmd", Kind: KindExec, Writes: true},
		{ID: "msg", Kind: KindMessage},
		{ID: "undo", Kind: KindSQL, Writes: true, Rollback: true},
	}
	item := func(i int) *int { return &i }
	yes, no := true, false
	code := 0
	rows := func(cols []string, vals ...string) *RowBatch {
		b := &RowBatch{Columns: cols, Total: int64(len(vals))}
		for _, v := range vals {
			b.Rows = append(b.Rows, []string{v})
		}
		return b
	}
	stmt := func(i int) *StatementInfo {
		return &StatementInfo{Index: i, Count: 2, SQL: fmt.Sprint("update t set x = ", i)}
	}
	ev := []Event{
		{Type: EvSessionStarted, Session: &SessionInfo{RunbookID: "r", Plan: plan, KeepRows: 3, HasRollback: true, RollbackWhen: []string{"w"}}},
		{Type: EvConnecting, Text: "connecting"},
		{Type: EvIdentityMismatch, Identity: &IdentityReport{Expected: "p", Sources: []IdentitySource{{Source: "stamp"}}}},
		{Type: EvIdentityVerified, Identity: &IdentityReport{Expected: "p", OK: true, Sources: []IdentitySource{{Source: "stamp", Found: "p"}}}},
		{Type: EvLockHeld, Lock: &LockInfo{Key: 1, PID: 7}},
		{Type: EvLockAcquired, Lock: &LockInfo{Key: 1, PID: 8}},
		{Type: EvShareOpened, Share: &ShareInfo{Addr: "127.0.0.1:2222", HostKey: "SHA256:h", Allowed: []Partner{{Name: "a", Role: RoleObserver}}}},
		{Type: EvPartnerJoined, Partner: &Partner{ID: 1, Name: "a", Role: RoleObserver, Fingerprint: "SHA256:a"}},
		{Type: EvPartnerJoined, Partner: &Partner{ID: 2, Name: "b", Role: RoleApprover, Fingerprint: "SHA256:b"}},
		{Type: EvPartnerJoined, Partner: &Partner{ID: 3, Name: "c", Role: RoleObserver, Fingerprint: "SHA256:c"}},
		{Type: EvPartnerLeft, Partner: &Partner{ID: 1, Name: "a", Role: RoleObserver, Fingerprint: "SHA256:a"}, Text: "quit"},
		{Type: EvStepStarted, Step: "list"},
		{Type: EvItemTicked, Step: "list", Item: item(0), Auto: true, Check: &CheckReport{SQL: "q", Actual: [][]string{{"1"}}}},
		{Type: EvItemCheckFailed, Step: "list", Item: item(1), Check: &CheckReport{SQL: "q2", Missing: []string{"m"}}},
		{Type: EvItemTicked, Step: "list", Item: item(2)},
		{Type: EvItemUnticked, Step: "list", Item: item(2)},
		{Type: EvItemSkipped, Step: "list", Item: item(1), Text: "why"},
		{Type: EvItemTicked, Step: "list", Item: item(2)},
		{Type: EvStepSucceeded, Step: "list"},
		{Type: EvStepStarted, Step: "ok"},
		{Type: EvConfirmRejected, Step: "ok", Text: "no"},
		{Type: EvConfirmed, Step: "ok"},
		{Type: EvStepSucceeded, Step: "ok"},
		{Type: EvStepStarted, Step: "sql"},
		{Type: EvLocksWeighed, Step: "sql", Locks: &StepLocksReport{Step: "sql", Analysis: &lockcheck.Analysis{Findings: []lockcheck.Finding{
			{Rule: "a", Weight: &lockcheck.Weight{Level: lockcheck.High}}, {Rule: "b", Weight: &lockcheck.Weight{Level: lockcheck.High}}}}}},
		{Type: EvLockAcknowledged, Step: "sql", Text: "a"},
		{Type: EvRehearsed, Step: "sql", Rehearsal: &Rehearsal{Locks: []RehearsedLock{{Rel: "t", Mode: "AccessShareLock"}}}},
		{Type: EvLockAcknowledged, Step: "sql", Text: "b"},
		{Type: EvStepWouldRun, Step: "sql", Statements: ListOf([]StatementInfo{*stmt(0), *stmt(1)})},
		{Type: EvApprovalGiven, Step: "sql", Partner: &Partner{ID: 2, Name: "b", Role: RoleApprover, Fingerprint: "SHA256:b"}},
		{Type: EvHoldPlaced, Partner: &Partner{ID: 2, Name: "b", Role: RoleApprover, Fingerprint: "SHA256:b"}},
		{Type: EvApprovalRequired, Step: "sql", Text: "held by b"},
		{Type: EvHoldReleased, Partner: &Partner{ID: 2, Name: "b", Role: RoleApprover, Fingerprint: "SHA256:b"}, Text: "released"},
		{Type: EvApprovalGiven, Step: "sql", Partner: &Partner{ID: 3, Name: "c", Role: RoleApprover, Fingerprint: "SHA256:c"}},
		{Type: EvPromotionChecked, Promotion: &PromotionProof{Problems: []string{"no journal"}}},
		{Type: EvPromotionRequired, Step: "sql", Text: "no proof"},
		{Type: EvPromotionOverridden, Step: "sql", Text: "hotfix"},
		{Type: EvConsentRequired, Step: "sql"},
		{Type: EvConsentRejected, Step: "sql", Text: "wrong"},
		{Type: EvConsentGiven, Step: "sql"},
		{Type: EvIntent, Step: "sql", Statements: ListOf([]StatementInfo{*stmt(0), *stmt(1)})},
		{Type: EvStatementStarted, Step: "sql", Statement: stmt(0)},
		{Type: EvRows, Step: "sql", Rows: rows([]string{"c"}, "1")},
		{Type: EvRows, Step: "sql", Rows: rows(nil, "2")},
		{Type: EvNotice, Step: "sql", Notice: &Notice{Severity: "NOTICE", Message: "n1"}},
		{Type: EvNotice, Step: "sql", Notice: &Notice{Severity: "NOTICE", Message: "n2"}},
		{Type: EvLockWait, Step: "sql", Blockers: []Blocker{{PID: 9, Query: "lock"}}},
		{Type: EvLockWait, Step: "sql"},
		{Type: EvStatementFinished, Step: "sql", Statement: stmt(0)},
		{Type: EvStatementStarted, Step: "sql", Statement: stmt(1)},
		{Type: EvRows, Step: "sql", Rows: rows([]string{"d"}, "3", "4")},
		{Type: EvRows, Step: "sql", Rows: rows(nil, "5", "6")},
		{Type: EvStepFailed, Step: "sql", Error: &ErrorInfo{Message: "lock timeout", Retryable: true}},
		{Type: EvStepStarted, Step: "sql"},
		{Type: EvIntent, Step: "sql", Statements: ListOf([]StatementInfo{*stmt(0)})},
		{Type: EvConnectionLost, Text: "lost"},
		{Type: EvReconnectFailed, Error: &ErrorInfo{Message: "down"}},
		{Type: EvCommandRefused, Command: &CommandInfo{Type: CmdNext, Step: "sql"}, Text: "not ready"},
		{Type: EvReconnected, Text: "again"},
		{Type: EvStepOutcomeUnknown, Step: "sql", Error: &ErrorInfo{Message: "commit lost"}},
		{Type: EvStepMarked, Step: "sql", Pass: &yes, Text: "checked"},
		{Type: EvInvalidIndexFound, Step: "sql", Invalid: []lockcheck.InvalidIndex{{Index: lockcheck.Rel{Name: "i1"}}, {Index: lockcheck.Rel{Name: "i2"}}}},
		{Type: EvInvalidIndexDrop, Step: "sql", Statements: ListOf([]StatementInfo{{SQL: "DROP INDEX CONCURRENTLY IF EXISTS i1"}})},
		{Type: EvInvalidIndexDropped, Step: "sql", Pass: &yes, Text: "i1"},
		{Type: EvInvalidIndexDropped, Step: "sql", Pass: &yes, Text: "i2"},
		{Type: EvStepStarted, Step: "chk"},
		{Type: EvRows, Step: "chk", Rows: rows([]string{"x"}, "1")},
		{Type: EvCheckFailed, Step: "chk", Check: &CheckReport{SQL: "select 1", Unexpected: []string{"u"}}},
		{Type: EvStepCancelled, Step: "chk", Error: &ErrorInfo{Message: "cancelled"}},
		{Type: EvStepStarted, Step: "chk"},
		{Type: EvCheckPassed, Step: "chk", Check: &CheckReport{SQL: "select 1", Actual: [][]string{{"1"}}}},
		{Type: EvStepSucceeded, Step: "chk"},
		{Type: EvStepStarted, Step: "man"},
		{Type: EvManualResult, Step: "man", Pass: &no, Text: "broken"},
		{Type: EvRollbackOffered, Step: "man", Text: "manual failed"},
		{Type: EvStepSkipped, Step: "man", Text: "skip"},
		{Type: EvRollbackProposed, Partner: &Partner{ID: 2, Name: "b", Role: RoleApprover, Fingerprint: "SHA256:b"}},
		{Type: EvRollbackRequested, Text: "requested"},
		{Type: EvStepStarted, Step: "mon"},
		{Type: EvMonitorTick, Step: "mon", Monitor: &MonitorSample{Query: 1, Title: "q1", Rows: [][]string{{"1"}}}},
		{Type: EvMonitorTick, Step: "mon", Monitor: &MonitorSample{Query: 0, Title: "q0", Columns: []string{"c"}}},
		{Type: EvMonitorAlert, Step: "mon", Monitor: &MonitorSample{Query: 0, Alerting: true}, Text: "c > 1"},
		{Type: EvMonitorAlert, Step: "mon", Monitor: &MonitorSample{Query: 1, Alerting: true}, Text: "c > 2"},
		{Type: EvMonitorTick, Step: "mon", Monitor: &MonitorSample{Query: 1, Title: "q1", Rows: [][]string{{"2"}}}},
		{Type: EvMonitorEnded, Step: "mon", Text: "early"},
		{Type: EvStepSucceeded, Step: "mon"},
		{Type: EvStepStarted, Step: "cmd"},
		{Type: EvIntent, Step: "cmd", Statements: ListOf([]StatementInfo{{SQL: "pg_dump"}})},
		{Type: EvExecOutput, Step: "cmd", Text: "out 1\n"},
		{Type: EvExecOutput, Step: "cmd", Text: "out 2\n"},
		{Type: EvExecExited, Step: "cmd", ExitCode: &code},
		{Type: EvStepSucceeded, Step: "cmd"},
		{Type: EvStepStarted, Step: "msg"},
		{Type: EvMessageRendered, Step: "msg", Message: &RenderedMsg{ID: "m", Body: "b"}},
		{Type: EvStepSucceeded, Step: "msg"},
		{Type: EvPartnerLeft, Partner: &Partner{ID: 3, Name: "c", Role: RoleObserver, Fingerprint: "SHA256:c"}, Text: "connection lost"},
		{Type: EvPartnerJoined, Partner: &Partner{ID: 4, Name: "a", Role: RoleObserver, Fingerprint: "SHA256:a"}},
		{Type: EvRollbackStarted, Text: "because"},
		{Type: EvStepStarted, Step: "undo"},
		{Type: EvRollbackFinished, Pass: &yes},
		{Type: EvSessionEnded, Outcome: OutcomeRolledBack, ExitCode: &code},
		{Type: EvSessionResumed, Session: &SessionInfo{RunbookID: "r", Operator: "b"}, Text: "resumed"},
	}
	for i := range ev {
		ev[i].Seq = int64(i + 1)
		ev[i].Mono = time.Duration(i) * time.Millisecond
	}
	return ev
}

// A snapshot stays as it was while the engine folds more events: it
// shares no memory that Apply changes afterwards. The session covers
// every event type, so a new in-place update in Apply that the snapshot
// does not copy fails here.
func TestSnapshotIsStable(t *testing.T) {
	session := snapshotSession()
	seen := map[EventType]bool{}
	for _, e := range session {
		seen[e.Type] = true
	}
	for _, typ := range EventTypes {
		if !seen[typ] {
			t.Fatalf("the test session lacks a %s event; add one", typ)
		}
	}
	e := NewEngine(Config{})
	type snap struct {
		s    State
		json string
	}
	var snaps []snap
	for _, ev := range session {
		e.mu.Lock()
		e.state = Apply(e.state, ev)
		e.mu.Unlock()
		s := e.snapshot()
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, snap{s, string(b)})
	}
	for i, sn := range snaps {
		b, _ := json.Marshal(sn.s)
		if string(b) != sn.json {
			t.Fatalf("the snapshot after event %d (%s) changed as the engine went on:\nthen: %s\nnow:  %s",
				i+1, session[i].Type, firstDiff([]byte(sn.json), b), firstDiff(b, []byte(sn.json)))
		}
	}
	// And it is the state State() reports.
	a, _ := json.Marshal(e.snapshot())
	b, _ := json.Marshal(e.State())
	if string(a) != string(b) {
		t.Fatalf("snapshot %s\nState    %s", firstDiff(a, b), firstDiff(b, a))
	}
}

// BenchmarkSnapshot200 is the autopilot's view of a session of 200
// checks (what Drive reads on every wait), by snapshot and by State's
// JSON round trip.
func BenchmarkSnapshot200(b *testing.B) {
	plan := make([]PlannedStep, 200)
	for i := range plan {
		plan[i] = PlannedStep{ID: fmt.Sprintf("c%03d", i), Title: "check", Kind: KindCheck, SQL: "select id, public from storage.buckets", Expect: "2 rows"}
	}
	e := NewEngine(Config{})
	seq := int64(1)
	e.state = Apply(e.state, Event{Seq: seq, Type: EvSessionStarted, Session: &SessionInfo{RunbookID: "r", Plan: plan, KeepRows: 500}})
	for _, p := range plan {
		rep := &CheckReport{SQL: p.SQL, Summary: "2 rows, as expected", Columns: []string{"id", "public"},
			Actual: [][]string{{"avatars", "false"}, {"chat-media", "false"}}, Expected: [][]string{{"avatars", "false"}, {"chat-media", "false"}}}
		for _, x := range []Event{{Type: EvStepStarted}, {Type: EvRows, Rows: &RowBatch{Columns: rep.Columns, Rows: rep.Actual, Total: 2}}, {Type: EvCheckPassed, Check: rep}, {Type: EvStepSucceeded}} {
			seq++
			x.Seq, x.Step = seq, p.ID
			e.state = Apply(e.state, x)
		}
	}
	b.Run("snapshot", func(b *testing.B) {
		for b.Loop() {
			_ = e.snapshot()
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			_ = e.State()
		}
	})
}
