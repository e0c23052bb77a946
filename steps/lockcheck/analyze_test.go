package lockcheck

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

func analyze(src string, tx bool) *Analysis {
	stmts := sqlscan.SplitStatements(src)
	for i := range stmts {
		stmts[i].File = "m.sql"
	}
	return Analyze(stmts, Options{Transactional: tx})
}

func rulesOf(an *Analysis) []string {
	var out []string
	for _, f := range an.Findings {
		out = append(out, f.Rule)
	}
	slices.Sort(out)
	return out
}

// The static rules, without a database: what lint reports.
func TestAnalyzeRules(t *testing.T) {
	tests := []struct {
		src  string
		tx   bool
		want []string
	}{
		{"create index on orders (x)", true, []string{RuleCreateIndexBlocking}},
		{"create unique index if not exists i on public.orders using btree (x) where x > 0", true, []string{RuleCreateIndexBlocking}},
		{"create index concurrently on orders (x)", false, nil},
		{"create table t (id int); create index on t (id); drop index t_id_idx", true, []string{RuleDropIndexBlocking}},
		{"create table t (id int); create index i on t (id); drop index i", true, nil},
		{"drop index if exists a, b", true, []string{RuleDropIndexBlocking, RuleDropIndexBlocking}},
		{"drop index concurrently if exists a", false, nil},
		{"alter table t add constraint c check (x > 0)", true, []string{RuleAddCheckValidates}},
		{"alter table t add check (x > 0) not valid", true, nil},
		{"alter table t add constraint f foreign key (a) references u (id)", true, []string{RuleAddForeignKeyValidates}},
		{"alter table t add constraint f foreign key (a) references u (id) not valid", true, nil},
		{"alter table t add constraint c check (x > 0) not valid; alter table t validate constraint c", true,
			[]string{RuleLockHeldUntilCommit, RuleValidateSameTx}},
		{"alter table t add constraint c check (x > 0) not valid; alter table t validate constraint c", false, nil},
		{"alter table t add constraint c check (x > 0) not valid, validate constraint c", false, []string{RuleValidateSameTx}},
		{"alter table t alter column a set not null", true, []string{RuleSetNotNullScans}},
		{"alter table t add constraint nn check (a is not null); alter table t alter column a set not null", false, []string{RuleAddCheckValidates}},
		{"alter table t alter column a type bigint", true, []string{RuleColumnTypeRewrite}},
		{"alter table t alter column a set data type text using a::text", true, []string{RuleColumnTypeRewrite}},
		{"alter table t alter column a type int using a + 1", true, []string{RuleColumnTypeRewrite}},
		{"alter table t add column a uuid default gen_random_uuid()", true, []string{RuleVolatileDefault}},
		{"alter table t add column a int default f()", true, []string{RuleVolatileDefault}},
		{"alter table t add column a timestamptz not null default now()", true, nil},
		{"alter table t add column a timestamptz default current_timestamp", true, nil},
		{"alter table t add column a numeric(10,2) default 0 check (a >= 0)", true, nil},
		{"alter table t add column a text default 'x'::text", true, nil},
		{"alter table t add column id bigint generated always as identity", true, []string{RuleVolatileDefault}},
		{"alter table t add column n serial", true, []string{RuleVolatileDefault}},
		{"alter table t add constraint u unique (a)", true, []string{RuleUniqueWithoutIndex}},
		{"alter table t add primary key (a)", true, []string{RuleUniqueWithoutIndex}},
		{"alter table t add constraint u unique using index u_idx", true, nil},
		{"alter table t add column a int; select 1", true, []string{RuleLockHeldUntilCommit}},
		{"alter table t add column a int; select 1", false, nil},
		{"select 1; alter table t add column a int", true, nil},
		{"set lock_timeout = 0", true, []string{RuleTimeoutOverride}},
		{"set local statement_timeout to '10min'", true, []string{RuleTimeoutOverride}},
		{"reset all", true, []string{RuleTimeoutOverride}},
		{"reset lock_timeout", true, []string{RuleTimeoutOverride}},
		{"select set_config('lock_timeout', '0', true)", true, []string{RuleTimeoutOverride}},
		{"set search_path = public; set application_name = 'x'", true, nil},
		{"drop table if exists a, b cascade", true, []string{RuleDropTable, RuleDropTable}},
		{"alter table t drop column if exists c", true, []string{RuleDropColumn}},
		{"truncate table a, only b restart identity", true, []string{RuleTruncate, RuleTruncate}},
		{"alter table t rename to u", true, []string{RuleRenameTable}},
		{"alter table t rename column a to b", true, []string{RuleRenameColumn}},
		{"alter table t rename a to b", true, []string{RuleRenameColumn}},
		{"alter index i rename to j", true, nil},
		{"do $$ begin alter table t add column x int; end $$", true, []string{RuleLocksUnknown}},
		{"call p()", true, []string{RuleLocksUnknown}},
		{"create extension pgcrypto", true, []string{RuleLocksUnknown}},
		{"frobnicate the table", true, []string{RuleLocksUnknown}},
		{"create table t (id int); alter table t add column a int default random(); drop table t", true, nil},
	}
	for _, tt := range tests {
		got := rulesOf(analyze(tt.src, tt.tx))
		want := slices.Clone(tt.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%q (tx %v): rules %v, want %v", tt.src, tt.tx, got, want)
		}
	}
}

