package journal

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/steps/lockcheck"
)

var update = flag.Bool("update", false, "rewrite the recorded session fixture and the golden transcript")

const (
	fixtureName     = "rls-bad-day"
	fixturePassword = `s3cr3t-P@ss/w0rd`
	fixtureDSN      = "postgres://deploy:s3cr3t-P%40ss%2Fw0rd@db.rxlqtyfhsocxnsnnnlwl.supabase.co:5432/postgres?sslmode=require"
	redactedDSN     = "postgres://deploy:xxxxx@db.rxlqtyfhsocxnsnnnlwl.supabase.co:5432/postgres?sslmode=require"
)

var fixtureStart = time.Date(2025, 3, 4, 14, 5, 6, 0, time.UTC)

func fixturePath() string { return filepath.Join("..", "testdata", "sessions", fixtureName+".jsonl") }

func fixtureHeader() Header {
	return Header{
		SessionID:       "20250304T140506Z-7f3a",
		RunbookID:       "connect-rls-hardening",
		RunbookHash:     "9b1f6f0c2d7a4e51b8c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1",
		HandrailVersion: "0.1.0",
		Operator:        "alice",
		Host:            "bastion-1",
		SSHClient:       "203.0.113.7 52144 10.0.0.5 22",
		TargetName:      "Connect-Prod",
		ProjectID:       "rxlqtyfhsocxnsnnnlwl",
		// A DSN carrying the password: the writer must redact it.
		DSN:         fixtureDSN,
		TermWidth:   120,
		TermHeight:  40,
		Started:     fixtureStart,
		Apply:       false,
		RunbookPath: "runbooks/connect-rls-hardening",
	}
}

// builder stamps events with seq, mono and a wall time that follows mono
// except across resumes (gap).
type builder struct {
	events []steps.Event
	wall   time.Time
	mono   time.Duration
}

func (b *builder) add(dt time.Duration, e steps.Event) {
	b.mono += dt
	b.wall = b.wall.Add(dt)
	e.Seq = int64(len(b.events) + 1)
	e.Time = b.wall
	e.Mono = b.mono
	b.events = append(b.events, e)
}

// gap moves the wall clock only (the time between a crash and a resume).
func (b *builder) gap(d time.Duration) { b.wall = b.wall.Add(d) }

func ptr[T any](v T) *T { return &v }

func fixturePlan() []steps.PlannedStep {
	return []steps.PlannedStep{
		{ID: "precheck", Title: "Pre-deployment checklist", Kind: steps.KindChecklist, Phase: "Preparation",
			Items: []string{"No other deploy in progress", "Backup taken in the last 24 hours", "Support team notified"}},
		{ID: "verify-env", Title: "Connected to Connect-Prod", Kind: steps.KindCheck, Phase: "Preparation",
			SQL: "select current_database()", Expect: "1 row: postgres"},
		{ID: "announce", Title: "Announce the deploy", Kind: steps.KindMessage, Phase: "Preparation"},
		{ID: "go", Title: "Go / no-go", Kind: steps.KindConfirm, Phase: "Preparation", Prompt: "Ready to change production?", TypeText: "DEPLOY"},
		{ID: "backup", Title: "Backup with pg_dump", Kind: steps.KindExec, Phase: "Execution", SQL: "pg_dump --schema-only -f backup.sql", Writes: true},
		{ID: "apply-001", Title: "Apply migration 001", Kind: steps.KindSQL, Phase: "Execution", Writes: true, Statements: 3},
		{ID: "vacuum", Title: "VACUUM ANALYZE rate_limits", Kind: steps.KindSQL, Phase: "Execution", Writes: true, Statements: 1},
		{ID: "rate-limits-rls", Title: "rate_limits RLS is off", Kind: steps.KindCheck, Phase: "Validation",
			SQL: "select tablename, rowsecurity from pg_tables where schemaname='public' and tablename='rate_limits'", Expect: "1 row: rate_limits, false", OnFail: "rollback"},
		{ID: "smoke-upload", Title: "Upload an avatar", Kind: steps.KindManual, Phase: "Smoke tests", Notes: "Log in as a test user and upload avatars/{userId}.jpg."},
		{ID: "watch", Title: "Watch error rates", Kind: steps.KindMonitor, Phase: "Monitoring", Duration: 15 * time.Minute, Watch: []string{"API error rate"}},
		{ID: "rollback-001", Title: "Roll back migration 001", Kind: steps.KindSQL, Phase: "Rollback", Rollback: true, Writes: true, Statements: 1},
	}
}

