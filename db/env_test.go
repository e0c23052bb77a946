package db

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func tgWriteEnvFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask
		t.Fatal(err)
	}
	return path
}

func TestResolveDSNPrecedence(t *testing.T) {
	envFile := tgWriteEnvFile(t, "DATABASE_URL=postgres://file@filehost/filedb\n", 0o600)
	environ := []string{"DATABASE_URL=postgres://env@envhost/envdb", "PGHOST=pghost", "PATH=/bin"}

	for _, tc := range []struct {
		name string
		src  DSNSource
		want string
	}{
		{"flag wins", DSNSource{Flag: "postgres://flag@flaghost/flagdb", EnvFile: envFile, Environ: environ}, "postgres://flag@flaghost/flagdb"},
		{"env file next", DSNSource{EnvFile: envFile, Environ: environ}, "postgres://file@filehost/filedb"},
		{"DATABASE_URL next", DSNSource{Environ: environ}, "postgres://env@envhost/envdb"},
		{"PG* last: pgx reads them", DSNSource{Environ: []string{"PGHOST=pghost", "PGDATABASE=x"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, warnings, err := ResolveDSN(tc.src)
			if err != nil || got != tc.want || len(warnings) != 0 {
				t.Fatalf("ResolveDSN = %q, %v, %v; want %q", got, warnings, err, tc.want)
			}
		})
	}

	t.Run("nothing given", func(t *testing.T) {
		_, _, err := ResolveDSN(DSNSource{Environ: []string{"PATH=/bin", "PGPASSWORD=x"}})
		if err == nil {
			t.Fatal("want an error")
		}
		for _, opt := range []string{"--db", "--env-file", "DATABASE_URL", "PGHOST"} {
			if !strings.Contains(err.Error(), opt) {
				t.Errorf("error does not mention %s: %v", opt, err)
			}
		}
	})

	t.Run("PG* variables resolve through pgx", func(t *testing.T) {
		t.Setenv("PGHOST", "pg.example.com")
		t.Setenv("PGPORT", "6543")
		t.Setenv("PGUSER", "alice")
		t.Setenv("PGDATABASE", "appdb")
		t.Setenv("PGPASSWORD", "s3cret")
		dsn, _, err := ResolveDSN(DSNSource{Environ: os.Environ()})
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := pgconn.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Host != "pg.example.com" || cfg.Port != 6543 || cfg.User != "alice" || cfg.Database != "appdb" || cfg.Password != "s3cret" {
			t.Fatalf("config from PG* = %s:%d %s %s %s", cfg.Host, cfg.Port, cfg.User, cfg.Database, cfg.Password)
		}
	})
}

func TestResolveDSNEnvFile(t *testing.T) {
	const content = `# the app's settings
export DB_HOST=db.example.com
DB_PORT = 6543   # pooler
DB_NAME="app db"
DB_USER='postgres.rxlqtyfhsocxnsnnnlwl'
DB_PASSWORD="p@ss:w/rd #1 \"q\""
OTHER=ignored
`
	t.Run("DB_* variables, private file", func(t *testing.T) {
		path := tgWriteEnvFile(t, content, 0o600)
		dsn, warnings, err := ResolveDSN(DSNSource{EnvFile: path, Environ: []string{"DATABASE_URL=postgres://not-this"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(warnings) != 0 {
			t.Errorf("warnings for a 0600 file: %v", warnings)
		}
		cfg, err := pgconn.ParseConfig(dsn)
		if err != nil {
			t.Fatalf("ParseConfig(%q): %v", RedactDSN(dsn), err)
		}
		if cfg.Host != "db.example.com" || cfg.Port != 6543 || cfg.Database != "app db" ||
			cfg.User != "postgres.rxlqtyfhsocxnsnnnlwl" || cfg.Password != `p@ss:w/rd #1 "q"` {
			t.Fatalf("got host=%s port=%d db=%q user=%s password=%q", cfg.Host, cfg.Port, cfg.Database, cfg.User, cfg.Password)
		}
		if got := Secrets(dsn); !slices.Equal(got, []string{`p@ss:w/rd #1 "q"`}) {
			t.Errorf("Secrets = %q", got)
		}
		if strings.Contains(RedactDSN(dsn), "w/rd") || strings.Contains(RedactDSN(dsn), "p%40ss") {
			t.Errorf("RedactDSN leaks: %s", RedactDSN(dsn))
		}
	})

	t.Run("readable by others warns", func(t *testing.T) {
		path := tgWriteEnvFile(t, content, 0o644)
		_, warnings, err := ResolveDSN(DSNSource{EnvFile: path})
		if err != nil {
			t.Fatal(err)
		}
		if len(warnings) != 1 || !strings.Contains(warnings[0], "chmod 600") || !strings.Contains(warnings[0], "0644") {
			t.Fatalf("warnings = %q", warnings)
		}
	})

	t.Run("DATABASE_URL in the file", func(t *testing.T) {
		path := tgWriteEnvFile(t, "DATABASE_URL='postgres://u:pw@h:5432/d'\nDB_HOST=other\n", 0o600)
		dsn, warnings, err := ResolveDSN(DSNSource{EnvFile: path})
		if err != nil || dsn != "postgres://u:pw@h:5432/d" {
			t.Fatalf("ResolveDSN = %q, %v", dsn, err)
		}
		if len(warnings) != 1 || !strings.Contains(warnings[0], "DB_HOST") {
			t.Errorf("want a warning naming the ignored DB_HOST, got %q", warnings)
		}
	})

	t.Run("missing variables are named", func(t *testing.T) {
		path := tgWriteEnvFile(t, "DB_HOST=h\nDB_PASSWORD=x\n", 0o600)
		_, _, err := ResolveDSN(DSNSource{EnvFile: path})
		if err == nil || !strings.Contains(err.Error(), "DB_NAME, DB_USER not set") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("malformed line has file:line", func(t *testing.T) {
		path := tgWriteEnvFile(t, "DB_HOST=h\nthis is not an assignment\n", 0o600)
		_, _, err := ResolveDSN(DSNSource{EnvFile: path})
		if err == nil || !strings.Contains(err.Error(), path+":2:") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		_, _, err := ResolveDSN(DSNSource{EnvFile: filepath.Join(t.TempDir(), "nope.env")})
		if err == nil || !strings.Contains(err.Error(), "--env-file") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestRedactDSN(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://user:secret@host:5432/db?sslmode=require", "postgres://user:xxxxx@host:5432/db?sslmode=require"},
		{"postgresql://user:p%40ss@h1:5432,h2:5433/db", "postgresql://user:xxxxx@h1:5432,h2:5433/db"},
		{"postgres://user@host/db", "postgres://user@host/db"},
		{"postgres://host/db?user=u&password=secret&sslpassword=keypw", "postgres://host/db?user=u&password=xxxxx&sslpassword=xxxxx"},
		{"postgres://user:@host/db", "postgres://user:xxxxx@host/db"},
		{"host=h user=u password=secret dbname=d", "host=h user=u password=xxxxx dbname=d"},
		{"host=h password = 'it''s \\' secret' dbname=d", unparseableDSN}, // '' is not an escape in libpq: unterminated
		{"host=h password='a b\\'c' dbname=d", "host=h password=xxxxx dbname=d"},
		{"password=x", "password=xxxxx"},
		{"", ""},
		{"host=h dbname", unparseableDSN},
		{"host='unterminated password=secret", unparseableDSN},
		{"postgres://user:pa@ss@host/db", unparseableDSN},
		{"postgres://user:pass/word@host/db", unparseableDSN},
		{"postgres://user:pa%zzss@host/db", unparseableDSN},
	} {
		if got := RedactDSN(tc.in); got != tc.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSecrets(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"postgres://user:p%40ss%2Fword@host/db", []string{"p@ss/word"}},
		{"postgres://host/db?password=a&sslpassword=b", []string{"a", "b"}},
		{"host=h password='a b\\'c'", []string{"a b'c"}},
		{"host=h user=u", nil},
		{"", nil},
		{"postgres://user:pa@ss@host/db", []string{"postgres://user:pa@ss@host/db"}},
	} {
		if got := Secrets(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Secrets(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
