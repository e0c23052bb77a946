package steps

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// touchRe finds the relation a write statement names after the words that
// introduce one. It reads SQL text the way a reviewer does (DO blocks
// included), so it errs on the side of naming more: a name that is not a
// relation is fingerprinted as absent, which only makes a plan stale if
// such a relation appears before the apply.
// The expressions are compiled when first used (a plan needs them), not
// when any command starts.
var touchRe = lazyRegexp(`(?i)\b(?:alter\s+table|create\s+table|drop\s+table|truncate(?:\s+table)?|update|insert\s+into|delete\s+from|vacuum(?:\s+full)?(?:\s+analyze)?|analyze|lock\s+table|references|on)\s+(?:if\s+(?:not\s+)?exists\s+)?(?:only\s+)?((?:"(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)(?:\s*\.\s*(?:"(?:[^"]|"")+"|[a-z_][a-z0-9_$]*))?)`)

var placeholderRe = lazyRegexp(`"#[0-9]+"`)

// notRelations are words that follow ON (or the other verbs) without being
// a relation's name.
var notRelations = map[string]bool{
	"conflict": true, "delete": true, "update": true, "insert": true, "select": true, "truncate": true,
	"all": true, "commit": true, "table": true, "tables": true, "schema": true, "function": true,
	"functions": true, "sequence": true, "sequences": true, "database": true, "column": true,
	"each": true, "true": true, "false": true, "set": true, "type": true, "domain": true,
	"language": true, "foreign": true, "large": true, "tablespace": true, "role": true, "null": true,
	"to": true, "using": true, "with": true, "of": true, "nowait": true,
}

// TouchedObjects lists the relations the runbook's sql steps (phases and
// rollback) name as the object of a write (ALTER/CREATE/DROP TABLE,
// UPDATE, INSERT INTO, DELETE FROM, TRUNCATE, VACUUM, ... ON name), in
// order of first appearance, catalogs left out. A plan fingerprints
// their definitions, so a change between plan and apply is noticed.
func (r *Runbook) TouchedObjects() []string {
	var out []string
	steps := append(r.AllSteps(), r.Rollback.Steps...)
	for _, s := range steps {
		if !s.Kind.WritesSQL() {
			continue
		}
		sqls, err := r.stepSQL(s)
		if err != nil {
			continue
		}
		for sql := range sqls {
			for _, name := range touchedIn(sql) {
				if !slices.Contains(out, name) {
					out = append(out, name)
				}
			}
		}
	}
	return out
}

// literalRe and identRe match string literals and quoted identifiers.
// Literals are text; quoted identifiers are set aside (their insides,
// such as a policy named "Users can update their own avatar", are not
// SQL) and put back in the names found.
var (
	literalRe = lazyRegexp(`'(?:[^']|'')*'`)
	identRe   = lazyRegexp(`"(?:[^"]|"")*"`)
)

func touchedIn(sql string) []string {
	var out []string
	var idents []string
	text := literalRe().ReplaceAllString(stripLineComments(sql), "''")
	text = identRe().ReplaceAllStringFunc(text, func(q string) string {
		idents = append(idents, q)
		return fmt.Sprintf(`"#%d"`, len(idents)-1)
	})
	for _, m := range touchRe().FindAllStringSubmatchIndex(text, -1) {
		if rest := strings.TrimLeft(text[m[1]:], " \t\n"); rest != "" && strings.ContainsRune("=<>!", rune(rest[0])) {
			continue // a join condition (ON a.x = b.y), not a relation
		}
		raw := placeholderRe().ReplaceAllStringFunc(text[m[2]:m[3]], func(p string) string {
			n, _ := strconv.Atoi(p[2 : len(p)-1])
			return idents[n]
		})
		name := normalizeName(raw)
		first, _, _ := strings.Cut(name, ".")
		switch {
		case notRelations[name], first == "pg_catalog", first == "information_schema",
			strings.HasPrefix(name, "pg_"):
			continue
		}
		out = append(out, name)
	}
	return out
}

// stripLineComments removes -- comments (outside quotes is not tracked:
// a -- inside a string only hides names from the scan, never adds one).
func stripLineComments(sql string) string {
	var b strings.Builder
	for line := range strings.Lines(sql) {
		if i := strings.Index(line, "--"); i >= 0 {
			b.WriteString(line[:i])
			b.WriteByte('\n')
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

// normalizeName lowercases the unquoted parts of a possibly qualified name
// and removes the spaces around the dot.
func normalizeName(n string) string {
	parts := strings.Split(n, ".")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if !strings.HasPrefix(p, `"`) {
			p = strings.ToLower(p)
		}
		parts[i] = p
	}
	return strings.Join(parts, ".")
}

// lazyRegexp compiles expr when first called for.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