// fixtureEvents is a hand-built session that uses every event type: a dry
// run, then three resumes with --apply (wrong database, lock held, then the
// real run: a lock timeout and retry, a cancelled backup, an outcome
// unknown, a failed check, a monitor alert and a rollback).
func fixtureEvents() []steps.Event {
	b := &builder{wall: fixtureStart}
	ms := time.Millisecond
	sec := time.Second
	session := func(apply bool, id string) *steps.SessionInfo {
		return &steps.SessionInfo{SessionID: id, RunbookID: "connect-rls-hardening", RunbookTitle: "RLS hardening", RunbookVer: "1.0",
			RunbookHash: fixtureHeader().RunbookHash, TargetName: "Connect-Prod", ProjectID: "rxlqtyfhsocxnsnnnlwl", Production: true,
			Apply: apply, Operator: "alice", DSN: fixtureDSN, HasRollback: true, KeepRows: 500, Plan: fixturePlan()}
	}
	identity := func(found string, ok bool) *steps.IdentityReport {
		r := &steps.IdentityReport{Expected: "rxlqtyfhsocxnsnnnlwl", OK: ok, Sources: []steps.IdentitySource{
			{Source: "stamp", Found: found, Resolved: true, Detail: "database setting handrail.project_id"},
			{Source: "supabase", Found: found, Resolved: true, Detail: "host db." + found + ".supabase.co"},
		}}
		if !ok {
			r.Forbidden = found
			r.Reason = "stamp and supabase found " + found + " (staging), which is forbidden"
		}
		return r
	}
	stmts := []steps.StatementInfo{
		{Index: 0, Count: 3, SQL: "alter table public.rate_limits disable row level security;", File: "migrations/001_rls_hardening.sql", Line: 4},
		{Index: 1, Count: 3, SQL: "alter table public.business_accounts\n  add column is_public boolean not null default true;", File: "migrations/001_rls_hardening.sql", Line: 7},
		{Index: 2, Count: 3, SQL: "select id, name, is_public from public.business_accounts order by id;", File: "migrations/001_rls_hardening.sql", Line: 12},
	}
	st := func(i int) *steps.StatementInfo { s := stmts[i]; return &s }
	done := func(i int, tag string, n int64, el time.Duration) *steps.StatementInfo {
		s := stmts[i]
		s.Tag, s.RowsAffected, s.Elapsed = tag, n, el
		return &s
	}
	lockInfo := &steps.LockInfo{Key: 7394720113, PID: 4242, ApplicationName: "handrail/connect-rls-hardening/alice", Client: "10.0.0.5"}

	// Session 1: dry run.
	b.add(0, steps.Event{Type: steps.EvSessionStarted, Session: session(false, "20250304T140506Z-7f3a")})
	b.add(0, steps.Event{Type: steps.EvConnecting, Text: "connecting to db.rxlqtyfhsocxnsnnnlwl.supabase.co"})
	b.add(90*ms, steps.Event{Type: steps.EvCommandRefused, Command: &steps.CommandInfo{Type: steps.CmdNext}, Text: "not ready: connecting to db.rxlqtyfhsocxnsnnnlwl.supabase.co"})
	b.add(90*ms, steps.Event{Type: steps.EvIdentityVerified, Identity: identity("rxlqtyfhsocxnsnnnlwl", true)})
	b.add(20*ms, steps.Event{Type: steps.EvLockAcquired, Lock: lockInfo})
	b.add(5*ms, steps.Event{Type: steps.EvStepStarted, Step: "precheck", Text: "checklist"})
	b.add(40*ms, steps.Event{Type: steps.EvItemTicked, Step: "precheck", Item: ptr(0), Auto: true,
		Check: &steps.CheckReport{SQL: "select count(*) from pg_stat_activity where application_name like 'handrail/%'", Expect: "1 row: 1", Summary: "only this session", Columns: []string{"count"}, Actual: [][]string{{"1"}}}})
	b.add(10*ms, steps.Event{Type: steps.EvItemCheckFailed, Step: "precheck", Item: ptr(1),
		Check: &steps.CheckReport{SQL: "select max(finished) > now() - interval '24 hours' from ops.backups", Expect: "1 row: true", Summary: "no backup in the last 24 hours",
			Columns: []string{"?column?"}, Actual: [][]string{{"false"}}, Expected: [][]string{{"true"}}, Missing: []string{"(true)"}, Unexpected: []string{"(false)"}}})
	b.add(8*sec, steps.Event{Type: steps.EvItemTicked, Step: "precheck", Item: ptr(1)})
	b.add(2*sec, steps.Event{Type: steps.EvItemUnticked, Step: "precheck", Item: ptr(1)})
	b.add(6*sec, steps.Event{Type: steps.EvItemSkipped, Step: "precheck", Item: ptr(1), Text: "nightly backup ran at 02:00, verified in the console"})
	b.add(3*sec, steps.Event{Type: steps.EvItemTicked, Step: "precheck", Item: ptr(2)})
	b.add(1*sec, steps.Event{Type: steps.EvStepSucceeded, Step: "precheck"})
	b.add(5*ms, steps.Event{Type: steps.EvStepStarted, Step: "verify-env", Text: "check"})
	b.add(35*ms, steps.Event{Type: steps.EvCheckPassed, Step: "verify-env",
		Check: &steps.CheckReport{SQL: "select current_database()", Expect: "1 row: postgres", Summary: "1 row as expected", Columns: []string{"current_database"}, Actual: [][]string{{"postgres"}}, Expected: [][]string{{"postgres"}}}})
	b.add(2*sec, steps.Event{Type: steps.EvStepSucceeded, Step: "verify-env"})
	b.add(5*ms, steps.Event{Type: steps.EvStepStarted, Step: "backup", Text: "exec"})
	b.add(3*ms, steps.Event{Type: steps.EvStepWouldRun, Step: "backup", Statements: steps.ListOf([]steps.StatementInfo{{Index: 0, Count: 1, SQL: "pg_dump --schema-only -f backup.sql"}})})
	b.add(2*ms, steps.Event{Type: steps.EvStepSkipped, Step: "backup", Text: "dry run"})
	b.add(5*ms, steps.Event{Type: steps.EvStepStarted, Step: "apply-001", Text: "sql"})
	b.add(3*ms, steps.Event{Type: steps.EvStepWouldRun, Step: "apply-001", Statements: steps.ListOf(stmts)})
	b.add(2*ms, steps.Event{Type: steps.EvStepSkipped, Step: "apply-001", Text: "dry run"})
	b.add(4*sec, steps.Event{Type: steps.EvSessionEnded, Outcome: steps.OutcomeAborted, ExitCode: ptr(1), Text: "the operator quit; the journal can be resumed with --resume"})

	// Resume 1: --apply, but connected to staging.
	b.gap(10 * time.Minute)
	b.add(0, steps.Event{Type: steps.EvSessionResumed, Session: session(true, "20250304T141620Z-2c91"), Text: "resumed at step apply-001 (skipped)"})
	b.add(150*ms, steps.Event{Type: steps.EvIdentityMismatch, Identity: identity("mohctrsopquwoyfweadl", false)})
	b.add(1*ms, steps.Event{Type: steps.EvSessionEnded, Outcome: steps.OutcomeHardStop, ExitCode: ptr(3),
		Text: "identity hard stop: expected Connect-Prod (rxlqtyfhsocxnsnnnlwl): stamp and supabase found mohctrsopquwoyfweadl (staging), which is forbidden; nothing was run"})

	// Resume 2: the right database, but someone else holds the deploy lock.
	b.gap(2 * time.Minute)
	b.add(0, steps.Event{Type: steps.EvSessionResumed, Session: session(true, "20250304T141830Z-88d0"), Text: "resumed at step apply-001 (skipped)"})
	b.add(160*ms, steps.Event{Type: steps.EvIdentityVerified, Identity: identity("rxlqtyfhsocxnsnnnlwl", true)})
	b.add(12*ms, steps.Event{Type: steps.EvLockHeld, Lock: &steps.LockInfo{Key: 7394720113, PID: 5120, ApplicationName: "handrail/connect-rls-hardening/bob", Client: "10.0.0.9", Since: fixtureStart.Add(9 * time.Minute)}})
	b.add(1*ms, steps.Event{Type: steps.EvSessionEnded, Outcome: steps.OutcomeLockHeld, ExitCode: ptr(4), Text: "the deploy lock is held by pid 5120 (handrail/connect-rls-hardening/bob)"})

	// Resume 3: the real run.
	b.gap(5 * time.Minute)
	b.add(0, steps.Event{Type: steps.EvSessionResumed, Session: session(true, "20250304T142400Z-b417"), Text: "resumed at step apply-001 (skipped)"})
	b.add(140*ms, steps.Event{Type: steps.EvIdentityVerified, Identity: identity("rxlqtyfhsocxnsnnnlwl", true)})
	b.add(10*ms, steps.Event{Type: steps.EvLockAcquired, Lock: lockInfo})
	// Shared over SSH: bob joins to watch, then his connection drops.
	bob := steps.Partner{Name: "bob", Role: steps.RoleApprover, Fingerprint: "SHA256:3Zr0c6yq4b1kqQ1s2sCw0Hh3m9yR7v3zk0B1c2d3e4f"}
	b.add(2*ms, steps.Event{Type: steps.EvShareOpened, Share: &steps.ShareInfo{Addr: "127.0.0.1:2222", HostKey: "SHA256:q9Xw1v5m3NfTz7a8Kc2Lr4Ye6Hb0Jd1Gs5Pu7Vx9Ao",
		KeysFile: "/home/alice/handrail-partners", Allowed: []steps.Partner{bob}}})
	joined := bob
	joined.ID, joined.Addr = 1, "127.0.0.1:50514"
	b.add(2*ms, steps.Event{Type: steps.EvPartnerJoined, Partner: &joined})
	// bob holds the session a moment, approves the backup ahead, and asks
	// for the rollback (second-person approval).
	b.add(0, steps.Event{Type: steps.EvHoldPlaced, Partner: &joined})
	b.add(0, steps.Event{Type: steps.EvApprovalRequired, Step: "announce", Text: "held by bob until released"})
	b.add(0, steps.Event{Type: steps.EvHoldReleased, Partner: &joined, Text: "released by the holder"})
	b.add(0, steps.Event{Type: steps.EvApprovalGiven, Step: "backup", Partner: &joined})
	b.add(0, steps.Event{Type: steps.EvRollbackProposed, Partner: &joined, Text: "just checking the dialog"})
	b.add(0, steps.Event{Type: steps.EvCommandRefused, Command: &steps.CommandInfo{Type: steps.CmdApprove, Step: "announce", By: &joined}, Text: "nothing is awaiting approval: no write step is about to run"})
	b.add(1*ms, steps.Event{Type: steps.EvStepStarted, Step: "announce", Text: "message"})
	b.add(2*ms, steps.Event{Type: steps.EvMessageRendered, Step: "announce", Message: &steps.RenderedMsg{ID: "announce", To: "Development team, support team", When: "before",
		Body: "RLS hardening migration deploying to Connect-Prod now.\nExpected impact: none. Rollback ready."}})
	b.add(20*sec, steps.Event{Type: steps.EvStepSucceeded, Step: "announce"})
	b.add(5*ms, steps.Event{Type: steps.EvStepStarted, Step: "go", Text: "confirm"})
	// Typed into a masked field: never recorded.
	b.add(6*sec, steps.Event{Type: steps.EvConfirmRejected, Step: "go", Text: fixturePassword, Secret: true})
	b.add(4*sec, steps.Event{Type: steps.EvConfirmRejected, Step: "go", Text: "deploy"})
	b.add(3*sec, steps.Event{Type: steps.EvConfirmed, Step: "go"})
	b.add(1*ms, steps.Event{Type: steps.EvStepSucceeded, Step: "go"})
	b.add(2*ms, steps.Event{Type: steps.EvPartnerLeft, Partner: &joined, Text: "connection lost"})
	b.add(3*ms, steps.Event{Type: steps.EvStepStarted, Step: "backup", Text: "exec"})
	b.add(40*ms, steps.Event{Type: steps.EvPromotionChecked, Promotion: &steps.PromotionProof{
		Searched: "log directory /var/lib/handrail/sessions",
		Problems: []string{"line 1: header field runbook_hash is 4c2d9e0a1b3f, this runbook's is 9b1f6f0c2d7a: the runbook changed since the staging run; run it on staging again"},
	}})
	b.add(2*ms, steps.Event{Type: steps.EvPromotionRequired, Step: "backup", Text: "no proof that this runbook succeeded on staging"})
	b.add(9*sec, steps.Event{Type: steps.EvPromotionOverridden, Step: "backup", Text: "CHG-4411: hotfix approved by the incident commander; staging is down"})
	b.add(2*ms, steps.Event{Type: steps.EvConsentRequired, Step: "backup"})
	b.add(5*sec, steps.Event{Type: steps.EvConsentRejected, Step: "backup", Text: "rxlqtyfhsocxnsnnnlwI"})
	b.add(4*sec, steps.Event{Type: steps.EvConsentGiven, Step: "backup"})
	b.add(1*ms, steps.Event{Type: steps.EvIntent, Step: "backup", Statements: steps.ListOf([]steps.StatementInfo{{Index: 0, Count: 1, SQL: "pg_dump --schema-only -f backup.sql"}})})
	b.add(300*ms, steps.Event{Type: steps.EvExecOutput, Step: "backup", Text: "pg_dump: last built-in OID is 16383\npg_dump: reading extensions\n"})
	b.add(30*sec, steps.Event{Type: steps.EvStepCancelled, Step: "backup", Error: &steps.ErrorInfo{Message: "cancelled by the operator (ctrl+c); the command was stopped"}})
	b.add(3*sec, steps.Event{Type: steps.EvStepStarted, Step: "backup", Text: "exec"})
	b.add(1*ms, steps.Event{Type: steps.EvIntent, Step: "backup", Statements: steps.ListOf([]steps.StatementInfo{{Index: 0, Count: 1, SQL: "pg_dump --schema-only -f backup.sql"}})})
	b.add(250*ms, steps.Event{Type: steps.EvExecOutput, Step: "backup", Text: "pg_dump: connecting with PGPASSWORD=" + fixturePassword + "\npg_dump: dumping contents of table \"public.rate_limits\"\n"})
	b.add(2*sec, steps.Event{Type: steps.EvExecExited, Step: "backup", ExitCode: ptr(0)})
	b.add(1*ms, steps.Event{Type: steps.EvStepSucceeded, Step: "backup"})

	// The migration: its locks weighed high, acknowledged, rehearsed; a
	// lock timeout, then a retry.
	b.add(5*ms, steps.Event{Type: steps.EvStepStarted, Step: "apply-001", Text: "sql"})
	b.add(0, steps.Event{Type: steps.EvLocksWeighed, Step: "apply-001", Locks: fixtureLocks()})
	b.add(0, steps.Event{Type: steps.EvRehearsed, Step: "apply-001", Rehearsal: &steps.Rehearsal{Elapsed: 260 * ms,
		Locks: []steps.RehearsedLock{
			{Rel: "public.rate_limits", Mode: "ACCESS EXCLUSIVE", Predicted: "ACCESS EXCLUSIVE", Statement: 0, Held: 250 * ms},
			{Rel: "public.business_accounts", Mode: "ACCESS EXCLUSIVE", Predicted: "ACCESS EXCLUSIVE", Statement: 1, Held: 40 * ms},
			{Rel: "public.business_accounts_pkey", Mode: "ACCESS SHARE", Statement: 2, Held: 10 * ms},
			{Rel: "public.rate_limit_log", Mode: "ROW EXCLUSIVE", Statement: 0, Held: 250 * ms, Wrong: true},
		},
		Wrong: []string{"public.rate_limit_log: the server held ROW EXCLUSIVE, which the prediction does not name"}}})
	b.add(0, steps.Event{Type: steps.EvLockAcknowledged, Step: "apply-001", Text: "lock-held-until-commit"})
	b.add(1*ms, steps.Event{Type: steps.EvIntent, Step: "apply-001", Statements: steps.ListOf(stmts)})
	b.add(3*ms, steps.Event{Type: steps.EvStatementStarted, Step: "apply-001", Statement: st(0)})
	b.add(1*sec, steps.Event{Type: steps.EvLockWait, Step: "apply-001", Blockers: []steps.Blocker{{PID: 6011, State: "idle in transaction", Query: "update rate_limits set hits = hits + 1 where key = $1",
		ApplicationName: "api", User: "app", For: 95 * time.Second, Waited: time.Second}}})
	b.add(4*sec, steps.Event{Type: steps.EvStepFailed, Step: "apply-001", Error: &steps.ErrorInfo{Message: "canceling statement due to lock timeout", SQLState: "55P03",
		Where: "migrations/001_rls_hardening.sql:4", Hint: "pid 6011 (api) held the lock; retry when it is gone", RolledBack: true, Retryable: true}})
	b.add(20*sec, steps.Event{Type: steps.EvStepStarted, Step: "apply-001", Text: "sql"})
	b.add(1*ms, steps.Event{Type: steps.EvIntent, Step: "apply-001", Statements: steps.ListOf(stmts)})
	b.add(3*ms, steps.Event{Type: steps.EvStatementStarted, Step: "apply-001", Statement: st(0)})
	b.add(200*ms, steps.Event{Type: steps.EvLockWait, Step: "apply-001"})
	b.add(10*ms, steps.Event{Type: steps.EvStatementFinished, Step: "apply-001", Statement: done(0, "ALTER TABLE", 0, 212*ms)})
	b.add(1*ms, steps.Event{Type: steps.EvStatementStarted, Step: "apply-001", Statement: st(1)})
	b.add(40*ms, steps.Event{Type: steps.EvNotice, Step: "apply-001", Notice: &steps.Notice{Severity: "NOTICE", Message: `column "is_public" of relation "business_accounts" will be filled with the default`, Hint: "this rewrites no rows on PostgreSQL 11+"}})
	b.add(5*ms, steps.Event{Type: steps.EvStatementFinished, Step: "apply-001", Statement: done(1, "ALTER TABLE", 0, 45*ms)})
	b.add(1*ms, steps.Event{Type: steps.EvStatementStarted, Step: "apply-001", Statement: st(2)})
	b.add(6*ms, steps.Event{Type: steps.EvRows, Step: "apply-001", Rows: &steps.RowBatch{Columns: []string{"id", "name", "is_public"},
		Rows: [][]string{{"1", "Acme Bakery", "true"}, {"2", "Bolt & Nut", "true"}, {"3", "", "true"}, {"4", "Delta Dental", "true"}, {"5", "Echo Labs", "true"}, {"6", "Fox Print", "true"}}, Total: 6}})
	b.add(4*ms, steps.Event{Type: steps.EvRows, Step: "apply-001", Rows: &steps.RowBatch{Rows: [][]string{{"7", "Gala Events", "true"}, {"8", "Harbor Co", "true"}}, Total: 8}})
	b.add(4*ms, steps.Event{Type: steps.EvRows, Step: "apply-001", Rows: &steps.RowBatch{Rows: [][]string{{"9", "Iris Cafe", "true"}}, Total: 9}})
	b.add(2*ms, steps.Event{Type: steps.EvStatementFinished, Step: "apply-001", Statement: done(2, "SELECT 9", 9, 16*ms)})
	b.add(3*ms, steps.Event{Type: steps.EvStepSucceeded, Step: "apply-001"})

	// VACUUM outside a transaction: the connection drops.
	b.add(5*ms, steps.Event{Type: steps.EvStepStarted, Step: "vacuum", Text: "sql"})
	vac := steps.StatementInfo{Index: 0, Count: 1, SQL: "vacuum analyze public.rate_limits;", File: "migrations/002_vacuum.sql", Line: 1}
	b.add(1*ms, steps.Event{Type: steps.EvIntent, Step: "vacuum", Statements: steps.ListOf([]steps.StatementInfo{vac})})
	b.add(2*ms, steps.Event{Type: steps.EvStatementStarted, Step: "vacuum", Statement: &vac})
	b.add(9*sec, steps.Event{Type: steps.EvStepOutcomeUnknown, Step: "vacuum", Error: &steps.ErrorInfo{Message: "the connection was lost while the statement ran", Where: "migrations/002_vacuum.sql:1",
		Detail: "unexpected EOF", Hint: "check pg_stat_user_tables.last_vacuum, then mark the step"}})
	b.add(1*ms, steps.Event{Type: steps.EvConnectionLost, Text: "connection to db.rxlqtyfhsocxnsnnnlwl.supabase.co lost; reconnecting"})
	b.add(30*sec, steps.Event{Type: steps.EvReconnectFailed, Error: &steps.ErrorInfo{Message: "cannot reach db.rxlqtyfhsocxnsnnnlwl.supabase.co again: connection refused",
		Hint: "retry when the server is back"}})
	b.add(20*sec, steps.Event{Type: steps.EvConnectionLost, Text: "reconnecting before the retry"})
	b.add(2*sec, steps.Event{Type: steps.EvReconnected, Text: "reconnected after 1.8s; identity re-verified"})
	b.add(150*ms, steps.Event{Type: steps.EvIdentityVerified, Identity: identity("rxlqtyfhsocxnsnnnlwl", true)})
	b.add(40*sec, steps.Event{Type: steps.EvStepMarked, Step: "vacuum", Pass: ptr(true), Text: "last_vacuum is 14:26:31, after the statement started"})
	// An index build left behind by an earlier, failed CONCURRENTLY step.
	bad := lockcheck.InvalidIndex{Index: lockcheck.Rel{Schema: "public", Name: "rate_limits_key_idx"}, Table: lockcheck.Rel{Schema: "public", Name: "rate_limits"},
		Def: "CREATE UNIQUE INDEX rate_limits_key_idx ON public.rate_limits USING btree (key)", Bytes: 16384}
	b.add(0, steps.Event{Type: steps.EvInvalidIndexFound, Step: "vacuum", Invalid: []lockcheck.InvalidIndex{bad}})
	b.add(0, steps.Event{Type: steps.EvInvalidIndexDrop, Step: "vacuum", Statements: steps.ListOf([]steps.StatementInfo{{Index: 0, Count: 1, SQL: bad.DropSQL()}})})
	b.add(0, steps.Event{Type: steps.EvInvalidIndexDropped, Step: "vacuum", Pass: ptr(true), Text: "public.rate_limits_key_idx"})

	// Validation fails: rollback offered.
	b.add(5*ms, steps.Event{Type: steps.EvStepStarted, Step: "rate-limits-rls", Text: "check"})
	b.add(30*ms, steps.Event{Type: steps.EvCheckFailed, Step: "rate-limits-rls", Check: &steps.CheckReport{
		SQL: "select tablename, rowsecurity from pg_tables\n where schemaname='public' and tablename='rate_limits'", Expect: "1 row: rate_limits, false", Summary: "1 row differs",
		Columns: []string{"tablename", "rowsecurity"}, Actual: [][]string{{"rate_limits", "true"}}, Expected: [][]string{{"rate_limits", "false"}},
		Missing: []string{"(rate_limits, false)"}, Unexpected: []string{"(rate_limits, true)"}}})
	b.add(1*ms, steps.Event{Type: steps.EvStepFailed, Step: "rate-limits-rls", Error: &steps.ErrorInfo{Message: "check failed: 1 row differs"}})
	b.add(1*ms, steps.Event{Type: steps.EvRollbackOffered, Text: "check rate-limits-rls failed (on_fail = rollback)"})
	b.add(30*sec, steps.Event{Type: steps.EvStepSkipped, Step: "rate-limits-rls", Text: "a trigger re-enables RLS; fixed by hand, re-checked in psql"})
	b.add(5*ms, steps.Event{Type: steps.EvStepStarted, Step: "smoke-upload", Text: "manual"})
	b.add(90*sec, steps.Event{Type: steps.EvManualResult, Step: "smoke-upload", Pass: ptr(true), Text: "uploaded avatars/42.jpg as test user, 200 OK"})
	b.add(1*ms, steps.Event{Type: steps.EvStepSucceeded, Step: "smoke-upload"})

	// Monitoring, an alert, and the decision to roll back.
	b.add(5*ms, steps.Event{Type: steps.EvStepStarted, Step: "watch", Text: "monitor"})
	b.add(1*sec, steps.Event{Type: steps.EvMonitorTick, Step: "watch", Monitor: &steps.MonitorSample{Query: 0, Title: "errors per minute", Columns: []string{"minute", "errors"},
		Rows: [][]string{{"14:29", "0"}}, Remaining: 15*time.Minute - time.Second}})
	b.add(60*sec, steps.Event{Type: steps.EvMonitorTick, Step: "watch", Monitor: &steps.MonitorSample{Query: 0, Title: "errors per minute", Columns: []string{"minute", "errors"},
		Rows: [][]string{{"14:29", "0"}, {"14:30", "57"}}, Alerting: true, Remaining: 14*time.Minute - time.Second}})
	b.add(1*ms, steps.Event{Type: steps.EvMonitorAlert, Step: "watch", Monitor: &steps.MonitorSample{Query: 0, Title: "errors per minute"}, Text: "errors > 10"})
	b.add(20*sec, steps.Event{Type: steps.EvMonitorEnded, Step: "watch", Text: "errors spiking after the migration; rolling back"})
	b.add(1*ms, steps.Event{Type: steps.EvStepFailed, Step: "watch", Error: &steps.ErrorInfo{Message: "monitor alert: errors > 10"}})
	b.add(5*sec, steps.Event{Type: steps.EvRollbackRequested, Text: "API errors after migration 001"})
	b.add(5*ms, steps.Event{Type: steps.EvRollbackStarted, Text: "API errors after migration 001"})
	b.add(5*ms, steps.Event{Type: steps.EvStepStarted, Step: "rollback-001", Text: "sql"})
	rb := steps.StatementInfo{Index: 0, Count: 1, SQL: "alter table public.business_accounts drop column is_public;", File: "rollback/001_rls_hardening_rollback.sql", Line: 3}
	b.add(1*ms, steps.Event{Type: steps.EvIntent, Step: "rollback-001", Statements: steps.ListOf([]steps.StatementInfo{rb})})
	b.add(2*ms, steps.Event{Type: steps.EvStatementStarted, Step: "rollback-001", Statement: &rb})
	rbDone := rb
	rbDone.Tag, rbDone.Elapsed = "ALTER TABLE", 31*ms
	b.add(31*ms, steps.Event{Type: steps.EvStatementFinished, Step: "rollback-001", Statement: &rbDone})
	b.add(2*ms, steps.Event{Type: steps.EvStepSucceeded, Step: "rollback-001"})
	b.add(1*ms, steps.Event{Type: steps.EvRollbackFinished, Pass: ptr(true)})
	b.add(1*ms, steps.Event{Type: steps.EvMessageRendered, Message: &steps.RenderedMsg{ID: "rolled-back", To: "Development team, support team", When: "rollback",
		Body: "The RLS hardening migration on Connect-Prod was rolled back.\nNo data was lost."}})
	b.add(10*sec, steps.Event{Type: steps.EvSessionEnded, Outcome: steps.OutcomeRolledBack, ExitCode: ptr(5)})
	return b.events
}

