package steps

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checks200Runbook writes the runbook of bench/compare's checks-200 and
// check-cmd workloads (200 check steps cycling through six catalog
// queries with their expectations) and returns its directory.
func checks200Runbook(b *testing.B) string {
	b.Helper()
	checks := []struct{ title, sql, expect string }{
		{"Supabase schemas present",
			`select nspname::text as schema from pg_namespace where nspname in ('auth', 'storage')`,
			`expect = [{ schema = "auth" }, { schema = "storage" }]`},
		{"rate_limits RLS is on",
			`select tablename::text as tablename, rowsecurity from pg_tables where schemaname = 'public' and tablename = 'rate_limits'`,
			`expect = [{ tablename = "rate_limits", rowsecurity = true }]`},
		{"business_accounts.is_public does not exist yet",
			`select a.attname::text as column_name, format_type(a.atttypid, a.atttypmod) as data_type from pg_attribute a where a.attrelid = 'public.business_accounts'::regclass and a.attname = 'is_public' and not a.attisdropped`,
			`expect_empty = true`},
		{"old business_accounts policy in place",
			`select policyname::text as policyname, cmd from pg_policies where schemaname = 'public' and tablename = 'business_accounts' and policyname in ('Users can view public or owned business accounts', 'Users can view business accounts')`,
			`expect = [{ policyname = "Users can view business accounts", cmd = "SELECT" }]`},
		{"buckets private, no size limit",
			`select id, public, file_size_limit is null as no_size_limit from storage.buckets where id in ('avatars', 'chat-media')`,
			`expect = [{ id = "avatars", public = false, no_size_limit = true }, { id = "chat-media", public = false, no_size_limit = true }]`},
		{"no storage.objects policies yet",
			`select count(*) as n from pg_policies where schemaname = 'storage' and tablename = 'objects' and policyname like 'Users can %'`,
			`expect = [{ n = 0 }]`},
	}
	var rb strings.Builder
	rb.WriteString(`[runbook]
id = "bench-checks-200"
title = "Bench: 200 small checks"
version = "1"

[target]
name = "Connect-Staging"
project_id = "mohctrsopquwoyfweadl"
forbidden = ["rxlqtyfhsocxnsnnnlwl"]
production = true
identity = ["stamp"]

[settings]
lock_timeout = "5s"
statement_timeout = "10m"

[[phase]]
title = "Validation"
`)
	for i := range 200 {
		c := checks[i%len(checks)]
		fmt.Fprintf(&rb, "\n  [[phase.step]]\n  kind = \"check\"\n  id = \"check-%03d\"\n  title = %q\n  sql = '''%s'''\n  %s\n", i+1, c.title, c.sql, c.expect)
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, RunbookFile), []byte(rb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkLoadChecks200 is the load of `handrail check`'s 200-check
// runbook (bench/compare check-cmd): in a fresh process every byte
// allocated is a page faulted in, so B/op matters as much as ns/op.
func BenchmarkLoadChecks200(b *testing.B) {
	dir := checks200Runbook(b)
	b.ReportAllocs()
	for b.Loop() {
		if rb, ps := Load(dir); ps.HasErrors() || len(rb.AllSteps()) != 200 {
			b.Fatal(ps.Error())
		}
	}
}
