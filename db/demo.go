package db

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
)

// Demo database roles.
const (
	DemoRoleConnectProd    = "connect-prod"
	DemoRoleConnectStaging = "connect-staging"
	DemoRoleTenant         = "tenant"
	// DemoRoleScratch is the database a runbook of the user's own runs
	// against in the demo (see CreateScratchDatabase).
	DemoRoleScratch = "scratch"
)

// Demo project ids (Supabase-style refs: 20 lowercase letters).
const (
	DemoProdProjectID    = "rxlqtyfhsocxnsnnnlwl"
	DemoStagingProjectID = "mohctrsopquwoyfweadl"
	// DemoTenantProjectID is the tenant-rls-fix runbook's target (not a Supabase ref).
	DemoTenantProjectID = "tenant-app-prod"
)

// The fixture files SetupDemoDatabases and CreateScratchDatabase read.
const (
	FixtureSupabaseBase = "supabase_base.sql" // roles, auth, storage: the Supabase platform
	FixtureSupabaseApp  = "supabase.sql"      // the Connect app on top of it
	FixtureTenant       = "tenant.sql"
)

// DemoDatabase is one database of the demo setup inside a sandbox.
type DemoDatabase struct {
	Name      string
	ProjectID string // the stamped id
	Role      string // DemoRoleConnectProd, DemoRoleConnectStaging, DemoRoleTenant or DemoRoleScratch
	DSN       string
}

func readFixtures(fixtures fs.FS, names ...string) ([]string, error) {
	out := make([]string, len(names))
	for i, n := range names {
		b, err := fs.ReadFile(fixtures, n)
		if err != nil {
			return nil, fmt.Errorf("demo fixtures: %w", err)
		}
		out[i] = string(b)
	}
	return out, nil
}

// SetupDemoDatabases creates the demo databases in s: connect_prod and
// connect_staging, both loaded with supabase_base.sql and supabase.sql
// from fixtures, and tenant_app loaded with tenant.sql; each stamped with
// its project id.
func SetupDemoDatabases(ctx context.Context, s *Sandbox, fixtures fs.FS) ([]DemoDatabase, error) {
	src, err := readFixtures(fixtures, FixtureSupabaseBase, FixtureSupabaseApp, FixtureTenant)
	if err != nil {
		return nil, err
	}
	supabase, tenant := src[:2], src[2:]
	dbs := []struct {
		DemoDatabase
		scripts []string
	}{
		{DemoDatabase{Name: "connect_prod", ProjectID: DemoProdProjectID, Role: DemoRoleConnectProd}, supabase},
		{DemoDatabase{Name: "connect_staging", ProjectID: DemoStagingProjectID, Role: DemoRoleConnectStaging}, supabase},
		{DemoDatabase{Name: "tenant_app", ProjectID: DemoTenantProjectID, Role: DemoRoleTenant}, tenant},
	}
	var out []DemoDatabase
	for _, d := range dbs {
		dd, err := createStamped(ctx, s, d.DemoDatabase, d.scripts)
		if err != nil {
			return nil, err
		}
		out = append(out, dd)
	}
	return out, nil
}

// CreateScratchDatabase creates the database "scratch" in s for a runbook
// that is not one of the examples: the Supabase platform part only
// (supabase_base.sql: roles, auth and storage schemas, Supabase's grants),
// no application tables, stamped with projectID (the runbook's target) so
// that its `stamp` identity source proves it. Nothing else is faked: a
// runbook whose identity sources cannot resolve in a local sandbox
// (supabase, system_identifier, its own sql) stops at the identity check.
func CreateScratchDatabase(ctx context.Context, s *Sandbox, fixtures fs.FS, projectID string) (DemoDatabase, error) {
	src, err := readFixtures(fixtures, FixtureSupabaseBase)
	if err != nil {
		return DemoDatabase{}, err
	}
	return createStamped(ctx, s, DemoDatabase{Name: "scratch", ProjectID: projectID, Role: DemoRoleScratch}, src)
}

func createStamped(ctx context.Context, s *Sandbox, d DemoDatabase, scripts []string) (DemoDatabase, error) {
	if err := s.CreateDatabase(ctx, d.Name, scripts...); err != nil {
		return d, fmt.Errorf("demo database %s: %w", d.Name, err)
	}
	if d.ProjectID != "" {
		if err := stampDatabase(ctx, s.AdminDSN(d.Name), d.ProjectID); err != nil {
			return d, fmt.Errorf("demo database %s: %w", d.Name, err)
		}
	}
	d.DSN = s.DSN(d.Name)
	return d, nil
}

func stampDatabase(ctx context.Context, dsn, id string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = Stamp(ctx, conn, id, false)
	return err
}