// fixtureLocks is apply-001's lock analysis as weighed on the target.
func fixtureLocks() *steps.StepLocksReport {
	ra := lockcheck.Rel{Schema: "public", Name: "rate_limits"}
	ba := lockcheck.Rel{Schema: "public", Name: "business_accounts"}
	file := "migrations/001_rls_hardening.sql"
	return &steps.StepLocksReport{Step: "apply-001", Title: "Apply migration 001", Analysis: &lockcheck.Analysis{
		Transactional: true, Weighed: true,
		Statements: []lockcheck.StatementLocks{
			{Line: 4, Prediction: &lockcheck.Prediction{File: file, Command: "ALTER TABLE", Locks: []lockcheck.Lock{{Rel: ra, Mode: lockcheck.AccessExclusive, Why: "DISABLE ROW LEVEL SECURITY"}}}},
			{Line: 7, Prediction: &lockcheck.Prediction{File: file, Command: "ALTER TABLE", Locks: []lockcheck.Lock{{Rel: ba, Mode: lockcheck.AccessExclusive, Why: "ADD COLUMN"}}}},
			{Line: 12, Prediction: &lockcheck.Prediction{File: file, Command: "SELECT", Locks: []lockcheck.Lock{{Rel: ba, Mode: lockcheck.AccessShare, Why: "SELECT"}}}},
		},
		Findings: []lockcheck.Finding{
			{Rule: "lock-held-until-commit", Statement: 0, File: file, Line: 4, Rel: ra,
				Why:    "ACCESS EXCLUSIVE on public.rate_limits is held until COMMIT, while the later statements run",
				Safer:  "put the later statements in a step of their own",
				Weight: &lockcheck.Weight{Level: lockcheck.High, Reasons: []string{"migrations/001_rls_hardening.sql:7 rewrites public.business_accounts (about 2,400,000 rows, 1.1 GB) while the lock is held"}}},
			{Rule: "drop-column", Statement: 1, File: file, Line: 7, Rel: ba, Why: "nothing is dropped here (fixture)", Safer: "-",
				Allowed: &lockcheck.Allow{Rule: "drop-column", Reason: "the column was never used", File: file, Line: 6, Used: true},
				Weight:  &lockcheck.Weight{Level: lockcheck.Medium, Reasons: []string{"public.business_accounts: about 2,400,000 rows, 1.1 GB"}}},
		},
		Relations: map[string]lockcheck.RelInfo{
			"public.rate_limits":       {Rel: ra, Exists: true, Kind: "table", Rows: 1200, Bytes: 98304},
			"public.business_accounts": {Rel: ba, Exists: true, Kind: "table", Rows: 2.4e6, Bytes: 1181116006},
		},
	}}
}

// writeFixture records the fixture session with the Writer into dir and
// returns the file's path.
func writeFixture(t testing.TB, dir string) string {
	t.Helper()
	w, err := Create(dir, fixtureHeader(), []string{fixturePassword})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range fixtureEvents() {
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.Path()
}

// TestFixtureUpToDate checks that the recorded fixture is what the Writer
// writes today (go test ./journal -update rewrites it).
func TestFixtureUpToDate(t *testing.T) {
	got, err := os.ReadFile(writeFixture(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(fixturePath()), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fixturePath(), got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(fixturePath())
	if err != nil {
		t.Fatalf("%v (run go test ./journal -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s is not what the writer records today; run go test ./journal -update and review the diff", fixturePath())
	}
}

// TestFixtureCoversEveryType: the fixture exercises every known event type.
func TestFixtureCoversEveryType(t *testing.T) {
	seen := map[steps.EventType]bool{}
	for _, e := range fixtureEvents() {
		seen[e.Type] = true
	}
	for _, typ := range steps.EventTypes {
		if !seen[typ] {
			t.Errorf("the fixture has no %s event", typ)
		}
	}
}
