package lockcheck

import (
	"strings"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// Rel names a relation as the SQL wrote it: Schema is "" when the name was
// not qualified (the server resolves it through search_path). Unquoted
// names are folded to lower case, quoted ones kept exactly, as PostgreSQL
// does.
type Rel struct {
	Schema string `json:"schema,omitempty"`
	Name   string `json:"name"`
}

// String quotes each part only where PostgreSQL would need it:
// public."Order Items".
func (r Rel) String() string {
	if r.Schema == "" {
		return quoteIdent(r.Name)
	}
	return quoteIdent(r.Schema) + "." + quoteIdent(r.Name)
}

// IsZero reports whether r names nothing.
func (r Rel) IsZero() bool { return r.Name == "" }

// key identifies r within one analysis: the same unqualified name written
// twice is the same relation (search_path does not change between them,
// as far as the text tells).
func (r Rel) key() string { return r.Schema + "\x00" + r.Name }

// system reports whether r is a catalog relation: its locks are the
// server's business, never a hazard of the migration.
func (r Rel) system() bool {
	switch r.Schema {
	case "pg_catalog", "information_schema", "pg_toast":
		return true
	case "":
		return strings.HasPrefix(r.Name, "pg_")
	}
	return false
}

func quoteIdent(s string) string {
	plain := s != ""
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || (c >= 'a' && c <= 'z') || (i > 0 && (c >= '0' && c <= '9' || c == '$'))) {
			plain = false
			break
		}
	}
	if plain && !reservedWords[strings.ToUpper(s)] {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// identText returns the identifier a Word or QIdent token stands for.
func identText(t tok) string {
	switch t.kind {
	case sqlscan.Word:
		return strings.ToLower(t.text)
	case sqlscan.QIdent:
		s := t.text
		if strings.HasPrefix(s, "U&") || strings.HasPrefix(s, "u&") {
			// Unicode escapes are rare in DDL; keep the text as written.
			s = s[2:]
		}
		if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
			s = s[1 : len(s)-1]
		} else if len(s) >= 1 && s[0] == '"' {
			s = s[1:]
		}
		return strings.ReplaceAll(s, `""`, `"`)
	}
	return ""
}

// reservedWords are the keywords that cannot be a bare table or column
// name (PostgreSQL's reserved key words), so quoteIdent quotes them.
var reservedWords = setOf(
	"ALL", "ANALYSE", "ANALYZE", "AND", "ANY", "ARRAY", "AS", "ASC", "ASYMMETRIC",
	"BOTH", "CASE", "CAST", "CHECK", "COLLATE", "COLUMN", "CONSTRAINT", "CREATE",
	"CURRENT_CATALOG", "CURRENT_DATE", "CURRENT_ROLE", "CURRENT_TIME",
	"CURRENT_TIMESTAMP", "CURRENT_USER", "DEFAULT", "DEFERRABLE", "DESC",
	"DISTINCT", "DO", "ELSE", "END", "EXCEPT", "FALSE", "FETCH", "FOR", "FOREIGN",
	"FROM", "GRANT", "GROUP", "HAVING", "IN", "INITIALLY", "INTERSECT", "INTO",
	"LATERAL", "LEADING", "LIMIT", "LOCALTIME", "LOCALTIMESTAMP", "NOT", "NULL",
	"OFFSET", "ON", "ONLY", "OR", "ORDER", "PLACING", "PRIMARY", "REFERENCES",
	"RETURNING", "SELECT", "SESSION_USER", "SOME", "SYMMETRIC", "TABLE", "THEN",
	"TO", "TRAILING", "TRUE", "UNION", "UNIQUE", "USER", "USING", "VARIADIC",
	"WHEN", "WHERE", "WINDOW", "WITH",
)

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
