package sqlscan

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitStatements(t *testing.T) {
	type st struct {
		sql  string
		line int
	}
	tests := []struct {
		name string
		src  string
		want []st
	}{
		{"empty", "", nil},
		{"whitespace and comments only", "  \n-- nothing here;\n/* nor ; here */\n;;\n", nil},
		{"simple", "select 1; select 2;", []st{{"select 1", 1}, {"select 2", 1}}},
		{"no trailing semicolon", "select 1;\n\n  select 2\n", []st{{"select 1", 1}, {"select 2", 3}}},
		{"psql leading whitespace", "\n\n\t  alter table t enable row level security;\n", []st{{"alter table t enable row level security", 3}}},
		{"line comment with semicolon", "select 1 -- not; the end\n, 2;", []st{{"select 1 -- not; the end\n, 2", 1}}},
		{"leading comment kept", "-- disable RLS\nalter table t disable row level security;", []st{{"-- disable RLS\nalter table t disable row level security", 2}}},
		{"nested block comment", "select /* a /* b; */ c; */ 1; select 2;", []st{{"select /* a /* b; */ c; */ 1", 1}, {"select 2", 1}}},
		{"string with semicolon and quote escape", "select 'it''s; fine'; select 2;", []st{{"select 'it''s; fine'", 1}, {"select 2", 1}}},
		{"E string with backslash quote", `select E'\'; still string'; select 2;`, []st{{`select E'\'; still string'`, 1}, {"select 2", 1}}},
		{"e string lowercase with backslash backslash", `select e'a\\'; select 2;`, []st{{`select e'a\\'`, 1}, {"select 2", 1}}},
		{"plain string backslash is literal", `select 'a\'; select 2;`, []st{{`select 'a\'`, 1}, {"select 2", 1}}},
		{"identifier ending in e before string", `select name'x;'; select 2;`, []st{{`select name'x;'`, 1}, {"select 2", 1}}},
		{"double quoted identifier", `select 1 as "a;""b"; select 2;`, []st{{`select 1 as "a;""b"`, 1}, {"select 2", 1}}},
		{"dollar quote", "select $$a;b$$; select 2;", []st{{"select $$a;b$$", 1}, {"select 2", 1}}},
		{"nested dollar tags", "do $outer$ begin perform $inner$ x; $outer2$ $inner$; end $outer$; select 2;",
			[]st{{"do $outer$ begin perform $inner$ x; $outer2$ $inner$; end $outer$", 1}, {"select 2", 1}}},
		{"dollar in identifier is not a quote", "select a$b$ from t; select 2;", []st{{"select a$b$ from t", 1}, {"select 2", 1}}},
		{"positional parameter", "select $1; select 2;", []st{{"select $1", 1}, {"select 2", 1}}},
		{"function body with semicolons", `create or replace function f() returns trigger
language plpgsql as $fn$
begin
  new.updated_at := now();
  return new;
end;
$fn$;
create trigger t before update on x for each row execute function f();`,
			[]st{{"create or replace function f() returns trigger\nlanguage plpgsql as $fn$\nbegin\n  new.updated_at := now();\n  return new;\nend;\n$fn$", 1},
				{"create trigger t before update on x for each row execute function f()", 8}}},
		{"sql-standard function body BEGIN ATOMIC", `create function g() returns int language sql
begin atomic
  select 1;
  select case when true then 2 end;
end;
select 3;`,
			[]st{{"create function g() returns int language sql\nbegin atomic\n  select 1;\n  select case when true then 2 end;\nend", 1}, {"select 3", 6}}},
		{"transaction keywords outside functions split", "begin; select 1; commit;", []st{{"begin", 1}, {"select 1", 1}, {"commit", 1}}},
		{"parens hold semicolons (rules)", "create rule r as on insert to t do also (insert into a values (1); insert into b values (2)); select 1;",
			[]st{{"create rule r as on insert to t do also (insert into a values (1); insert into b values (2))", 1}, {"select 1", 1}}},
		{"comment only statement dropped", "select 1;\n-- trailing\n", []st{{"select 1", 1}}},
		{"psql meta command", "\\set ON_ERROR_STOP on\nselect 1;", []st{{`\set ON_ERROR_STOP on`, 1}, {"select 1", 2}}},
		{"unterminated string runs to end", "select 'oops; select 2;", []st{{"select 'oops; select 2;", 1}}},
		{"crlf", "select 1;\r\nselect 2;\r\n", []st{{"select 1", 1}, {"select 2", 2}}},
		{"numbers", "select 1.5e-3, .5, 0x1F; select 2;", []st{{"select 1.5e-3, .5, 0x1F", 1}, {"select 2", 1}}},
		{"U& strings", `select U&'d\0061t;'; select U&"a;b"; select 2;`, []st{{`select U&'d\0061t;'`, 1}, {`select U&"a;b"`, 1}, {"select 2", 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SplitStatements(tt.src)
			var gotS []st
			for _, s := range got {
				gotS = append(gotS, st{s.SQL, s.Line})
				if tt.src[s.Offset:s.Offset+len(s.SQL)] != s.SQL {
					t.Errorf("Offset %d does not point at %q", s.Offset, s.SQL)
				}
			}
			if !reflect.DeepEqual(gotS, tt.want) {
				t.Errorf("SplitStatements(%q)\n got %+v\nwant %+v", tt.src, gotS, tt.want)
			}
		})
	}
}

func TestSplitSQLIssues(t *testing.T) {
	for src, want := range map[string]string{
		"select 1;\nselect 'x;":          "unterminated quoted string",
		"select 1;\n/* open":             "unterminated /* comment",
		"select 1;\ndo $body$ begin end": "unterminated dollar-quoted string (no closing $body$)",
		"select 1;\nselect \"x":          "unterminated quoted identifier",
	} {
		_, issue := Split(src)
		if issue == nil || issue.What != want || issue.Line != 2 {
			t.Errorf("Split(%q) issue = %+v, want %q on line 2", src, issue, want)
		}
	}
	if _, issue := Split("select $$a$$; select '';"); issue != nil {
		t.Errorf("unexpected issue %+v", issue)
	}
}

func TestFirstWords(t *testing.T) {
	tests := []struct {
		stmt string
		n    int
		want []string
	}{
		{"create index concurrently i on t (x)", 3, []string{"CREATE", "INDEX", "CONCURRENTLY"}},
		{"-- note\n/* more */ Vacuum analyze t", 2, []string{"VACUUM", "ANALYZE"}},
		{"select 'a', b", 5, []string{"SELECT"}},
		{`drop table "x"`, 5, []string{"DROP", "TABLE"}},
		{"", 3, nil},
		{"select 1", 0, nil},
	}
	for _, tt := range tests {
		if got := FirstWords(tt.stmt, tt.n); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("FirstWords(%q, %d) = %q, want %q", tt.stmt, tt.n, got, tt.want)
		}
	}
}

