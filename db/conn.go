package db

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgservicefile"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DSNSource is everything Resolve may take a connection from.
type DSNSource struct {
	Flag    string // --db
	EnvFile string // --env-file
}

// ConnTarget is the database a command connects to, resolved once from the
// operator's settings by pgx (which implements libpq's rules) and used by
// everything that connects to it (Connect), shows it (Display) or hides
// its credentials (Secrets): the engine, `check`, `stamp` and the journal.
type ConnTarget struct {
	config  *pgx.ConnConfig
	from    string // where the settings came from, for messages
	display string
	secrets []string
	// tls are the libpq TLS settings pgx applied but does not expose
	// (PGSSLMODE=..., PGSSLROOTCERT=...), for exec steps.
	tls []string
	// passwordFrom says where the password pgx chose came from ("" when
	// none was given), for the error when the server refuses it.
	passwordFrom string
}

// pgConnEnv are the libpq variables that, set on their own, say which
// server to talk to. PGPASSWORD or PGSSLMODE alone do not.
var pgConnEnv = []string{"PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"}

const dsnOptions = "pass --db DSN (postgres://user@host:5432/dbname or 'host=... user=... dbname=...'), " +
	"or --env-file FILE with DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD (or DATABASE_URL), " +
	"or set DATABASE_URL, or the libpq variables PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD"

// Resolve decides where the connection comes from, in this order: the --db
// flag; the --env-file (DATABASE_URL in it, else DB_HOST, DB_PORT, DB_NAME,
// DB_USER, DB_PASSWORD and optional DB_SSLMODE); DATABASE_URL in the
// environment; the libpq PG* variables. pgx then reads the connection
// string as libpq would: what it leaves out comes from the PG* variables,
// a service file (service=, PGSERVICE) and the password file (.pgpass,
// PGPASSFILE).
//
// pgx reads those from the process environment and the home directory, as
// every libpq program does, and offers no way to give it another
// environment; Resolve reads DATABASE_URL from the same environment, so
// one environment decides everything.
//
// warnings are for the operator (an env file readable by others, ignored
// settings). An error means the settings are wrong or missing (a usage
// error): it says which source and what to do.
func Resolve(src DSNSource) (*ConnTarget, []string, error) {
	var (
		conn, from string
		warnings   []string
		extra      []string // credentials read but not in conn
	)
	switch {
	case strings.TrimSpace(src.Flag) != "":
		conn, from = strings.TrimSpace(src.Flag), "--db"
	case src.EnvFile != "":
		ef, err := readEnvFile(src.EnvFile)
		if err != nil {
			return nil, ef.warnings, err
		}
		conn, from, warnings, extra = ef.conn, "--env-file "+src.EnvFile, ef.warnings, ef.secrets
	case strings.TrimSpace(os.Getenv("DATABASE_URL")) != "":
		conn, from = strings.TrimSpace(os.Getenv("DATABASE_URL")), "DATABASE_URL"
	default:
		if !slices.ContainsFunc(pgConnEnv, func(k string) bool { return os.Getenv(k) != "" }) {
			return nil, nil, errors.New("no database connection given: " + dsnOptions)
		}
		from = "the PG* environment variables"
	}
	t, err := parseTarget(conn, from)
	if err != nil {
		return nil, warnings, err
	}
	t.secrets = appendSecrets(t.secrets, extra...)
	return t, warnings, nil
}

// ParseTarget resolves conn as --db would (the environment fills in what
// it leaves out).
func ParseTarget(conn string) (*ConnTarget, error) {
	return parseTarget(conn, "DSN")
}

