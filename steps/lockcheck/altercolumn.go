package lockcheck

import (
	"fmt"
	"strings"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// addColumn is ADD [COLUMN] [IF NOT EXISTS] name type [constraints].
func (at *alterTable) addColumn(c *cursor) {
	c.accept("IF", "NOT", "EXISTS")
	col, ok := c.ident()
	if !ok {
		at.lock(AccessExclusive, "ADD COLUMN", true)
		return
	}
	d := readColumnDef(c)
	l := at.lock(AccessExclusive, "ADD COLUMN", true)
	what := fmt.Sprintf("ADD COLUMN %s %s", quoteIdent(col), d.typ)
	rewrite, note, funcs := No, "", []Rel(nil)
	switch {
	case d.identity, d.serial:
		rewrite, note = Yes, "an identity or serial column gets a value from a sequence in every existing row"
	case d.stored:
		rewrite, note = Yes, "a stored generated column is computed into every existing row"
	case d.hasDefault:
		rewrite, note, funcs = defaultRewrite(d.def)
	}
	if rewrite == No && !builtinType(d.typ) {
		// A domain with constraints forces a rewrite to check them.
		rewrite, note = Unknown, fmt.Sprintf("no rewrite unless %s is a domain with constraints (looked up live)", d.typ)
	}
	l.Rewrite = l.Rewrite.or(rewrite)
	if note != "" {
		l.Note = joinNote(l.Note, note)
	}
	scan := rewrite
	if d.notNull && !d.hasDefault && !d.identity && !d.serial && !d.stored || d.check || d.unique || d.primary || !d.references.IsZero() {
		scan = Yes // NOT NULL without a default, CHECK, a new index or a foreign key: every row is checked
	}
	l.Scan = l.Scan.or(scan)
	if !d.references.IsZero() {
		rl := at.s.lock(d.references, ShareRowExclusive, "ADD COLUMN ... REFERENCES (triggers added to it)")
		rl.Children = true
	}
	fi := 0
	switch rewrite {
	case Yes:
		fi = at.s.find(RuleVolatileDefault, at.rel, false, fmt.Sprintf(
			"%s rewrites %s and all its indexes under ACCESS EXCLUSIVE: %s; every read and write of %s waits until it is done",
			what, at.rel, note, at.rel)) + 1
	case Unknown:
		if d.hasDefault {
			fi = at.s.find(RuleVolatileDefault, at.rel, true, fmt.Sprintf(
				"%s: %s; if it is, %s and its indexes are rewritten under ACCESS EXCLUSIVE", what, note, at.rel)) + 1
		}
	}
	if rewrite == Unknown {
		l.checks = append(l.checks, check{kind: ckDefault, col: col, typ: d.typ, funcs: funcs, finding: fi})
	}
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	if strings.Contains(a, b) {
		return a
	}
	return a + "; " + b
}

// addConstraint is ADD [CONSTRAINT name] CHECK|FOREIGN KEY|UNIQUE|PRIMARY KEY|EXCLUDE ...
func (at *alterTable) addConstraint(c *cursor) {
	name := ""
	if c.accept("CONSTRAINT") {
		name, _ = c.ident()
	}
	kind := c.acceptOne("CHECK", "FOREIGN", "UNIQUE", "PRIMARY", "EXCLUDE")
	rest := c.rest()
	notValid := hasSeq(rest, "NOT", "VALID")
	label := quoteIdent(name)
	if name == "" {
		label = "(unnamed)"
	}
	switch kind {
	case "CHECK":
		l := at.lock(AccessExclusive, "ADD CHECK", true)
		if col, ok := isNotNullCheck(rest); ok && !notValid {
			at.s.a.notNullProof(at.rel, col)
		} else if ok && name != "" {
			at.s.a.notNullCheckNames[at.rel.key()+"\x00"+name] = col
		}
		if notValid {
			at.s.a.addNotValid(at.rel, name, at.s.idx)
			return
		}
		l.Scan = Yes
		at.s.find(RuleAddCheckValidates, at.rel, false, fmt.Sprintf(
			"ADD CONSTRAINT %s CHECK without NOT VALID checks every row of %s while holding ACCESS EXCLUSIVE: every read and write of %s waits until the scan is done",
			label, at.rel, at.rel))
	case "FOREIGN":
		at.addForeignKey(c, label, notValid)
		if notValid {
			at.s.a.addNotValid(at.rel, name, at.s.idx)
		}
	case "UNIQUE", "PRIMARY":
		c.accept("KEY")
		what := "UNIQUE"
		if kind == "PRIMARY" {
			what = "PRIMARY KEY"
		}
		l := at.lock(AccessExclusive, "ADD "+what, true)
		if c.accept("USING", "INDEX") {
			idx, _ := c.ident()
			if kind == "PRIMARY" {
				l.Scan = l.Scan.or(Unknown)
				l.Note = joinNote(l.Note, "scans to set NOT NULL on key columns that are not NOT NULL yet (looked up live)")
				l.checks = append(l.checks, check{kind: ckPKNotNull, name: idx})
			}
			return
		}
		l.Scan = Yes
		at.s.find(RuleUniqueWithoutIndex, at.rel, false, fmt.Sprintf(
			"ADD CONSTRAINT %s %s builds its index on %s under ACCESS EXCLUSIVE: every read and write of %s waits for the whole build",
			label, what, at.rel, at.rel))
	case "EXCLUDE":
		at.lock(AccessExclusive, "ADD EXCLUDE", true).Scan = Yes
	default:
		at.lock(AccessExclusive, "ADD CONSTRAINT", true)
		at.s.unknown("handrail does not know this constraint form: %s", textOf(rest))
	}
}

func (at *alterTable) addForeignKey(c *cursor, label string, notValid bool) {
	k := indexOfWord(c.t[c.i:], "REFERENCES")
	l := at.lock(ShareRowExclusive, "ADD FOREIGN KEY", true)
	if k < 0 {
		at.s.unknown("cannot read the table the foreign key references")
		return
	}
	c.i += k + 1
	ref, ok := c.name()
	if !ok {
		return
	}
	var rl *Lock
	if ref != at.rel {
		rl = at.s.lock(ref, ShareRowExclusive, "FOREIGN KEY (the referenced table gets triggers)")
		rl.Children = true
	}
	if notValid {
		return
	}
	l.Scan = Yes
	if rl != nil {
		rl.Scan = rl.Scan.or(Unknown)
		rl.Note = joinNote(rl.Note, "the validation query may read it in full or use its index (the planner decides)")
	}
	at.s.find(RuleAddForeignKeyValidates, at.rel, false, fmt.Sprintf(
		"ADD CONSTRAINT %s FOREIGN KEY without NOT VALID checks every row of %s against %s while holding SHARE ROW EXCLUSIVE on both: INSERT, UPDATE and DELETE on %s and on %s wait until it is done",
		label, at.rel, ref, at.rel, ref))
}

func (a *analyzer) addNotValid(r Rel, name string, idx int) {
	if name == "" {
		return
	}
	a.notValid[r.key()+"\x00"+name] = idx
}

func (a *analyzer) notNullProof(r Rel, col string) {
	a.notNullProved[r.key()+"\x00"+col] = true
}

// isNotNullCheck reports whether a CHECK's expression is exactly
// "col IS NOT NULL".
func isNotNullCheck(rest []tok) (string, bool) {
	if len(rest) < 6 || rest[0].text != "(" {
		return "", false
	}
	in := rest[1:]
	for len(in) > 0 && in[0].text == "(" {
		in = in[1:]
	}
	if len(in) < 4 || (in[0].kind != sqlscan.Word && in[0].kind != sqlscan.QIdent) ||
		in[1].up != "IS" || in[2].up != "NOT" || in[3].up != "NULL" {
		return "", false
	}
	for _, t := range in[4:] {
		if t.text != ")" {
			if t.up == "NOT" || t.up == "DEFERRABLE" || t.up == "INITIALLY" || t.up == "NO" {
				break
			}
			return "", false
		}
	}
	return identText(in[0]), true
}

func hasSeq(toks []tok, a, b string) bool {
	for k := 0; k+1 < len(toks); k++ {
		if toks[k].kind == sqlscan.Word && toks[k].up == a && toks[k+1].kind == sqlscan.Word && toks[k+1].up == b {
			return true
		}
	}
	return false
}

// alterColumn is ALTER [COLUMN] col <action>.
func (at *alterTable) alterColumn(c *cursor) {
	col, ok := c.ident()
	if !ok {
		at.lock(AccessExclusive, "ALTER COLUMN", true)
		return
	}
	qc := quoteIdent(col)
	switch {
	case c.accept("SET", "DATA", "TYPE"), c.accept("TYPE"):
		at.alterType(c, col)
	case c.accept("SET", "DEFAULT"), c.accept("DROP", "DEFAULT"):
		at.lock(AccessExclusive, "SET/DROP DEFAULT", true)
	case c.accept("SET", "NOT", "NULL"):
		l := at.lock(AccessExclusive, "SET NOT NULL", true)
		if at.s.a.notNullProved[at.rel.key()+"\x00"+col] {
			l.Note = joinNote(l.Note, fmt.Sprintf("no scan: a CHECK (%s IS NOT NULL) validated earlier in the step proves it", qc))
			return
		}
		l.Scan = l.Scan.or(Unknown)
		l.Note = joinNote(l.Note, fmt.Sprintf("scans every row unless a validated CHECK (%s IS NOT NULL) proves it (looked up live)", qc))
		fi := at.s.find(RuleSetNotNullScans, at.rel, true, fmt.Sprintf(
			"SET NOT NULL on %s.%s checks every row under ACCESS EXCLUSIVE (every read and write waits) unless a validated CHECK (%s IS NOT NULL) already proves it",
			at.rel, qc, qc))
		l.checks = append(l.checks, check{kind: ckNotNullProof, col: col, finding: fi + 1})
	case c.accept("DROP", "NOT", "NULL"), c.accept("DROP", "EXPRESSION"), c.accept("DROP", "IDENTITY"),
		c.accept("ADD", "GENERATED"), c.accept("SET", "GENERATED"), c.accept("RESTART"),
		c.accept("SET", "STORAGE"), c.accept("SET", "COMPRESSION"), c.accept("SET", "INCREMENT"),
		c.accept("SET", "START"), c.accept("SET", "MINVALUE"), c.accept("SET", "MAXVALUE"),
		c.accept("SET", "NO"), c.accept("SET", "CYCLE"), c.accept("SET", "CACHE"):
		at.lock(AccessExclusive, "ALTER COLUMN", true)
	case c.accept("SET", "STATISTICS"), c.peek("SET") && c.punctAt(1, "("), c.peek("RESET") && c.punctAt(1, "("):
		at.lock(ShareUpdateExclusive, "ALTER COLUMN SET STATISTICS/options", true)
	default:
		at.lock(AccessExclusive, "ALTER COLUMN", true)
		at.s.unknown("handrail does not know the ALTER COLUMN action %q; ACCESS EXCLUSIVE is the usual lock", textOf(c.rest()))
	}
}

// alterType is ALTER COLUMN col TYPE typ [COLLATE c] [USING expr].
func (at *alterTable) alterType(c *cursor, col string) {
	start := c.i
	for !c.done() && !c.peek("COLLATE") && !c.peek("USING") {
		c.i++
	}
	typ := textOf(c.t[start:c.i])
	var using []tok
	if k := indexOfWord(c.t[c.i:], "USING"); k >= 0 {
		using = c.t[c.i+k+1:]
	}
	l := at.lock(AccessExclusive, "ALTER COLUMN TYPE", true)
	l.checks = append(l.checks, check{kind: ckTypeChangeFKs, col: col})
	at.s.maybeLive(AccessExclusive, "the other end of foreign keys using the column (looked up live)")
	what := fmt.Sprintf("ALTER COLUMN %s TYPE %s", quoteIdent(col), typ)
	if len(using) > 0 && !trivialUsing(using, col) {
		l.Rewrite, l.Scan = Yes, Yes
		l.Note = joinNote(l.Note, "USING computes a new value for every row")
		at.s.find(RuleColumnTypeRewrite, at.rel, false, fmt.Sprintf(
			"%s USING %s rewrites %s and rebuilds its indexes under ACCESS EXCLUSIVE: every read and write of %s waits until it is done",
			what, textOf(using), at.rel, at.rel))
		return
	}
	l.Rewrite, l.Scan = l.Rewrite.or(Unknown), l.Scan.or(Unknown)
	l.Note = joinNote(l.Note, fmt.Sprintf("no rewrite only if the change to %s is binary-coercible from the column's current type (looked up live)", typ))
	fi := at.s.find(RuleColumnTypeRewrite, at.rel, true, fmt.Sprintf(
		"%s rewrites %s and rebuilds its indexes under ACCESS EXCLUSIVE unless the change is binary-coercible (checked against the column's current type live)",
		what, at.rel))
	l.checks = append(l.checks, check{kind: ckTypeChange, col: col, typ: typ, finding: fi + 1})
}

// trivialUsing reports whether USING is just the column (or the column
// cast to a type), which PostgreSQL treats like no USING at all when the
// cast is binary-coercible.
func trivialUsing(using []tok, col string) bool {
	if len(using) == 0 || (using[0].kind != sqlscan.Word && using[0].kind != sqlscan.QIdent) || identText(using[0]) != col {
		return false
	}
	// col, or col::type (a cast that may be binary-coercible: settled live
	// like a change without USING).
	return len(using) == 1 || (len(using) >= 3 && using[1].text == ":" && using[2].text == ":")
}