func TestNoTransactionReason(t *testing.T) {
	refused := map[string]string{
		"VACUUM":                                             "VACUUM",
		"vacuum analyze public.rate_limits":                  "VACUUM",
		"/* first */ VACUUM (VERBOSE) t":                     "VACUUM",
		"create index concurrently idx on t (x)":             "CREATE INDEX CONCURRENTLY",
		"CREATE UNIQUE INDEX CONCURRENTLY i ON t(x)":         "CREATE INDEX CONCURRENTLY",
		"create index concurrently on t (x)":                 "CREATE INDEX CONCURRENTLY",
		"drop index concurrently if exists i":                "DROP INDEX CONCURRENTLY",
		"reindex table concurrently t":                       "REINDEX CONCURRENTLY",
		"reindex (verbose) index concurrently i":             "REINDEX CONCURRENTLY",
		"reindex schema public":                              "REINDEX SCHEMA",
		"reindex database app":                               "REINDEX DATABASE",
		"REINDEX SYSTEM":                                     "REINDEX SYSTEM",
		"create database app2":                               "CREATE DATABASE",
		"drop database if exists app2":                       "DROP DATABASE",
		"alter database app set tablespace fast":             "ALTER DATABASE ... SET TABLESPACE",
		"alter system set work_mem = '64MB'":                 "ALTER SYSTEM",
		"create tablespace fast location '/ssd'":             "CREATE TABLESPACE",
		"drop tablespace fast":                               "DROP TABLESPACE",
		"create subscription s connection 'x' publication p": "CREATE SUBSCRIPTION",
		"drop subscription s":                                "DROP SUBSCRIPTION",
		"discard all":                                        "DISCARD ALL",
		"cluster":                                            "CLUSTER without a table name",
		"cluster verbose":                                    "CLUSTER without a table name",
		"commit prepared 'tx1'":                              "COMMIT PREPARED",
		"rollback prepared 'tx1'":                            "ROLLBACK PREPARED",
		"alter table p detach partition p1 concurrently":     "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY",
		"select 1; vacuum t":                                 "VACUUM",
	}
	for stmt, want := range refused {
		got := NoTransactionReason(stmt)
		if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "cannot run inside a transaction block") {
			t.Errorf("NoTransactionReason(%q) = %q, want %q...", stmt, got, want)
		}
		if st := SplitStatements(stmt); len(st) == 1 {
			if one, _ := StatementTransactionFaults(st[0].SQL); one != got {
				t.Errorf("StatementTransactionFaults(%q) = %q, want %q", st[0].SQL, one, got)
			}
		}
	}
	allowed := []string{
		"-- VACUUM later\nselect 1",
		"/* vacuum; create index concurrently */ select 1",
		"select 'vacuum'",
		"select $$VACUUM$$",
		`select 1 as "vacuum"`,
		"create index concurrently_idx on t (x)",
		"create index idx_concurrently on t (x)",
		`create index "concurrently" on t (x)`,
		"drop index concurrently",    // an index named concurrently
		"reindex table concurrently", // a table named concurrently
		"reindex table t",
		"reindex index i",
		"analyze t",
		"alter database app set search_path = public",
		"alter table t add column vacuum int",
		"cluster t using t_pkey",
		"cluster verbose t",
		"create subscription s connection 'x' publication p with (create_slot = false)",
		"alter subscription s refresh publication",
		"discard plans",
		"commit",
		"alter type mood add value 'meh'",
		"refresh materialized view concurrently mv",
		"alter table p detach partition p1",
		"",
	}
	for _, stmt := range allowed {
		if got := NoTransactionReason(stmt); got != "" {
			t.Errorf("NoTransactionReason(%q) = %q, want allowed", stmt, got)
		}
		if one, _ := StatementTransactionFaults(stmt); one != "" {
			t.Errorf("StatementTransactionFaults(%q) = %q, want allowed", stmt, one)
		}
	}
}