func parseTarget(conn, from string) (*ConnTarget, error) {
	if err := checkScheme(conn, from); err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(conn)
	if err != nil {
		return nil, parseError(conn, from, err)
	}
	for _, hp := range hostPorts(&cfg.Config) {
		if strings.Contains(hp.host, "@") {
			// postgres://user:pa@ss@host: libpq and pgx take "ss@host"
			// for the host. Not quoted: it holds part of the password.
			return nil, fmt.Errorf("%s: a host name contains '@'; %s", from, connStringHint)
		}
	}
	raw := connStringSettings(conn)
	svc, svcPath := serviceSettings(raw)
	t := &ConnTarget{config: cfg, from: from, passwordFrom: passwordFrom(raw, svc, svcPath, cfg.Password, from)}
	setting := func(key, env string) string {
		if v, ok := lastSetting(raw, key); ok {
			return v
		}
		if v, ok := svc[key]; ok {
			return v
		}
		return os.Getenv(env)
	}
	// What a connection string, a service file and the environment hold
	// besides the password pgx chose: a password another setting
	// overrode, the client key's passphrase. None is used again, but an
	// exec step or a server message may echo any of them.
	t.secrets = appendSecrets(nil, cfg.Password, svc["password"], svc["sslpassword"],
		os.Getenv("PGPASSWORD"), os.Getenv("PGSSLPASSWORD"))
	for _, s := range raw {
		if s.key == "password" || s.key == "sslpassword" {
			t.secrets = appendSecrets(t.secrets, s.value)
		}
	}
	for _, kv := range [][2]string{{"sslmode", "PGSSLMODE"}, {"sslrootcert", "PGSSLROOTCERT"},
		{"sslcert", "PGSSLCERT"}, {"sslkey", "PGSSLKEY"}} {
		if v := setting(kv[0], kv[1]); v != "" {
			t.tls = append(t.tls, kv[1]+"="+v)
		}
	}
	t.display = display(cfg, setting("sslmode", "PGSSLMODE"))
	return t, nil
}

const connStringHint = "write the connection string as postgres://user:password@host:port/dbname " +
	"(percent-encode @ / : ? # in the user or password: %40 %2F %3A %3F %23) " +
	"or as host=... port=... dbname=... user=... (quote a value with spaces in '...')"

// parseError says why pgx refused conn without quoting it: pgx masks the
// passwords it recognizes in the string it quotes, but a malformed string
// can hide one where it does not look.
func parseError(conn, from string, err error) error {
	reason := "it is neither a postgres:// URL nor keyword=value settings"
	var pce *pgconn.ParseConfigError
	if errors.As(err, &pce) {
		prefix := pgconn.NewParseConfigError(conn, "", nil).Error() // "cannot parse `...`: "
		if r, ok := strings.CutPrefix(pce.Error(), prefix); ok && r != "" {
			reason = r
		}
	}
	return fmt.Errorf("%s: not a valid connection string: %s; %s", from, reason, connStringHint)
}

func appendSecrets(secrets []string, more ...string) []string {
	for _, s := range more {
		if s != "" && !slices.Contains(secrets, s) {
			secrets = append(secrets, s)
		}
	}
	return secrets
}

// serviceSettings reads the service the settings name (service=, else
// PGSERVICE) from the service file pgx read it from (servicefile=, else
// PGSERVICEFILE, else ~/.pg_service.conf). pgx has already read it
// successfully; nil when there is none. path is the file's.
func serviceSettings(raw []connSetting) (settings map[string]string, path string) {
	name, ok := lastSetting(raw, "service")
	if !ok {
		name = os.Getenv("PGSERVICE")
	}
	if name == "" {
		return nil, ""
	}
	path, ok = lastSetting(raw, "servicefile")
	if !ok {
		path = os.Getenv("PGSERVICEFILE")
	}
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, ""
		}
		path = filepath.Join(home, ".pg_service.conf")
	}
	sf, err := pgservicefile.ReadServicefile(path)
	if err != nil {
		return nil, ""
	}
	svc, err := sf.GetService(name)
	if err != nil {
		return nil, ""
	}
	out := make(map[string]string, len(svc.Settings))
	for k, v := range svc.Settings {
		out[canonicalKey(k)] = v
	}
	return out, path
}

// explainAuth adds to a refused password (28P01) where it came from and
// what to do: the server's "password authentication failed" does not say
// which of the places libpq reads a password from was used.
func (t *ConnTarget) explainAuth(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		return err
	}
	if t.passwordFrom == "" {
		return fmt.Errorf("%w; no password was given: put it in the connection string, PGPASSWORD or the password file (~/.pgpass or PGPASSFILE)", err)
	}
	return fmt.Errorf("%w; the password from %s was refused: correct it there", err, t.passwordFrom)
}

