package lockcheck

import (
	"context"
	"fmt"
	"strings"
)

// InvalidIndex is an index PostgreSQL marked INVALID: what a failed
// CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY leaves behind. It is
// still updated on every write, is never used by queries, and makes a
// retry under the same name fail ("already exists").
type InvalidIndex struct {
	Index Rel    `json:"index"`
	Table Rel    `json:"table"`
	Def   string `json:"def"` // pg_get_indexdef
	Bytes int64  `json:"bytes"`
}

// DropSQL is the statement that removes it without blocking writes (it
// runs outside a transaction block, like the build that failed).
func (ix InvalidIndex) DropSQL() string {
	return "DROP INDEX CONCURRENTLY IF EXISTS " + ix.Index.String()
}

// InvalidIndexes lists the INVALID indexes (pg_index.indisvalid = false)
// on the given tables, or on every table when none is given. Indexes of a
// REINDEX CONCURRENTLY in progress ("_ccnew"/"_ccold") are included: they
// are invalid too, and after a failure they are what needs dropping.
func InvalidIndexes(ctx context.Context, q Querier, tables ...Rel) ([]InvalidIndex, error) {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.String()
	}
	rows, err := q.Query(ctx, `select ni.nspname::text, ci.relname::text, nt.nspname::text, ct.relname::text,
  pg_get_indexdef(i.indexrelid), pg_relation_size(i.indexrelid)::int8
from pg_index i
join pg_class ci on ci.oid = i.indexrelid join pg_namespace ni on ni.oid = ci.relnamespace
join pg_class ct on ct.oid = i.indrelid join pg_namespace nt on nt.oid = ct.relnamespace
where not i.indisvalid
  and (cardinality($1::text[]) = 0 or i.indrelid = any(array(select to_regclass(x) from unnest($1::text[]) x)))
  and nt.nspname not in ('pg_catalog', 'pg_toast', 'information_schema')
order by 1, 2`, names)
	if err != nil {
		return nil, fmt.Errorf("listing invalid indexes: %w", err)
	}
	defer rows.Close()
	var out []InvalidIndex
	for rows.Next() {
		var ix InvalidIndex
		if err := rows.Scan(&ix.Index.Schema, &ix.Index.Name, &ix.Table.Schema, &ix.Table.Name, &ix.Def, &ix.Bytes); err != nil {
			return nil, err
		}
		out = append(out, ix)
	}
	return out, rows.Err()
}

// ConcurrentWaiters lists the transactions a CONCURRENTLY command on
// table will wait for, as PostgreSQL's documentation of CREATE INDEX
// CONCURRENTLY describes it: first every transaction holding a lock on
// the table that conflicts with what the build waits for (writers for
// CREATE INDEX and REINDEX CONCURRENTLY; any lock for DROP INDEX
// CONCURRENTLY), then every transaction of the database holding a
// snapshot older than the build (backend_xmin set), however unrelated to
// the table: an idle-in-transaction session in REPEATABLE READ stalls a
// CREATE INDEX CONCURRENTLY on any table. ignore lists handrail's own
// backends.
func ConcurrentWaiters(ctx context.Context, q Querier, command string, table Rel, ignore []int) ([]Session, error) {
	lockWait := Share // CREATE INDEX / REINDEX CONCURRENTLY wait for the lockers that conflict with SHARE
	snapshots := true
	if strings.HasPrefix(strings.ToUpper(command), "DROP INDEX") {
		lockWait, snapshots = AccessExclusive, false
	}
	ig := make([]int32, len(ignore))
	for i, p := range ignore {
		ig[i] = int32(p)
	}
	rows, err := q.Query(ctx, `select a.pid, coalesce(a.state, ''), coalesce(a.application_name, ''), coalesce(a.usename::text, ''),
  coalesce(a.query, ''), coalesce(extract(epoch from now() - a.xact_start), 0)::float8,
  coalesce(extract(epoch from now() - a.state_change), 0)::float8,
  coalesce((select string_agg(l.mode, ',') from pg_locks l
            where l.pid = a.pid and l.locktype = 'relation' and l.relation = to_regclass($1) and l.granted), ''),
  a.backend_xmin is not null
from pg_stat_activity a
where a.datname = current_database() and a.pid <> pg_backend_pid() and a.pid <> all($2::int4[])
  and a.backend_type = 'client backend'
order by a.xact_start nulls last, a.pid`, table.String(), ig)
	if err != nil {
		return nil, fmt.Errorf("listing the transactions %s on %s would wait for: %w", command, table, err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		var s Session
		var xact, state float64
		var modes string
		var snapshot bool
		if err := rows.Scan(&s.PID, &s.State, &s.ApplicationName, &s.User, &s.Query, &xact, &state, &modes, &snapshot); err != nil {
			return nil, err
		}
		s.XactAge, s.StateAge = secs(xact), secs(state)
		for _, m := range strings.Split(modes, ",") {
			if mode, ok := ParsePgLocksMode(m); ok && lockWait.Conflicts(mode) && mode > s.Mode {
				s.Mode, s.Rel, s.Granted = mode, table, true
			}
		}
		if s.Mode != NoLock || (snapshots && snapshot) {
			out = append(out, s)
		}
	}
	return out, rows.Err()
}
