package lockcheck

import (
	"fmt"
	"strings"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// alter handles the ALTER statements that lock relations.
func (s *stmt) alter(c *cursor) {
	c.i++
	obj := c.acceptOne("TABLE", "INDEX", "VIEW", "MATERIALIZED", "FOREIGN", "SEQUENCE", "POLICY", "TRIGGER", "EXTENSION", "DOMAIN")
	if obj == "MATERIALIZED" || obj == "FOREIGN" {
		obj += " " + c.acceptOne("VIEW", "TABLE", "DATA")
	}
	if obj == "" {
		if c.i < len(c.t) {
			s.p.Command = "ALTER " + c.t[c.i].up
		}
		return
	}
	s.p.Command = "ALTER " + obj
	switch obj {
	case "POLICY", "TRIGGER":
		c.ident()
		if c.accept("ON") {
			if r, ok := c.name(); ok {
				s.lock(r, AccessExclusive, s.p.Command)
			}
		}
		return
	case "EXTENSION":
		s.unknown("ALTER EXTENSION may run an update script: its locks are not known")
		s.find(RuleLocksUnknown, Rel{}, false, "ALTER EXTENSION may run the extension's update script: handrail cannot tell which locks it takes")
		return
	case "DOMAIN":
		if hasWord(c.rest(), "CONSTRAINT") || hasWord(c.rest(), "NOT") || hasWord(c.rest(), "CHECK") {
			s.maybe(Rel{}, Share, "a new domain constraint is checked against every column of that type")
		}
		return
	case "SEQUENCE":
		c.accept("IF", "EXISTS")
		if r, ok := c.name(); ok {
			s.lock(r, ShareRowExclusive, s.p.Command)
		}
		return
	}
	if c.accept("ALL", "IN", "TABLESPACE") {
		s.unknown("ALTER %s ALL IN TABLESPACE moves relations the text does not name", obj)
		return
	}
	ifExists := c.accept("IF", "EXISTS")
	only := c.accept("ONLY")
	r, ok := c.name()
	if !ok {
		s.unknown("cannot read the name of the %s", strings.ToLower(obj))
		return
	}
	c.acceptPunct("*")
	at := &alterTable{s: s, rel: r, obj: obj, recurse: !only}
	at.run(c.rest())
	if ifExists {
		for _, l := range *s.locks {
			if l.Rel == r {
				l.checks = append(l.checks, check{kind: ckIfExists})
			}
		}
	}
}

// alterTable is one ALTER TABLE (or INDEX, VIEW, MATERIALIZED VIEW,
// FOREIGN TABLE) statement: its subcommands merge into one lock on the
// relation (the strongest mode any of them needs).
type alterTable struct {
	s       *stmt
	rel     Rel
	obj     string
	recurse bool // not ONLY: the subcommands that recurse reach partitions and children
}

func (at *alterTable) lock(m Mode, why string, recurses bool) *Lock {
	l := at.s.lock(at.rel, m, why)
	if recurses && at.recurse {
		l.Children = true
	}
	return l
}

func (at *alterTable) run(rest []tok) {
	c := &cursor{t: rest}
	switch {
	case c.peek("RENAME"):
		at.rename(c)
		return
	case c.accept("SET", "SCHEMA"):
		at.lock(AccessExclusive, "SET SCHEMA", false)
		return
	case c.peek("ATTACH") || c.peek("DETACH"):
		at.partition(c)
		return
	}
	for _, sub := range splitTop(rest) {
		if len(sub) == 0 {
			continue
		}
		at.subcommand(sub)
	}
}

// rename: RENAME TO, RENAME [COLUMN] a TO b, RENAME CONSTRAINT a TO b.
func (at *alterTable) rename(c *cursor) {
	c.i++
	switch {
	case c.accept("TO"):
		mode := AccessExclusive
		if at.obj == "INDEX" {
			mode = ShareUpdateExclusive
		}
		at.lock(mode, "RENAME TO", false)
		if at.obj == "TABLE" || at.obj == "VIEW" || at.obj == "MATERIALIZED VIEW" || at.obj == "FOREIGN TABLE" {
			to, _ := c.ident()
			at.s.find(RuleRenameTable, at.rel, false, fmt.Sprintf(
				"renaming %s to %s: every query and view definition in the application that names %s fails from COMMIT on", at.rel, quoteIdent(to), at.rel))
		}
	case c.accept("CONSTRAINT"):
		at.lock(AccessExclusive, "RENAME CONSTRAINT", true)
	default:
		c.accept("COLUMN")
		col, _ := c.ident()
		c.accept("TO")
		to, _ := c.ident()
		at.lock(AccessExclusive, "RENAME COLUMN", true)
		at.s.find(RuleRenameColumn, at.rel, false, fmt.Sprintf(
			"renaming column %s.%s to %s: every query in the application that names %s fails from COMMIT on", at.rel, quoteIdent(col), quoteIdent(to), quoteIdent(col)))
	}
}

// partition: ATTACH PARTITION p FOR VALUES ... / DEFAULT, DETACH PARTITION p [CONCURRENTLY | FINALIZE].
func (at *alterTable) partition(c *cursor) {
	attach := c.accept("ATTACH")
	c.accept("DETACH")
	c.accept("PARTITION")
	p, ok := c.name()
	if !ok {
		at.s.unknown("cannot read the partition's name")
		return
	}
	if at.obj == "INDEX" {
		at.lock(ShareUpdateExclusive, "ATTACH PARTITION", false)
		at.s.lock(p, ShareUpdateExclusive, "ATTACH PARTITION (index)")
		return
	}
	if attach {
		at.s.p.Command = "ALTER TABLE ATTACH PARTITION"
		l := at.lock(ShareUpdateExclusive, "ATTACH PARTITION", false)
		l.checks = append(l.checks, check{kind: ckDefaultPartition})
		pl := at.s.lock(p, AccessExclusive, "ATTACH PARTITION (the partition)")
		pl.Scan, pl.Note = Unknown, "scanned to check the partition bound unless its constraints already imply it (looked up live)"
		pl.checks = append(pl.checks, check{kind: ckAttachScan})
		at.s.maybeLive(AccessExclusive, fmt.Sprintf("the default partition of %s, if it has one (scanned)", at.rel))
		return
	}
	at.s.p.Command = "ALTER TABLE DETACH PARTITION"
	mode := AccessExclusive
	switch {
	case c.accept("CONCURRENTLY"):
		mode = ShareUpdateExclusive
		at.s.p.Command += " CONCURRENTLY"
	case c.accept("FINALIZE"):
		mode = ShareUpdateExclusive
		at.s.p.Command += " FINALIZE"
	}
	l := at.lock(mode, at.s.p.Command, false)
	at.s.lock(p, AccessExclusive, at.s.p.Command+" (the partition)")
	if mode == AccessExclusive {
		l.checks = append(l.checks, check{kind: ckDefaultPartition, verb: "DETACH"})
		at.s.maybeLive(AccessExclusive, fmt.Sprintf("the default partition of %s, if it has one", at.rel))
	}
}

// subcommand is one comma-separated action of ALTER TABLE.
func (at *alterTable) subcommand(sub []tok) {
	c := &cursor{t: sub}
	switch {
	case c.accept("ADD"):
		if c.peek("CONSTRAINT") || c.peek("CHECK") || c.peek("FOREIGN") || c.peek("UNIQUE") ||
			c.peek("PRIMARY") || c.peek("EXCLUDE") {
			at.addConstraint(c)
			return
		}
		c.accept("COLUMN")
		at.addColumn(c)
	case c.accept("DROP"):
		at.dropSub(c)
	case c.accept("ALTER"):
		if c.accept("CONSTRAINT") {
			at.lock(AccessExclusive, "ALTER CONSTRAINT", true)
			return
		}
		c.accept("COLUMN")
		at.alterColumn(c)
	case c.accept("VALIDATE", "CONSTRAINT"):
		at.validate(c)
	case c.peek("ENABLE") || c.peek("DISABLE") || c.peek("FORCE") || c.peek("NO"):
		at.toggle(c)
	case c.accept("CLUSTER", "ON"), c.accept("SET", "WITHOUT", "CLUSTER"):
		at.lock(ShareUpdateExclusive, "CLUSTER ON", false)
	case c.accept("SET", "WITHOUT", "OIDS"):
		at.lock(AccessExclusive, "SET WITHOUT OIDS", true)
	case c.accept("SET", "ACCESS", "METHOD"):
		at.lock(AccessExclusive, "SET ACCESS METHOD", false).Rewrite = Yes
	case c.accept("SET", "TABLESPACE"):
		l := at.lock(AccessExclusive, "SET TABLESPACE", false)
		l.Rewrite, l.noScan = Yes, true // the files are copied, not read row by row
	case c.accept("SET", "LOGGED"), c.accept("SET", "UNLOGGED"):
		at.lock(AccessExclusive, "SET LOGGED/UNLOGGED", false).Rewrite = Yes
	case c.peek("SET") && c.punctAt(1, "("), c.peek("RESET") && c.punctAt(1, "("):
		c.i++
		at.lock(relOptionsMode(c.rest()), "SET (storage parameters)", false)
	case c.accept("INHERIT"), c.accept("NO", "INHERIT"):
		at.lock(AccessExclusive, "INHERIT", false)
		if p, ok := c.name(); ok {
			at.s.lock(p, ShareUpdateExclusive, "INHERIT (the parent)")
		}
	case c.accept("OF"), c.accept("NOT", "OF"):
		at.lock(AccessExclusive, "OF type", false)
	case c.accept("OWNER", "TO"):
		at.lock(AccessExclusive, "OWNER TO", true)
	case c.accept("REPLICA", "IDENTITY"):
		at.lock(AccessExclusive, "REPLICA IDENTITY", false)
	case c.accept("OPTIONS"):
		at.lock(AccessExclusive, "OPTIONS", false)
	default:
		at.lock(AccessExclusive, "", false)
		at.s.unknown("handrail does not know the ALTER %s action %q; ACCESS EXCLUSIVE is the usual lock", at.obj, textOf(sub))
	}
}

// relOptionsMode is the lock of SET/RESET (storage parameters): SHARE
// UPDATE EXCLUSIVE when every parameter only tunes maintenance or
// planning, ACCESS EXCLUSIVE otherwise.
func relOptionsMode(toks []tok) Mode {
	mode := ShareUpdateExclusive
	for _, item := range splitTop(trimParens(toks)) {
		if len(item) == 0 {
			continue
		}
		name := strings.ToLower(item[0].text)
		if len(item) > 2 && item[1].text == "." {
			name += "." + strings.ToLower(item[2].text)
		}
		if !sueRelOption(name) {
			mode = AccessExclusive
		}
	}
	return mode
}

func sueRelOption(name string) bool {
	name = strings.TrimPrefix(name, "toast.")
	switch name {
	case "fillfactor", "parallel_workers", "toast_tuple_target", "vacuum_index_cleanup", "vacuum_truncate",
		"log_autovacuum_min_duration", "n_distinct", "n_distinct_inherited":
		return true
	}
	return strings.HasPrefix(name, "autovacuum_")
}

func trimParens(toks []tok) []tok {
	if len(toks) >= 2 && toks[0].text == "(" && toks[len(toks)-1].text == ")" {
		return toks[1 : len(toks)-1]
	}
	return toks
}

// toggle: ENABLE/DISABLE [REPLICA|ALWAYS] TRIGGER|RULE, ENABLE/DISABLE/FORCE/NO FORCE ROW LEVEL SECURITY.
func (at *alterTable) toggle(c *cursor) {
	for !c.done() && !c.peek("TRIGGER") && !c.peek("RULE") && !c.peek("ROW") {
		c.i++
	}
	switch {
	case c.peek("TRIGGER"):
		at.lock(ShareRowExclusive, "ENABLE/DISABLE TRIGGER", true)
	case c.peek("RULE"):
		at.lock(AccessExclusive, "ENABLE/DISABLE RULE", false)
	default:
		at.lock(AccessExclusive, "ROW LEVEL SECURITY", false)
	}
}

// dropSub: DROP [COLUMN] c, DROP CONSTRAINT c.
func (at *alterTable) dropSub(c *cursor) {
	if c.accept("CONSTRAINT") {
		c.accept("IF", "EXISTS")
		name, _ := c.ident()
		l := at.lock(AccessExclusive, "DROP CONSTRAINT", true)
		l.checks = append(l.checks, check{kind: ckDropConstraint, name: name})
		at.s.maybeLive(AccessExclusive, "if "+quoteIdent(name)+" is a foreign key, the table it references (looked up live)")
		return
	}
	c.accept("COLUMN")
	c.accept("IF", "EXISTS")
	col, ok := c.ident()
	if !ok {
		at.lock(AccessExclusive, "DROP", true)
		return
	}
	l := at.lock(AccessExclusive, "DROP COLUMN", true)
	l.checks = append(l.checks, check{kind: ckDropColumn, col: col})
	at.s.maybeLive(AccessExclusive, "tables referenced by foreign keys on the column (looked up live)")
	at.s.find(RuleDropColumn, at.rel, false, fmt.Sprintf(
		"DROP COLUMN %s.%s: the column and its values in every row disappear at COMMIT, and queries naming it fail", at.rel, quoteIdent(col)))
}

// validate: VALIDATE CONSTRAINT name.
func (at *alterTable) validate(c *cursor) {
	name, _ := c.ident()
	l := at.lock(ShareUpdateExclusive, "VALIDATE CONSTRAINT", true)
	l.Scan = Yes
	l.checks = append(l.checks, check{kind: ckValidate, name: name})
	at.s.maybeLive(RowShare, "if "+quoteIdent(name)+" is a foreign key, the table it references (looked up live)")
	key := at.rel.key() + "\x00" + name
	if col, ok := at.s.a.notNullCheckNames[key]; ok {
		at.s.a.notNullProof(at.rel, col)
	}
	if i, ok := at.s.a.notValid[key]; ok {
		where := at.s.a.res.Statements[i].Where()
		at.s.find(RuleValidateSameTx, at.rel, false, fmt.Sprintf(
			"constraint %s was added NOT VALID at %s in the same transaction: its ACCESS EXCLUSIVE lock is still held, so this validation scans %s while every read and write of it waits",
			quoteIdent(name), where, at.rel))
	}
}

// columnDef reads "type [constraints...]" of ADD COLUMN: the type text
// and the clauses that matter for locks.
type columnDef struct {
	typ                                       string
	def                                       []tok // DEFAULT expression
	hasDefault, notNull, check, generated     bool
	identity, unique, primary, serial, stored bool
	references                                Rel
}

func readColumnDef(c *cursor) columnDef {
	var d columnDef
	start := c.i
	for !c.done() && !isColumnConstraintStart(c) {
		if c.punctAt(0, "(") {
			c.skipParens()
			continue
		}
		c.i++
	}
	d.typ = textOf(c.t[start:c.i])
	switch strings.ToLower(d.typ) {
	case "serial", "serial4", "bigserial", "serial8", "smallserial", "serial2":
		d.serial = true
	}
	for !c.done() {
		switch {
		case c.accept("DEFAULT"):
			d.hasDefault = true
			s := c.i
			for !c.done() && !isColumnConstraintStart(c) {
				if c.punctAt(0, "(") {
					c.skipParens()
					continue
				}
				c.i++
			}
			d.def = c.t[s:c.i]
		case c.accept("NOT", "NULL"):
			d.notNull = true
		case c.accept("CHECK"):
			d.check = true
			c.skipParens()
		case c.accept("GENERATED"):
			d.generated = true
			if c.acceptOne("ALWAYS", "BY") == "BY" {
				c.accept("DEFAULT")
			}
			c.accept("AS")
			if c.accept("IDENTITY") {
				d.identity = true
			} else {
				c.skipParens()
				d.stored = c.accept("STORED")
			}
			c.skipParens()
		case c.accept("UNIQUE"):
			d.unique = true
		case c.accept("PRIMARY", "KEY"):
			d.primary = true
		case c.accept("REFERENCES"):
			d.references, _ = c.name()
			c.skipParens()
		default:
			c.i++
		}
	}
	return d
}

func isColumnConstraintStart(c *cursor) bool {
	if c.done() || c.t[c.i].kind != sqlscan.Word {
		return false
	}
	switch c.t[c.i].up {
	case "DEFAULT", "NOT", "NULL", "CHECK", "GENERATED", "UNIQUE", "PRIMARY", "REFERENCES",
		"CONSTRAINT", "COLLATE", "DEFERRABLE", "INITIALLY", "COMPRESSION", "STORAGE":
		return true
	}
	return false
}
