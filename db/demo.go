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
)

// Demo project ids (Supabase-style refs: 20 lowercase letters).
const (
	DemoProdProjectID    = "rxlqtyfhsocxnsnnnlwl"
	DemoStagingProjectID = "mohctrsopquwoyfweadl"
	// DemoTenantProjectID is the tenant-rls-fix runbook's target (not a Supabase ref).
	DemoTenantProjectID = "tenant-app-prod"
)

// DemoDatabase is one database of the demo setup inside a sandbox.
type DemoDatabase struct {
	Name      string
	ProjectID string // the stamped id
	Role      string // DemoRoleConnectProd, DemoRoleConnectStaging or DemoRoleTenant
	DSN       string
}

// SetupDemoDatabases creates the demo databases in s: connect_prod and
// connect_staging, both loaded with supabase.sql from fixtures, and
// tenant_app loaded with tenant.sql; each stamped with its project id.
func SetupDemoDatabases(ctx context.Context, s *Sandbox, fixtures fs.FS) ([]DemoDatabase, error) {
	supabase, err := fs.ReadFile(fixtures, "supabase.sql")
	if err != nil {
		return nil, fmt.Errorf("demo fixtures: %w", err)
	}
	tenant, err := fs.ReadFile(fixtures, "tenant.sql")
	if err != nil {
		return nil, fmt.Errorf("demo fixtures: %w", err)
	}
	dbs := []struct {
		DemoDatabase
		script string
	}{
		{DemoDatabase{Name: "connect_prod", ProjectID: DemoProdProjectID, Role: DemoRoleConnectProd}, string(supabase)},
		{DemoDatabase{Name: "connect_staging", ProjectID: DemoStagingProjectID, Role: DemoRoleConnectStaging}, string(supabase)},
		{DemoDatabase{Name: "tenant_app", ProjectID: DemoTenantProjectID, Role: DemoRoleTenant}, string(tenant)},
	}
	var out []DemoDatabase
	for _, d := range dbs {
		if err := s.CreateDatabase(ctx, d.Name, d.script); err != nil {
			return nil, fmt.Errorf("demo database %s: %w", d.Name, err)
		}
		if d.ProjectID != "" {
			if err := stampDatabase(ctx, s.AdminDSN(d.Name), d.ProjectID); err != nil {
				return nil, fmt.Errorf("demo database %s: %w", d.Name, err)
			}
		}
		d.DSN = s.DSN(d.Name)
		out = append(out, d.DemoDatabase)
	}
	return out, nil
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
