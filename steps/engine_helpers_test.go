package steps

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/runbooks"
)

// waitLimit bounds every wait of the engine tests: they wait on events,
// never on the clock, and fail with what they saw when the limit passes.
const waitLimit = 90 * time.Second

// evRecorder is a Sink keeping every event, with waits on them.
type evRecorder struct {
	mu      sync.Mutex
	events  []Event
	changed chan struct{}
	// failOn, when set, makes the sink fail on the first event it matches
	// (after recording it or not, per failRecord).
	failOn     func(Event) bool
	failRecord bool
	batches    []int // the sizes of the batches sinkBatch got
}

func newEvRecorder() *evRecorder { return &evRecorder{changed: make(chan struct{})} }

func (r *evRecorder) sink(ev Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failOn != nil && r.failOn(ev) {
		r.failOn = nil
		if r.failRecord {
			r.events = append(r.events, ev)
		}
		close(r.changed)
		r.changed = make(chan struct{})
		return fmt.Errorf("test sink refuses %s", ev.Type)
	}
	r.events = append(r.events, ev)
	close(r.changed)
	r.changed = make(chan struct{})
	return nil
}

// sinkBatch records events the engine emits together, as the journal
// does (Config.SinkBatch): in order, stopping at the first refused.
func (r *evRecorder) sinkBatch(evs []Event) error {
	r.mu.Lock()
	r.batches = append(r.batches, len(evs))
	r.mu.Unlock()
	for _, ev := range evs {
		if err := r.sink(ev); err != nil {
			return err
		}
	}
	return nil
}

func (r *evRecorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

func (r *evRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// wait returns the first event from index from on that matches, waiting
// for it up to waitLimit.
func (r *evRecorder) wait(t testing.TB, from int, what string, match func(Event) bool) (Event, int) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		r.mu.Lock()
		for i := from; i < len(r.events); i++ {
			if match(r.events[i]) {
				ev := r.events[i]
				r.mu.Unlock()
				return ev, i
			}
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no %s within %s; events:\n%s", what, waitLimit, r.dump())
		}
	}
}

func (r *evRecorder) waitType(t testing.TB, typ EventType) Event {
	t.Helper()
	ev, _ := r.wait(t, 0, string(typ), func(e Event) bool { return e.Type == typ })
	return ev
}

func (r *evRecorder) waitStep(t testing.TB, typ EventType, step string) Event {
	t.Helper()
	ev, _ := r.wait(t, 0, string(typ)+" of "+step, func(e Event) bool { return e.Type == typ && e.Step == step })
	return ev
}