func TestTransactionControl(t *testing.T) {
	for stmt, want := range map[string]string{
		"begin":                              "BEGIN",
		"BEGIN ISOLATION LEVEL SERIALIZABLE": "BEGIN",
		"start transaction":                  "START TRANSACTION",
		"commit":                             "COMMIT",
		"end":                                "END",
		"rollback":                           "ROLLBACK",
		"rollback work":                      "ROLLBACK",
		"abort":                              "ABORT",
		"prepare transaction 'x'":            "PREPARE TRANSACTION",
		"rollback to savepoint a":            "",
		"rollback to a":                      "",
		"savepoint a":                        "",
		"release savepoint a":                "",
		"commit prepared 'x'":                "",
		"select 'begin'":                     "",
		"do $$ begin null; end $$":           "",
	} {
		if got := TransactionControl(stmt); got != want {
			t.Errorf("TransactionControl(%q) = %q, want %q", stmt, got, want)
		}
		if _, got := StatementTransactionFaults("/* c */ " + stmt); got != want {
			t.Errorf("StatementTransactionFaults(%q) control %q, want %q", stmt, got, want)
		}
	}
}

func TestIsReadOnly(t *testing.T) {
	ro := []string{
		"select 1",
		"SELECT tablename, rowsecurity FROM pg_tables WHERE schemaname = 'public'",
		"-- comment\nselect count(*) from t",
		"with x as (select 1) select * from x",
		"values (1), (2)",
		"table pg_class",
		"show lock_timeout",
		"explain select 1",
		"explain insert into t values (1)", // not executed without ANALYZE
		"explain analyze select 1",
		"explain (analyze, buffers) select 1",
		"explain (analyze false) delete from t",
		"(select 1) union (select 2)",
		"select 'insert into t' as s",
		`select "update" from t`,
		"select * from updates",
		"select 1; select 2",
	}
	for _, s := range ro {
		if !IsReadOnly(s) {
			t.Errorf("IsReadOnly(%q) = false, want true", s)
		}
		if st := SplitStatements(s); len(st) == 1 && !ReadOnlyStatement(st[0].SQL) {
			t.Errorf("ReadOnlyStatement(%q) = false, want true", st[0].SQL)
		}
	}
	rw := []string{
		"",
		"-- only a comment",
		"insert into t values (1)",
		"update t set x = 1",
		"delete from t",
		"with d as (delete from t returning *) select * from d",
		"with u as (update t set x = 1 returning *) select 1",
		"select * into new_t from t",
		"select * from t for update",
		"select * from t for share",
		"select * from t for no key update",
		"select nextval('s')",
		"select pg_terminate_backend(123)",
		"select pg_catalog.setval('s', 1)",
		"explain analyze delete from t",
		"explain (analyze) update t set x = 1",
		"vacuum t",
		"create table t (x int)",
		"set role x",
		"select 1; delete from t",
		"merge into t using s on true when matched then delete",
	}
	for _, s := range rw {
		if IsReadOnly(s) {
			t.Errorf("IsReadOnly(%q) = true, want false", s)
		}
		if st := SplitStatements(s); len(st) == 1 && ReadOnlyStatement(st[0].SQL) {
			t.Errorf("ReadOnlyStatement(%q) = true, want false", st[0].SQL)
		}
	}
}

