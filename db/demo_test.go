package db

import (
	"errors"
	"io/fs"
	"os"
	"testing"
	"testing/fstest"
)

// demoFixtures is ../testdata/fixtures when both files exist there, else a
// minimal stand-in.
func tbDemoFixtures(t *testing.T) fs.FS {
	dir := os.DirFS("../testdata/fixtures")
	var errs []error
	for _, name := range demoFixtureNames {
		_, err := fs.Stat(dir, name)
		errs = append(errs, err)
	}
	if errors.Join(errs...) == nil {
		return dir
	}
	t.Logf("using stand-in fixtures (../testdata/fixtures: %v)", errors.Join(errs...))
	return fstest.MapFS{
		"supabase_base.sql": {Data: []byte(`
			create schema if not exists auth;
			create table auth.users (id uuid primary key, email text);`)},
		"supabase.sql": {Data: []byte(`
			create table public.profiles (id uuid primary key references auth.users, name text);`)},
		"tenant.sql": {Data: []byte(`
			create table tenants (id bigint generated always as identity primary key, name text not null);
			insert into tenants (name) values ('acme'), ('globex');`)},
	}
}

func TestSetupDemoDatabases(t *testing.T) {
	t.Parallel()
	s := NewTestSandbox(t, SandboxOptions{})
	ctx := tbContext(t)
	dbs, err := SetupDemoDatabases(ctx, s, tbDemoFixtures(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []DemoDatabase{
		{Name: "connect_prod", ProjectID: "rxlqtyfhsocxnsnnnlwl", Role: "connect-prod", DSN: s.DSN("connect_prod")},
		{Name: "connect_staging", ProjectID: "mohctrsopquwoyfweadl", Role: "connect-staging", DSN: s.DSN("connect_staging")},
		{Name: "tenant_app", ProjectID: "tenant-app-prod", Role: "tenant", DSN: s.DSN("tenant_app")},
	}
	if len(dbs) != len(want) {
		t.Fatalf("got %d databases, want %d: %+v", len(dbs), len(want), dbs)
	}
	for i, d := range dbs {
		if d != want[i] {
			t.Errorf("database %d = %+v, want %+v", i, d, want[i])
		}
		conn := tbConnect(t, d.DSN)
		id, ok, err := ReadStamp(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		if id != d.ProjectID || ok != (d.ProjectID != "") {
			t.Errorf("%s: stamp = %q, %v; want %q", d.Name, id, ok, d.ProjectID)
		}
		var tables int
		if err := conn.QueryRow(ctx, `select count(*) from pg_tables where schemaname not in ('pg_catalog', 'information_schema')`).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables == 0 {
			t.Errorf("%s: fixture created no tables", d.Name)
		}
	}

	missing := tbFixturesWithout(tbDemoFixtures(t), "tenant.sql")
	// Fixtures are read before anything is created, so s is still usable.
	if _, err := SetupDemoDatabases(ctx, s, missing); err == nil {
		t.Fatal("SetupDemoDatabases without tenant.sql succeeded")
	}
}

var demoFixtureNames = []string{FixtureSupabaseBase, FixtureSupabaseApp, FixtureTenant}

// fstestWithout returns a copy of the demo fixtures minus one file.
func tbFixturesWithout(fsys fs.FS, drop string) fs.FS {
	m := fstest.MapFS{}
	for _, name := range demoFixtureNames {
		if name == drop {
			continue
		}
		b, _ := fs.ReadFile(fsys, name)
		m[name] = &fstest.MapFile{Data: b}
	}
	return m
}

// The scratch database for a runbook of one's own: the Supabase platform
// (auth, storage, the API roles and their default grants), no app tables,
// stamped with the runbook's project id.
func TestCreateScratchDatabase(t *testing.T) {
	t.Parallel()
	s := NewTestSandbox(t, SandboxOptions{})
	ctx := tbContext(t)
	fixtures := os.DirFS("../testdata/fixtures")
	d, err := CreateScratchDatabase(ctx, s, fixtures, "my-project")
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "scratch" || d.Role != DemoRoleScratch || d.ProjectID != "my-project" || d.DSN != s.DSN("scratch") {
		t.Errorf("got %+v", d)
	}
	conn := tbConnect(t, d.DSN)
	if id, ok, err := ReadStamp(ctx, conn); err != nil || !ok || id != "my-project" {
		t.Errorf("stamp = %q, %v, %v", id, ok, err)
	}
	var public, platform int
	if err := conn.QueryRow(ctx, `select count(*) filter (where schemaname = 'public'),
		count(*) filter (where (schemaname, tablename) in (('auth', 'users'), ('storage', 'buckets'), ('storage', 'objects')))
		from pg_tables`).Scan(&public, &platform); err != nil {
		t.Fatal(err)
	}
	if public != 0 || platform != 3 {
		t.Errorf("%d public tables (want none), %d of auth.users, storage.buckets, storage.objects", public, platform)
	}
	// As on Supabase, a table a migration creates is granted to the API
	// roles (RLS decides which rows they see).
	if _, err := conn.Exec(ctx, "create table public.profiles (id uuid primary key)"); err != nil {
		t.Fatal(err)
	}
	var granted bool
	if err := conn.QueryRow(ctx, "select has_table_privilege('authenticated', 'public.profiles', 'select')").Scan(&granted); err != nil || !granted {
		t.Errorf("authenticated may not select from a new table: %v, %v", granted, err)
	}
	if _, err := CreateScratchDatabase(ctx, s, tbFixturesWithout(fixtures, FixtureSupabaseBase), "x"); err == nil {
		t.Error("CreateScratchDatabase without supabase_base.sql succeeded")
	}
}