func (r *evRecorder) ofType(typ EventType) []Event {
	var out []Event
	for _, e := range r.all() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// dump renders the events one per line, for failure messages.
func (r *evRecorder) dump() string {
	var b strings.Builder
	for _, e := range r.all() {
		fmt.Fprintf(&b, "  %d %s %s", e.Seq, e.Type, e.Step)
		if e.Text != "" {
			fmt.Fprintf(&b, " %q", e.Text)
		}
		if e.Error != nil {
			fmt.Fprintf(&b, " error=%q", e.Error.Message)
		}
		if e.Check != nil {
			fmt.Fprintf(&b, " check=%q", e.Check.Summary)
		}
		if e.Identity != nil {
			fmt.Fprintf(&b, " identity ok=%v %q", e.Identity.OK, e.Identity.Reason)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// run is an engine running on its own goroutine.
type engineRun struct {
	e   *Engine
	rec *evRecorder
	rb  *Runbook
	out chan runResult
}

type runResult struct {
	outcome Outcome
	err     error
}

// startEngine runs an engine for cfg (its Sink is a new evRecorder unless
// set) and makes sure it is gone at the end of the test.
func startEngine(t testing.TB, cfg Config, rec *evRecorder) *engineRun {
	t.Helper()
	if rec == nil {
		rec = newEvRecorder()
	}
	cfg.Sink, cfg.SinkBatch = rec.sink, rec.sinkBatch // as handrail run wires the journal
	if cfg.Operator == "" {
		cfg.Operator = "tester"
	}
	if cfg.SessionID == "" {
		cfg.SessionID = "test-session"
	}
	r := &engineRun{e: NewEngine(cfg), rec: rec, rb: cfg.Runbook, out: make(chan runResult, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	go func() {
		o, err := r.e.Run(ctx)
		r.out <- runResult{o, err}
	}()
	t.Cleanup(func() {
		r.e.Send(Command{Type: CmdQuit})
		select {
		case <-r.e.Done():
		case <-time.After(waitLimit):
			t.Errorf("engine did not stop after quit")
		}
		cancel()
	})
	return r
}

// finish waits for Run to return.
func (r *engineRun) finish(t testing.TB) runResult {
	t.Helper()
	select {
	case res := <-r.out:
		r.out <- res
		return res
	case <-time.After(waitLimit):
		t.Fatalf("engine still running after %s; events:\n%s", waitLimit, r.rec.dump())
	}
	return runResult{}
}

// quit sends CmdQuit and waits for Run to return.
func (r *engineRun) quit(t testing.TB) runResult {
	t.Helper()
	r.e.Send(Command{Type: CmdQuit})
	return r.finish(t)
}

// awaitIdle waits until the engine waits for the operator with nothing queued.
func (r *engineRun) awaitIdle(t testing.TB) {
	t.Helper()
	select {
	case <-r.e.Idle():
	case <-time.After(waitLimit):
		t.Fatalf("engine never waited for the operator; events:\n%s", r.rec.dump())
	}
}

// drive runs the autopilot until the engine's Run returns.
func (r *engineRun) drive(t testing.TB, intercept func(*State) (Command, bool)) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := Drive(ctx, r.e, r.rb, intercept); err != nil {
		t.Fatalf("%v; events:\n%s", err, r.rec.dump())
	}
	return r.finish(t)
}

// assertFoldMatches proves the journal can rebuild the state: folding
// the events after a JSON round trip gives the engine's final state.
func assertFoldMatches(t testing.TB, r *engineRun) {
	t.Helper()
	b, err := json.Marshal(r.rec.all())
	if err != nil {
		t.Fatal(err)
	}
	var events []Event
	if err := json.Unmarshal(b, &events); err != nil {
		t.Fatal(err)
	}
	folded := stateRoundTrip(t, Fold(events))
	live := r.e.State()
	if !reflect.DeepEqual(folded, live) {
		fb, _ := json.MarshalIndent(folded, "", " ")
		lb, _ := json.MarshalIndent(live, "", " ")
		t.Fatalf("the fold of the journal differs from the engine's state:\nfold: %s\nlive: %s", firstDiff(fb, lb), firstDiff(lb, fb))
	}
}

func stateRoundTrip(t testing.TB, s State) State {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out State
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// firstDiff shows a's text around the first byte where it differs from b.
func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo, hi := max(i-300, 0), min(i+300, len(a))
	return string(a[lo:hi])
}

// --- databases ---

// testTarget resolves dsn as --db does.
func testTarget(t testing.TB, dsn string) *db.ConnTarget {
	t.Helper()
	target, err := db.ParseTarget(dsn)
	if err != nil {
		t.Fatalf("ParseTarget: %v", err)
	}
	return target
}

func engineCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// demoDatabases starts a sandbox with the demo databases: connect_prod
// (stamped with the production id), connect_staging (stamped staging)
// and tenant_app (stamped tenant-app-prod for the tenant runbook).
func demoDatabases(t testing.TB, opts db.SandboxOptions) (*db.Sandbox, map[string]string) {
	t.Helper()
	sb := db.NewTestSandbox(t, opts)
	ctx := engineCtx(t)
	dbs, err := db.SetupDemoDatabases(ctx, sb, os.DirFS(filepath.Join("..", "testdata", "fixtures")))
	if err != nil {
		t.Fatal(err)
	}
	dsns := map[string]string{}
	for _, d := range dbs {
		dsns[d.Name] = d.DSN
	}
	return sb, dsns
}

// stamp stamps database dsn with id.
func stampDB(t testing.TB, dsn, id string) {
	t.Helper()
	conn := adminConn(t, dsn)
	if _, err := db.Stamp(engineCtx(t), conn, id, true); err != nil {
		t.Fatal(err)
	}
}

// adminConn is a plain connection of the test's own (not the engine's).
func adminConn(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(engineCtx(t), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// queryValue runs a one-value query on its own connection.
func queryValue[T any](t testing.TB, dsn, sql string, args ...any) T {
	t.Helper()
	var v T
	conn := adminConn(t, dsn)
	if err := conn.QueryRow(engineCtx(t), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// testDatabase creates database name in sb from scripts, stamped with id.
func testDatabase(t testing.TB, sb *db.Sandbox, name, id string, scripts ...string) string {
	t.Helper()
	if err := sb.CreateDatabase(engineCtx(t), name, scripts...); err != nil {
		t.Fatal(err)
	}
	dsn := sb.DSN(name)
	stampDB(t, dsn, id)
	return dsn
}

// schemaDump is pg_dump --schema-only of dsn's database, without the
// lines that differ between two dumps of the same schema.
func schemaDump(t testing.TB, sb *db.Sandbox, dbname string) string {
	t.Helper()
	bindir, err := db.FindServerBinaries()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bindir, "pg_dump"), "--schema-only", "--no-password",
		"-h", "127.0.0.1", "-p", fmt.Sprint(sb.Port()), "-U", sb.User(), "-d", dbname)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+sb.Password())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg_dump: %v: %s", err, stderr.String())
	}
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, `\restrict`) || strings.HasPrefix(l, `\unrestrict`) || strings.HasPrefix(l, "--") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

// --- runbooks ---

// exampleRunbook copies an embedded example runbook into a temporary
// directory (exec steps write there) and loads it.
func exampleRunbook(t testing.TB, name string) *Runbook {
	t.Helper()
	sub, err := runbooks.Sub(name)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dir, sub); err != nil {
		t.Fatal(err)
	}
	return loadRunbook(t, dir)
}

func loadRunbook(t testing.TB, dir string) *Runbook {
	t.Helper()
	rb, probs := Load(dir)
	if rb == nil || probs.HasErrors() {
		t.Fatalf("runbook %s: %v", dir, probs.Errors())
	}
	return rb
}

// testRunbookHead is the start of the small runbooks the tests write.
const testRunbookHead = `
[runbook]
id = "engine-test"
title = "Engine test"

[target]
name = "Test-DB"
project_id = "test-project"
identity = ["stamp"]

[settings]
lock_timeout = "2s"
statement_timeout = "1m"
keep_rows = 50
`

// writeTestRunbook writes runbook.toml (testRunbookHead + body) and files
// into a temporary directory and loads it.
func writeTestRunbook(t testing.TB, body string, files map[string]string) *Runbook {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, RunbookFile), []byte(testRunbookHead+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return loadRunbook(t, dir)
}

// loggedStatements returns the statements the server logged (log_statement
// = all) in database dbname from byte offset on.
func loggedStatements(t testing.TB, logFile string, offset int64, dbname string) []string {
	t.Helper()
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if offset > int64(len(b)) {
		offset = int64(len(b))
	}
	lineStart := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`)
	marker := regexp.MustCompile(`@` + regexp.QuoteMeta(dbname) + ` LOG:  (?:statement|execute [^:]*): (.*)$`)
	var out []string
	in := false
	for _, l := range strings.Split(string(b[offset:]), "\n") {
		if lineStart.MatchString(l) {
			m := marker.FindStringSubmatch(l)
			in = m != nil
			if in {
				out = append(out, m[1])
			}
			continue
		}
		if in && len(out) > 0 {
			out[len(out)-1] += "\n" + l
		}
	}
	return out
}

func fileSize(t testing.TB, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