// The predicted locks of the statement heads, by the documentation's
// table (the oracle test checks them against the server).
func TestAnalyzeLocks(t *testing.T) {
	tests := []struct {
		src  string
		want string // "rel MODE [rewrite] [scan]" for each lock, "; "-separated
	}{
		{"create index on s.t (x)", "s.t SHARE scan"},
		{"create index concurrently on t (x)", "t SHARE UPDATE EXCLUSIVE scan"},
		{`alter table only "My Schema"."My Table" add column "A" int`, `"My Schema"."My Table" ACCESS EXCLUSIVE`},
		{"alter table t add column a int, alter column b set statistics 10", "t ACCESS EXCLUSIVE"},
		{"alter table t alter column b set statistics 10, set (fillfactor = 70)", "t SHARE UPDATE EXCLUSIVE"},
		{"alter table t set (security_barrier = true)", "t ACCESS EXCLUSIVE"},
		{"alter table t add constraint f foreign key (a) references u (id)", "t SHARE ROW EXCLUSIVE scan; u SHARE ROW EXCLUSIVE scan?"},
		{"alter table t validate constraint c", "t SHARE UPDATE EXCLUSIVE scan"},
		{"alter table t add column a uuid default gen_random_uuid()", "t ACCESS EXCLUSIVE rewrite scan"},
		{"alter table t alter column a type bigint", "t ACCESS EXCLUSIVE rewrite? scan?"},
		{"alter table t alter column a set not null", "t ACCESS EXCLUSIVE scan?"},
		{"alter table p attach partition c for values in (1)", "p SHARE UPDATE EXCLUSIVE; c ACCESS EXCLUSIVE scan?"},
		{"alter table p detach partition c concurrently", "p SHARE UPDATE EXCLUSIVE; c ACCESS EXCLUSIVE"},
		{"alter table t disable trigger all", "t SHARE ROW EXCLUSIVE"},
		{"alter table t enable row level security", "t ACCESS EXCLUSIVE"},
		{"create trigger x after insert on t for each row execute function f()", "t SHARE ROW EXCLUSIVE"},
		{"create policy p on t using (exists (select 1 from u where u.id = t.id))", "t ACCESS EXCLUSIVE; u ACCESS SHARE"},
		{"drop policy p on t", "t ACCESS EXCLUSIVE"},
		{"comment on column s.t.c is 'x'", "s.t SHARE UPDATE EXCLUSIVE"},
		{"comment on table t is 'x'", "t SHARE UPDATE EXCLUSIVE"},
		{"lock table a, b in share row exclusive mode", "a SHARE ROW EXCLUSIVE; b SHARE ROW EXCLUSIVE"},
		{"lock t", "t ACCESS EXCLUSIVE"},
		{"vacuum (verbose) a, b", "a SHARE UPDATE EXCLUSIVE; b SHARE UPDATE EXCLUSIVE"},
		{"vacuum full t", "t ACCESS EXCLUSIVE rewrite scan"},
		{"analyze t", "t SHARE UPDATE EXCLUSIVE"},
		{"cluster t using i", "t ACCESS EXCLUSIVE rewrite scan"},
		{"refresh materialized view concurrently m", "m EXCLUSIVE scan"},
		{"truncate t", "t ACCESS EXCLUSIVE rewrite"},
		{"insert into t (a) select a from u join v on v.id = u.id", "t ROW EXCLUSIVE; u ACCESS SHARE; v ACCESS SHARE"},
		{"update t set a = u.a from u where u.id = t.id", "t ROW EXCLUSIVE; u ACCESS SHARE"},
		{"delete from only t using u where u.id = t.id", "t ROW EXCLUSIVE; u ACCESS SHARE"},
		{"merge into t using s on s.id = t.id when matched then delete", "t ROW EXCLUSIVE; s ACCESS SHARE"},
		{"select * from a, b x, (select * from c) y where a.id in (select id from d)", "a ACCESS SHARE; b ACCESS SHARE; c ACCESS SHARE; d ACCESS SHARE"},
		{"with w as (select * from a) select * from w join b using (id)", "a ACCESS SHARE; b ACCESS SHARE"},
		{"select extract(year from ts), substring(s from 2), a is distinct from b from t", "t ACCESS SHARE"},
		{"select * from t for update", "t ROW SHARE"},
		{"with w as (select id from a) update b set x = 1 from w where w.id = b.id", "a ACCESS SHARE; b ROW EXCLUSIVE"},
		{"with d as (delete from a where x returning *) insert into b select * from d", "a ROW EXCLUSIVE; b ROW EXCLUSIVE"},
		{"with w as (select 1) select * from t for no key update", "t ROW SHARE"},
		{"select * from t, pg_class, information_schema.tables", "t ACCESS SHARE"},
		{"create table t (id int references u (id))", "u SHARE ROW EXCLUSIVE"},
		{"create table t partition of p for values in (1)", "p ACCESS EXCLUSIVE"},
		{"create or replace view v as select * from t", "v ACCESS EXCLUSIVE; t ACCESS SHARE"},
		{"grant select on t to r", ""},
		{"create function f() returns int language plpgsql as $$ begin return 1; end $$", ""},
	}
	for _, tt := range tests {
		an := analyze(tt.src, true)
		var got []string
		for _, l := range an.Statements[len(an.Statements)-1].Locks {
			if l.OnTableOf {
				continue
			}
			s := l.Rel.String() + " " + l.Mode.String()
			for _, x := range []struct {
				t    Tri
				name string
			}{{l.Rewrite, "rewrite"}, {l.Scan, "scan"}} {
				switch x.t {
				case Yes:
					s += " " + x.name
				case Unknown:
					s += " " + x.name + "?"
				}
			}
			got = append(got, s)
		}
		if g := strings.Join(got, "; "); g != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.src, g, tt.want)
		}
	}
}

