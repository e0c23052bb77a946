package db

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func tbReadStamp(t *testing.T, conn *pgx.Conn) (string, bool) {
	t.Helper()
	id, ok, err := ReadStamp(tbContext(t), conn)
	if err != nil {
		t.Fatalf("ReadStamp: %v", err)
	}
	return id, ok
}

// tbComment returns the connected database's comment ("" if none).
func tbComment(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	c, err := readComment(tbContext(t), conn)
	if err != nil {
		t.Fatalf("read comment: %v", err)
	}
	return c
}

// tbSetComment sets the connected database's comment, as a human would.
func tbSetComment(t *testing.T, conn *pgx.Conn, comment string) {
	t.Helper()
	ctx := tbContext(t)
	var stmt string
	if err := conn.QueryRow(ctx, "select format('COMMENT ON DATABASE %I IS %L', current_database(), $1::text)", comment).Scan(&stmt); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Fatal(err)
	}
	if got := tbComment(t, conn); got != comment {
		t.Fatalf("comment = %q, want %q", got, comment)
	}
}

func TestStampLifecycle(t *testing.T) {
	t.Parallel()
	ctx := tbContext(t)
	name := tbNewDatabase(t)
	conn := tbConnect(t, sharedSandbox.DSN(name))

	if id, ok := tbReadStamp(t, conn); ok || id != "" {
		t.Fatalf("fresh database: ReadStamp = %q, %v; want absent", id, ok)
	}

	prev, err := Stamp(ctx, conn, "proj-one", false)
	if err != nil || prev != "" {
		t.Fatalf("first Stamp = %q, %v", prev, err)
	}
	if id, ok := tbReadStamp(t, conn); !ok || id != "proj-one" {
		t.Fatalf("after Stamp: %q, %v", id, ok)
	}
	if c := tbComment(t, conn); c != "handrail.project_id=proj-one" {
		t.Fatalf("comment = %q", c)
	}

	// Idempotent.
	if prev, err := Stamp(ctx, conn, "proj-one", false); err != nil || prev != "proj-one" {
		t.Fatalf("restamp = %q, %v", prev, err)
	}
	if c := tbComment(t, conn); c != "handrail.project_id=proj-one" {
		t.Fatalf("comment after restamp = %q", c)
	}

	// A different id needs force.
	_, err = Stamp(ctx, conn, "proj_two", false)
	if !errors.Is(err, ErrStampConflict) {
		t.Fatalf("want ErrStampConflict, got %v", err)
	}
	for _, want := range []string{"proj-one", "proj_two", "--force", name} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("conflict error %q does not mention %q", err, want)
		}
	}
	if id, _ := tbReadStamp(t, conn); id != "proj-one" {
		t.Fatalf("conflict changed the stamp to %q", id)
	}

	prev, err = Stamp(ctx, conn, "proj_two", true)
	if err != nil || prev != "proj-one" {
		t.Fatalf("forced Stamp = %q, %v", prev, err)
	}
	if id, ok := tbReadStamp(t, conn); !ok || id != "proj_two" {
		t.Fatalf("after force: %q, %v", id, ok)
	}
	if c := tbComment(t, conn); c != "handrail.project_id=proj_two" {
		t.Fatalf("comment after force = %q", c)
	}

	// A new session sees it.
	if id, _ := tbReadStamp(t, tbConnect(t, sharedSandbox.DSN(name))); id != "proj_two" {
		t.Fatalf("new session ReadStamp = %q", id)
	}

	// The stamp belongs to this database only.
	other := tbConnect(t, sharedSandbox.DSN(tbNewDatabase(t)))
	if id, ok := tbReadStamp(t, other); ok {
		t.Fatalf("another database reads stamp %q", id)
	}
}

