package scaffold

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/steps"
)

// run drives rb through the engine against dsn with the autopilot (the
// scripted operator of the demo and the tests) and returns the outcome
// and the events.
func run(t *testing.T, rb *steps.Runbook, dsn string, apply bool) (steps.Outcome, []steps.Event) {
	t.Helper()
	target, err := db.ParseTarget(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		events []steps.Event
	)
	eng := steps.NewEngine(steps.Config{Runbook: rb, Target: target, Apply: apply, Operator: "scaffold-test", SessionID: "scaffold",
		Sink: func(e steps.Event) error {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, e)
			return nil
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	type result struct {
		out steps.Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := eng.Run(ctx)
		done <- result{out, err}
	}()
	if err := steps.Drive(ctx, eng, rb, nil); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	mu.Lock()
	defer mu.Unlock()
	return res.out, events
}

// The scaffold of three migrations runs as it is in the demo sandbox: a
// dry run writes nothing, then an apply run creates what the migrations
// say, the CONCURRENTLY index outside a transaction.
func TestScaffoldRunsInTheSandbox(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL sandbox")
	}
	root := t.TempDir()
	write(t, root, threeMigrations)
	p, err := Make(Options{Migrations: filepath.Join(root, "app", "supabase", "migrations")})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Write(); err != nil {
		t.Fatal(err)
	}
	rb, problems := steps.Load(p.Path)
	if rb == nil || problems.HasErrors() {
		t.Fatalf("lint: %s", problems)
	}
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	scratch, err := db.CreateScratchDatabase(ctx, sb, os.DirFS(filepath.Join("..", "..", "testdata", "fixtures")), rb.Target.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, scratch.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	query := func(sql string) string {
		t.Helper()
		var v string
		if err := conn.QueryRow(ctx, sql).Scan(&v); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return v
	}
	const schema = `select coalesce((select string_agg(a.attname, ',' order by a.attnum) from pg_attribute a
		where a.attrelid = to_regclass('public.profiles') and a.attnum > 0), '') || ' ' ||
		coalesce((select string_agg(i.indexrelid::regclass::text || ':' || i.indisvalid, ',') from pg_index i
		where i.indrelid = to_regclass('public.profiles') and not i.indisprimary and not i.indisunique), '')`

	out, events := run(t, rb, scratch.DSN, false)
	if out != steps.OutcomeSucceeded {
		t.Fatalf("dry run: %s", out)
	}
	for _, e := range events {
		if e.Type == steps.EvIntent {
			t.Errorf("dry run recorded an intent to write: %+v", e)
		}
	}
	if got := query(schema); got != " " {
		t.Fatalf("the dry run changed the database: %q", got)
	}

	out, events = run(t, rb, scratch.DSN, true)
	if out != steps.OutcomeSucceeded {
		t.Fatalf("apply: %s", out)
	}
	succeeded := map[string]bool{}
	for _, e := range events {
		if e.Type == steps.EvStepSucceeded {
			succeeded[e.Step] = true
		}
	}
	for _, m := range p.Migrations {
		if !succeeded[m.StepID] {
			t.Errorf("step %s did not succeed", m.StepID)
		}
	}
	if got, want := query(schema), "id,username,bio profiles_username_lower_idx:true"; got != want {
		t.Errorf("after apply: %q, want %q", got, want)
	}
}
