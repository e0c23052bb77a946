package lockcheck

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// try runs a query that may fail on input from the runbook (a type name
// that does not exist yet) without aborting the caller's transaction: in
// a transaction it runs inside a savepoint.
func (w *weigher) try(ctx context.Context, fn func() error) error {
	if !w.noTx {
		err := exec(ctx, w.q, "savepoint handrail_lockcheck")
		var pe *pgconn.PgError
		switch {
		case errors.As(err, &pe) && pe.Code == "25P01": // not in a transaction block
			w.noTx = true
		case err != nil:
			return err
		default:
			ferr := fn()
			if ferr != nil {
				if err := exec(ctx, w.q, "rollback to savepoint handrail_lockcheck"); err != nil {
					return err
				}
			}
			if err := exec(ctx, w.q, "release savepoint handrail_lockcheck"); err != nil {
				return err
			}
			return ferr
		}
	}
	return fn()
}

func exec(ctx context.Context, q Querier, sql string) error {
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

// settleDefault: ADD COLUMN ... DEFAULT expr rewrites when expr calls a
// VOLATILE function (pg_proc.provolatile), or the type is a domain with
// constraints.
func (w *weigher) settleDefault(ctx context.Context, an *Analysis, i int, l *Lock, f *relFacts, c check) (Tri, error) {
	rewrite := No
	var why []string
	for _, fn := range c.funcs {
		var vols string
		var sqlLang bool
		err := queryRow(ctx, w.q, `select coalesce(string_agg(distinct p.provolatile::text, '' order by p.provolatile::text), ''),
  coalesce(bool_or(l.lanname = 'sql'), false)
from pg_proc p join pg_namespace n on n.oid = p.pronamespace join pg_language l on l.oid = p.prolang
where p.proname = $1 and (case when $2 = '' then pg_function_is_visible(p.oid) else n.nspname = $2 end)`,
			[]any{fn.Name, fn.Schema}, &vols, &sqlLang)
		if err != nil {
			return Unknown, fmt.Errorf("looking up function %s: %w", fn, err)
		}
		switch vols {
		case "":
			rewrite = rewrite.or(Unknown)
			why = append(why, fmt.Sprintf("%s() is not found on the target", fn))
		case "v":
			if sqlLang {
				// PostgreSQL inlines a simple SQL function before it judges
				// the default: the body's volatility decides, not the label.
				rewrite = rewrite.or(Unknown)
				why = append(why, fmt.Sprintf("%s() is a VOLATILE LANGUAGE sql function: PostgreSQL may inline it, and then its body's volatility decides (rehearse it)", fn))
				continue
			}
			rewrite = Yes
			why = append(why, fmt.Sprintf("%s() is VOLATILE (pg_proc): every existing row gets its own value", fn))
		case "i", "s", "is":
			why = append(why, fmt.Sprintf("%s() is %s (pg_proc)", fn, map[string]string{"i": "IMMUTABLE", "s": "STABLE", "is": "not volatile"}[vols]))
		default:
			rewrite = rewrite.or(Unknown)
			why = append(why, fmt.Sprintf("%s() has overloads of different volatility (%s): which one is called is not settled", fn, vols))
		}
	}
	dom, err := w.domainConstraints(ctx, c.typ)
	if err != nil {
		return Unknown, err
	}
	switch dom {
	case Yes:
		rewrite = Yes
		why = append(why, fmt.Sprintf("%s is a domain with constraints: every row is rewritten to check them", c.typ))
	case Unknown:
		rewrite = rewrite.or(Unknown)
		why = append(why, fmt.Sprintf("type %s is not found on the target", c.typ))
	}
	note := strings.Join(why, "; ")
	l.Note = joinNote(l.Note, note)
	switch {
	case c.finding != 0:
		settleFinding(an, c, rewrite == Yes, note)
		if rewrite == Unknown {
			an.Findings[c.finding-1].applies = 0
		}
	case rewrite == Yes:
		an.Findings = append(an.Findings, Finding{Rule: RuleVolatileDefault, Statement: i, File: an.Statements[i].File,
			Line: an.Statements[i].Line, Rel: f.rel, Safer: rulesByID[RuleVolatileDefault].Safer, applies: 1, settled: note,
			Why: fmt.Sprintf("ADD COLUMN %s %s rewrites %s and its indexes under ACCESS EXCLUSIVE: %s", quoteIdent(c.col), c.typ, f.rel, note)})
	}
	return rewrite, nil
}

// domainConstraints: Yes if typ is a domain (or a domain over one) with
// constraints, No if not, Unknown if there is no such type.
func (w *weigher) domainConstraints(ctx context.Context, typ string) (Tri, error) {
	if builtinType(typ) {
		return No, nil
	}
	found, n := false, 0
	err := w.try(ctx, func() error {
		return queryRow(ctx, w.q, `with recursive d(oid, typtype, base) as (
  select t.oid, t.typtype, t.typbasetype from pg_type t where t.oid = to_regtype($1)
  union all
  select t.oid, t.typtype, t.typbasetype from pg_type t join d on t.oid = d.base where d.typtype = 'd')
select count(*) > 0, (select count(*)::int from pg_constraint c where c.contypid in (select oid from d where typtype = 'd'))
from d`, []any{typ}, &found, &n)
	})
	switch {
	case err != nil || !found:
		return Unknown, nil
	case n > 0:
		return Yes, nil
	}
	return No, nil
}

// Type OIDs of the built-in types whose length or precision change
// PostgreSQL can do without a rewrite (their planner support functions
// turn the coercion into a no-op).
const (
	oidText        = 25
	oidBpchar      = 1042
	oidVarchar     = 1043
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidInterval    = 1186
	oidTimetz      = 1266
	oidBit         = 1560
	oidVarbit      = 1562
	oidNumeric     = 1700
)

// settleTypeChange: ALTER COLUMN ... TYPE rewrites unless the change is
// binary-coercible from the column's current type, decided the way
// PostgreSQL's ATColumnChangeRequiresRewrite does for the common cases:
// a cast of method 'b' in pg_cast (or the same type), and a new length,
// precision or scale that the type's support function accepts without
// looking at the data.
func (w *weigher) settleTypeChange(ctx context.Context, an *Analysis, l *Lock, f *relFacts, c check) (Tri, error) {
	var oldOID uint32
	var oldMod int32
	var oldName string
	err := queryRow(ctx, w.q, `select atttypid::int8, atttypmod, format_type(atttypid, atttypmod)
from pg_attribute where attrelid = $1::oid and attname = $2 and not attisdropped`, []any{f.oid, c.col}, &oldOID, &oldMod, &oldName)
	if err == pgx.ErrNoRows {
		l.Note = joinNote(l.Note, fmt.Sprintf("column %s not found on %s: not settled", quoteIdent(c.col), f.rel))
		return Unknown, nil
	}
	if err != nil {
		return Unknown, fmt.Errorf("looking up %s.%s: %w", f.rel, c.col, err)
	}
	newOID, newMod, ok, err := w.typeOf(ctx, c.typ)
	if err != nil {
		return Unknown, err
	}
	if !ok {
		l.Note = joinNote(l.Note, fmt.Sprintf("type %s is not found on the target: not settled", c.typ))
		return Unknown, nil
	}
	rewrite, why, err := w.coercion(ctx, oldOID, oldMod, newOID, newMod)
	if err != nil {
		return Unknown, err
	}
	note := fmt.Sprintf("%s.%s is %s now; %s", f.rel, quoteIdent(c.col), oldName, why)
	l.Note = joinNote(l.Note, note)
	if rewrite != Unknown {
		settleFinding(an, c, rewrite == Yes, note)
	}
	return rewrite, nil
}

// typeOf asks the server which type and type modifier a type name means,
// from the row description of "select null::TYPE" (only a type name from
// the statement; it cannot hold a second statement, and Weigh reads only).
func (w *weigher) typeOf(ctx context.Context, typ string) (oid uint32, mod int32, ok bool, err error) {
	if strings.ContainsAny(typ, ";") || strings.TrimSpace(typ) == "" {
		return 0, 0, false, nil
	}
	err = w.try(ctx, func() error {
		rows, err := w.q.Query(ctx, "select null::"+typ+" limit 0")
		if err != nil {
			return err
		}
		fds := rows.FieldDescriptions()
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(fds) == 1 {
			oid, mod, ok = fds[0].DataTypeOID, fds[0].TypeModifier, true
		}
		return nil
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return 0, 0, false, nil // no such type (yet): not settled
	}
	return oid, mod, ok, err
}

// coercion decides whether changing a column from (oldOID, oldMod) to
// (newOID, newMod) rewrites the table.
func (w *weigher) coercion(ctx context.Context, oldOID uint32, oldMod int32, newOID uint32, newMod int32) (Tri, string, error) {
	if oldOID == newOID {
		if oldMod == newMod {
			return No, "the same type: no rewrite", nil
		}
		return typmodChange(oldOID, oldMod, newMod)
	}
	var method, typtype string
	err := queryRow(ctx, w.q, `select coalesce((select castmethod::text from pg_cast where castsource = $1::oid and casttarget = $2::oid), ''),
  (select typtype::text from pg_type where oid = $2::oid)`, []any{oldOID, newOID}, &method, &typtype)
	if err != nil {
		return Unknown, "", fmt.Errorf("looking up the cast: %w", err)
	}
	switch {
	case typtype == "d":
		return Unknown, "the new type is a domain: whether its constraints force a rewrite is not settled (rehearse it)", nil
	case method == "b" && newMod < 0:
		return No, "the cast is binary-coercible (pg_cast): no rewrite", nil
	case method == "b":
		return Yes, "binary-coercible, but the new length or precision must be checked on every row: rewrite", nil
	case method == "f" && (oldOID == oidTimestamp && newOID == oidTimestamptz || oldOID == oidTimestamptz && newOID == oidTimestamp):
		return w.timestampZone(ctx)
	case method == "":
		return Unknown, "no cast between the types in pg_cast (the statement will likely fail)", nil
	}
	return Yes, "the cast converts every value (pg_cast method " + method + "): rewrite", nil
}

// typmodChange: a new length/precision of the same type.
func typmodChange(oid uint32, oldMod, newMod int32) (Tri, string, error) {
	switch oid {
	case oidVarchar, oidVarbit:
		if newMod < 0 || (oldMod >= 0 && newMod >= oldMod) {
			return No, "a longer (or unlimited) length: no rewrite", nil
		}
		return Yes, "a shorter length (or a limit on an unlimited one) checks every value: rewrite", nil
	case oidNumeric:
		if newMod < 0 {
			return No, "unconstrained numeric: no rewrite", nil
		}
		if oldMod < 0 {
			return Yes, "constraining an unconstrained numeric rounds every value: rewrite", nil
		}
		op, os := (oldMod-4)>>16, (oldMod-4)&0xffff
		np, ns := (newMod-4)>>16, (newMod-4)&0xffff
		if ns == os && np >= op {
			return No, "the same scale with no less precision: no rewrite", nil
		}
		return Yes, "a different scale or less precision rounds every value: rewrite", nil
	case oidTimestamp, oidTimestamptz, oidTime, oidTimetz:
		if newMod < 0 || newMod == 6 || (oldMod >= 0 && newMod >= oldMod) {
			return No, "no less fractional-second precision: no rewrite", nil
		}
		return Yes, "less fractional-second precision rounds every value: rewrite", nil
	case oidBpchar, oidBit:
		return Yes, "a fixed-length type pads or checks every value: rewrite", nil
	}
	return Unknown, "a type modifier change handrail cannot settle (rehearse it)", nil
}

// timestampZone: timestamp <-> timestamptz is a no-op only when the
// session's TimeZone is UTC (PostgreSQL 12+).
func (w *weigher) timestampZone(ctx context.Context) (Tri, string, error) {
	var tz string
	if err := queryRow(ctx, w.q, "select current_setting('TimeZone')", nil, &tz); err != nil {
		return Unknown, "", err
	}
	switch strings.ToUpper(tz) {
	case "UTC", "ETC/UTC", "GMT", "ETC/GMT", "UCT", "ETC/UCT", "UNIVERSAL", "ETC/UNIVERSAL", "ZULU", "ETC/ZULU", "GMT0", "ETC/GMT0", "GMT+0", "GMT-0", "GREENWICH":
		return No, fmt.Sprintf("timestamp and timestamptz are the same bits when TimeZone is UTC (it is %s on this connection; handrail's steps use the server default): no rewrite", tz), nil
	}
	return Yes, fmt.Sprintf("TimeZone is %s, not UTC: every value is converted (rewrite)", tz), nil
}
