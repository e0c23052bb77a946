package lockcheck

import (
	"strings"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// reader finds the relations a query reads: the items of its FROM, JOIN,
// USING (DELETE, MERGE) lists at every depth, minus the names of its
// common table expressions. It also notes FOR UPDATE/SHARE, the function
// calls whose locks are unknown, and set_config() of a timeout.
type reader struct {
	t         []tok
	reads     []readRel
	ctes      map[string]bool
	locking   bool            // FOR UPDATE / FOR SHARE ... at depth 0
	lockOf    map[string]bool // FOR UPDATE OF names (relations or aliases)
	calls     []string
	setConfig []setting
}

type readRel struct {
	rel   Rel
	alias string
	depth int
}

type setting struct{ name, value string }

func newReader(toks []tok) *reader {
	r := &reader{t: toks, ctes: map[string]bool{}}
	r.findCTEs()
	return r
}

// findCTEs records "name [(cols)] AS [NOT] [MATERIALIZED] (" after WITH,
// RECURSIVE or a comma.
func (r *reader) findCTEs() {
	for k := 1; k < len(r.t); k++ {
		p := r.t[k-1]
		if !(p.kind == sqlscan.Word && (p.up == "WITH" || p.up == "RECURSIVE")) && !(p.kind == sqlscan.Punct && p.text == ",") {
			continue
		}
		if r.t[k].kind != sqlscan.Word && r.t[k].kind != sqlscan.QIdent {
			continue
		}
		c := &cursor{t: r.t, i: k + 1}
		c.skipParens()
		if !c.accept("AS") {
			continue
		}
		c.accept("NOT")
		c.accept("MATERIALIZED")
		if c.punctAt(0, "(") {
			r.ctes[Rel{Name: identText(r.t[k])}.key()] = true
		}
	}
}

// fromEnd are the keywords that end a FROM list at its depth.
var fromEnd = setOf("WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET", "WINDOW", "UNION", "EXCEPT",
	"INTERSECT", "RETURNING", "SET", "FOR", "FETCH", "ON", "WHEN", "SELECT", "VALUES", "INTO", "USING")

// notAlias are keywords that can follow a FROM item and are not its alias.
var notAlias = setOf("WHERE", "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS", "NATURAL", "ON", "USING",
	"GROUP", "ORDER", "LIMIT", "OFFSET", "UNION", "EXCEPT", "INTERSECT", "WINDOW", "HAVING", "FOR",
	"RETURNING", "SET", "WHEN", "FETCH", "LATERAL", "WITH", "TABLESAMPLE", "OUTER", "SELECT", "VALUES",
	"DO", "THEN", "ELSE", "END", "AND", "OR", "NOT", "INTO")

// subqueryOpeners are the keywords after which "(" opens a subquery or an
// expression, not a function's argument list.
var subqueryOpeners = setOf("EXISTS", "VALUES", "SET", "MATERIALIZED", "RECURSIVE", "LATERAL", "ARRAY",
	"IS", "LIKE", "ILIKE", "BETWEEN", "EXCEPT", "UNION", "INTERSECT", "RETURNING", "ATOMIC")

// scan walks toks[from:to] at paren depth depth. Inside a function's
// argument list (args), FROM is part of the syntax (EXTRACT(year FROM
// ts), SUBSTRING(s FROM 2)), not a FROM clause.
func (r *reader) scan(from, to, depth int) { r.scanIn(from, to, depth, false) }

func (r *reader) scanIn(from, to, depth int, args bool) {
	inFrom := false
	for k := from; k < to; k++ {
		t := r.t[k]
		switch t.kind {
		case sqlscan.Punct:
			switch t.text {
			case "(":
				end := r.matching(k, to)
				r.scanIn(k+1, end, depth+1, k > 0 && opensArgs(r.t[k-1]))
				k = end
			case ",":
				if inFrom {
					k = r.item(k+1, to, depth) - 1
				}
			}
			continue
		case sqlscan.Word:
		default:
			continue
		}
		switch {
		case args && (t.up == "FROM" || t.up == "JOIN" || t.up == "USING"):
		case t.up == "FROM" && !(k > 0 && r.t[k-1].up == "DISTINCT"):
			inFrom = true
			k = r.item(k+1, to, depth) - 1
		case t.up == "JOIN":
			inFrom = true
			k = r.item(k+1, to, depth) - 1
		case t.up == "USING" && !(k+1 < to && r.t[k+1].text == "("):
			inFrom = true
			k = r.item(k+1, to, depth) - 1
		case t.up == "FOR" && depth == 0 && k+1 < to && (r.t[k+1].up == "UPDATE" || r.t[k+1].up == "SHARE" || r.t[k+1].up == "NO" || r.t[k+1].up == "KEY"):
			r.forLocking(k+1, to)
			return
		case fromEnd[t.up]:
			inFrom = false
		default:
			k = r.call(k, to)
		}
	}
}

// opensArgs reports whether "(" after t opens a function's argument list.
func opensArgs(t tok) bool {
	switch t.kind {
	case sqlscan.QIdent:
		return true
	case sqlscan.Word:
		return !reservedWords[t.up] && !subqueryOpeners[t.up]
	}
	return false
}

// call notes a function call at toks[k] (a name followed by "("), and
// returns the index of the name's last part.
func (r *reader) call(k, to int) int {
	c := &cursor{t: r.t[:to], i: k}
	parts := c.parts()
	if len(parts) == 0 || !c.punctAt(0, "(") {
		return k
	}
	name := strings.Join(parts, ".")
	up := strings.ToUpper(parts[len(parts)-1])
	switch {
	case len(parts) == 1 && (exprKeywords[up] || sqlValueKeywords[up] || reservedWords[up]):
	case len(parts) == 1 && strings.EqualFold(parts[0], "set_config"):
		r.setConfigCall(c.i, to)
	case len(parts) == 1 && wellKnownStable[strings.ToLower(parts[0])], len(parts) == 1 && harmlessBuiltins[strings.ToLower(parts[0])]:
	default:
		r.calls = append(r.calls, name)
	}
	return c.i - 1
}

// harmlessBuiltins are functions of a stock PostgreSQL that lock no user
// relation.
var harmlessBuiltins = setOf("count", "sum", "avg", "min", "max", "string_agg", "array_agg", "json_agg",
	"jsonb_agg", "bool_and", "bool_or", "every", "unnest", "format", "format_type", "quote_ident",
	"quote_literal", "row_number", "rank", "dense_rank", "lag", "lead", "first_value", "last_value",
	"array_length", "cardinality", "pg_backend_pid", "version", "current_database", "txid_current",
	"pg_current_xact_id", "pg_sleep", "random", "gen_random_uuid", "nextval", "currval", "setval",
	"coalesce", "split_part", "replace", "regexp_replace", "substr", "left", "right", "btrim", "ltrim",
	"rtrim", "position", "strpos", "to_number", "generate_series", "jsonb_array_elements",
	"json_array_elements", "jsonb_each", "json_each", "jsonb_object_keys", "has_table_privilege",
	"pg_has_role", "pg_table_size", "pg_relation_size", "pg_total_relation_size", "obj_description",
	"col_description", "pg_get_constraintdef", "pg_get_indexdef", "pg_get_viewdef", "to_regclass",
	"pg_advisory_xact_lock", "pg_try_advisory_xact_lock", "clock_timestamp", "uuid_generate_v4",
	"foldername", "greatest", "least", "nullif")

// setConfigCall reads set_config('name', 'value', ...) starting at "(".
func (r *reader) setConfigCall(open, to int) {
	if open+3 < to && r.t[open+1].kind == sqlscan.String && r.t[open+2].text == "," {
		name := strings.Trim(r.t[open+1].text, "'")
		val := r.t[open+3].text
		r.setConfig = append(r.setConfig, setting{name: name, value: val})
	}
}

// matching returns the index of the ")" closing the "(" at k (or to).
func (r *reader) matching(k, to int) int {
	depth := 0
	for j := k; j < to; j++ {
		if r.t[j].kind != sqlscan.Punct {
			continue
		}
		switch r.t[j].text {
		case "(", "[":
			depth++
		case ")", "]":
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return to
}

// item reads one FROM item at toks[k:] and returns the index after it:
// [LATERAL] [ONLY] name [*] [[AS] alias [(cols)]], or a parenthesised
// subquery or join (scanned), or a function call (scanned).
func (r *reader) item(k, to, depth int) int {
	c := &cursor{t: r.t[:to], i: k}
	c.accept("LATERAL")
	c.accept("ONLY")
	if c.punctAt(0, "(") {
		end := r.matching(c.i, to)
		r.scan(c.i+1, end, depth+1)
		c.i = end + 1
		r.skipAlias(c)
		return c.i
	}
	parts := c.parts()
	rel, ok := relOf(parts)
	if !ok {
		return max(k, c.i)
	}
	if c.punctAt(0, "(") { // a set-returning function
		r.call(k, to)
		end := r.matching(c.i, to)
		r.scan(c.i+1, end, depth+1)
		c.i = end + 1
		r.skipAlias(c)
		return c.i
	}
	c.acceptPunct("*")
	alias := r.skipAlias(c)
	r.reads = append(r.reads, readRel{rel: rel, alias: alias, depth: depth})
	return c.i
}

func (r *reader) skipAlias(c *cursor) string {
	c.accept("AS")
	if c.done() {
		return ""
	}
	t := c.t[c.i]
	if (t.kind == sqlscan.Word && !notAlias[t.up]) || t.kind == sqlscan.QIdent {
		c.i++
		c.skipParens()
		return identText(t)
	}
	return ""
}

// forLocking reads FOR UPDATE | NO KEY UPDATE | SHARE | KEY SHARE [OF names].
func (r *reader) forLocking(k, to int) {
	r.locking = true
	for ; k < to; k++ {
		if r.t[k].up == "OF" {
			c := &cursor{t: r.t[:to], i: k + 1}
			for {
				n, ok := c.ident()
				if !ok {
					break
				}
				if r.lockOf == nil {
					r.lockOf = map[string]bool{}
				}
				r.lockOf[n] = true
				if !c.acceptPunct(",") {
					break
				}
			}
		}
	}
}
