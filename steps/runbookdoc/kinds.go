package runbookdoc

import "github.com/handrail-dev/handrail/steps"

// Kinds documents every step kind, in the order of steps.Kinds: each
// kind documents itself (its spec, in steps/kind_<name>.go).
var Kinds = steps.KindDocs()

// Sources documents every identity source, in the order of
// steps.IdentitySources.
var Sources = []SourceDoc{
	{
		Name:     steps.IdentityStamp,
		Compares: "the id recorded in the database by `handrail stamp --db DSN --id PROJECT_ID` (a line of the database's comment, `COMMENT ON DATABASE`)",
		Doc: "Stamp each database once with its own id; a database never stamped resolves to nothing (it does not count), one " +
			"stamped with another id is a mismatch. Works anywhere, including the demo sandbox.",
		Example: "[target]\nproject_id = \"shop-prod\"\nidentity = [\"stamp\"]",
	},
	{
		Name: steps.IdentitySupabase,
		Compares: "the Supabase project ref in the connection itself: the host `db.<ref>.supabase.co`, or the pooler user `postgres.<ref>` " +
			"(a ref is 20 lowercase letters)",
		Doc:     "Sends nothing to the database. Any other host resolves to nothing. Lint warns when `project_id` is not a ref.",
		Example: "[target]\nproject_id = \"rxlqtyfhsocxnsnnnlwl\"\nidentity = [\"supabase\"]",
	},
	{
		Name:     steps.IdentitySQL,
		Compares: "the one value `identity_sql` returns, as text",
		Doc: "The query runs read-only (`BEGIN READ ONLY` ... `ROLLBACK`) and must return one row with one column; no row or NULL " +
			"resolves to nothing, an error or several rows refuse (handrail cannot tell what it would have said).",
		Example: "[target]\nproject_id = \"eu-west-prod\"\nidentity = [\"sql\"]\nidentity_sql = \"select value from ops.environment where key = 'id'\"",
	},
	{
		Name: steps.IdentitySystemIdentifier,
		Compares: "`select system_identifier from pg_control_system()`: the cluster's 64-bit id, as decimal text, " +
			"set by initdb",
		Doc: "It identifies the cluster, not the database: every database of the cluster has it, and a physical replica or a cluster " +
			"restored from a base backup has its primary's. So `project_id` is that number, and every other source must find the same.",
		Example: "[target]\nproject_id = \"7311987654321012345\"\nidentity = [\"system_identifier\"]",
	},
}
