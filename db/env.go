package db

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// DSNSource is everything ResolveDSN may take a connection from.
type DSNSource struct {
	Flag    string   // --db
	EnvFile string   // --env-file
	Environ []string // the process environment, as os.Environ() returns it
}

// pgConnEnv are the libpq variables that, set on their own, say which
// server to talk to. PGPASSWORD or PGSSLMODE alone do not.
var pgConnEnv = []string{"PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"}

const dsnOptions = "pass --db DSN (postgres://user@host:5432/dbname or 'host=... user=... dbname=...'), " +
	"or --env-file FILE with DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD (or DATABASE_URL), " +
	"or set DATABASE_URL, or the libpq variables PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD"

// ResolveDSN decides where the connection comes from, in this order: the
// --db flag; the --env-file (DATABASE_URL in it, else DB_HOST, DB_PORT,
// DB_NAME, DB_USER, DB_PASSWORD and optional DB_SSLMODE); DATABASE_URL in
// the environment; the libpq PG* variables.
//
// In the last case dsn is "": pgx's ParseConfig("") reads PGHOST, PGPORT,
// PGUSER, PGDATABASE, PGPASSWORD, PGSSLMODE, PGSERVICE, PGPASSFILE... from
// the process environment exactly as libpq users expect, and Connect passes
// "" through to it. The PG* variables also fill in whatever a DSN from the
// other sources leaves out (PGSSLMODE, PGPASSWORD), as with libpq.
//
// warnings are for the operator (an env file readable by others, ignored
// settings); err says what is missing and lists the options.
func ResolveDSN(src DSNSource) (dsn string, warnings []string, err error) {
	if strings.TrimSpace(src.Flag) != "" {
		return strings.TrimSpace(src.Flag), nil, nil
	}
	if src.EnvFile != "" {
		return dsnFromEnvFile(src.EnvFile)
	}
	env := environMap(src.Environ)
	if u := strings.TrimSpace(env["DATABASE_URL"]); u != "" {
		return u, nil, nil
	}
	for _, k := range pgConnEnv {
		if env[k] != "" {
			return "", nil, nil
		}
	}
	return "", nil, errors.New("no database connection given: " + dsnOptions)
}

func environMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func dsnFromEnvFile(path string) (dsn string, warnings []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, fmt.Errorf("--env-file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		warnings = append(warnings, fmt.Sprintf(
			"%s is readable by other users (mode %04o) and holds a database password; run: chmod 600 %s",
			path, fi.Mode().Perm(), path))
	}
	vars, err := parseEnvFile(f, path)
	if err != nil {
		return "", warnings, err
	}

	var dbVars []string
	for _, k := range []string{"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD", "DB_SSLMODE"} {
		if _, ok := vars[k]; ok {
			dbVars = append(dbVars, k)
		}
	}
	if u := strings.TrimSpace(vars["DATABASE_URL"]); u != "" {
		if len(dbVars) > 0 {
			warnings = append(warnings, fmt.Sprintf("%s sets both DATABASE_URL and %s; using DATABASE_URL",
				path, strings.Join(dbVars, ", ")))
		}
		return u, warnings, nil
	}

	var missing []string
	for _, k := range []string{"DB_HOST", "DB_NAME", "DB_USER"} {
		if strings.TrimSpace(vars[k]) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return "", warnings, fmt.Errorf("%s: %s not set (it needs DB_HOST, DB_NAME, DB_USER, and usually DB_PORT and DB_PASSWORD, or a DATABASE_URL); or %s",
			path, strings.Join(missing, ", "), dsnOptions)
	}
	port := strings.TrimSpace(vars["DB_PORT"])
	if port == "" {
		port = "5432"
	}
	u := url.URL{
		Scheme: "postgres",
		Host:   net.JoinHostPort(strings.TrimSpace(vars["DB_HOST"]), port),
		Path:   "/" + vars["DB_NAME"],
	}
	if pw, ok := vars["DB_PASSWORD"]; ok && pw != "" {
		u.User = url.UserPassword(vars["DB_USER"], pw)
	} else {
		u.User = url.User(vars["DB_USER"])
	}
	if mode := strings.TrimSpace(vars["DB_SSLMODE"]); mode != "" {
		u.RawQuery = url.Values{"sslmode": {mode}}.Encode()
	}
	return u.String(), warnings, nil
}

