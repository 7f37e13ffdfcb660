/*
 * Owner-only policies named and scoped as what they are (issue #15). These
 * policies were written `to PUBLIC` but no request role holds the privilege
 * they govern: only the owner uses them, inside its SECURITY DEFINER
 * functions (create_user, remove_user, login, refresh, ...), imports and the
 * demo data. Dropping one as "unused" would break sign-up. Each is now
 * `owner_<what>` `to` the owner, with the same expression; the linter's
 * unreachable-policy rule finds any new one (db/lint.ts).
 */

-------------------------------------------------------------------------------
-- app_public.users: inserted and deleted by the owner only
-------------------------------------------------------------------------------

-- Request roles lost INSERT and DELETE on users in 000006; invitations
-- (accept_invitation), sign-up (create_tenant) and imports create users
-- through the owner (create_user), and remove_user deletes them.
drop policy if exists insert_own_tenant on app_public.users;
drop policy if exists owner_insert on app_public.users;
create policy owner_insert on app_public.users for insert to :DATABASE_OWNER
  with check (tenant_id = app_public.current_tenant_id());

drop policy if exists delete_own_tenant on app_public.users;
drop policy if exists owner_delete on app_public.users;
create policy owner_delete on app_public.users for delete to :DATABASE_OWNER
  using (tenant_id = app_public.current_tenant_id());

-------------------------------------------------------------------------------
-- app_private: only the owner reaches these tables, tenant by tenant
-------------------------------------------------------------------------------

-- Password hashes: create_user, login, change_password.
drop policy if exists own_tenant on app_private.user_secrets;
drop policy if exists owner_all on app_private.user_secrets;
create policy owner_all on app_private.user_secrets for all to :DATABASE_OWNER
  using (tenant_id = app_public.current_tenant_id())
  with check (tenant_id = app_public.current_tenant_id());

-- Sessions: login, refresh, logout, change_password, the claims checks, pruning.
drop policy if exists own_tenant on app_private.sessions;
drop policy if exists owner_all on app_private.sessions;
create policy owner_all on app_private.sessions for all to :DATABASE_OWNER
  using (tenant_id = app_public.current_tenant_id())
  with check (tenant_id = app_public.current_tenant_id());

-- Refresh tokens: login, refresh, logout.
drop policy if exists own_tenant on app_private.refresh_tokens;
drop policy if exists owner_all on app_private.refresh_tokens;
create policy owner_all on app_private.refresh_tokens for all to :DATABASE_OWNER
  using (tenant_id = app_public.current_tenant_id())
  with check (tenant_id = app_public.current_tenant_id());

-- Invitation token hashes: invite_user, accept_invitation.
drop policy if exists own_tenant on app_private.invitation_secrets;
drop policy if exists owner_all on app_private.invitation_secrets;
create policy owner_all on app_private.invitation_secrets for all to :DATABASE_OWNER
  using (tenant_id = app_public.current_tenant_id())
  with check (tenant_id = app_public.current_tenant_id());
