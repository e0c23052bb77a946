package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/ui"
)

// autopilotFrontend stands in for the screen: the demo's scripted
// operator (steps.Autopilot) answers every gate through the same commands
// the keys send.
func autopilotFrontend(eng *steps.Engine, rb *steps.Runbook, opts ui.Options) (steps.Outcome, error) {
	drained := make(chan struct{})
	go func() {
		for range opts.Events {
		}
		close(drained)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := steps.Drive(ctx, eng, rb, nil)
	if err != nil {
		eng.Send(steps.Command{Type: steps.CmdQuit})
	}
	<-drained
	res := opts.Done()
	if err == nil {
		err = res.Err
	}
	return res.Outcome, err
}

// The newcomer's path of the README, through the real command line: a
// Supabase project's three migrations, `handrail new`, `handrail lint`,
// then `handrail demo DIR --apply`, whose journal goes to the demo
// sessions, never among the real ones.
func TestNewcomerPath(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL sandbox")
	}
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	project := t.TempDir()
	mig := filepath.Join(project, "supabase", "migrations")
	if err := os.MkdirAll(mig, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, sql := range map[string]string{
		"20240101000000_create_profiles.sql": "create table public.profiles (id uuid primary key references auth.users (id), username text not null);\nalter table public.profiles enable row level security;\n",
		"20240102000000_add_bio.sql":         "alter table public.profiles add column bio text;\n",
		"20240103000000_index_username.sql":  "create index concurrently profiles_username_idx on public.profiles (username);\n",
	} {
		if err := os.WriteFile(filepath.Join(mig, name), []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := runCLI(t, "new", mig)
	if code != steps.ExitOK || !strings.Contains(stdout, "3 sql step(s)") {
		t.Fatalf("new: exit %d\n%s%s", code, stdout, stderr)
	}
	rbDir := filepath.Join(project, "supabase")
	if code, stdout, stderr = runCLI(t, "lint", rbDir); code != steps.ExitOK || !strings.Contains(stdout, "ok (") {
		t.Fatalf("lint of the scaffold: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr = runCLI(t, "new", mig); code != steps.ExitUsage || !strings.Contains(stderr, "never overwrites") {
		t.Errorf("new over the runbook: exit %d, %s", code, stderr)
	}

	var out, errOut bytes.Buffer
	c := &cli{stdout: &out, stderr: &errOut, environ: []string{"USER=newcomer"}, frontend: autopilotFrontend}
	if code := c.main([]string{"demo", rbDir, "--apply"}); code != steps.ExitOK {
		t.Fatalf("demo --apply of the scaffold: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(errOut.String(), `runs against database "scratch"`) {
		t.Errorf("the demo does not say which database it runs against:\n%s", errOut.String())
	}
	demo, _ := filepath.Glob(filepath.Join(state, "handrail", "demo-sessions", "*.jsonl"))
	real, _ := filepath.Glob(filepath.Join(state, "handrail", "sessions", "*"))
	if len(demo) != 1 || len(real) != 0 {
		t.Fatalf("demo journals %v, real sessions %v: want one demo journal and no real session", demo, real)
	}
	if rep := journal.Verify(demo[0]); !rep.OK || !rep.Ended || rep.Outcome != steps.OutcomeSucceeded {
		t.Errorf("verify %s: %+v", demo[0], rep)
	}
	if !strings.Contains(out.String(), demo[0]) {
		t.Errorf("the demo does not print its journal's path:\n%s", out.String())
	}
}
