package lockcheck

import (
	"fmt"
	"strings"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// create handles the CREATE statements.
func (s *stmt) create(c *cursor) {
	c.i++
	orReplace := c.accept("OR", "REPLACE")
	c.acceptOne("GLOBAL", "LOCAL")
	c.acceptOne("TEMP", "TEMPORARY", "UNLOGGED")
	unique := c.accept("UNIQUE")
	obj := c.acceptOne("TABLE", "INDEX", "VIEW", "RECURSIVE", "MATERIALIZED", "TRIGGER", "CONSTRAINT",
		"POLICY", "RULE", "STATISTICS", "SEQUENCE", "FOREIGN", "FUNCTION", "PROCEDURE", "EXTENSION", "PUBLICATION")
	if obj == "RECURSIVE" {
		obj = c.acceptOne("VIEW")
	}
	if obj == "MATERIALIZED" || obj == "FOREIGN" {
		obj += " " + c.acceptOne("VIEW", "TABLE", "DATA")
	}
	if obj == "CONSTRAINT" {
		obj = c.acceptOne("TRIGGER")
	}
	if obj == "" {
		// Types, domains, schemas, roles, casts, operators...: no table lock.
		if c.i < len(c.t) {
			s.p.Command = "CREATE " + c.t[c.i].up
		}
		return
	}
	s.p.Command = "CREATE " + obj
	switch obj {
	case "TABLE", "FOREIGN TABLE":
		s.createTable(c)
	case "INDEX":
		if unique {
			s.p.Command = "CREATE UNIQUE INDEX"
		}
		s.createIndex(c)
	case "VIEW", "MATERIALIZED VIEW":
		c.accept("IF", "NOT", "EXISTS")
		r, ok := c.name()
		if !ok {
			return
		}
		if orReplace {
			l := s.lock(r, AccessExclusive, "CREATE OR REPLACE VIEW")
			l.checks = append(l.checks, check{kind: ckIfExists})
		}
		s.creates(r)
		s.query(c.rest(), false)
	case "TRIGGER", "POLICY", "RULE":
		s.createOnTable(c, obj)
	case "STATISTICS":
		if k := indexOfWord(c.t, "FROM"); k >= 0 {
			c.i = k + 1
			if r, ok := c.name(); ok {
				s.lock(r, ShareUpdateExclusive, "CREATE STATISTICS")
			}
		}
	case "SEQUENCE":
		c.accept("IF", "NOT", "EXISTS")
		if r, ok := c.name(); ok {
			s.creates(r)
		}
	case "FUNCTION", "PROCEDURE":
		if languageSQL(c.t) {
			s.maybe(Rel{}, AccessShare, "the body of a LANGUAGE sql function is parsed at creation, which reads the tables it names")
		}
	case "EXTENSION":
		s.unknown("CREATE EXTENSION runs the extension's script: its locks are not known")
		s.find(RuleLocksUnknown, Rel{}, false, "CREATE EXTENSION runs the extension's install script: handrail cannot tell which locks it takes")
	case "PUBLICATION":
		s.maybe(Rel{}, ShareUpdateExclusive, "the tables it publishes")
	}
}

func indexOfWord(toks []tok, w string) int {
	for k, t := range toks {
		if t.kind == sqlscan.Word && t.up == w {
			return k
		}
	}
	return -1
}

func languageSQL(toks []tok) bool {
	for k := 0; k+1 < len(toks); k++ {
		if toks[k].kind == sqlscan.Word && toks[k].up == "LANGUAGE" {
			l := strings.ToLower(strings.Trim(toks[k+1].text, `'"`))
			return l == "sql"
		}
	}
	// SQL-standard bodies (BEGIN ATOMIC / RETURN expr) are SQL too.
	return hasWord(toks, "ATOMIC")
}

// createTable: the new table, plus what its definition references.
func (s *stmt) createTable(c *cursor) {
	c.accept("IF", "NOT", "EXISTS")
	r, ok := c.name()
	if !ok {
		return
	}
	s.creates(r)
	rest := c.rest()
	if c.accept("PARTITION", "OF") {
		if parent, ok := c.name(); ok {
			l := s.lock(parent, AccessExclusive, "CREATE TABLE ... PARTITION OF")
			l.checks = append(l.checks, check{kind: ckDefaultPartition})
			s.maybeLive(AccessExclusive, fmt.Sprintf("the default partition of %s, if it has one (scanned)", parent))
		}
	}
	if c.accept("AS") || c.peek("SELECT") || c.peek("WITH") || c.peek("VALUES") || c.peek("TABLE") {
		s.query(c.rest(), true)
		return
	}
	for k := 0; k < len(rest); k++ {
		t := rest[k]
		if t.kind != sqlscan.Word {
			continue
		}
		switch t.up {
		case "REFERENCES":
			rc := &cursor{t: rest, i: k + 1}
			if ref, ok := rc.name(); ok && ref != r {
				l := s.lock(ref, ShareRowExclusive, "REFERENCES (a foreign key adds triggers to it)")
				l.Children = true
			}
		case "LIKE":
			rc := &cursor{t: rest, i: k + 1}
			if src, ok := rc.name(); ok {
				s.read(src)
			}
		case "INHERITS":
			rc := &cursor{t: rest, i: k + 2}
			for {
				p, ok := rc.name()
				if !ok {
					break
				}
				s.lock(p, ShareUpdateExclusive, "INHERITS")
				if !rc.acceptPunct(",") {
					break
				}
			}
		}
	}
}

// createIndex is CREATE [UNIQUE] INDEX [CONCURRENTLY] [[IF NOT EXISTS] name]
// ON [ONLY] table ...
func (s *stmt) createIndex(c *cursor) {
	conc := c.accept("CONCURRENTLY")
	ifNotExists := c.accept("IF", "NOT", "EXISTS")
	var idx Rel
	if !c.peek("ON") {
		idx, _ = c.name()
	}
	if !c.accept("ON") {
		s.unknown("cannot read the table of the index")
		return
	}
	only := c.accept("ONLY")
	table, ok := c.name()
	if !ok {
		s.unknown("cannot read the table of the index")
		return
	}
	if !idx.IsZero() {
		if idx.Schema == "" {
			idx.Schema = table.Schema
		}
		s.creates(idx)
	}
	mode, why := Share, s.p.Command
	if conc {
		mode = ShareUpdateExclusive
		s.p.Command += " CONCURRENTLY"
		why = s.p.Command
	}
	l := s.lock(table, mode, why)
	l.Scan, l.Children = Yes, !only
	conditional := ifNotExists && !idx.IsZero() && !s.isNew(table)
	if conditional {
		l.Scan = Unknown
		l.Note = joinNote(l.Note, fmt.Sprintf("builds only if %s does not exist yet (looked up live)", idx))
	}
	fi := -1
	if !conc {
		fi = s.find(RuleCreateIndexBlocking, table, conditional, fmt.Sprintf(
			"%s holds SHARE on %s for the whole build: every INSERT, UPDATE and DELETE on %s waits until the index is built (reads continue)",
			s.p.Command, table, table))
	}
	if conditional {
		l.checks = append(l.checks, check{kind: ckIndexExists, rel: idx, finding: fi + 1})
	}
}

// createOnTable: CREATE TRIGGER ... ON t, CREATE POLICY p ON t, CREATE RULE r AS ON e TO t.
func (s *stmt) createOnTable(c *cursor, obj string) {
	kw := "ON"
	if obj == "RULE" {
		kw = "TO"
	}
	k := indexOfWord(c.t[c.i:], kw)
	if k < 0 {
		s.unknown("cannot read the table of the %s", strings.ToLower(obj))
		return
	}
	c.i += k + 1
	r, ok := c.name()
	if !ok {
		return
	}
	switch obj {
	case "TRIGGER":
		s.lock(r, ShareRowExclusive, "CREATE TRIGGER")
	case "POLICY":
		s.lock(r, AccessExclusive, "CREATE POLICY")
		// Subqueries in USING / WITH CHECK are parsed now, reading their tables.
		s.query(c.rest(), false)
	case "RULE":
		s.lock(r, AccessExclusive, "CREATE RULE")
		s.query(c.rest(), false)
	}
}

// drop handles the DROP statements.
func (s *stmt) drop(c *cursor) {
	c.i++
	obj := c.acceptOne("TABLE", "INDEX", "VIEW", "MATERIALIZED", "FOREIGN", "SEQUENCE", "TRIGGER", "POLICY", "RULE", "SCHEMA", "EXTENSION", "OWNED")
	if obj == "MATERIALIZED" || obj == "FOREIGN" {
		obj += " " + c.acceptOne("VIEW", "TABLE", "DATA")
	}
	if obj == "" {
		if c.i < len(c.t) {
			s.p.Command = "DROP " + c.t[c.i].up
		}
		if hasWord(c.rest(), "CASCADE") {
			s.maybe(Rel{}, AccessExclusive, "CASCADE drops what depends on it (columns, defaults, views)")
		}
		return
	}
	s.p.Command = "DROP " + obj
	switch obj {
	case "INDEX":
		s.dropIndex(c)
		return
	case "TRIGGER", "POLICY", "RULE":
		ifExists := c.accept("IF", "EXISTS")
		name, _ := c.ident()
		if c.accept("ON") {
			if r, ok := c.name(); ok {
				l := s.lock(r, AccessExclusive, s.p.Command)
				if ifExists {
					l.Note = fmt.Sprintf("only if %s %s exists (looked up live)", strings.ToLower(obj), quoteIdent(name))
					l.checks = append(l.checks, check{kind: ckObjectExists, verb: obj, name: name})
				}
			}
		}
		return
	case "SCHEMA", "EXTENSION", "OWNED":
		if obj != "SCHEMA" || hasWord(c.rest(), "CASCADE") {
			s.unknown("%s drops objects that the text does not name: their locks are not known", s.p.Command)
			s.find(RuleLocksUnknown, Rel{}, false, s.p.Command+" drops objects the statement does not name: handrail cannot tell which")
		}
		return
	}
	ifExists := c.accept("IF", "EXISTS")
	cascade := hasWord(c.rest(), "CASCADE")
	for _, item := range splitTop(c.rest()) {
		ic := &cursor{t: item}
		r, ok := ic.name()
		if !ok {
			continue
		}
		if obj == "SEQUENCE" {
			continue // a sequence lock bothers only nextval()
		}
		l := s.lock(r, AccessExclusive, s.p.Command)
		l.Children = true
		l.checks = append(l.checks, check{kind: ckReferenced, mode: AccessExclusive}, check{kind: ckParent})
		if ifExists {
			l.checks = append(l.checks, check{kind: ckIfExists})
		}
		if cascade {
			l.checks = append(l.checks, check{kind: ckReferencing, mode: AccessExclusive})
		}
		if obj == "TABLE" || obj == "MATERIALIZED VIEW" || obj == "FOREIGN TABLE" {
			s.find(RuleDropTable, r, false, fmt.Sprintf("%s drops %s: the table and all its rows disappear at COMMIT", s.p.Command, r))
		}
	}
	s.maybeLive(AccessExclusive, "tables its foreign keys reference lose their triggers (looked up live)")
	if cascade {
		s.maybe(Rel{}, AccessExclusive, "CASCADE drops dependent views and foreign keys")
	}
}

// dropIndex is DROP INDEX [CONCURRENTLY] [IF EXISTS] name [, ...].
func (s *stmt) dropIndex(c *cursor) {
	conc := c.accept("CONCURRENTLY")
	if conc {
		s.p.Command += " CONCURRENTLY"
	}
	ifExists := c.accept("IF", "EXISTS")
	for _, item := range splitTop(c.rest()) {
		ic := &cursor{t: item}
		idx, ok := ic.name()
		if !ok {
			continue
		}
		mode := AccessExclusive
		if conc {
			mode = ShareUpdateExclusive
		}
		// DROP INDEX CONCURRENTLY ends with ACCESS EXCLUSIVE on the index
		// alone, once nobody uses it any more.
		il := s.lock(idx, AccessExclusive, s.p.Command)
		il.index = true
		tl := s.lockTableOf(idx, mode, s.p.Command)
		if ifExists {
			il.checks = append(il.checks, check{kind: ckIfExists})
			tl.checks = append(tl.checks, check{kind: ckIfExists})
		}
		if conc || s.isNew(idx) {
			continue
		}
		s.find(RuleDropIndexBlocking, idx, false, fmt.Sprintf(
			"DROP INDEX %s takes ACCESS EXCLUSIVE on its table: it waits for every running query on the table, and every read and write that comes after waits for it", idx))
	}
}