func TestStampPreservesComment(t *testing.T) {
	t.Parallel()
	ctx := tbContext(t)
	// Quotes, backslashes and placeholders must survive the round trip.
	const human = "Production — do not drop.\nOwner: team 'core' \\ on-call\nsee $1 and %s"
	for _, tc := range []struct {
		name, before, stamped, restamped string
	}{{
		name:      "appended",
		before:    human,
		stamped:   human + "\nhandrail.project_id=prod-a",
		restamped: human + "\nhandrail.project_id=prod-b",
	}, {
		name:      "trailing newline",
		before:    "prod\n",
		stamped:   "prod\nhandrail.project_id=prod-a",
		restamped: "prod\nhandrail.project_id=prod-b",
	}, {
		name:      "replaced in place",
		before:    "top\nhandrail.project_id=old-id\nbottom",
		stamped:   "top\nhandrail.project_id=prod-a\nbottom",
		restamped: "top\nhandrail.project_id=prod-b\nbottom",
	}, {
		name:      "crlf",
		before:    "top\r\nhandrail.project_id=old-id\r\nbottom",
		stamped:   "top\r\nhandrail.project_id=prod-a\r\nbottom",
		restamped: "top\r\nhandrail.project_id=prod-b\r\nbottom",
	}, {
		name: "marker-like text in prose",
		// Not a marker line: it does not start the line.
		before:    "set handrail.project_id=x by hand? no.",
		stamped:   "set handrail.project_id=x by hand? no.\nhandrail.project_id=prod-a",
		restamped: "set handrail.project_id=x by hand? no.\nhandrail.project_id=prod-b",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			conn := tbConnect(t, sharedSandbox.DSN(tbNewDatabase(t)))
			tbSetComment(t, conn, tc.before)
			wantPrev := ""
			if strings.Contains(tc.before, "\nhandrail.project_id=old-id") {
				wantPrev = "old-id"
				if id, ok := tbReadStamp(t, conn); !ok || id != "old-id" {
					t.Fatalf("ReadStamp = %q, %v", id, ok)
				}
			} else if id, ok := tbReadStamp(t, conn); ok {
				t.Fatalf("a human comment read as stamp %q", id)
			}
			if prev, err := Stamp(ctx, conn, "prod-a", true); err != nil || prev != wantPrev {
				t.Fatalf("Stamp = %q, %v", prev, err)
			}
			if c := tbComment(t, conn); c != tc.stamped {
				t.Fatalf("after stamp: comment = %q, want %q", c, tc.stamped)
			}
			if prev, err := Stamp(ctx, conn, "prod-a", false); err != nil || prev != "prod-a" {
				t.Fatalf("idempotent Stamp = %q, %v", prev, err)
			}
			if prev, err := Stamp(ctx, conn, "prod-b", true); err != nil || prev != "prod-a" {
				t.Fatalf("forced Stamp = %q, %v", prev, err)
			}
			if c := tbComment(t, conn); c != tc.restamped {
				t.Fatalf("after restamp: comment = %q, want %q", c, tc.restamped)
			}
			if id, _ := tbReadStamp(t, conn); id != "prod-b" {
				t.Fatalf("ReadStamp = %q", id)
			}
		})
	}
}

func TestStampRejectsBadComments(t *testing.T) {
	t.Parallel()
	ctx := tbContext(t)
	for _, tc := range []struct{ comment, want string }{
		{"handrail.project_id=one\nhandrail.project_id=two", "ambiguous stamp"},
		{"handrail.project_id=same\nnote\nhandrail.project_id=same", "ambiguous stamp"},
		{"handrail.project_id=Prod", "malformed stamp"},
		{"handrail.project_id = prod", "malformed stamp"},
		{"note\n  handrail.project_id=prod", "malformed stamp"},
		{"handrail.project_id=prod ", "malformed stamp"},
		{"handrail.project_id=", "malformed stamp"},
	} {
		conn := tbConnect(t, sharedSandbox.DSN(tbNewDatabase(t)))
		tbSetComment(t, conn, tc.comment)
		if id, ok, err := ReadStamp(ctx, conn); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: ReadStamp = %q, %v, %v; want error %q", tc.comment, id, ok, err, tc.want)
		}
		// Stamp refuses too, even with force, and leaves the comment alone.
		if _, err := Stamp(ctx, conn, "prod", true); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: Stamp error = %v; want %q", tc.comment, err, tc.want)
		}
		if c := tbComment(t, conn); c != tc.comment {
			t.Errorf("%q: Stamp changed the comment to %q", tc.comment, c)
		}
	}
}

