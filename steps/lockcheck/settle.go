package lockcheck

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// settle answers the lock's checks from the catalog: it may change the
// lock's Rewrite and Scan, settle a conditional finding, and return
// further locks (on referenced tables, default partitions) and Maybes.
func (w *weigher) settle(ctx context.Context, an *Analysis, i int, l *Lock, f *relFacts) (extra []Lock, maybes []MaybeLock, err error) {
	if !f.exists {
		if len(l.checks) > 0 && (l.Rewrite == Unknown || l.Scan == Unknown) {
			l.Note = joinNote(l.Note, fmt.Sprintf("%s does not exist on the target yet: not settled", l.Rel))
		}
		return nil, nil, nil
	}
	rewrite, scan, rwChecked, scChecked := No, No, false, false
	for _, c := range l.checks {
		var ex []Lock
		var mb []MaybeLock
		var t Tri
		switch c.kind {
		case ckDML:
			mb, err = w.dmlMaybes(ctx, f, c.verb)
		case ckReferencing, ckReferenced, ckDropConstraint, ckValidate, ckDropColumn:
			ex, err = w.fkLocks(ctx, f, c)
		case ckTypeChangeFKs:
			ex, err = w.typeChangeFKLocks(ctx, f, c)
		case ckDefaultPartition:
			ex, err = w.defaultPartition(ctx, f, c)
		case ckParent:
			ex, err = w.parentLock(ctx, f)
		case ckDefault, ckTypeChange:
			if c.kind == ckDefault {
				t, err = w.settleDefault(ctx, an, i, l, f, c)
			} else {
				t, err = w.settleTypeChange(ctx, an, l, f, c)
			}
			rewrite, rwChecked = rewrite.or(t), true
		case ckAttachScan, ckNotNullProof, ckPKNotNull, ckIndexExists:
			switch c.kind {
			case ckIndexExists:
				t, err = w.indexExists(ctx, an, l, c)
			case ckAttachScan:
				t, err = w.attachScan(ctx, l, f)
			case ckNotNullProof:
				t, err = w.settleNotNull(ctx, an, l, f, c)
			default:
				t, err = w.settlePKNotNull(ctx, l, f, c)
			}
			scan, scChecked = scan.or(t), true
		}
		if err != nil {
			return nil, nil, err
		}
		extra = append(extra, ex...)
		maybes = append(maybes, mb...)
	}
	if l.Rewrite == Unknown && rwChecked {
		l.Rewrite = rewrite
	}
	if l.Scan == Unknown && (rwChecked || scChecked) {
		l.Scan = scan.or(rewrite)
		if !rwChecked && !scChecked {
			l.Scan = Unknown
		}
	}
	return extra, maybes, nil
}

// settleFinding records whether a conditional finding applies.
func settleFinding(an *Analysis, c check, applies bool, why string) {
	if c.finding == 0 {
		return
	}
	f := &an.Findings[c.finding-1]
	f.applies = -1
	if applies {
		f.applies = 1
	}
	f.settled = why
}

func (w *weigher) dmlMaybes(ctx context.Context, f *relFacts, verb string) ([]MaybeLock, error) {
	var out []MaybeLock
	if verb != "DELETE" {
		fks, err := w.foreignKeys(ctx, f, false)
		if err != nil {
			return nil, err
		}
		for _, k := range fks {
			out = append(out, MaybeLock{Rel: k.referenced, Mode: RowShare,
				Why: fmt.Sprintf("foreign key %s: new and changed rows are checked against %s", quoteIdent(k.name), k.referenced)})
		}
	}
	if verb != "INSERT" {
		fks, err := w.foreignKeys(ctx, f, true)
		if err != nil {
			return nil, err
		}
		for _, k := range fks {
			m, act := RowShare, k.onDelete
			if verb == "UPDATE" {
				act = k.onUpdate
			}
			if act == "c" || act == "n" || act == "d" {
				m = RowExclusive
			}
			out = append(out, MaybeLock{Rel: k.table, Mode: m,
				Why: fmt.Sprintf("foreign key %s of %s: checked (or acted on) when referenced rows change", quoteIdent(k.name), k.table)})
		}
	}
	trig, err := w.userTriggers(ctx, f)
	if err != nil {
		return nil, err
	}
	for _, t := range trig {
		out = append(out, MaybeLock{Why: "trigger " + t + ": the locks its function takes are not known"})
	}
	for _, c := range f.children {
		out = append(out, MaybeLock{Rel: c, Mode: RowExclusive, Why: "partition: locked when rows reach it (or are not pruned)"})
	}
	return out, nil
}

