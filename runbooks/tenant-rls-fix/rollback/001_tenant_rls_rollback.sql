-- Rollback of the tenant RLS fix: restores the state before it.
--
-- Runs as one transaction; safe to run more than once.
--
-- "Before" is the known pre-fix state of this application: RLS disabled
-- and not forced on every tenant table, no tenant_isolation policies, no
-- set_tenant_context(), and app_user WITH BYPASSRLS. Restoring BYPASSRLS
-- reopens the cross-tenant exposure the fix closed; that is what a
-- rollback means here.

-- handrail:allow locks-unknown ACCESS EXCLUSIVE on each public table with tenant_id (DROP POLICY, NO FORCE / DISABLE RLS: catalog only), held until COMMIT; ALTER ROLE app_user
do $$
declare
	r record;
begin
	for r in
		select c.oid::regclass as tbl
		from pg_class c
		join pg_namespace n on n.oid = c.relnamespace
		join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
		where n.nspname = 'public' and c.relkind in ('r', 'p')
		order by c.relname
	loop
		execute format('drop policy if exists tenant_isolation on %s', r.tbl);
		execute format('alter table %s no force row level security', r.tbl);
		execute format('alter table %s disable row level security', r.tbl);
		raise notice '%: policy dropped, RLS disabled', r.tbl;
	end loop;

	if exists (select 1 from pg_roles where rolname = 'app_user' and not rolbypassrls) then
		alter role app_user bypassrls;
		raise notice 'app_user: BYPASSRLS restored';
	end if;
end
$$;

drop function if exists public.set_tenant_context(uuid);
