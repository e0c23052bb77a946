package db

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func tgWriteEnvFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	return tbWriteFile(t, ".env", content, mode)
}

func tbWriteFile(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask
		t.Fatal(err)
	}
	return path
}

// tbHome gives the test an empty home directory, so that the machine's own
// ~/.pgpass and ~/.pg_service.conf (which pgx reads) play no part. TestMain
// has already removed the PG* variables.
func tbHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	return home
}

func mustResolve(t *testing.T, src DSNSource) (*ConnTarget, []string) {
	t.Helper()
	target, warnings, err := Resolve(src)
	if err != nil {
		t.Fatalf("Resolve(%+v): %v", src, err)
	}
	return target, warnings
}

func TestResolvePrecedence(t *testing.T) {
	tbHome(t)
	envFile := tgWriteEnvFile(t, "DATABASE_URL=postgres://file@filehost/filedb\n", 0o600)
	t.Setenv("DATABASE_URL", "postgres://env@envhost/envdb")
	t.Setenv("PGHOST", "pghost")

	for _, tc := range []struct {
		name           string
		src            DSNSource
		host, user, db string
		from           string
	}{
		{"flag wins", DSNSource{Flag: "postgres://flag@flaghost/flagdb", EnvFile: envFile}, "flaghost", "flag", "flagdb", "--db"},
		{"env file next", DSNSource{EnvFile: envFile}, "filehost", "file", "filedb", "--env-file " + envFile},
		{"DATABASE_URL next", DSNSource{}, "envhost", "env", "envdb", "DATABASE_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, warnings := mustResolve(t, tc.src)
			cfg := got.Config()
			if cfg.Host != tc.host || cfg.User != tc.user || cfg.Database != tc.db || got.From() != tc.from || len(warnings) != 0 {
				t.Fatalf("Resolve = %s@%s/%s from %q, warnings %v; want %s@%s/%s from %q",
					cfg.User, cfg.Host, cfg.Database, got.From(), warnings, tc.user, tc.host, tc.db, tc.from)
			}
		})
	}

	t.Run("PG* last: pgx reads them", func(t *testing.T) {
		t.Setenv("DATABASE_URL", "")
		t.Setenv("PGHOST", "pg.example.com")
		t.Setenv("PGPORT", "6543")
		t.Setenv("PGUSER", "alice")
		t.Setenv("PGDATABASE", "appdb")
		t.Setenv("PGPASSWORD", "s3cret")
		got, _ := mustResolve(t, DSNSource{})
		cfg := got.Config()
		if cfg.Host != "pg.example.com" || cfg.Port != 6543 || cfg.User != "alice" || cfg.Database != "appdb" || cfg.Password != "s3cret" {
			t.Fatalf("config from PG* = %s:%d %s %s %s", cfg.Host, cfg.Port, cfg.User, cfg.Database, cfg.Password)
		}
		if !slices.Equal(got.Secrets(), []string{"s3cret"}) || got.From() != "the PG* environment variables" {
			t.Errorf("Secrets = %q, From = %q", got.Secrets(), got.From())
		}
		if want := "postgres://alice@pg.example.com:6543/appdb"; got.Display() != want {
			t.Errorf("Display = %q, want %q", got.Display(), want)
		}
	})

	t.Run("nothing given", func(t *testing.T) {
		t.Setenv("DATABASE_URL", "")
		t.Setenv("PGHOST", "")
		t.Setenv("PGPASSWORD", "x")
		_, _, err := Resolve(DSNSource{})
		if err == nil {
			t.Fatal("want an error")
		}
		for _, opt := range []string{"--db", "--env-file", "DATABASE_URL", "PGHOST"} {
			if !strings.Contains(err.Error(), opt) {
				t.Errorf("error does not mention %s: %v", opt, err)
			}
		}
	})
}

