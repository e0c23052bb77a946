package db

import (
	"fmt"
	"strings"
)

// pgx parses connection strings (pgx.ParseConfig, the one parser of
// handrail) but keeps only what its Config needs: the TLS settings become a
// tls.Config, a client key's passphrase decrypts the key and is dropped, a
// password another setting overrode is gone. connStringSettings reads
// those back from a string pgx has already accepted, following the same
// libpq rules (FuzzConnStringSettings holds it to pgx's reading). It is
// used for nothing else: never to decide where to connect.

// connSetting is one keyword=value of a connection string.
type connSetting struct{ key, value string }

// canonicalKey is libpq's keyword under the name pgx uses for it.
func canonicalKey(k string) string {
	if k == "database" {
		return "dbname"
	}
	return k
}

// lastSetting returns the value libpq uses for key: the last one written.
func lastSetting(settings []connSetting, key string) (string, bool) {
	for i := len(settings) - 1; i >= 0; i-- {
		if settings[i].key == key {
			return settings[i].value, true
		}
	}
	return "", false
}

func isURL(conn string) bool {
	return strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://")
}

// SchemeError is a connection URL that is not PostgreSQL's (mysql://...,
// http://...): pgx would read it as keyword=value and report a puzzling
// parse error.
type SchemeError struct {
	From   string // where the string came from (--db, DATABASE_URL, ...)
	Scheme string
}

func (e *SchemeError) Error() string {
	return fmt.Sprintf("%s: the connection string is a %q URL, not a PostgreSQL one; "+
		"give a postgres:// or postgresql:// URL (postgres://user@host:5432/dbname) "+
		"or a keyword=value string (host=... port=... dbname=... user=...)", e.From, e.Scheme)
}

// checkScheme refuses a URL whose scheme is not postgres or postgresql.
func checkScheme(conn, from string) error {
	i := strings.Index(conn, "://")
	if i <= 0 || isURL(conn) {
		return nil
	}
	scheme := conn[:i]
	if strings.ContainsAny(scheme, "= \t\n\r\v\f'\\") {
		return nil // keyword=value, with :// inside a value
	}
	return &SchemeError{From: from, Scheme: scheme}
}

// connStringSettings returns the settings written in conn, in order; a key
// may repeat (libpq uses the last). conn must be a string pgx accepted;
// for anything else the result is incomplete, never a panic.
func connStringSettings(conn string) []connSetting {
	if isURL(conn) {
		return urlSettings(conn)
	}
	return keywordSettings(conn)
}

// urlSettings returns the userinfo's user and password and the query
// parameters of a postgres:// URL (the hosts and the database pgx exposes).
func urlSettings(conn string) []connSetting {
	var out []connSetting
	p := strings.TrimPrefix(strings.TrimPrefix(conn, "postgresql://"), "postgres://")
	// libpq looks ahead for '@' up to the first '/': that is the userinfo.
	if i := strings.IndexAny(p, "@/"); i >= 0 && p[i] == '@' {
		user, pw, hasPW := strings.Cut(p[:i], ":")
		out = append(out, connSetting{"user", uriDecode(user)})
		if hasPW && pw != "" {
			out = append(out, connSetting{"password", uriDecode(pw)})
		}
		p = p[i+1:]
	}
	// Skip the host list: host[:port] or [v6][:port], comma-separated.
	for {
		if strings.HasPrefix(p, "[") {
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return out
			}
			p = p[end+1:]
		} else if i := strings.IndexAny(p, ":/?,"); i >= 0 {
			p = p[i:]
		} else {
			return out
		}
		if strings.HasPrefix(p, ":") {
			i := strings.IndexAny(p, "/?,")
			if i < 0 {
				return out
			}
			p = p[i:]
		}
		if !strings.HasPrefix(p, ",") {
			break
		}
		p = p[1:]
	}
	if strings.HasPrefix(p, "/") {
		i := strings.IndexByte(p, '?')
		if i < 0 {
			return out
		}
		p = p[i:]
	}
	if !strings.HasPrefix(p, "?") {
		return out
	}
	for pair := range strings.SplitSeq(p[1:], "&") {
		if pair == "" {
			continue // a trailing '&'
		}
		k, v, _ := strings.Cut(pair, "=")
		key, value := canonicalKey(uriDecode(k)), uriDecode(v)
		if key == "ssl" && value == "true" {
			// The JDBC spelling pgx accepts for sslmode=require.
			key, value = "sslmode", "require"
		}
		out = append(out, connSetting{key, value})
	}
	return out
}

// uriDecode is libpq's percent-decoding of a URI component (surrounding
// spaces dropped); a malformed escape is kept as written.
func uriDecode(s string) string {
	s = strings.Trim(s, " ")
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isConnSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// keywordSettings reads keyword = value pairs: a value is a run of
// non-space characters or a single-quoted string, and a backslash takes
// the next character literally in either.
func keywordSettings(conn string) []connSetting {
	var out []connSetting
	s := strings.TrimLeft(conn, " \t\n\r\v\f")
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return out
		}
		key := canonicalKey(strings.Trim(s[:eq], " \t\n\r\v\f"))
		s = strings.TrimLeft(s[eq+1:], " \t\n\r\v\f")
		var b strings.Builder
		quoted := strings.HasPrefix(s, "'")
		i := 0
		if quoted {
			i = 1
		}
		for ; i < len(s); i++ {
			c := s[i]
			if quoted && c == '\'' {
				i++
				break
			}
			if !quoted && isConnSpace(c) {
				break
			}
			if c == '\\' {
				if i++; i == len(s) {
					break
				}
			}
			b.WriteByte(s[i])
		}
		out = append(out, connSetting{key, b.String()})
		s = strings.TrimLeft(s[min(i, len(s)):], " \t\n\r\v\f")
	}
	return out
}