// parseEnvFile reads dotenv-style KEY=VALUE lines: blank lines and #
// comments are skipped, an `export ` prefix is allowed, values may be
// single-quoted (literal) or double-quoted (\n, \t, \", \\ escapes; may span
// lines), and an unquoted value ends at " #".
func parseEnvFile(f *os.File, path string) (map[string]string, error) {
	vars := make(map[string]string)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		start := lineNo
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimSpace(strings.TrimPrefix(line, "export "))
		key, val, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			return nil, fmt.Errorf("%s:%d: expected KEY=VALUE", path, start)
		}
		val = strings.TrimLeft(val, " \t")
		switch {
		case strings.HasPrefix(val, `"`):
			// A double-quoted value may continue on the following lines.
			text := val[1:]
			for {
				if v, rest, closed := cutDoubleQuoted(text); closed {
					if r := strings.TrimSpace(rest); r != "" && !strings.HasPrefix(r, "#") {
						return nil, fmt.Errorf("%s:%d: unexpected text after the closing quote", path, start)
					}
					val = v
					break
				}
				if !sc.Scan() {
					return nil, fmt.Errorf("%s:%d: unterminated double-quoted value", path, start)
				}
				lineNo++
				text += "\n" + sc.Text()
			}
		case strings.HasPrefix(val, `'`):
			end := strings.IndexByte(val[1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("%s:%d: unterminated single-quoted value", path, start)
			}
			if r := strings.TrimSpace(val[end+2:]); r != "" && !strings.HasPrefix(r, "#") {
				return nil, fmt.Errorf("%s:%d: unexpected text after the closing quote", path, start)
			}
			val = val[1 : end+1]
		default:
			if i := strings.Index(val, " #"); i >= 0 {
				val = val[:i]
			}
			if i := strings.Index(val, "\t#"); i >= 0 {
				val = val[:i]
			}
			val = strings.TrimSpace(val)
		}
		vars[key] = val
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return vars, nil
}

// cutDoubleQuoted returns the unescaped value up to the first unescaped '"'
// in s, and what follows it; closed is false when there is none yet.
func cutDoubleQuoted(s string) (val, rest string, closed bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return b.String(), s[i+1:], true
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '"', '\\', '$':
				b.WriteByte(s[i])
			default:
				b.WriteByte('\\')
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

// Connection strings. Both libpq forms are parsed here the way libpq (and
// pgx, which mirrors it) reads them, only far enough to find where each
// value is, so a password can be masked or reported without touching the
// rest of the string.

const unparseableDSN = "<unparseable DSN>"

// dsnSetting is one key=value of a connection string: the canonical
// keyword, its decoded value, and where its raw value sits in the string.
type dsnSetting struct {
	key, value string
	start, end int
}

func isPasswordKey(k string) bool { return k == "password" || k == "sslpassword" }

// parseDSN splits dsn into its settings. For a URL, the user, password,
// host list, port list and database are reported as settings too.
func parseDSN(dsn string) ([]dsnSetting, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return parseURLDSN(dsn)
	}
	return parseKeywordDSN(dsn)
}

func parseURLDSN(dsn string) ([]dsnSetting, error) {
	var out []dsnSetting
	pos := strings.Index(dsn, "://") + 3
	p := dsn[pos:]
	add := func(key, raw string, start int) error {
		v, err := url.PathUnescape(raw)
		if err != nil {
			return errors.New("bad percent-encoding")
		}
		out = append(out, dsnSetting{key: key, value: v, start: start, end: start + len(raw)})
		return nil
	}
	// libpq looks ahead for '@' up to the first '/': that is the userinfo.
	hadUserinfo := false
	if i := strings.IndexAny(p, "@/"); i >= 0 && p[i] == '@' {
		user, pw, hasPW := strings.Cut(p[:i], ":")
		if err := add("user", user, pos); err != nil {
			return nil, err
		}
		if hasPW {
			if err := add("password", pw, pos+len(user)+1); err != nil {
				return nil, err
			}
		}
		pos += i + 1
		p = p[i+1:]
		hadUserinfo = true
	}
	// Any other '@' before the query, or anywhere when there was no
	// userinfo, means the string is malformed (an unencoded '@' or '/' in a
	// password, say) and we cannot be sure where a password ends.
	beforeQuery := p
	if q := strings.IndexByte(p, '?'); q >= 0 {
		beforeQuery = p[:q]
	}
	if strings.Contains(beforeQuery, "@") || (!hadUserinfo && strings.Contains(p, "@")) {
		return nil, errors.New("stray '@'")
	}
	end := strings.IndexAny(p, "/?")
	if end < 0 {
		end = len(p)
	}
	hosts := p[:end]
	var hostList, portList []string
	for _, hp := range strings.Split(hosts, ",") {
		h, port := hp, ""
		if strings.HasPrefix(hp, "[") {
			j := strings.IndexByte(hp, ']')
			if j < 0 {
				return nil, errors.New("unterminated IPv6 address")
			}
			h, port = hp[1:j], strings.TrimPrefix(hp[j+1:], ":")
		} else if j := strings.IndexByte(hp, ':'); j >= 0 {
			h, port = hp[:j], hp[j+1:]
		}
		hostList = append(hostList, h)
		portList = append(portList, port)
	}
	if hosts != "" {
		out = append(out, dsnSetting{key: "host", value: strings.Join(hostList, ","), start: pos, end: pos + len(hosts)})
		if strings.Join(portList, "") != "" {
			out = append(out, dsnSetting{key: "port", value: strings.Join(portList, ","), start: pos, end: pos + len(hosts)})
		}
	}
	pos += end
	p = p[end:]
	if strings.HasPrefix(p, "/") {
		q := strings.IndexByte(p, '?')
		if q < 0 {
			q = len(p)
		}
		if q > 1 {
			if err := add("dbname", p[1:q], pos+1); err != nil {
				return nil, err
			}
		}
		pos += q
		p = p[q:]
	}
	if strings.HasPrefix(p, "?") {
		pos++
		for _, pair := range strings.Split(p[1:], "&") {
			k, v, _ := strings.Cut(pair, "=")
			key, err := url.QueryUnescape(k)
			if err != nil {
				return nil, errors.New("bad percent-encoding")
			}
			if err := add(canonicalDSNKey(key), v, pos+len(k)+1); err != nil {
				return nil, err
			}
			if key == "ssl" && v == "true" {
				out = append(out, dsnSetting{key: "sslmode", value: "require", start: -1, end: -1})
			}
			pos += len(pair) + 1
		}
	}
	return out, nil
}

