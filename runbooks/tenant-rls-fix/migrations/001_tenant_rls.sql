-- Tenant RLS fix: enforce tenant isolation in the database.
--
-- Runs as one transaction (handrail sql step, transaction = true). Safe to
-- run again. Undo: rollback/001_tenant_rls_rollback.sql.
--
-- For every table in schema public with a tenant_id column:
--   * ENABLE and FORCE row level security (FORCE: the policy applies to the
--     table owner too, should the application ever connect as owner);
--   * a policy tenant_isolation: rows are visible and writable only when
--     tenant_id equals the app.current_tenant_id setting.
-- Tables without tenant_id are reported (NOTICE) and skipped.
-- The application role app_user loses BYPASSRLS, which would otherwise make
-- every policy moot for it.
-- set_tenant_context(tenant) is what the application calls at the start of
-- each transaction.
--
-- Unset context fails closed: current_setting(..., true) gives NULL when
-- the setting was never set ('' after a transaction-local set ends), nullif
-- maps '' to NULL, and tenant_id = NULL is never true. So a connection
-- without a tenant context sees no rows and cannot insert any, instead of
-- raising errors in code paths that never set it (or, worse, seeing all).

-- handrail:allow locks-unknown ACCESS EXCLUSIVE on each public table with tenant_id (ENABLE/FORCE RLS, CREATE POLICY: catalog only, no scan), held until COMMIT; ALTER ROLE app_user
do $$
declare
	r record;
	fixed int := 0;
	skipped int := 0;
begin
	for r in
		select c.oid::regclass as tbl, format_type(a.atttypid, a.atttypmod) as tenant_type
		from pg_class c
		join pg_namespace n on n.oid = c.relnamespace
		join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
		where n.nspname = 'public' and c.relkind in ('r', 'p')
		order by c.relname
	loop
		execute format('alter table %s enable row level security', r.tbl);
		execute format('alter table %s force row level security', r.tbl);
		if not exists (select 1 from pg_policy where polrelid = r.tbl and polname = 'tenant_isolation') then
			execute format(
				'create policy tenant_isolation on %s for all'
				' using (tenant_id = nullif(current_setting(''app.current_tenant_id'', true), '''')::%s)'
				' with check (tenant_id = nullif(current_setting(''app.current_tenant_id'', true), '''')::%s)',
				r.tbl, r.tenant_type, r.tenant_type);
			raise notice '%: RLS enabled and forced, policy tenant_isolation created', r.tbl;
		else
			raise notice '%: RLS enabled and forced, policy tenant_isolation already present', r.tbl;
		end if;
		fixed := fixed + 1;
	end loop;

	for r in
		select c.oid::regclass as tbl
		from pg_class c
		join pg_namespace n on n.oid = c.relnamespace
		where n.nspname = 'public' and c.relkind in ('r', 'p')
		  and not exists (select 1 from pg_attribute a
		                  where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
		order by c.relname
	loop
		raise notice '%: skipped (no tenant_id column)', r.tbl;
		skipped := skipped + 1;
	end loop;

	if fixed = 0 then
		raise exception 'no table in schema public has a tenant_id column'
			using hint = 'Is this the tenant application database?';
	end if;
	raise notice '% table(s) protected, % skipped', fixed, skipped;

	if not exists (select 1 from pg_roles where rolname = 'app_user') then
		raise exception 'role app_user does not exist';
	end if;
	if (select rolbypassrls from pg_roles where rolname = 'app_user') then
		-- Needs superuser (or, from PostgreSQL 16, CREATEROLE with ADMIN on app_user).
		alter role app_user nobypassrls;
		raise notice 'app_user had BYPASSRLS: removed';
	else
		raise notice 'app_user has no BYPASSRLS: nothing to do';
	end if;
end
$$;

-- Transaction-local on purpose (set_config(..., true)): with a transaction
-- pooler (PgBouncer, Supavisor) a session-level setting would leak one
-- tenant's context to the next client on the same server connection.
-- Call it first thing in every transaction; outside one it has no effect
-- past the statement, and queries then see nothing (fail closed).
create or replace function public.set_tenant_context(tenant uuid) returns void
language plpgsql
set search_path = pg_catalog, public
as $$
begin
	if tenant is null then
		raise exception 'set_tenant_context: tenant is null';
	end if;
	if not exists (select 1 from public.tenants where id = tenant) then
		raise exception 'set_tenant_context: unknown tenant %', tenant;
	end if;
	perform set_config('app.current_tenant_id', tenant::text, true);
end
$$;

revoke all on function public.set_tenant_context(uuid) from public;
grant execute on function public.set_tenant_context(uuid) to app_user;
