package lockcheck

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// relFacts is what the catalog says about one relation.
type relFacts struct {
	rel      Rel // schema-qualified as the catalog names it
	asked    Rel
	exists   bool
	oid      int64
	kind     byte    // pg_class.relkind
	rows     float64 // reltuples; summed over partitions; -1 when never analysed
	bytes    int64   // pg_total_relation_size, summed over partitions
	children []Rel   // partitions and inheritance children, all levels

	holders     []Session
	holdersDone bool
}

func (f *relFacts) info() RelInfo {
	return RelInfo{Rel: f.rel, Exists: f.exists, Kind: relkindName(f.kind), Rows: f.rows, Bytes: f.bytes, Children: f.children}
}

func relkindName(k byte) string {
	switch k {
	case 'r':
		return "table"
	case 'p':
		return "partitioned table"
	case 'i':
		return "index"
	case 'I':
		return "partitioned index"
	case 'v':
		return "view"
	case 'm':
		return "materialized view"
	case 'S':
		return "sequence"
	case 'f':
		return "foreign table"
	case 't':
		return "TOAST table"
	}
	return ""
}

// rel looks r up (cached): to_regclass resolves it the way the server
// will, through the connection's search_path.
func (w *weigher) rel(ctx context.Context, r Rel) (*relFacts, error) {
	if f, ok := w.rels[r]; ok {
		return f, nil
	}
	f := &relFacts{rel: r, asked: r}
	w.rels[r] = f
	var kind string
	err := queryRow(ctx, w.q, `select c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text,
  c.reltuples::float8, pg_total_relation_size(c.oid)::int8
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.oid = to_regclass($1)`, []any{r.String()}, &f.oid, &f.rel.Schema, &f.rel.Name, &kind, &f.rows, &f.bytes)
	switch {
	case err == pgx.ErrNoRows:
		f.rel = r
		return f, nil
	case err != nil:
		return nil, fmt.Errorf("looking up %s: %w", r, err)
	}
	f.exists = true
	if kind != "" {
		f.kind = kind[0]
	}
	w.rels[f.rel] = f
	if err := w.loadChildren(ctx, f); err != nil {
		return nil, err
	}
	return f, nil
}

// loadChildren lists every partition and inheritance child, and for a
// partitioned table sums their size.
func (w *weigher) loadChildren(ctx context.Context, f *relFacts) error {
	rows, err := w.q.Query(ctx, `with recursive t(oid) as (
  select inhrelid from pg_inherits where inhparent = $1::oid
  union all
  select i.inhrelid from pg_inherits i join t on i.inhparent = t.oid)
select n.nspname::text, c.relname::text, c.reltuples::float8, pg_total_relation_size(c.oid)::int8, c.relkind::text
from t join pg_class c on c.oid = t.oid join pg_namespace n on n.oid = c.relnamespace
order by n.nspname, c.relname`, f.oid)
	if err != nil {
		return fmt.Errorf("listing the partitions of %s: %w", f.rel, err)
	}
	defer rows.Close()
	unknownRows := f.kind == 'p' && f.rows < 0
	if f.kind == 'p' {
		f.rows = 0
	}
	for rows.Next() {
		var c Rel
		var n float64
		var b int64
		var k string
		if err := rows.Scan(&c.Schema, &c.Name, &n, &b, &k); err != nil {
			return err
		}
		f.children = append(f.children, c)
		if f.kind == 'p' && k != "p" {
			if n < 0 {
				unknownRows = true
			} else {
				f.rows += n
			}
			f.bytes += b
		}
	}
	if unknownRows && f.rows == 0 {
		f.rows = -1
	}
	return rows.Err()
}

// tableOfIndex returns the table an index belongs to (zero if there is no
// such index).
func (w *weigher) tableOfIndex(ctx context.Context, idx Rel) (Rel, error) {
	var t Rel
	err := queryRow(ctx, w.q, `select n.nspname::text, c.relname::text
from pg_index i join pg_class c on c.oid = i.indrelid join pg_namespace n on n.oid = c.relnamespace
where i.indexrelid = to_regclass($1)`, []any{idx.String()}, &t.Schema, &t.Name)
	if err == pgx.ErrNoRows {
		return Rel{}, nil
	}
	if err != nil {
		return Rel{}, fmt.Errorf("looking up the table of index %s: %w", idx, err)
	}
	return t, nil
}

// fk is one foreign key.
type fk struct {
	name              string
	table, referenced Rel
	columns           []string // of table
	refColumns        []string // of referenced
	onDelete          string   // pg_constraint.confdeltype
	onUpdate          string
}

// foreignKeys lists the foreign keys of a table (outgoing) or to it
// (incoming).
func (w *weigher) foreignKeys(ctx context.Context, f *relFacts, incoming bool) ([]fk, error) {
	where := "c.conrelid = $1::oid"
	if incoming {
		where = "c.confrelid = $1::oid"
	}
	rows, err := w.q.Query(ctx, `select c.conname::text, tn.nspname::text, t.relname::text, rn.nspname::text, r.relname::text,
  coalesce((select array_agg(a.attname::text order by a.attnum) from pg_attribute a
            where a.attrelid = c.conrelid and a.attnum = any(c.conkey)), '{}'),
  coalesce((select array_agg(a.attname::text order by a.attnum) from pg_attribute a
            where a.attrelid = c.confrelid and a.attnum = any(c.confkey)), '{}'),
  c.confdeltype::text, c.confupdtype::text
from pg_constraint c
join pg_class t on t.oid = c.conrelid join pg_namespace tn on tn.oid = t.relnamespace
join pg_class r on r.oid = c.confrelid join pg_namespace rn on rn.oid = r.relnamespace
where c.contype = 'f' and `+where+` and c.conparentid = 0
order by c.conname`, f.oid)
	if err != nil {
		return nil, fmt.Errorf("listing the foreign keys of %s: %w", f.rel, err)
	}
	defer rows.Close()
	var out []fk
	for rows.Next() {
		var k fk
		if err := rows.Scan(&k.name, &k.table.Schema, &k.table.Name, &k.referenced.Schema, &k.referenced.Name,
			&k.columns, &k.refColumns, &k.onDelete, &k.onUpdate); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// queryRow runs a one-row query; pgx.ErrNoRows when it returns none.
func queryRow(ctx context.Context, q Querier, sql string, args []any, dest ...any) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}