func TestResolveEnvFile(t *testing.T) {
	tbHome(t)
	const content = `# the app's settings
export DB_HOST=db.example.com
DB_PORT = 6543   # pooler
DB_NAME="app db"
DB_USER='postgres.rxlqtyfhsocxnsnnnlwl'
DB_PASSWORD="p@ss:w/rd #1 \"q\""
OTHER=ignored
`
	t.Run("DB_* variables, private file", func(t *testing.T) {
		t.Setenv("DATABASE_URL", "postgres://not-this")
		path := tgWriteEnvFile(t, content, 0o600)
		got, warnings := mustResolve(t, DSNSource{EnvFile: path})
		if len(warnings) != 0 {
			t.Errorf("warnings for a 0600 file: %v", warnings)
		}
		cfg := got.Config()
		if cfg.Host != "db.example.com" || cfg.Port != 6543 || cfg.Database != "app db" ||
			cfg.User != "postgres.rxlqtyfhsocxnsnnnlwl" || cfg.Password != `p@ss:w/rd #1 "q"` {
			t.Fatalf("got host=%s port=%d db=%q user=%s password=%q", cfg.Host, cfg.Port, cfg.Database, cfg.User, cfg.Password)
		}
		if !slices.Equal(got.Secrets(), []string{`p@ss:w/rd #1 "q"`}) {
			t.Errorf("Secrets = %q", got.Secrets())
		}
		if d := got.Display(); strings.Contains(d, "w/rd") || strings.Contains(d, "w%2Frd") || strings.Contains(d, "p%40ss") {
			t.Errorf("Display leaks: %s", d)
		}
	})

	t.Run("readable by others warns", func(t *testing.T) {
		path := tgWriteEnvFile(t, content, 0o644)
		_, warnings := mustResolve(t, DSNSource{EnvFile: path})
		if len(warnings) != 1 || !strings.Contains(warnings[0], "chmod 600") || !strings.Contains(warnings[0], "0644") {
			t.Fatalf("warnings = %q", warnings)
		}
	})

	t.Run("DATABASE_URL in the file", func(t *testing.T) {
		path := tgWriteEnvFile(t, "DATABASE_URL='postgres://u:pw-in-url@h:5432/d'\nDB_HOST=other\nDB_PASSWORD=ignored-pw\n", 0o600)
		got, warnings := mustResolve(t, DSNSource{EnvFile: path})
		if cfg := got.Config(); cfg.Host != "h" || cfg.User != "u" || cfg.Database != "d" || cfg.Password != "pw-in-url" {
			t.Fatalf("config = %s@%s/%s", cfg.User, cfg.Host, cfg.Database)
		}
		if len(warnings) != 1 || !strings.Contains(warnings[0], "DB_HOST") {
			t.Errorf("want a warning naming the ignored DB_HOST, got %q", warnings)
		}
		// The ignored DB_PASSWORD is a credential all the same.
		if s := got.Secrets(); !slices.Contains(s, "pw-in-url") || !slices.Contains(s, "ignored-pw") {
			t.Errorf("Secrets = %q", s)
		}
	})

	t.Run("missing variables are named", func(t *testing.T) {
		path := tgWriteEnvFile(t, "DB_HOST=h\nDB_PASSWORD=x\n", 0o600)
		_, _, err := Resolve(DSNSource{EnvFile: path})
		if err == nil || !strings.Contains(err.Error(), "DB_NAME, DB_USER not set") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("malformed line has file:line", func(t *testing.T) {
		path := tgWriteEnvFile(t, "DB_HOST=h\nthis is not an assignment\n", 0o600)
		_, _, err := Resolve(DSNSource{EnvFile: path})
		if err == nil || !strings.Contains(err.Error(), path+":2:") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		_, _, err := Resolve(DSNSource{EnvFile: filepath.Join(t.TempDir(), "nope.env")})
		if err == nil || !strings.Contains(err.Error(), "--env-file") {
			t.Fatalf("err = %v", err)
		}
	})
}

// Display is built from what pgx resolved: it says where the connection
// goes and never holds a password, however the string was written.
func TestDisplay(t *testing.T) {
	tbHome(t)
	for _, tc := range []struct{ in, want string }{
		{"postgres://user:secret@host:5432/db?sslmode=require", "postgres://user@host:5432/db?sslmode=require"},
		{"postgresql://user:p%40ss@h1:5432,h2:5433/db", "postgres://user@h1:5432,h2:5433/db"},
		{"postgres://user@host/db", "postgres://user@host:5432/db"},
		{"postgres://host/db?user=u&password=secret&sslpassword=keypw", "postgres://u@host:5432/db"},
		{"postgres://user:@host/db", "postgres://user@host:5432/db"},
		{"host=h user=u password=secret dbname=d", "postgres://u@h:5432/d"},
		{"host=h password='a b\\'c' dbname=d user=u sslmode=disable", "postgres://u@h:5432/d?sslmode=disable"},
		{"postgres://u@[::1]:6000/d?ssl=true", "postgres://u@[::1]:6000/d?sslmode=require"},
		{"host=/run/postgresql user=u dbname='my db'", "postgres://u@/my%20db?host=%2Frun%2Fpostgresql&port=5432"},
	} {
		got, err := ParseTarget(tc.in)
		if err != nil {
			t.Errorf("ParseTarget(%q): %v", tc.in, err)
			continue
		}
		if got.Display() != tc.want || got.String() != tc.want {
			t.Errorf("Display(%q) = %q, want %q", tc.in, got.Display(), tc.want)
		}
	}
}

// A string pgx cannot read is a usage error that names where it came from;
// nothing connects, nothing is journaled, and the error shows no password.
func TestParseTargetErrors(t *testing.T) {
	tbHome(t)
	for _, tc := range []struct{ in, want string }{
		{"host=h password = 'it''s \\' secret' dbname=d", `missing "="`}, // '' is not an escape in libpq
		{"host=h dbname", "invalid keyword/value"},
		{"host='unterminated password=secret", "unterminated quoted string"},
		{"postgres://user:pa%zzss@host/db", "percent-encoded"},
		{"postgres://user:secret@host:notaport/db", "invalid port"},
		{"postgres://user:pa@ss@host/db", "'@'"},
	} {
		_, err := ParseTarget(tc.in)
		if err == nil {
			t.Errorf("ParseTarget(%q) succeeded", tc.in)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "DSN: ") ||
			!strings.Contains(err.Error(), "postgres://user:password@host:port/dbname") {
			t.Errorf("ParseTarget(%q) = %v, want an error about %q", tc.in, err, tc.want)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseTarget(%q): the error shows the password: %v", tc.in, err)
		}
	}
}

// A URL that is not PostgreSQL's says so and what is accepted, instead of
// pgx's keyword/value parse error.
func TestUnknownScheme(t *testing.T) {
	tbHome(t)
	for _, tc := range []struct{ in, scheme string }{
		{"mysql://root:pw@localhost:3306/app", "mysql"},
		{"jdbc:postgresql://h/d", "jdbc:postgresql"},
		{"POSTGRES://u@h/d", "POSTGRES"},
	} {
		_, _, err := Resolve(DSNSource{Flag: tc.in})
		var se *SchemeError
		if !errors.As(err, &se) || se.Scheme != tc.scheme || se.From != "--db" {
			t.Errorf("Resolve(%q) = %v, want a SchemeError for %q", tc.in, err, tc.scheme)
			continue
		}
		for _, want := range []string{fmt.Sprintf("%q", tc.scheme), "postgres://", "postgresql://", "keyword=value"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error for %q lacks %q: %v", tc.in, want, err)
			}
		}
	}
	// A value holding "://" is not a scheme.
	if _, err := ParseTarget("host=h dbname=d options='-c x=http://y'"); err != nil {
		t.Errorf("a keyword/value string with :// in a value: %v", err)
	}
}

// Secrets holds every credential resolved, from whichever source: the
// connection string (userinfo, password=, sslpassword=), PGPASSWORD,
// PGSSLPASSWORD, the password file and the service file.
func TestSecretsFromEverySource(t *testing.T) {
	home := tbHome(t)
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"postgres://user:p%40ss%2Fword@host/db", []string{"p@ss/word"}},
		{"postgres://host/db?password=a&sslpassword=b", []string{"a", "b"}},
		{"host=h password='a b\\'c'", []string{"a b'c"}},
		{"host=h user=u", nil},
		{"postgres://u:overridden@host/db?password=wins", []string{"wins", "overridden"}},
	} {
		got, err := ParseTarget(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Secrets(), tc.want) {
			t.Errorf("Secrets(%q) = %q, want %q", tc.in, got.Secrets(), tc.want)
		}
	}

	t.Run("environment", func(t *testing.T) {
		t.Setenv("PGPASSWORD", "from-pgpassword")
		t.Setenv("PGSSLPASSWORD", "from-pgsslpassword")
		got, err := ParseTarget("host=h user=u dbname=d")
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"from-pgpassword", "from-pgsslpassword"}; !slices.Equal(got.Secrets(), want) {
			t.Errorf("Secrets = %q, want %q", got.Secrets(), want)
		}
	})

	t.Run(".pgpass", func(t *testing.T) {
		tbWriteFileAt(t, filepath.Join(home, ".pgpass"), "h:5432:d:u:from-pgpass\n")
		got, err := ParseTarget("host=h user=u dbname=d")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Secrets(), []string{"from-pgpass"}) {
			t.Errorf("Secrets = %q", got.Secrets())
		}
		os.Remove(filepath.Join(home, ".pgpass"))
	})

	t.Run("service file", func(t *testing.T) {
		path := tbWriteFile(t, "pg_service.conf", "[deploy]\nhost=svc-host\nport=5433\ndbname=svc_db\nuser=svc_user\n"+
			"password=from-service\nsslpassword=key-from-service\nsslmode=require\n", 0o600)
		t.Setenv("PGSERVICEFILE", path)
		for _, conn := range []string{"service=deploy", "postgres:///?service=deploy"} {
			got, err := ParseTarget(conn)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"from-service", "key-from-service"}; !slices.Equal(got.Secrets(), want) {
				t.Errorf("%s: Secrets = %q, want %q", conn, got.Secrets(), want)
			}
			if want := "postgres://svc_user@svc-host:5433/svc_db?sslmode=require"; got.Display() != want {
				t.Errorf("%s: Display = %q, want %q", conn, got.Display(), want)
			}
			if !slices.Contains(got.tls, "PGSSLMODE=require") {
				t.Errorf("%s: exec steps would not get the service's sslmode: %q", conn, got.tls)
			}
		}
		t.Setenv("PGSERVICE", "deploy")
		got, _ := mustResolve(t, DSNSource{})
		if want := []string{"from-service", "key-from-service"}; !slices.Equal(got.Secrets(), want) {
			t.Errorf("PGSERVICE: Secrets = %q, want %q", got.Secrets(), want)
		}
	})
}

