package lockcheck

import (
	"fmt"
	"strings"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// Volatility of functions a column default commonly calls, from
// pg_proc.provolatile of a stock PostgreSQL (and the uuid-ossp and
// pgcrypto extensions). It lets lint answer without a database for these
// few; Weigh asks pg_proc on the target for every function anyway, and
// the target's answer wins.
var (
	wellKnownVolatile = setOf("random", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc",
		"uuid_generate_v4", "clock_timestamp", "timeofday", "nextval", "gen_random_bytes", "txid_current")
	wellKnownStable = setOf("now", "transaction_timestamp", "statement_timestamp", "current_setting",
		"to_char", "to_timestamp", "jsonb_build_object", "json_build_object", "jsonb_build_array",
		"json_build_array", "make_interval", "make_date", "date_trunc", "lower", "upper", "length", "concat",
		"abs", "round", "md5", "to_jsonb", "array_fill", "timezone")
)

// sqlValueKeywords are the SQL-standard value functions written without
// parentheses (CURRENT_TIMESTAMP): none is volatile.
var sqlValueKeywords = setOf("CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME", "LOCALTIME",
	"LOCALTIMESTAMP", "CURRENT_USER", "SESSION_USER", "USER", "CURRENT_ROLE", "CURRENT_SCHEMA",
	"CURRENT_CATALOG")

// exprKeywords take parentheses without being pg_proc functions (or are
// operators): COALESCE(a, b), CAST(x AS t), ARRAY[...].
var exprKeywords = setOf("CAST", "COALESCE", "NULLIF", "GREATEST", "LEAST", "ARRAY", "ROW", "EXTRACT",
	"OVERLAY", "POSITION", "SUBSTRING", "TRIM", "NOT", "AND", "OR", "IN", "IS", "EXISTS", "CASE", "WHEN",
	"THEN", "ELSE", "END", "ANY", "ALL", "SOME", "BETWEEN", "LIKE", "ILIKE", "SIMILAR", "INTERVAL", "AS",
	"COLLATE", "AT", "TIME", "ZONE", "VALUES", "DISTINCT", "FROM", "WHERE", "SELECT", "OVER", "FILTER")

// defaultRewrite says whether ADD COLUMN ... DEFAULT expr rewrites the
// table (PostgreSQL 11+ stores a non-volatile default in the catalog
// instead): Yes if it calls a well-known volatile function, No if it is
// constant or calls only well-known non-volatile ones, Unknown otherwise.
// funcs are every function it calls, for Weigh to look up.
func defaultRewrite(expr []tok) (Tri, string, []Rel) {
	funcs := calledFunctions(expr)
	if len(funcs) == 0 {
		return No, "", nil
	}
	var volatile, unknown []string
	for _, f := range funcs {
		name := f.Name
		switch {
		case f.Schema != "" && f.Schema != "pg_catalog" && f.Schema != "public":
			unknown = append(unknown, f.String())
		case wellKnownVolatile[name]:
			volatile = append(volatile, f.String())
		case !wellKnownStable[name]:
			unknown = append(unknown, f.String())
		}
	}
	switch {
	case len(volatile) > 0:
		return Yes, fmt.Sprintf("the default calls %s(), which is VOLATILE, so every existing row gets its own value", strings.Join(volatile, "(), ")), funcs
	case len(unknown) > 0:
		return Unknown, fmt.Sprintf("the default calls %s(): a rewrite if any is VOLATILE (looked up live in pg_proc)", strings.Join(unknown, "(), ")), funcs
	}
	return No, "", funcs
}

// calledFunctions lists the function calls of an expression: a name
// followed by "(", not a type after "::" and not an expression keyword.
func calledFunctions(expr []tok) []Rel {
	var out []Rel
	seen := map[Rel]bool{}
	c := &cursor{t: expr}
	for !c.done() {
		t := c.t[c.i]
		if t.kind == sqlscan.Punct && t.text == ":" && c.punctAt(1, ":") {
			c.i += 2
			skipTypeName(c)
			continue
		}
		if (t.kind == sqlscan.Word && !exprKeywords[t.up] && !sqlValueKeywords[t.up]) || t.kind == sqlscan.QIdent {
			start := c.i
			parts := c.parts()
			if c.punctAt(0, "(") {
				if f, ok := relOf(parts); ok && !seen[f] {
					seen[f] = true
					out = append(out, f)
				}
			}
			if c.i == start {
				c.i++
			}
			continue
		}
		c.i++
	}
	return out
}

// skipTypeName consumes a type name after "::" (double precision,
// character varying(10), timestamp with time zone, int[]).
func skipTypeName(c *cursor) {
	for !c.done() && (c.t[c.i].kind == sqlscan.Word || c.t[c.i].kind == sqlscan.QIdent || c.punctAt(0, ".")) {
		c.i++
		if c.punctAt(0, "(") {
			c.skipParens()
		}
	}
	for c.punctAt(0, "[") {
		c.skipParens()
	}
}

// builtinTypes are the base types of a stock PostgreSQL: none of them is
// a domain, so adding a column of one never rewrites for a constraint.
var builtinTypes = setOf("bigint", "int8", "bigserial", "serial8", "bit", "varbit", "boolean", "bool",
	"box", "bytea", "character", "char", "varchar", "cidr", "circle", "date", "double", "float8",
	"float4", "float", "inet", "integer", "int", "int4", "interval", "json", "jsonb", "line", "lseg",
	"macaddr", "macaddr8", "money", "numeric", "decimal", "path", "pg_lsn", "point", "polygon",
	"real", "smallint", "int2", "smallserial", "serial2", "serial", "serial4", "text", "time",
	"timetz", "timestamp", "timestamptz", "tsquery", "tsvector", "uuid", "xml", "oid", "regclass",
	"name", "int4range", "int8range", "numrange", "tsrange", "tstzrange", "daterange")

// builtinType reports whether the type text names a built-in base type
// (arrays of them included).
func builtinType(typ string) bool {
	t := strings.ToLower(strings.TrimSpace(typ))
	t = strings.TrimPrefix(t, "pg_catalog.")
	if i := strings.IndexAny(t, " ([\""); i >= 0 {
		if t[i] == '"' {
			return false
		}
		t = t[:i]
	}
	return builtinTypes[t]
}