func TestStampCannotBeSpoofed(t *testing.T) {
	t.Parallel()
	ctx := tbContext(t)
	stamped := tbNewDatabase(t)
	if _, err := Stamp(ctx, tbConnect(t, sharedSandbox.DSN(stamped)), "real-id", false); err != nil {
		t.Fatal(err)
	}
	unstamped := tbNewDatabase(t)

	for db, want := range map[string]string{stamped: "real-id", unstamped: ""} {
		// Like PGOPTIONS='-c handrail.project_id=fake'.
		cfg, err := pgx.ParseConfig(sharedSandbox.DSN(db))
		if err != nil {
			t.Fatal(err)
		}
		cfg.RuntimeParams[StampSetting] = "fake-startup"
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		var setting string
		if err := conn.QueryRow(ctx, "select current_setting('handrail.project_id')").Scan(&setting); err != nil || setting != "fake-startup" {
			t.Fatalf("startup parameter not applied (%q, %v); the test proves nothing", setting, err)
		}
		if id, _ := tbReadStamp(t, conn); id != want {
			t.Errorf("%s with startup option: ReadStamp = %q, want %q", db, id, want)
		}

		if _, err := conn.Exec(ctx, "set handrail.project_id = 'fake-set'"); err != nil {
			t.Fatal(err)
		}
		if id, _ := tbReadStamp(t, conn); id != want {
			t.Errorf("%s after SET: ReadStamp = %q, want %q", db, id, want)
		}
	}

	// Role-level settings (ALTER ROLE ... SET, with or without IN DATABASE)
	// are not the database's stamp either.
	admin := tbConnect(t, sharedSandbox.DSN(unstamped))
	role := tbCreateRole(t, admin, "spoofer", "pw-spoofer")
	for _, stmt := range []string{
		fmt.Sprintf("ALTER ROLE %s SET handrail.project_id = 'fake-role'", role),
		fmt.Sprintf("ALTER ROLE %s IN DATABASE %s SET handrail.project_id = 'fake-role-db'", role, pgx.Identifier{unstamped}.Sanitize()),
	} {
		if _, err := admin.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	conn := tbConnect(t, tbDSNAs(t, sharedSandbox, role, "pw-spoofer", unstamped))
	if id, ok := tbReadStamp(t, conn); ok {
		t.Fatalf("role-level setting read as stamp %q", id)
	}

	// A temporary relation shadows unqualified catalog names; this one
	// would pass off the stamped database's comment as the current one's.
	if _, err := conn.Exec(ctx, fmt.Sprintf(`create temp view pg_database as
		select d.oid, current_database()::name as datname from pg_catalog.pg_database d where d.datname = '%s'`, stamped)); err != nil {
		t.Fatal(err)
	}
	var shadowed int
	if err := conn.QueryRow(ctx, "select count(*) from pg_database where datname = current_database() and shobj_description(oid, 'pg_database') is not null").Scan(&shadowed); err != nil || shadowed != 1 {
		t.Fatalf("temp view does not shadow pg_database (%d, %v); the test proves nothing", shadowed, err)
	}
	if id, ok := tbReadStamp(t, conn); ok {
		t.Fatalf("temporary view read as stamp %q", id)
	}
}

func TestStampRejectsBadIDs(t *testing.T) {
	t.Parallel()
	conn := tbConnect(t, sharedSandbox.DSN(tbNewDatabase(t)))
	for _, id := range []string{
		"", "Upper", "has space", "x'; drop table t; --", "dot.ted", "a=b",
		"ünï", strings.Repeat("a", 64), "tab\t", "new\nline",
	} {
		if _, err := Stamp(tbContext(t), conn, id, true); err == nil {
			t.Errorf("Stamp accepted %q", id)
		}
	}
	if id, ok := tbReadStamp(t, conn); ok {
		t.Fatalf("a rejected id was written: %q", id)
	}
	if c := tbComment(t, conn); c != "" {
		t.Fatalf("a rejected id changed the comment to %q", c)
	}
	for _, id := range []string{"a", strings.Repeat("z", 63), "rxlqtyfhsocxnsnnnlwl", "my_proj-2"} {
		if err := ValidateStampID(id); err != nil {
			t.Errorf("ValidateStampID(%q): %v", id, err)
		}
	}
}

func TestStampPermissions(t *testing.T) {
	t.Parallel()
	ctx := tbContext(t)
	name := tbNewDatabase(t)
	admin := tbConnect(t, sharedSandbox.DSN(name))

	// Neither owner nor superuser: may read, may not stamp.
	nobody := tbCreateRole(t, admin, "nobody", "pw-nobody")
	conn := tbConnect(t, tbDSNAs(t, sharedSandbox, nobody, "pw-nobody", name))
	_, err := Stamp(ctx, conn, "some-id", false)
	if !errors.Is(err, ErrStampNotPermitted) {
		t.Fatalf("want ErrStampNotPermitted, got %v", err)
	}
	for _, want := range []string{"must be the owner of database " + pgx.Identifier{name}.Sanitize() + " or a superuser", "connect as the owner"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := Stamp(ctx, admin, "some-id", false); err != nil {
		t.Fatal(err)
	}
	if id, ok := tbReadStamp(t, conn); !ok || id != "some-id" {
		t.Fatalf("unprivileged ReadStamp = %q, %v", id, ok)
	}
	if _, err := Stamp(ctx, conn, "other-id", true); !errors.Is(err, ErrStampNotPermitted) {
		t.Fatalf("non-owner forced restamp: want ErrStampNotPermitted, got %v", err)
	}
	if id, _ := tbReadStamp(t, conn); id != "some-id" {
		t.Fatalf("refused restamp changed the stamp to %q", id)
	}

	// The database owner, not a superuser (like Supabase's postgres role
	// on PostgreSQL 15+), may stamp without any grant.
	owner := tbCreateRole(t, admin, "owner", "pw-owner")
	owned := fmt.Sprintf("%s_owned", name)
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s OWNER %s", owned, owner)); err != nil {
		t.Fatal(err)
	}
	oconn := tbConnect(t, tbDSNAs(t, sharedSandbox, owner, "pw-owner", owned))
	var super bool
	if err := oconn.QueryRow(ctx, "select rolsuper from pg_roles where rolname = current_user").Scan(&super); err != nil || super {
		t.Fatalf("owner role is a superuser (%v, %v); the test proves nothing", super, err)
	}
	tbSetComment(t, oconn, "owned by the app team")
	if _, err := Stamp(ctx, oconn, "owned-id", false); err != nil {
		t.Fatalf("owner Stamp: %v", err)
	}
	if id, _ := tbReadStamp(t, oconn); id != "owned-id" {
		t.Fatalf("owner ReadStamp = %q", id)
	}
	if prev, err := Stamp(ctx, oconn, "owned-id2", true); err != nil || prev != "owned-id" {
		t.Fatalf("owner forced Stamp = %q, %v", prev, err)
	}
	if c := tbComment(t, oconn); c != "owned by the app team\nhandrail.project_id=owned-id2" {
		t.Fatalf("owner stamp: comment = %q", c)
	}
}

func TestStampQuotedDatabaseName(t *testing.T) {
	t.Parallel()
	name := fmt.Sprintf(`Stamp "Odd" Name %d`, tbCounter.Add(1))
	if err := sharedSandbox.CreateDatabase(tbContext(t), name); err != nil {
		t.Fatal(err)
	}
	conn := tbConnect(t, sharedSandbox.DSN(name))
	if _, err := Stamp(tbContext(t), conn, "odd", false); err != nil {
		t.Fatal(err)
	}
	if id, _ := tbReadStamp(t, conn); id != "odd" {
		t.Fatalf("ReadStamp = %q", id)
	}
}

func TestStampWorksWithSimpleProtocolConnections(t *testing.T) {
	t.Parallel()
	// As through a transaction-mode pooler: no prepared statements at all.
	cfg, err := pgx.ParseConfig(sharedSandbox.DSN(tbNewDatabase(t)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(tbContext(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tbSetComment(t, conn, "it's a 'pooled' \\ database")
	if _, err := Stamp(tbContext(t), conn, "pooled", false); err != nil {
		t.Fatal(err)
	}
	if id, _ := tbReadStamp(t, conn); id != "pooled" {
		t.Fatalf("ReadStamp = %q", id)
	}
	if c := tbComment(t, conn); c != "it's a 'pooled' \\ database\nhandrail.project_id=pooled" {
		t.Fatalf("comment = %q", c)
	}
}

// A marker's id is 1 to 63 characters: a longer one is a malformed stamp,
// as a mistyped one is.
func TestParseStampIDLength(t *testing.T) {
	for _, tc := range []struct {
		comment, id, err string
	}{
		{"handrail.project_id=" + strings.Repeat("a", 63), strings.Repeat("a", 63), ""},
		{"note\nhandrail.project_id=x", "x", ""},
		{"handrail.project_id=" + strings.Repeat("a", 64), "", "malformed stamp"},
		{"handrail.project_id=", "", "malformed stamp"},
	} {
		id, _, err := parseStamp(tc.comment)
		if id != tc.id || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("parseStamp(%q) = %q, %v; want %q, %q", tc.comment, id, err, tc.id, tc.err)
		}
	}
	for id, ok := range map[string]bool{strings.Repeat("z", 63): true, strings.Repeat("z", 64): false, "a-b_1": true, "A": false} {
		if err := ValidateStampID(id); (err == nil) != ok {
			t.Errorf("ValidateStampID(%q) = %v, want ok %v", id, err, ok)
		}
	}
}
