-- Migration 001: RLS hardening (Connect-Prod)
--
-- Runs as one transaction (handrail sql step with the default
-- transaction = true): it commits entirely or not at all. Safe to run
-- again: every statement is idempotent. Undo: rollback/001_rls_hardening_rollback.sql.
--
-- Locks: ALTER TABLE / CREATE POLICY take ACCESS EXCLUSIVE on
-- rate_limits, business_accounts and storage.objects for the (short)
-- duration of the transaction; lock_timeout (runbook settings) bounds the
-- wait behind long-running queries.

-- 1. rate_limits: only service_role (BYPASSRLS) reads and writes it, and
--    anon/authenticated have no grants on it, so RLS only adds per-row
--    policy evaluation on the request hot path.
-- handrail:allow lock-held-until-commit rate_limits is small and nothing after it scans or rewrites a table; lock_timeout bounds the wait for the lock
alter table public.rate_limits disable row level security;

-- 2. business_accounts.is_public. New accounts are public unless the owner
--    says otherwise. Existing accounts whose owners chose "private" in the
--    app (settings->>'visibility' = 'private', honoured by the UI only until
--    now) are backfilled to false. The backfill runs only when this
--    migration adds the column, so a re-run never overwrites a visibility
--    an owner changed since. ADD COLUMN with a constant default does not
--    rewrite the table (PostgreSQL 11+).
-- handrail:allow locks-unknown ADD COLUMN is_public (constant default: no rewrite) takes ACCESS EXCLUSIVE on business_accounts; the backfill updates the private accounts (ROW EXCLUSIVE)
do $$
declare
	fresh boolean := not exists (
		select 1 from pg_attribute
		where attrelid = 'public.business_accounts'::regclass
		  and attname = 'is_public' and not attisdropped);
	n bigint;
begin
	alter table public.business_accounts add column if not exists is_public boolean default true;
	if fresh then
		update public.business_accounts set is_public = false
		where settings ->> 'visibility' = 'private';
		get diagnostics n = row_count;
		raise notice 'business_accounts.is_public added; % account(s) marked private from settings.visibility', n;
	else
		raise notice 'business_accounts.is_public already exists; backfill skipped';
	end if;
end
$$;

-- 3. Visibility: public accounts to every signed-in user, private ones to
--    their owner only. Replaces "Users can view business accounts", which
--    was using (true) and so exposed private accounts.
-- handrail:allow lock-held-until-commit policy changes on business_accounts: catalog only, no scan; held until COMMIT with the rest of the migration
drop policy if exists "Users can view business accounts" on public.business_accounts;
drop policy if exists "Users can view public or owned business accounts" on public.business_accounts;
create policy "Users can view public or owned business accounts" on public.business_accounts
	for select to authenticated
	using (is_public or auth.uid() = owner_id);

-- 4. Buckets: public (files served by URL without a signed token) with a
--    10 MiB upload limit. Fail the whole migration if a bucket is missing
--    rather than silently updating fewer rows.
update storage.buckets
set public = true, file_size_limit = 10485760
where id in ('avatars', 'chat-media');

-- handrail:allow locks-unknown reads storage.buckets only (ACCESS SHARE) to check both buckets exist
do $$
declare
	missing text;
begin
	select string_agg(b, ', ') into missing
	from unnest(array['avatars', 'chat-media']) b
	where not exists (select 1 from storage.buckets where id = b);
	if missing is not null then
		raise exception 'storage bucket(s) missing: %', missing
			using hint = 'Is this the Connect database? Create the buckets first, or stop here.';
	end if;
end
$$;

-- 5. storage.objects policies.
--    avatars:    one file per user, avatars/{userId}.jpg
--    chat-media: chat-media/{chatId}/{file}, for members of that chat
-- handrail:allow lock-held-until-commit only policy changes on storage.objects follow: catalog only, no scan
drop policy if exists "Users can upload their own avatar" on storage.objects;
create policy "Users can upload their own avatar" on storage.objects
	for insert to authenticated
	with check (bucket_id = 'avatars' and name = auth.uid()::text || '.jpg');

drop policy if exists "Users can update their own avatar" on storage.objects;
create policy "Users can update their own avatar" on storage.objects
	for update to authenticated
	using (bucket_id = 'avatars' and name = auth.uid()::text || '.jpg')
	with check (bucket_id = 'avatars' and name = auth.uid()::text || '.jpg');

drop policy if exists "Users can delete their own avatar" on storage.objects;
create policy "Users can delete their own avatar" on storage.objects
	for delete to authenticated
	using (bucket_id = 'avatars' and name = auth.uid()::text || '.jpg');

drop policy if exists "Users can upload chat media to their chats" on storage.objects;
create policy "Users can upload chat media to their chats" on storage.objects
	for insert to authenticated
	with check (
		bucket_id = 'chat-media'
		and owner = auth.uid()
		and exists (
			select 1 from public.chat_members m
			where m.chat_id::text = (storage.foldername(name))[1]
			  and m.user_id = auth.uid()));

drop policy if exists "Users can view chat media in their chats" on storage.objects;
create policy "Users can view chat media in their chats" on storage.objects
	for select to authenticated
	using (
		bucket_id = 'chat-media'
		and exists (
			select 1 from public.chat_members m
			where m.chat_id::text = (storage.foldername(name))[1]
			  and m.user_id = auth.uid()));

drop policy if exists "Users can delete their own chat media" on storage.objects;
create policy "Users can delete their own chat media" on storage.objects
	for delete to authenticated
	using (bucket_id = 'chat-media' and owner = auth.uid());