// A DO block is reported unknown: no lock is guessed from its body.
func TestAnalyzeDoBlockIsUnknown(t *testing.T) {
	an := analyze("do $$ begin alter table t add column x int; lock u; end $$", true)
	sl := an.Statements[0]
	if sl.Unknown == "" || len(sl.Locks) != 0 {
		t.Fatalf("DO block: unknown %q, locks %+v; want unknown and no lock", sl.Unknown, sl.Locks)
	}
}

func TestAnalyzeDropIndexLocksItsTable(t *testing.T) {
	an := analyze("drop index s.i", true)
	var onTable bool
	for _, l := range an.Statements[0].Locks {
		if l.OnTableOf && l.Rel == (Rel{Schema: "s", Name: "i"}) && l.Mode == AccessExclusive {
			onTable = true
		}
	}
	if !onTable {
		t.Fatalf("DROP INDEX should lock the index's table ACCESS EXCLUSIVE: %+v", an.Statements[0].Locks)
	}
}

func TestFindingsSayWhereWhyAndSafer(t *testing.T) {
	an := analyze("select 1;\n\ncreate index on orders (x);", true)
	if len(an.Findings) != 1 {
		t.Fatalf("findings: %+v", an.Findings)
	}
	f := an.Findings[0]
	if f.Where() != "m.sql:3" || !strings.Contains(f.Why, "SHARE on orders") || !strings.Contains(f.Safer, "CONCURRENTLY") {
		t.Fatalf("finding %+v", f)
	}
}

func TestLockHeldUntilCommitNamesTheLockAndTheRest(t *testing.T) {
	an := analyze("alter table a add column x int;\nupdate a set x = 1;\nalter table a add column y int;\nselect 2;", true)
	if len(an.Findings) != 1 {
		t.Fatalf("want one finding per relation: %+v", an.Findings)
	}
	f := an.Findings[0]
	if f.Rule != RuleLockHeldUntilCommit || f.Line != 1 || !strings.Contains(f.Why, "3 statements after it (to m.sql:4)") {
		t.Fatalf("finding %+v", f)
	}
}

