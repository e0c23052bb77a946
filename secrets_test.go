package main

// Secrets from every source (issue 12): a password handrail resolves from
// a DSN, PGPASSWORD, an env file, .pgpass or a service file reaches exec
// steps (PGPASSWORD) and may come back in a row; it must appear nowhere a
// person or a file can see: the journal, the transcript, the screen, or
// `handrail check --json`.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/ui"
)

const secretsProjectID = "secrets-test"

// secretsRunbook shows the role's stored setting (a row holding its
// password: data echoes secrets too) and runs an exec step that prints
// the password it is given and its whole environment.
const secretsRunbook = `
[runbook]
id = "secrets"
title = "Secrets stay secret"
version = "1"

[target]
name = "Local"
project_id = "` + secretsProjectID + `"
identity = ["stamp"]

[[phase]]
title = "Work"

  [[phase.step]]
  kind = "check"
  id = "stored"
  title = "The role's stored setting"
  sql = "select v from app_settings where role = current_user"
  expect = [{ v = "nothing stored" }]
  on_fail = "continue"

  [[phase.step]]
  kind = "exec"
  id = "show-env"
  title = "What an exec step is given"
  command = "printf 'password=%s\\n' \"$PGPASSWORD\"; env | sort"
`

// libpqVars are the variables of the machine that must not take part.
var libpqVars = []string{"DATABASE_URL", "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD",
	"PGPASSFILE", "PGSERVICE", "PGSERVICEFILE", "PGSSLMODE", "PGSSLPASSWORD", "PGAPPNAME", "PGOPTIONS"}

func TestSecretsFromEverySourceAreRedacted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandbox PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t.Setenv("HOME", t.TempDir()) // no ~/.pgpass or ~/.pg_service.conf of the machine's
	for _, k := range libpqVars {
		t.Setenv(k, "")
	}
	sb := db.NewTestSandbox(t, db.SandboxOptions{})
	const dbname = "secrets"
	if err := sb.CreateDatabase(ctx, dbname, "create table app_settings (role text primary key, v text not null)"); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "stamp", "--db", sb.DSN(dbname), "--id", secretsProjectID); code != steps.ExitOK {
		t.Fatalf("handrail stamp: exit %d\n%s", code, stderr)
	}
	rbDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(rbDir, steps.RunbookFile), []byte(secretsRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, sb.DSN(dbname))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	port := fmt.Sprint(sb.Port())
	// newRole makes a login role whose password only this source knows,
	// and stores the password in a row it can read.
	newRole := func(source string) (role, password string) {
		role = "secrets_" + source
		password = fmt.Sprintf("Pw-%s-%d-x9", source, os.Getpid())
		for _, stmt := range []string{
			fmt.Sprintf("create role %s login password '%s'", role, password),
			fmt.Sprintf("grant select on app_settings to %s", role),
			fmt.Sprintf("insert into app_settings values ('%s', 'db_password=%s')", role, password),
		} {
			if _, err := admin.Exec(ctx, stmt); err != nil {
				t.Fatal(err)
			}
		}
		return role, password
	}
	writeFile := func(name, content string) string {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	for _, source := range []string{"dsn", "pgpassword", "envfile", "pgpass", "service"} {
		t.Run(source, func(t *testing.T) {
			role, password := newRole(source)
			var flags []string
			switch source {
			case "dsn":
				flags = []string{"--db", fmt.Sprintf("postgres://%s:%s@127.0.0.1:%s/%s?sslmode=disable", role, password, port, dbname)}
			case "pgpassword":
				for k, v := range map[string]string{"PGHOST": "127.0.0.1", "PGPORT": port, "PGUSER": role,
					"PGDATABASE": dbname, "PGSSLMODE": "disable", "PGPASSWORD": password} {
					t.Setenv(k, v)
				}
			case "envfile":
				flags = []string{"--env-file", writeFile(".env", fmt.Sprintf(
					"DB_HOST=127.0.0.1\nDB_PORT=%s\nDB_NAME=%s\nDB_USER=%s\nDB_PASSWORD=%s\nDB_SSLMODE=disable\n", port, dbname, role, password))}
			case "pgpass":
				t.Setenv("PGPASSFILE", writeFile("pgpass", fmt.Sprintf("127.0.0.1:%s:%s:%s:%s\n", port, dbname, role, password)))
				flags = []string{"--db", fmt.Sprintf("host=127.0.0.1 port=%s dbname=%s user=%s sslmode=disable", port, dbname, role)}
			case "service":
				t.Setenv("PGSERVICEFILE", writeFile("pg_service.conf", fmt.Sprintf(
					"[deploy]\nhost=127.0.0.1\nport=%s\ndbname=%s\nuser=%s\npassword=%s\nsslmode=disable\n", port, dbname, role, password)))
				flags = []string{"--db", "service=deploy"}
			}
			assertSecretHidden(t, rbDir, flags, password)
		})
	}
}

