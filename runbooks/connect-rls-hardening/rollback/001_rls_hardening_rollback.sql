-- Rollback of migration 001: restores exactly the state before it.
--
-- Runs as one transaction. Safe to run more than once, and safe after a
-- partial or failed apply (which, being one transaction, left nothing).
--
-- Note what "previous state" means here: the old policy was using (true),
-- so after this rollback every signed-in user can again read private
-- business accounts. The owners' choice is not lost: it stays in
-- settings->>'visibility', from which migration 001 backfills is_public.

-- 5. storage.objects policies.
-- handrail:allow lock-held-until-commit policy and catalog changes only follow, no scan or rewrite; lock_timeout bounds the wait
drop policy if exists "Users can upload their own avatar" on storage.objects;
drop policy if exists "Users can update their own avatar" on storage.objects;
drop policy if exists "Users can delete their own avatar" on storage.objects;
drop policy if exists "Users can upload chat media to their chats" on storage.objects;
drop policy if exists "Users can view chat media in their chats" on storage.objects;
drop policy if exists "Users can delete their own chat media" on storage.objects;

-- 4. Buckets back to private without a size limit.
update storage.buckets
set public = false, file_size_limit = null
where id in ('avatars', 'chat-media');

-- 3. The old visibility policy. The new one goes first: it depends on
--    is_public, which is dropped next.
-- handrail:allow lock-held-until-commit policy changes and a DROP COLUMN (catalog only) follow; no scan or rewrite
drop policy if exists "Users can view public or owned business accounts" on public.business_accounts;
drop policy if exists "Users can view business accounts" on public.business_accounts;
create policy "Users can view business accounts" on public.business_accounts
	for select to authenticated
	using (true);

-- 2. business_accounts.is_public.
-- handrail:allow drop-column is_public was added by migration 001; the owners' choice stays in settings->>'visibility', from which 001 backfills it
alter table public.business_accounts drop column if exists is_public;

-- 1. RLS back on rate_limits (no policies: only service_role uses it).
alter table public.rate_limits enable row level security;