func parseKeywordDSN(dsn string) ([]dsnSetting, error) {
	var out []dsnSetting
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' }
	i := 0
	skip := func() {
		for i < len(dsn) && isSpace(dsn[i]) {
			i++
		}
	}
	skip()
	for i < len(dsn) {
		ks := i
		for i < len(dsn) && !isSpace(dsn[i]) && dsn[i] != '=' {
			i++
		}
		key := dsn[ks:i]
		skip()
		if key == "" || i >= len(dsn) || dsn[i] != '=' {
			return nil, errors.New("expected keyword=value")
		}
		i++
		skip()
		var b strings.Builder
		vs := i
		if i < len(dsn) && dsn[i] == '\'' {
			i++
			for {
				if i >= len(dsn) {
					return nil, errors.New("unterminated quoted value")
				}
				if dsn[i] == '\\' {
					i++
					if i >= len(dsn) {
						return nil, errors.New("unterminated quoted value")
					}
				} else if dsn[i] == '\'' {
					i++
					break
				}
				b.WriteByte(dsn[i])
				i++
			}
		} else {
			for i < len(dsn) && !isSpace(dsn[i]) {
				if dsn[i] == '\\' {
					i++
					if i >= len(dsn) {
						break
					}
				}
				b.WriteByte(dsn[i])
				i++
			}
		}
		out = append(out, dsnSetting{key: canonicalDSNKey(key), value: b.String(), start: vs, end: i})
		skip()
	}
	return out, nil
}

func canonicalDSNKey(k string) string {
	if k == "database" {
		return "dbname"
	}
	return k
}

// RedactDSN returns dsn with every password (the URL's userinfo password,
// password= and sslpassword= values) replaced by "xxxxx", leaving the rest
// as written. It never fails: a string it cannot parse, where a password
// might hide anywhere, becomes "<unparseable DSN>".
func RedactDSN(dsn string) string {
	settings, err := parseDSN(dsn)
	if err != nil {
		return unparseableDSN
	}
	var b strings.Builder
	last := 0
	for _, s := range settings {
		if !isPasswordKey(s.key) || s.start < 0 {
			continue
		}
		b.WriteString(dsn[last:s.start])
		b.WriteString("xxxxx")
		last = s.end
	}
	b.WriteString(dsn[last:])
	return b.String()
}

// Secrets returns the passwords present in dsn, decoded, for the journal
// to redact wherever they might appear. For a string that cannot be parsed
// it returns the whole string, which is then never written either.
func Secrets(dsn string) []string {
	settings, err := parseDSN(dsn)
	if err != nil {
		if strings.TrimSpace(dsn) == "" {
			return nil
		}
		return []string{dsn}
	}
	var out []string
	seen := map[string]bool{}
	for _, s := range settings {
		if isPasswordKey(s.key) && s.value != "" && !seen[s.value] {
			seen[s.value] = true
			out = append(out, s.value)
		}
	}
	return out
}

// dsnValue returns the (last) value of key in dsn, if the dsn sets it.
func dsnValue(dsn, key string) (string, bool) {
	settings, err := parseDSN(dsn)
	if err != nil {
		return "", false
	}
	val, found := "", false
	for _, s := range settings {
		if s.key == key {
			val, found = s.value, true
		}
	}
	return val, found
}
