// Package checkset is the bench's small-check workload (checks-200,
// check-cmd), shared by bench/compare and the steps package's load
// benchmark so both measure the same runbook.
package checkset

import (
	"fmt"
	"strings"
)

// check is one catalog query with its expectation, as TOML, true of a
// Connect database before migration 001 (the demo's connect_staging).
type check struct {
	title, sql, expect string
}

var small = []check{
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

// Steps returns n check steps cycling through the small checks, as the
// TOML of one [[phase]] titled "Validation", to follow a runbook's head.
func Steps(n int) string {
	var b strings.Builder
	b.WriteString("\n[[phase]]\ntitle = \"Validation\"\n")
	for i := range n {
		c := small[i%len(small)]
		fmt.Fprintf(&b, "\n  [[phase.step]]\n  kind = \"check\"\n  id = \"check-%03d\"\n  title = %q\n  sql = '''%s'''\n  %s\n", i+1, c.title, c.sql, c.expect)
	}
	return b.String()
}