// splitSeeds are the fuzz targets' seed scripts.
var splitSeeds = []string{
	"",
	"select 1; select 2;",
	"select 'it''s;' ; select E'\\';' ; select \"a;\"\"\";",
	"do $a$ begin perform $b$;$b$; end $a$; select $1;",
	"/* /* nested ; */ */ select 1 -- x;\n;",
	"create function f() returns int language sql begin atomic select 1; end; select 2;",
	"\\set x 1\nselect :x;",
	"select 'unterminated",
	"select $$unterminated",
	"/* unterminated",
	"create rule r as on insert to t do (insert into a values (1); delete from b);",
	"select U&'\\0041;' , u&\"x;\" , b'01', x'ff', n'x';",
	"\xff\xfe;\x00;",
	"select 1;\r\n\r\nselect 2;\r\n",
	"vacuum; create index concurrently i on t(x); drop index concurrently i;",
	"begin; commit; rollback to s; rollback; start transaction; end; vacuum (analyze) t; begin",
}

func FuzzSplitStatements(f *testing.F) {
	for _, s := range splitSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		stmts := SplitStatements(src)
		lines := strings.Count(src, "\n") + 1
		last := -1
		for _, s := range stmts {
			if s.Offset < 0 || s.Offset+len(s.SQL) > len(src) || src[s.Offset:s.Offset+len(s.SQL)] != s.SQL {
				t.Fatalf("statement %q at %d is not source text", s.SQL, s.Offset)
			}
			if s.Offset <= last {
				t.Fatalf("statements out of order or overlapping at %d", s.Offset)
			}
			last = s.Offset + len(s.SQL) - 1
			if s.Line < 1 || s.Line > lines {
				t.Fatalf("line %d out of 1..%d", s.Line, lines)
			}
			// Line is that of the first Token that is not a comment: the
			// statement's first line unless it starts with a comment, and
			// never past its last line.
			first := strings.Count(src[:s.Offset], "\n") + 1
			lastLine := first + strings.Count(s.SQL, "\n")
			startsWithComment := strings.HasPrefix(s.SQL, "--") || strings.HasPrefix(s.SQL, "/*")
			if s.Line < first || s.Line > lastLine || (!startsWithComment && s.Line != first) {
				t.Fatalf("line %d, want %d (or up to %d after a leading comment)", s.Line, first, lastLine)
			}
			if strings.Trim(s.SQL, " \t\n\r\f\v") != s.SQL || s.SQL == "" {
				t.Fatalf("statement %q is not trimmed", s.SQL)
			}
			// The classifiers must not panic on anything the splitter returns.
			// A statement the splitter returns is classified alike with or
			// without splitting it again.
			if ReadOnlyStatement(s.SQL) != IsReadOnly(s.SQL) {
				t.Fatalf("ReadOnlyStatement(%q) = %v, IsReadOnly %v", s.SQL, ReadOnlyStatement(s.SQL), IsReadOnly(s.SQL))
			}
			// A statement the splitter returns has the same faults with or
			// without splitting it again.
			if noTx, tc := StatementTransactionFaults(s.SQL); noTx != NoTransactionReason(s.SQL) || tc != TransactionControl(s.SQL) {
				t.Fatalf("StatementTransactionFaults(%q) = %q, %q; want %q, %q", s.SQL, noTx, tc, NoTransactionReason(s.SQL), TransactionControl(s.SQL))
			}
			_ = FirstWords(s.SQL, 4)
		}
		// Splitting a statement again yields the same statement (it has no top-level ';').
		for _, s := range stmts {
			if strings.HasPrefix(s.SQL, `\`) {
				continue
			}
			again := SplitStatements(s.SQL)
			if len(again) != 1 || again[0].SQL != s.SQL {
				t.Fatalf("re-splitting %q gave %+v", s.SQL, again)
			}
		}
	})
}

// FuzzEach: Split, Statements and Each give the statements and the issue
// that the splitter gave when it collected them with a table of the
// source's lines (splitReference), and Statements stopped after k
// statements gives the first k.
func FuzzEach(f *testing.F) {
	for i, s := range splitSeeds {
		f.Add(s, uint8(i%3))
	}
	f.Fuzz(func(t *testing.T, src string, k uint8) {
		want, wantIssue := splitReference(src)
		got, issue := Split(src)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(issue, wantIssue) {
			t.Fatalf("Split(%q) = %+v, %+v; want %+v, %+v", src, got, issue, want, wantIssue)
		}
		var each []Statement
		if issue := Each(src, func(s Statement) bool { each = append(each, s); return true }); !reflect.DeepEqual(issue, wantIssue) {
			t.Fatalf("Each(%q) issue %+v, want %+v", src, issue, wantIssue)
		}
		if !reflect.DeepEqual(each, want) {
			t.Fatalf("Each(%q) = %+v, want %+v", src, each, want)
		}
		var first []Statement
		for s := range Statements(src) {
			if len(first) == int(k) {
				break
			}
			first = append(first, s)
		}
		if n := min(int(k), len(want)); !reflect.DeepEqual(first, want[:n:n]) && !(n == 0 && first == nil) {
			t.Fatalf("the first %d of Statements(%q) = %+v, want %+v", k, src, first, want[:n])
		}
	})
}

// splitReference is Split as it was before Each: every line found
// through a table of the source's line starts.
func splitReference(src string) ([]Statement, *Issue) {
	var (
		out       []Statement
		issue     *Issue
		start     = -1
		end       = -1
		real      bool
		first     = -1
		paren     int
		beginDep  int
		idents    [4]byte
		nIdents   int
		lineCache = NewLineIndex(src)
	)
	emit := func() {
		if real && start >= 0 {
			for end > start && isSpace(src[end-1]) {
				end--
			}
			out = append(out, Statement{SQL: src[start:end], Line: lineCache.Line(first), Offset: start})
		}
		start, end, real, first = -1, -1, false, -1
		paren, beginDep, nIdents = 0, 0, 0
		idents = [4]byte{}
	}
	for t := range Lex(src) {
		if t.Unterminated && issue == nil {
			issue = &Issue{Line: lineCache.Line(t.Start), Offset: t.Start, What: tokenIssue(src, t)}
		}
		switch t.Kind {
		case Semi:
			if paren <= 0 && beginDep == 0 {
				emit()
				continue
			}
		case Meta:
			emit()
			out = append(out, Statement{SQL: src[t.Start:t.End], Line: lineCache.Line(t.Start), Offset: t.Start})
			continue
		case Punct:
			switch src[t.Start] {
			case '(', '[':
				paren++
			case ')', ']':
				paren--
			}
		case Word:
			w := src[t.Start:t.End]
			if nIdents < len(idents) {
				switch strings.ToLower(w) {
				case "create", "function", "procedure", "or", "replace":
					idents[nIdents] = w[0] | 0x20
				}
			}
			nIdents++
			if idents[0] == 'c' && (idents[1] == 'f' || idents[1] == 'p' ||
				(idents[1] == 'o' && idents[2] == 'r' && (idents[3] == 'f' || idents[3] == 'p'))) && paren == 0 {
				switch strings.ToLower(w) {
				case "begin":
					beginDep++
				case "case":
					if beginDep >= 1 {
						beginDep++
					}
				case "end":
					if beginDep > 0 {
						beginDep--
					}
				}
			}
		}
		if start < 0 {
			start = t.Start
		}
		end = t.End
		if t.Kind != Comment && !real {
			real = true
			first = t.Start
		}
	}
	emit()
	return out, issue
}