// passwordFrom says where the password pgx chose came from, in pgx's
// (libpq's) order: the connection string, the service file, PGPASSWORD,
// the password file (read only when the others gave none). "" when none.
func passwordFrom(raw []connSetting, svc map[string]string, svcPath, chosen, from string) string {
	if chosen == "" {
		return ""
	}
	if _, ok := lastSetting(raw, "password"); ok {
		return "the connection string (" + from + ")"
	}
	if _, ok := svc["password"]; ok {
		return "the service file " + svcPath
	}
	if os.Getenv("PGPASSWORD") != "" {
		return "PGPASSWORD"
	}
	path, ok := lastSetting(raw, "passfile")
	if !ok {
		path = os.Getenv("PGPASSFILE")
	}
	if path == "" {
		path = "~/.pgpass"
	}
	return "the password file " + path
}

// display is the target as a URL without any password: what the screen,
// the journal and messages show. It is built from what pgx resolved, not
// from what was typed, so it never holds a secret and says where the
// connection really goes (hosts, port, user and database from whichever
// source gave them).
func display(cfg *pgx.ConnConfig, sslmode string) string {
	u := url.URL{Scheme: "postgres", Path: "/" + cfg.Database}
	if cfg.User != "" {
		u.User = url.User(cfg.User)
	}
	q := url.Values{}
	var hosts, ports []string
	socket := false
	for _, hp := range hostPorts(&cfg.Config) {
		hosts = append(hosts, hp.host)
		ports = append(ports, strconv.Itoa(int(hp.port)))
		if network, _ := pgconn.NetworkAddress(hp.host, hp.port); network == "unix" {
			socket = true
		}
	}
	if socket {
		q.Set("host", strings.Join(hosts, ","))
		q.Set("port", strings.Join(ports, ","))
	} else {
		hp := make([]string, len(hosts))
		for i := range hosts {
			h := hosts[i]
			if strings.Contains(h, ":") {
				h = "[" + h + "]"
			}
			hp[i] = h + ":" + ports[i]
		}
		u.Host = strings.Join(hp, ",")
	}
	if sslmode != "" {
		q.Set("sslmode", sslmode)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

type hostPort struct {
	host string
	port uint16
}

// hostPorts lists the servers cfg may connect to, in order, once each
// (pgx lists a host twice for sslmode=prefer or allow: with and without
// TLS).
func hostPorts(cfg *pgconn.Config) []hostPort {
	out := []hostPort{{cfg.Host, cfg.Port}}
	for _, fb := range cfg.Fallbacks {
		if hp := (hostPort{fb.Host, fb.Port}); !slices.Contains(out, hp) {
			out = append(out, hp)
		}
	}
	return out
}

// Display is the target for people: a URL with the hosts, port, user,
// database and sslmode, never a password.
func (t *ConnTarget) Display() string { return t.display }

// String is Display.
func (t *ConnTarget) String() string { return t.display }

// From says where the settings came from ("--db", "--env-file F",
// "DATABASE_URL", "the PG* environment variables").
func (t *ConnTarget) From() string { return t.from }

// Secrets are the credentials resolved for this target, whatever their
// source (connection string, PGPASSWORD, env file, .pgpass, service file,
// sslpassword), for everything that writes or shows to redact.
func (t *ConnTarget) Secrets() []string { return slices.Clone(t.secrets) }

// Config returns a copy of the connection settings pgx resolved.
func (t *ConnTarget) Config() *pgx.ConnConfig { return t.config.Copy() }

// HostPort names the (first) server for messages: "host", or "host:port"
// when the port is not 5432.
func (t *ConnTarget) HostPort() string {
	if t.config.Port != 0 && t.config.Port != 5432 {
		return fmt.Sprintf("%s:%d", t.config.Host, t.config.Port)
	}
	return t.config.Host
}