func (w *weigher) userTriggers(ctx context.Context, f *relFacts) ([]string, error) {
	rows, err := w.q.Query(ctx, `select t.tgname::text || ' (' || p.proname::text || '())'
from pg_trigger t join pg_proc p on p.oid = t.tgfoid
where t.tgrelid = $1::oid and not t.tgisinternal order by t.tgname`, f.oid)
	if err != nil {
		return nil, fmt.Errorf("listing the triggers of %s: %w", f.rel, err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// fkLocks: the locks on tables linked to f by foreign keys.
func (w *weigher) fkLocks(ctx context.Context, f *relFacts, c check) ([]Lock, error) {
	incoming := c.kind == ckReferencing
	fks, err := w.foreignKeys(ctx, f, incoming)
	if err != nil {
		return nil, err
	}
	var out []Lock
	for _, k := range fks {
		other, why := k.referenced, fmt.Sprintf("foreign key %s references it: its triggers are dropped", quoteIdent(k.name))
		if incoming {
			other, why = k.table, fmt.Sprintf("foreign key %s of %s references %s (CASCADE)", quoteIdent(k.name), k.table, f.rel)
		}
		if other == f.rel {
			continue
		}
		switch c.kind {
		case ckDropConstraint:
			if k.name != c.name {
				continue
			}
		case ckDropColumn:
			if !containsString(k.columns, c.col) {
				continue
			}
		case ckValidate:
			if k.name != c.name {
				continue
			}
			out = append(out, Lock{Rel: other, Mode: RowShare, Scan: Unknown, Why: "VALIDATE CONSTRAINT (the referenced table)",
				Note: "the validation query may read it in full or use its index (the planner decides)"})
			continue
		}
		mode := AccessExclusive
		if c.mode != NoLock {
			mode = c.mode
		}
		l := Lock{Rel: other, Mode: mode, Why: why}
		if c.verb == "TRUNCATE" {
			l.Rewrite, l.Truncate, l.Why = Yes, true, why+": truncated too"
		}
		out = append(out, l)
	}
	return out, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// defaultPartition: attaching (or creating) a partition checks the
// parent's default partition, which must not hold rows of the new bounds.
func (w *weigher) defaultPartition(ctx context.Context, f *relFacts, c check) ([]Lock, error) {
	if f.kind != 'p' {
		return nil, nil
	}
	var d Rel
	err := queryRow(ctx, w.q, `select n.nspname::text, c.relname::text
from pg_partitioned_table p join pg_class c on c.oid = p.partdefid join pg_namespace n on n.oid = c.relnamespace
where p.partrelid = $1::oid`, []any{f.oid}, &d.Schema, &d.Name)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up the default partition of %s: %w", f.rel, err)
	}
	if c.verb == "DETACH" {
		return []Lock{{Rel: d, Mode: AccessExclusive, Why: "default partition of " + f.rel.String()}}, nil
	}
	return []Lock{{Rel: d, Mode: AccessExclusive, Scan: Yes, Why: "default partition of " + f.rel.String(),
		Note: "every row of the default partition is checked against the new partition's bounds"}}, nil
}

// attachScan: ATTACH PARTITION scans the partition unless a validated
// constraint implies the bound. With no CHECK constraint at all nothing
// can imply it.
func (w *weigher) attachScan(ctx context.Context, l *Lock, f *relFacts) (Tri, error) {
	var n int
	if err := queryRow(ctx, w.q, `select count(*)::int from pg_constraint where conrelid = $1::oid and contype = 'c' and convalidated`,
		[]any{f.oid}, &n); err != nil {
		return Unknown, fmt.Errorf("listing the constraints of %s: %w", f.rel, err)
	}
	if n == 0 {
		l.Note = "every row is checked against the partition bound (no CHECK constraint on it could imply the bound)"
		return Yes, nil
	}
	return Unknown, nil
}

// notNullCheck matches a constraint definition proving "col IS NOT NULL".
func notNullCheck(def, col string) bool {
	re := regexp.MustCompile(`(?i)^CHECK \(+` + regexp.QuoteMeta(quoteIdent(col)) + ` IS NOT NULL\)+$`)
	if re.MatchString(def) {
		return true
	}
	// ANDed with other conditions (no OR anywhere): still a proof.
	if strings.Contains(strings.ToUpper(def), " OR ") {
		return false
	}
	return strings.Contains(def, "("+quoteIdent(col)+" IS NOT NULL)")
}

func (w *weigher) settleNotNull(ctx context.Context, an *Analysis, l *Lock, f *relFacts, c check) (Tri, error) {
	var notNull bool
	err := queryRow(ctx, w.q, `select attnotnull from pg_attribute where attrelid = $1::oid and attname = $2 and not attisdropped`,
		[]any{f.oid, c.col}, &notNull)
	if err == pgx.ErrNoRows {
		l.Note = joinNote(l.Note, fmt.Sprintf("column %s not found on %s", quoteIdent(c.col), f.rel))
		return Unknown, nil
	}
	if err != nil {
		return Unknown, fmt.Errorf("looking up %s.%s: %w", f.rel, c.col, err)
	}
	if notNull {
		settleFinding(an, c, false, fmt.Sprintf("%s.%s is NOT NULL already: nothing to check", f.rel, quoteIdent(c.col)))
		return No, nil
	}
	rows, err := w.q.Query(ctx, `select conname::text, pg_get_constraintdef(oid) from pg_constraint
where conrelid = $1::oid and contype = 'c' and convalidated order by conname`, f.oid)
	if err != nil {
		return Unknown, fmt.Errorf("listing the constraints of %s: %w", f.rel, err)
	}
	type con struct{ name, def string }
	cons, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (con, error) {
		var k con
		err := r.Scan(&k.name, &k.def)
		return k, err
	})
	if err != nil {
		return Unknown, err
	}
	for _, k := range cons {
		if notNullCheck(k.def, c.col) {
			settleFinding(an, c, false, fmt.Sprintf("the validated constraint %s (%s) proves it: no scan", quoteIdent(k.name), k.def))
			return No, nil
		}
	}
	settleFinding(an, c, true, fmt.Sprintf("no validated CHECK (%s IS NOT NULL) on %s: every row is checked", quoteIdent(c.col), f.rel))
	return Yes, nil
}

func (w *weigher) settlePKNotNull(ctx context.Context, l *Lock, f *relFacts, c check) (Tri, error) {
	idx := Rel{Schema: f.rel.Schema, Name: c.name}
	var all bool
	err := queryRow(ctx, w.q, `select coalesce(bool_and(a.attnotnull), false) from pg_index i
join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
where i.indexrelid = to_regclass($1)`, []any{idx.String()}, &all)
	if err != nil {
		return Unknown, fmt.Errorf("looking up index %s: %w", idx, err)
	}
	if all {
		l.Note = "the key columns are NOT NULL already: no scan"
		return No, nil
	}
	l.Note = "the key columns are not all NOT NULL: every row is checked to set it"
	return Yes, nil
}

// parentLock: dropping a partition takes ACCESS EXCLUSIVE on its parent.
func (w *weigher) parentLock(ctx context.Context, f *relFacts) ([]Lock, error) {
	var p Rel
	err := queryRow(ctx, w.q, `select n.nspname::text, c.relname::text
from pg_inherits i join pg_class c on c.oid = i.inhparent join pg_namespace n on n.oid = c.relnamespace
join pg_class me on me.oid = i.inhrelid
where i.inhrelid = $1::oid and me.relispartition`, []any{f.oid}, &p.Schema, &p.Name)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up the parent of %s: %w", f.rel, err)
	}
	return []Lock{{Rel: p, Mode: AccessExclusive, Why: "the partitioned table " + f.rel.String() + " belongs to"}}, nil
}

// objectExists: DROP POLICY / TRIGGER / RULE IF EXISTS locks the table
// only when the object is there.
func (w *weigher) objectExists(ctx context.Context, f *relFacts, c check) (bool, error) {
	var q string
	switch c.verb {
	case "POLICY":
		q = `select exists (select 1 from pg_policy where polrelid = $1::oid and polname = $2)`
	case "TRIGGER":
		q = `select exists (select 1 from pg_trigger where tgrelid = $1::oid and tgname = $2)`
	default:
		q = `select exists (select 1 from pg_rewrite where ev_class = $1::oid and rulename = $2)`
	}
	var ok bool
	if err := queryRow(ctx, w.q, q, []any{f.oid, c.name}, &ok); err != nil {
		return false, fmt.Errorf("looking up %s %s on %s: %w", strings.ToLower(c.verb), c.name, f.rel, err)
	}
	return ok, nil
}

// indexExists: CREATE INDEX IF NOT EXISTS builds nothing when the name is
// taken (it still takes its lock on the table for the moment of the
// check). An INVALID index of that name stays invalid: the statement
// does nothing.
func (w *weigher) indexExists(ctx context.Context, an *Analysis, l *Lock, c check) (Tri, error) {
	var valid *bool
	err := queryRow(ctx, w.q, `select (select i.indisvalid from pg_index i where i.indexrelid = r.oid)
from (select to_regclass($1) as oid) r where r.oid is not null`, []any{c.rel.String()}, &valid)
	if err == pgx.ErrNoRows {
		settleFinding(an, c, true, fmt.Sprintf("%s does not exist yet: the index is built", c.rel))
		return Yes, nil
	}
	if err != nil {
		return Unknown, fmt.Errorf("looking up %s: %w", c.rel, err)
	}
	why := fmt.Sprintf("%s exists already: IF NOT EXISTS skips the build (SHARE is taken only for the check)", c.rel)
	if valid != nil && !*valid {
		why = fmt.Sprintf("%s exists but is INVALID (a failed CONCURRENTLY build?): the statement does nothing and it stays invalid; drop it first", c.rel)
	}
	l.Note = joinNote(l.Note, why)
	settleFinding(an, c, false, why)
	return No, nil
}

// typeChangeFKLocks: changing a column's type drops and re-adds the
// foreign keys that use it, on either end, which locks the table at the
// other end.
func (w *weigher) typeChangeFKLocks(ctx context.Context, f *relFacts, c check) ([]Lock, error) {
	var out []Lock
	for _, incoming := range []bool{true, false} {
		fks, err := w.foreignKeys(ctx, f, incoming)
		if err != nil {
			return nil, err
		}
		for _, k := range fks {
			// Dropping a foreign key removes its triggers from both ends.
			cols, other := k.columns, k.referenced
			if incoming {
				cols, other = k.refColumns, k.table
			}
			if other == f.rel || !containsString(cols, c.col) {
				continue
			}
			out = append(out, Lock{Rel: other, Mode: AccessExclusive, Scan: Unknown,
				Why:  fmt.Sprintf("foreign key %s uses the column: it is dropped and added again", quoteIdent(k.name)),
				Note: "re-adding the foreign key may check every row again, unless PostgreSQL can keep it"})
		}
	}
	return out, nil
}
