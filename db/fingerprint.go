package db

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// SystemIdentifier returns the cluster's pg_control_system() identifier:
// one of the identity probes (a read of the control file, nothing else).
func (t *Target) SystemIdentifier(ctx context.Context) (string, error) {
	t.workMu.Lock()
	defer t.workMu.Unlock()
	if t.work == nil || t.work.IsClosed() {
		return "", fmt.Errorf("not connected to the database")
	}
	var src IdentitySource
	if t.probeSystemIdentifier(ctx, &src) != probeDone {
		return "", fmt.Errorf("system identifier: %s", src.Detail)
	}
	return src.Found, nil
}

// ObjectPrint is the schema fingerprint of one relation a runbook touches.
type ObjectPrint struct {
	Name string `json:"name"` // as the runbook writes it
	// Hash is a SHA-256 over the relation's definition in the catalogs
	// (kind, row security, columns with types, defaults and not-null,
	// constraints, indexes, policies, triggers); "absent" when no relation
	// of that name exists.
	Hash string `json:"hash"`
}

// schemaDefinitionSQL describes each named relation from the catalogs,
// one row per name: everything a migration's ALTER would change.
const schemaDefinitionSQL = `select n.name::text as name, coalesce((
  select concat_ws(E'\n',
    'kind ' || c.relkind::text,
    'rls ' || c.relrowsecurity::text || ' ' || c.relforcerowsecurity::text,
    (select string_agg(a.attname::text || ' ' || format_type(a.atttypid, a.atttypmod)
        || case when a.attnotnull then ' not null' else '' end
        || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''), E'\n' order by a.attnum)
       from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped),
    (select string_agg(co.conname::text || ' ' || pg_get_constraintdef(co.oid), E'\n' order by co.conname)
       from pg_constraint co where co.conrelid = c.oid),
    (select string_agg(pg_get_indexdef(i.indexrelid), E'\n' order by pg_get_indexdef(i.indexrelid))
       from pg_index i where i.indrelid = c.oid),
    (select string_agg(p.polname::text || ' ' || p.polcmd::text || ' ' || p.polpermissive::text
        || ' ' || array_to_string(p.polroles::regrole[]::text[], ',')
        || ' ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '')
        || ' ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''), E'\n' order by p.polname)
       from pg_policy p where p.polrelid = c.oid),
    (select string_agg(pg_get_triggerdef(tg.oid), E'\n' order by tg.tgname)
       from pg_trigger tg where tg.tgrelid = c.oid and not tg.tgisinternal))
  from pg_class c where c.oid = to_regclass(n.name)), 'absent') as definition
from unnest(%s::text[]) with ordinality as n(name, i)
order by n.i`

// SchemaFingerprint reads the definition of each named relation from the
// catalogs (read-only, in a transaction that is rolled back) and returns
// one ObjectPrint per name, in order. It changes when anything a
// migration would alter changes: a column, a default, a constraint, an
// index, a policy, row security, a trigger.
func (t *Target) SchemaFingerprint(ctx context.Context, names []string) ([]ObjectPrint, error) {
	if len(names) == 0 {
		return nil, nil
	}
	lits := make([]string, len(names))
	for i, n := range names {
		lits[i] = "'" + strings.ReplaceAll(n, "'", "''") + "'"
	}
	sql := fmt.Sprintf(schemaDefinitionSQL, "array["+strings.Join(lits, ",")+"]")
	res, err := t.Query(ctx, sql, QueryOptions{KeepRows: len(names) + 1})
	if err != nil {
		return nil, fmt.Errorf("reading the schema of %s: %w", strings.Join(names, ", "), err)
	}
	out := make([]ObjectPrint, 0, len(res.Rows))
	for _, r := range res.Rows {
		name, _ := r[0].(string)
		def, _ := r[1].(string)
		h := def
		if def != "absent" {
			sum := sha256.Sum256([]byte(def))
			h = hex.EncodeToString(sum[:])
		}
		out = append(out, ObjectPrint{Name: name, Hash: h})
	}
	return out, nil
}