func tbWriteFileAt(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// FuzzConnStringSettings holds connStringSettings to pgx's reading of the
// same string: for every string pgx accepts, each setting pgx exposes (the
// user, database and password, and every runtime parameter, which pgx
// keeps verbatim) has the value connStringSettings found for it.
func FuzzConnStringSettings(f *testing.F) {
	for _, s := range []string{
		"host=h user=u password='a b\\'c' dbname=d",
		"  host = h\tport=5432 application_name = x\\ y options='-c a=b' ",
		"user= dbname='' password=\\\\x search_path=a,b",
		"postgres://u:p%40ss@h1:5432,h2/db?application_name=a%20b&password=x&search_path=s",
		"postgresql://[::1]:5432/db?ssl=true&application_name=z",
		"postgres://h/db?user=u&password=p&dbname=other",
		"postgres://u@/db?host=/tmp&application_name=%41%62",
		"postgres:// u :p@h/d?application_name= a ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, conn string) {
		settings := connStringSettings(conn) // never panics
		if strings.Contains(conn, "service") || strings.Contains(conn, "passfile") {
			return // would read files named by the input
		}
		cfg, err := pgconnParseForFuzz(conn)
		if err != nil {
			return
		}
		for _, key := range []string{"user", "dbname", "password"} {
			v, ok := lastSetting(settings, key)
			if !ok || v == "" {
				continue
			}
			got := map[string]string{"user": cfg.User, "dbname": cfg.Database, "password": cfg.Password}[key]
			if got != v {
				t.Fatalf("%q: %s: pgx reads %q, connStringSettings %q", conn, key, got, v)
			}
		}
		for _, s := range settings {
			if _, consumed := pgxConsumed[s.key]; consumed || strings.HasPrefix(s.key, "ssl") {
				continue
			}
			v, _ := lastSetting(settings, s.key)
			if got, ok := cfg.RuntimeParams[s.key]; !ok || got != v {
				t.Fatalf("%q: runtime parameter %q: pgx reads %q (present %v), connStringSettings %q", conn, s.key, got, ok, v)
			}
		}
	})
}

var pgconnParseForFuzz = pgconn.ParseConfig

// pgxConsumed are the keywords pgconn turns into Config fields rather than
// runtime parameters (its notRuntimeParams), under connStringSettings'
// names.
var pgxConsumed = map[string]struct{}{
	"host": {}, "port": {}, "dbname": {}, "database": {}, "user": {}, "password": {}, "passfile": {},
	"connect_timeout": {}, "krbspn": {}, "krbsrvname": {}, "target_session_attrs": {}, "service": {},
	"servicefile": {}, "min_protocol_version": {}, "max_protocol_version": {}, "channel_binding": {},
	"require_auth": {},
}
