package lockcheck

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// FuzzAnalyze: whatever the SQL, Analyze neither panics nor reports a
// finding, lock or allow comment that does not belong to a statement it
// was given, and its result encodes as JSON (the journal's format).
func FuzzAnalyze(f *testing.F) {
	for _, c := range oracleCases {
		f.Add(c.step, true)
		f.Add(c.setup, false)
	}
	for _, seed := range []string{
		"-- handrail:allow create-index-blocking small\ncreate index on t (x); -- handrail:allow drop-table x\ndrop table t;",
		"/* handrail:allow */ alter table",
		"alter table only \"a\".\"b\" * add column if not exists \"c\" int default f(g(1), 'x'::text) check (c > 0) references u (id) on delete cascade,",
		"alter table t alter column c type numeric(10,2) using (c::numeric), drop constraint if exists x cascade, validate constraint",
		"select * from a join (b cross join lateral c(1) as d (x)) on true, e for no key update of a nowait",
		"with recursive w (n) as (select 1 union all select n + 1 from w) delete from t using w where t.id = w.n returning *",
		"create table t partition of p for values from (minvalue) to (maxvalue) partition by list (x)",
		"comment on column a.b.c.d is 'x'; comment on constraint c on domain d is null",
		"lock table only a, b in row exclusive mode nowait",
		"explain (analyze, buffers) update t set x = 1",
		"reindex (verbose) index concurrently i; refresh materialized view concurrently m with no data",
		"set local lock_timeout to default; reset all; select set_config('lock_timeout', '0', true)",
		"do $$ begin execute 'drop table x'; end $$; call p(1)",
		"alter table t rename column a to b; alter table t rename to u; alter index i rename to j",
		"truncate only a, b * restart identity cascade",
		"\x00\xff(((;))) alter alter table table ; drop drop index index",
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	for _, name := range []string{"connect-rls-hardening/migrations/001_rls_hardening.sql", "tenant-rls-fix/migrations/001_tenant_rls.sql"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "runbooks", name)); err == nil {
			f.Add(string(b), true)
		}
	}
	f.Fuzz(func(t *testing.T, src string, tx bool) {
		stmts := sqlscan.SplitStatements(src)
		an := Analyze(stmts, Options{Transactional: tx})
		if len(an.Statements) != len(stmts) {
			t.Fatalf("%d statements analysed, %d given", len(an.Statements), len(stmts))
		}
		for i, sl := range an.Statements {
			if sl.File != stmts[i].File || sl.Line != stmts[i].Line || sl.Command == "" {
				t.Fatalf("statement %d: %+v, given %+v", i, sl, stmts[i])
			}
			for _, l := range sl.Locks {
				if l.Rel.Name == "" || l.Mode == NoLock || l.Mode > AccessExclusive {
					t.Fatalf("statement %d: lock %+v", i, l)
				}
			}
		}
		for _, fd := range an.Findings {
			if fd.Statement < 0 || fd.Statement >= len(stmts) || fd.Line != stmts[fd.Statement].Line || fd.Why == "" || fd.Safer == "" {
				t.Fatalf("finding %+v", fd)
			}
			if _, ok := RuleByID(fd.Rule); !ok {
				t.Fatalf("finding of unknown rule %q", fd.Rule)
			}
			if fd.Allowed != nil && (fd.Allowed.Rule != fd.Rule || fd.Allowed.Reason == "") {
				t.Fatalf("finding %s accepted by %+v", fd.Rule, fd.Allowed)
			}
		}
		for _, a := range an.Allows {
			if _, ok := RuleByID(a.Rule); !ok || a.Reason == "" || a.Line < 1 {
				t.Fatalf("allow %+v", a)
			}
		}
		if _, err := json.Marshal(an); err != nil {
			t.Fatalf("the analysis does not encode: %v", err)
		}
	})
}