// assertSecretHidden runs the runbook with --apply from the given source,
// then replays it and runs `check --json`, and looks for password in all
// they wrote and showed.
func assertSecretHidden(t *testing.T, rbDir string, flags []string, password string) {
	logDir := t.TempDir()
	var screen []steps.Event
	var stdout, stderr bytes.Buffer
	c := &cli{stdout: &stdout, stderr: &stderr, environ: os.Environ(), frontend: recordingOperator(&screen)}
	code := c.main(append([]string{"run", rbDir, "--apply", "--log-dir", logDir}, flags...))
	if code != steps.ExitFailed { // the stored-setting check fails, on purpose
		t.Fatalf("run: exit %d, want %d\n%s%s", code, steps.ExitFailed, stdout.String(), stderr.String())
	}
	journals, _ := filepath.Glob(filepath.Join(logDir, "*.jsonl"))
	if len(journals) != 1 {
		t.Fatalf("journals: %v", journals)
	}
	raw, err := os.ReadFile(journals[0])
	if err != nil {
		t.Fatal(err)
	}
	shown, err := json.Marshal(screen)
	if err != nil {
		t.Fatal(err)
	}
	code, transcript, replayErr := runCLI(t, "replay", "--plain", journals[0])
	if code != steps.ExitOK {
		t.Fatalf("replay --plain: exit %d\n%s", code, replayErr)
	}
	code, checkOut, checkErr := runCLI(t, append([]string{"check", rbDir, "--json"}, flags...)...)
	if code != steps.ExitFailed || !json.Valid([]byte(checkOut)) {
		t.Fatalf("check --json: exit %d, want %d\n%s%s", code, steps.ExitFailed, checkOut, checkErr)
	}
	for what, text := range map[string]string{
		"the journal": string(raw), "the screen's events": string(shown), "the transcript": transcript + replayErr,
		"check --json": checkOut + checkErr, "run's output": stdout.String() + stderr.String(),
	} {
		if strings.Contains(text, password) {
			t.Errorf("%s shows the password %q", what, password)
		}
	}
	// They did have it to hide: the exec step printed it, the check saw
	// the row holding it.
	for what, text := range map[string]string{
		"the journal": string(raw), "the screen's events": string(shown), "the transcript": transcript,
	} {
		if !strings.Contains(text, "password=[redacted]") || !strings.Contains(text, "PGPASSWORD=[redacted]") {
			t.Errorf("%s lacks the exec step's redacted output", what)
		}
	}
	if !strings.Contains(checkOut, "db_password=[redacted]") {
		t.Errorf("check --json does not show the stored row, redacted:\n%s", checkOut)
	}
}

// recordingOperator is a frontend that keeps every event the screen is
// given and drives the engine with the autopilot.
func recordingOperator(seen *[]steps.Event) func(*steps.Engine, *steps.Runbook, ui.Options) (steps.Outcome, error) {
	return func(eng *steps.Engine, rb *steps.Runbook, opts ui.Options) (steps.Outcome, error) {
		drained := make(chan struct{})
		go func() {
			for e := range opts.Events {
				*seen = append(*seen, e)
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
}
