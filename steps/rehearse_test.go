package steps

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/steps/lockcheck"
)

// A rehearsal of both example runbooks runs each transactional sql step
// in a transaction that is rolled back: the schema (pg_dump -s) and every
// table's row count are the same afterwards, the step with transaction =
// false is skipped with its reason, nothing is predicted wrong, and the
// locks it recorded are the ones the same statements take in BEGIN ...
// ROLLBACK on a connection of the test's own (read from pg_locks as the
// lockcheck oracle does).
func TestRehearsalLeavesNothingAndRecordsTheLocks(t *testing.T) {
	t.Parallel()
	sb, dsns := demoDatabases(t, db.SandboxOptions{})
	stampDB(t, dsns["tenant_app"], "tenant-app-prod")
	for _, c := range []struct{ runbook, dbname string }{
		{"connect-rls-hardening", "connect_prod"},
		{"tenant-rls-fix", "tenant_app"},
	} {
		t.Run(c.runbook, func(t *testing.T) {
			rb := exampleRunbook(t, c.runbook)
			dsn := dsns[c.dbname]
			schema, counts := schemaDump(t, sb, c.dbname), rowCounts(t, dsn)
			r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsn), Rehearse: true}, nil)
			res := r.drive(t, nil)
			if res.err != nil || res.outcome != OutcomeSucceeded {
				t.Fatalf("outcome %+v\n%s", res, r.rec.dump())
			}
			if after := schemaDump(t, sb, c.dbname); after != schema {
				t.Errorf("the schema changed in a rehearsal")
			}
			if after := rowCounts(t, dsn); !maps.Equal(after, counts) {
				t.Errorf("row counts changed in a rehearsal: %v -> %v", counts, after)
			}
			if n := len(r.rec.ofType(EvIntent)); n != 0 {
				t.Errorf("%d intents in a rehearsal", n)
			}
			// It takes the write's locks on production: consent first.
			if given := r.rec.ofType(EvConsentGiven); len(given) != 1 {
				t.Errorf("a rehearsal on production asked no consent:\n%s", r.rec.dump())
			}
			// It writes nothing, so the promotion gate has nothing to hold.
			if gated := r.rec.ofType(EvPromotionRequired); len(gated) != 0 {
				t.Errorf("a rehearsal stopped at the promotion gate:\n%s", r.rec.dump())
			}
			rehearsed := 0
			for _, ev := range r.rec.ofType(EvRehearsed) {
				reh := ev.Rehearsal
				st, _ := rb.step(ev.Step)
				if !st.IsTransactional() {
					if !strings.Contains(reh.Skipped, "transaction = false") {
						t.Errorf("%s: not transactional, rehearsal %+v", ev.Step, reh)
					}
					continue
				}
				rehearsed++
				if reh.Error != "" || len(reh.Wrong) > 0 || len(reh.Locks) == 0 {
					t.Errorf("%s: rehearsal error %q, wrong %q, %d locks", ev.Step, reh.Error, reh.Wrong, len(reh.Locks))
				}
				want := ownLocks(t, rb, st, dsn)
				got := map[string]string{}
				for _, l := range reh.Locks {
					if !strings.Contains(l.Rel, "(created by the step)") {
						got[l.Rel] = l.Mode
					}
				}
				if !maps.Equal(got, want) {
					t.Errorf("%s: the rehearsal recorded %v, BEGIN ... ROLLBACK holds %v", ev.Step, got, want)
				}
			}
			if rehearsed == 0 {
				t.Fatal("no step was rehearsed")
			}
			r.quit(t)
			assertFoldMatches(t, r)
		})
	}
}

// ownLocks runs the step's statements in BEGIN ... ROLLBACK on a
// connection of the test and returns the strongest mode it holds on each
// relation that existed before (pg_locks, as the lockcheck oracle reads
// it), catalogs aside.
func ownLocks(t *testing.T, rb *Runbook, s Step, dsn string) map[string]string {
	t.Helper()
	stmts, err := rb.StepStatements(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx := engineCtx(t)
	conn := adminConn(t, dsn)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	var before []uint32
	if err := tx.QueryRow(ctx, "select array_agg(oid) from pg_class").Scan(&before); err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		if _, err := tx.Conn().PgConn().Exec(ctx, st.SQL).ReadAll(); err != nil {
			t.Fatalf("%s: %v", st.Where(), err)
		}
	}
	rows, err := tx.Query(ctx, `select l.relation, quote_ident(n.nspname) || '.' || quote_ident(c.relname), l.mode
from pg_locks l join pg_class c on c.oid = l.relation join pg_namespace n on n.oid = c.relnamespace
where l.pid = pg_backend_pid() and l.locktype = 'relation' and l.granted
  and l.database = (select oid from pg_database where datname = current_database())
  and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') and n.nspname not like 'pg_temp%' and n.nspname not like 'pg_toast_temp%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]lockcheck.Mode{}
	for rows.Next() {
		var oid uint32
		var name, mode string
		if err := rows.Scan(&oid, &name, &mode); err != nil {
			t.Fatal(err)
		}
		m, ok := lockcheck.ParsePgLocksMode(mode)
		if ok && slices.Contains(before, oid) && m > out[name] {
			out[name] = m
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	text := map[string]string{}
	for k, m := range out {
		text[k] = m.String()
	}
	return text
}

// rowCounts counts the rows of every user table of dsn's database.
func rowCounts(t *testing.T, dsn string) map[string]int64 {
	t.Helper()
	ctx := engineCtx(t)
	conn := adminConn(t, dsn)
	rows, err := conn.Query(ctx, `select quote_ident(n.nspname) || '.' || quote_ident(c.relname) from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'm') and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	rows.Close()
	out := map[string]int64{}
	for _, n := range names {
		var c int64
		if err := conn.QueryRow(ctx, fmt.Sprintf("select count(*) from %s", n)).Scan(&c); err != nil {
			t.Fatal(err)
		}
		out[n] = c
	}
	if len(out) == 0 {
		t.Fatal("no tables to count")
	}
	return out
}
