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
	_, err1 := fs.Stat(dir, "supabase.sql")
	_, err2 := fs.Stat(dir, "tenant.sql")
	if err1 == nil && err2 == nil {
		return dir
	}
	t.Logf("using stand-in fixtures (../testdata/fixtures: %v)", errors.Join(err1, err2))
	return fstest.MapFS{
		"supabase.sql": {Data: []byte(`
			create schema if not exists auth;
			create table auth.users (id uuid primary key, email text);
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

// fstestWithout returns a copy of the two demo fixtures minus one file.
func tbFixturesWithout(fsys fs.FS, drop string) fs.FS {
	m := fstest.MapFS{}
	for _, name := range []string{"supabase.sql", "tenant.sql"} {
		if name == drop {
			continue
		}
		b, _ := fs.ReadFile(fsys, name)
		m[name] = &fstest.MapFile{Data: b}
	}
	return m
}
