package lockcheck

import (
	"fmt"
	"strings"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// classify dispatches on the statement's leading keyword.
func classify(s *stmt) {
	c := &cursor{t: s.toks}
	t0 := s.toks[0]
	if t0.kind == sqlscan.Punct && t0.text == "(" {
		s.p.Command = "SELECT"
		s.query(s.toks, true)
		return
	}
	if t0.kind != sqlscan.Word {
		s.p.Command = strings.ToUpper(t0.text)
		s.unknown("not a statement handrail can read (it starts with %q)", t0.text)
		return
	}
	s.p.Command = t0.up
	switch t0.up {
	case "WITH":
		s.with()
	case "SELECT", "VALUES", "TABLE":
		s.query(s.toks, true)
	case "INSERT", "UPDATE", "DELETE", "MERGE":
		s.dml(c)
	case "CREATE":
		s.create(c)
	case "ALTER":
		s.alter(c)
	case "DROP":
		s.drop(c)
	case "TRUNCATE":
		s.truncate(c)
	case "LOCK":
		s.lockTable(c)
	case "VACUUM", "ANALYZE", "ANALYSE", "CLUSTER", "REINDEX", "REFRESH":
		s.maintenance(c)
	case "COMMENT":
		s.comment(c)
	case "SET", "RESET":
		s.setting(c)
	case "COPY":
		s.copy(c)
	case "EXPLAIN":
		s.explain(c)
	case "DO":
		s.unknown("a DO block runs procedural code that handrail does not read: its locks are not known")
		s.find(RuleLocksUnknown, Rel{}, false, "DO block: handrail cannot tell which locks the code inside takes, or for how long")
	case "CALL", "EXECUTE":
		s.unknown("%s runs code that handrail does not read: its locks are not known", t0.up)
		s.find(RuleLocksUnknown, Rel{}, false, t0.up+": handrail cannot tell which locks the code it runs takes")
	case "GRANT", "REVOKE", "SHOW", "DISCARD", "LISTEN", "NOTIFY", "UNLISTEN", "SAVEPOINT", "RELEASE",
		"ROLLBACK", "BEGIN", "START", "COMMIT", "END", "ABORT", "CHECKPOINT", "LOAD", "PREPARE",
		"DEALLOCATE", "DECLARE", "FETCH", "CLOSE", "MOVE", "SECURITY", "IMPORT":
		// No table-level lock on a user relation.
	default:
		s.unknown("handrail does not know which locks %s takes", t0.up)
		s.find(RuleLocksUnknown, Rel{}, false, fmt.Sprintf("%s: handrail does not know which locks this statement takes", t0.up))
	}
}

// dml handles INSERT, UPDATE, DELETE and MERGE: ROW EXCLUSIVE on the
// target, ACCESS SHARE on what the statement reads. Triggers and foreign
// keys may lock more once rows change; Weigh lists which.
func (s *stmt) dml(c *cursor) {
	verb := c.t[0].up
	c.i++
	switch verb {
	case "INSERT", "MERGE":
		c.accept("INTO")
	case "DELETE":
		c.accept("FROM")
	}
	c.accept("ONLY")
	target, ok := c.name()
	if !ok {
		s.unknown("cannot read the target of %s", verb)
		return
	}
	l := s.lock(target, RowExclusive, verb)
	l.checks = append(l.checks, check{kind: ckDML, verb: verb})
	s.maybeLive(RowShare, s.a.dmlWhy(target))
	s.query(c.rest(), true)
}

// with is a statement with common table expressions: a query, or data
// modified by the main statement or inside a CTE (WITH x AS (DELETE ...)).
func (s *stmt) with() {
	s.query(s.toks, true)
	for k, t := range s.toks {
		if t.kind != sqlscan.Word {
			continue
		}
		c := &cursor{t: s.toks, i: k + 1}
		prev := ""
		if k > 0 {
			prev = s.toks[k-1].up
		}
		var target Rel
		var ok bool
		switch t.up {
		case "INSERT", "MERGE":
			if c.accept("INTO") {
				target, ok = c.name()
			}
		case "DELETE":
			if c.accept("FROM") {
				c.accept("ONLY")
				target, ok = c.name()
			}
		case "UPDATE":
			if prev != "FOR" && prev != "KEY" && prev != "DO" && prev != "NO" {
				c.accept("ONLY")
				target, ok = c.name()
			}
		}
		if !ok {
			continue
		}
		if k > 0 && s.toks[k-1].text != "(" {
			s.p.Command = "WITH ... " + t.up
		}
		l := s.lock(target, RowExclusive, t.up)
		l.checks = append(l.checks, check{kind: ckDML, verb: t.up})
		s.maybeLive(RowShare, s.a.dmlWhy(target))
	}
}

// query records the reads of a query (and the ROW SHARE of FOR UPDATE /
// FOR SHARE). When the query runs now (exec), the function calls whose
// locks are not known become Maybe, and set_config() of a timeout a
// finding; a view or policy definition only parses its query.
func (s *stmt) query(toks []tok, exec bool) {
	r := newReader(toks)
	r.scan(0, len(toks), 0)
	for _, rd := range r.reads {
		if rd.rel.system() {
			continue
		}
		if r.ctes[rd.rel.key()] {
			continue
		}
		if r.locking && rd.depth == 0 && (len(r.lockOf) == 0 || r.lockOf[rd.rel.Name] || r.lockOf[rd.alias]) {
			s.lock(rd.rel, RowShare, "SELECT ... FOR UPDATE/SHARE")
			continue
		}
		s.read(rd.rel)
	}
	if !exec {
		return
	}
	for _, f := range r.calls {
		s.maybe(Rel{}, NoLock, fmt.Sprintf("calls %s(): the locks taken inside a function are not known", f))
	}
	for _, f := range r.setConfig {
		s.timeoutOverride(f.name, f.value, "set_config")
	}
}

// lockTable is LOCK [TABLE] [ONLY] name [, ...] [IN mode MODE] [NOWAIT].
func (s *stmt) lockTable(c *cursor) {
	c.i++
	c.accept("TABLE")
	mode := AccessExclusive
	for k := c.i; k < len(c.t); k++ {
		if c.t[k].kind == sqlscan.Word && c.t[k].up == "IN" {
			var words []string
			for j := k + 1; j < len(c.t) && c.t[j].up != "MODE"; j++ {
				words = append(words, c.t[j].up)
			}
			for m := AccessShare; m <= AccessExclusive; m++ {
				if m.String() == strings.Join(words, " ") {
					mode = m
				}
			}
			break
		}
	}
	for _, item := range splitTop(c.rest()) {
		ic := &cursor{t: item}
		if ic.peek("IN") || ic.peek("NOWAIT") {
			break
		}
		only := ic.accept("ONLY")
		r, ok := ic.name()
		if !ok {
			continue
		}
		l := s.lock(r, mode, "LOCK TABLE")
		l.Children = !only
	}
}

// truncate is TRUNCATE [TABLE] [ONLY] name [*] [, ...] [CASCADE].
func (s *stmt) truncate(c *cursor) {
	c.i++
	c.accept("TABLE")
	cascade := hasWord(c.rest(), "CASCADE")
	for _, item := range splitTop(c.rest()) {
		ic := &cursor{t: item}
		only := ic.accept("ONLY")
		r, ok := ic.name()
		if !ok {
			continue
		}
		l := s.lock(r, AccessExclusive, "TRUNCATE")
		l.Children, l.Rewrite, l.Truncate = !only, Yes, true
		if cascade {
			l.checks = append(l.checks, check{kind: ckReferencing, mode: AccessExclusive, verb: "TRUNCATE"})
		}
		s.find(RuleTruncate, r, false, fmt.Sprintf("TRUNCATE empties %s: every row disappears at COMMIT (ACCESS EXCLUSIVE until then)", r))
	}
	if cascade {
		s.maybeLive(AccessExclusive, "CASCADE: every table with a foreign key to it is truncated too (looked up live)")
	}
}

// maintenance: VACUUM, ANALYZE, CLUSTER, REINDEX, REFRESH MATERIALIZED VIEW.
func (s *stmt) maintenance(c *cursor) {
	verb := c.t[0].up
	c.i++
	c.skipParens()
	switch verb {
	case "VACUUM", "ANALYZE", "ANALYSE":
		full := false
		for c.peek("FULL") || c.peek("FREEZE") || c.peek("VERBOSE") || c.peek("ANALYZE") || c.peek("ANALYSE") {
			full = full || c.peek("FULL")
			c.i++
		}
		if full {
			s.p.Command = "VACUUM FULL"
		}
		items := splitTop(c.rest())
		if c.done() {
			s.maybe(Rel{}, ShareUpdateExclusive, "every table of the database, one at a time")
			return
		}
		for _, item := range items {
			ic := &cursor{t: item}
			r, ok := ic.name()
			if !ok {
				continue
			}
			if full {
				l := s.lock(r, AccessExclusive, "VACUUM FULL")
				l.Rewrite = Yes
				continue
			}
			s.lock(r, ShareUpdateExclusive, verb)
		}
	case "CLUSTER":
		c.accept("VERBOSE")
		r, ok := c.name()
		if !ok {
			s.maybe(Rel{}, AccessExclusive, "every table clustered before, one at a time")
			return
		}
		l := s.lock(r, AccessExclusive, "CLUSTER")
		l.Rewrite = Yes
	case "REINDEX":
		s.reindex(c)
	case "REFRESH":
		s.refresh(c)
	}
}

func (s *stmt) reindex(c *cursor) {
	what := c.acceptOne("INDEX", "TABLE", "SCHEMA", "DATABASE", "SYSTEM")
	conc := c.accept("CONCURRENTLY")
	s.p.Command = "REINDEX " + what
	if conc {
		s.p.Command += " CONCURRENTLY"
	}
	r, ok := c.name()
	if !ok || (what != "INDEX" && what != "TABLE") {
		s.unknown("REINDEX %s rebuilds many indexes one after another: the tables are not known from the text", what)
		return
	}
	mode := Share
	if conc {
		mode = ShareUpdateExclusive
	}
	if what == "INDEX" {
		var il *Lock
		if conc {
			il = s.lock(r, ShareUpdateExclusive, s.p.Command)
		} else {
			// The index is rebuilt into a new file.
			il = s.lock(r, AccessExclusive, s.p.Command)
			il.Rewrite, il.noScan = Yes, true
		}
		il.index = true
		s.lockTableOf(r, mode, s.p.Command).Scan = Yes
		return
	}
	l := s.lock(r, mode, "REINDEX TABLE")
	l.Scan = Yes
}

func (s *stmt) refresh(c *cursor) {
	c.accept("MATERIALIZED", "VIEW")
	conc := c.accept("CONCURRENTLY")
	r, ok := c.name()
	if !ok {
		s.unknown("cannot read the materialized view's name")
		return
	}
	s.p.Command = "REFRESH MATERIALIZED VIEW"
	if conc {
		s.p.Command += " CONCURRENTLY"
		s.lock(r, Exclusive, s.p.Command)
	} else {
		l := s.lock(r, AccessExclusive, s.p.Command)
		l.Rewrite = Yes
	}
	// Its unique indexes are rebuilt (or, concurrently, it is compared
	// with the query's result): every row is read.
	s.lock(r, NoLock, "").Scan = Yes
	s.maybe(Rel{}, AccessShare, "the tables its query reads")
}

// comment is COMMENT ON <object> ...: SHARE UPDATE EXCLUSIVE on the
// relation a table, column, index or view comment is about.
func (s *stmt) comment(c *cursor) {
	c.i++
	c.accept("ON")
	kind := c.acceptOne("TABLE", "COLUMN", "INDEX", "VIEW", "MATERIALIZED", "FOREIGN", "SEQUENCE", "CONSTRAINT", "POLICY", "TRIGGER", "RULE")
	switch kind {
	case "":
		return
	case "MATERIALIZED", "FOREIGN":
		c.i++ // VIEW / TABLE
	}
	s.p.Command = "COMMENT ON " + kind
	switch kind {
	case "CONSTRAINT", "POLICY", "TRIGGER", "RULE":
		c.ident()
		if !c.accept("ON") {
			return
		}
		c.accept("DOMAIN")
		if r, ok := c.name(); ok {
			s.lock(r, AccessShare, s.p.Command)
		}
		return
	}
	parts := c.parts()
	if kind == "COLUMN" && len(parts) > 1 {
		parts = parts[:len(parts)-1] // the last part is the column
	}
	r, ok := relOf(parts)
	if !ok {
		return
	}
	s.lock(r, ShareUpdateExclusive, s.p.Command)
}

// copy is COPY table FROM (ROW EXCLUSIVE) or COPY table / (query) TO.
func (s *stmt) copy(c *cursor) {
	c.i++
	if c.punctAt(0, "(") {
		s.query(c.rest(), true)
		return
	}
	r, ok := c.name()
	if !ok {
		return
	}
	c.skipParens()
	if c.peek("FROM") {
		l := s.lock(r, RowExclusive, "COPY FROM")
		l.checks = append(l.checks, check{kind: ckDML, verb: "INSERT"})
		return
	}
	s.lock(r, AccessShare, "COPY TO")
}

// explain: EXPLAIN plans the statement, taking its locks; with ANALYZE it
// also runs it.
func (s *stmt) explain(c *cursor) {
	c.i++
	c.skipParens()
	for c.peek("ANALYZE") || c.peek("ANALYSE") || c.peek("VERBOSE") {
		c.i++
	}
	if c.done() {
		return
	}
	inner := &stmt{a: s.a, idx: s.idx, line: s.line, p: s.p, toks: c.rest(), locks: s.locks}
	cmd := s.p.Command
	classify(inner)
	s.p.Command = cmd + " " + s.p.Command
}

// setting handles SET and RESET: only the timeouts matter here.
func (s *stmt) setting(c *cursor) {
	verb := c.t[0].up
	c.i++
	if verb == "RESET" {
		if c.accept("ALL") {
			s.timeoutOverride("ALL", "", "RESET")
			return
		}
		if name, ok := c.ident(); ok {
			s.timeoutOverride(name, "", "RESET")
		}
		return
	}
	c.acceptOne("SESSION", "LOCAL")
	name, ok := c.ident()
	if !ok {
		return
	}
	if !c.accept("TO") {
		c.acceptPunct("=")
	}
	s.timeoutOverride(name, textOf(c.rest()), "SET")
}

// timeoutOverride records a finding when the step changes lock_timeout
// or statement_timeout (how names where it came from: SET, RESET,
// set_config).
func (s *stmt) timeoutOverride(name, value, how string) {
	name = strings.ToLower(name)
	value = strings.Trim(strings.TrimSpace(value), "'")
	var why string
	switch {
	case name == "all":
		why = "RESET ALL puts lock_timeout and statement_timeout back to the server's defaults (often none): handrail's bound on waiting no longer holds for the rest of the step"
	case name != "lock_timeout" && name != "statement_timeout":
		return
	case how == "RESET" || strings.EqualFold(value, "default"):
		why = fmt.Sprintf("%s %s puts it back to the server's default (often none): handrail's bound on waiting no longer holds for the rest of the step", how, name)
	case value == "0":
		why = fmt.Sprintf("%s = 0 turns %s off for the rest of the step: a lock request can wait without bound behind a long transaction while every later query on that table queues behind it", name, name)
	default:
		why = fmt.Sprintf("%s sets %s to %s for the rest of the step, replacing the runbook's [settings] value", how, name, value)
	}
	if k := s.find(RuleTimeoutOverride, Rel{}, false, why); k >= 0 {
		s.a.res.Findings[k].base = Medium
		if name == "all" || how == "RESET" || value == "0" || strings.EqualFold(value, "default") {
			s.a.res.Findings[k].base = High
		}
	}
}
