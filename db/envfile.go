package db

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// envFile is what an --env-file says: a connection string for pgx, the
// passwords it holds (DB_PASSWORD even when DATABASE_URL wins over it),
// and warnings for the operator.
type envFile struct {
	conn     string
	secrets  []string
	warnings []string
}

// readEnvFile turns an env file into a connection string. This is the
// part of resolution pgx does not do: the file format, and the warning
// when a file holding a password is readable by others.
func readEnvFile(path string) (ef envFile, err error) {
	f, err := os.Open(path)
	if err != nil {
		return ef, fmt.Errorf("--env-file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		ef.warnings = append(ef.warnings, fmt.Sprintf(
			"%s is readable by other users (mode %04o) and holds a database password; run: chmod 600 %s",
			path, fi.Mode().Perm(), path))
	}
	vars, err := parseEnvFile(f, path)
	if err != nil {
		return ef, err
	}
	ef.secrets = appendSecrets(nil, vars["DB_PASSWORD"])

	var dbVars []string
	for _, k := range []string{"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD", "DB_SSLMODE"} {
		if _, ok := vars[k]; ok {
			dbVars = append(dbVars, k)
		}
	}
	if u := strings.TrimSpace(vars["DATABASE_URL"]); u != "" {
		if len(dbVars) > 0 {
			ef.warnings = append(ef.warnings, fmt.Sprintf("%s sets both DATABASE_URL and %s; using DATABASE_URL",
				path, strings.Join(dbVars, ", ")))
		}
		ef.conn = u
		return ef, nil
	}

	var missing []string
	for _, k := range []string{"DB_HOST", "DB_NAME", "DB_USER"} {
		if strings.TrimSpace(vars[k]) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return ef, fmt.Errorf("%s: %s not set (it needs DB_HOST, DB_NAME, DB_USER, and usually DB_PORT and DB_PASSWORD, or a DATABASE_URL); or %s",
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
	ef.conn = u.String()
	return ef, nil
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