func TestModes(t *testing.T) {
	// Table 13.2: ACCESS SHARE conflicts only with ACCESS EXCLUSIVE; SHARE
	// with ROW EXCLUSIVE; SHARE UPDATE EXCLUSIVE with itself.
	checks := []struct {
		a, b Mode
		want bool
	}{
		{AccessShare, AccessExclusive, true}, {AccessShare, Exclusive, false},
		{Share, RowExclusive, true}, {Share, Share, false}, {ShareUpdateExclusive, ShareUpdateExclusive, true},
		{RowExclusive, RowExclusive, false}, {ShareRowExclusive, ShareRowExclusive, true}, {RowShare, Exclusive, true},
	}
	for _, c := range checks {
		if c.a.Conflicts(c.b) != c.want || c.b.Conflicts(c.a) != c.want {
			t.Errorf("%s vs %s: conflicts = %v, want %v (both ways)", c.a, c.b, c.a.Conflicts(c.b), c.want)
		}
	}
	for m := AccessShare; m <= AccessExclusive; m++ {
		got, ok := ParsePgLocksMode(m.PgLocksName())
		if !ok || got != m {
			t.Errorf("%s: pg_locks name %q does not parse back", m, m.PgLocksName())
		}
		var back Mode
		b, _ := m.MarshalText()
		if err := back.UnmarshalText(b); err != nil || back != m {
			t.Errorf("%s: text round trip gives %s, %v", m, back, err)
		}
	}
	if !AccessExclusive.BlocksReads() || Share.BlocksReads() || !Share.BlocksWrites() || ShareUpdateExclusive.BlocksWrites() {
		t.Error("BlocksReads/BlocksWrites disagree with the conflict table")
	}
}

func TestRelQuoting(t *testing.T) {
	for rel, want := range map[Rel]string{
		{Name: "orders"}:                     "orders",
		{Schema: "public", Name: "orders"}:   "public.orders",
		{Schema: "Sales", Name: "Order"}:     `"Sales"."Order"`,
		{Name: "user"}:                       `"user"`,
		{Name: `a"b`}:                        `"a""b"`,
		{Name: "1x"}:                         `"1x"`,
		{Schema: "s", Name: "order items"}:   `s."order items"`,
		{Schema: "storage", Name: "objects"}: "storage.objects",
	} {
		if got := rel.String(); got != want {
			t.Errorf("%#v: %s, want %s", rel, got, want)
		}
	}
}

func TestLockHeldAfterDropIndexNamesItsTable(t *testing.T) {
	an := analyze("drop index i;\nselect 1;", true)
	f := an.Findings[len(an.Findings)-1]
	if f.Rule != RuleLockHeldUntilCommit || !strings.Contains(f.Why, "ACCESS EXCLUSIVE on the table of index i") {
		t.Fatalf("findings: %s", findingSummary(an))
	}
}

// sameLock and sameCheck compare every field: a field added to Lock or
// check must be added to them (then to the counts here).
func TestSameLockComparesEveryField(t *testing.T) {
	if n := reflect.TypeFor[Lock]().NumField(); n != 16 {
		t.Errorf("Lock has %d fields, sameLock compares 16: compare the new one too", n)
	}
	if n := reflect.TypeFor[check]().NumField(); n != 9 {
		t.Errorf("check has %d fields, sameCheck compares 9: compare the new one too", n)
	}
}

// Statements that take the same locks share one lock list; a different
// one gets its own, and the analysis reads the same as without sharing.
func TestAnalyzeSharesEqualLocks(t *testing.T) {
	an := Analyze(sqlscan.SplitStatements("insert into t (id) values (1); insert into t (id) values (2); insert into u (id) values (3)"), Options{Transactional: true})
	s := an.Statements
	if len(s) != 3 || len(s[0].Locks) != 1 || len(s[0].Maybe) != 1 {
		t.Fatalf("statements: %+v", s)
	}
	if &s[0].Locks[0] != &s[1].Locks[0] || &s[0].Maybe[0] != &s[1].Maybe[0] {
		t.Error("two inserts into t do not share their locks")
	}
	if &s[1].Locks[0] == &s[2].Locks[0] || s[2].Locks[0].Rel.Name != "u" {
		t.Errorf("the insert into u shares t's locks: %+v", s[2].Locks)
	}
	if cap(s[2].Locks) != len(s[2].Locks) || cap(s[2].Maybe) != len(s[2].Maybe) {
		t.Error("lists are not clipped: an append could write into a shared array")
	}
}
