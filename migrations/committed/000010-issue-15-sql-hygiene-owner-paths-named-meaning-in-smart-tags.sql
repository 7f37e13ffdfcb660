--! Previous: sha1:297d4640239fa448412a09e282f3c3d5be2543d1
--! Hash: sha1:defb6db6c498720e7e8d65649080480b29b4a32f
--! Message: Issue 15: SQL hygiene, owner paths named, meaning in smart tags, export authorization in SQL

--! split: 100-sql-hygiene.sql
/*
 * SQL hygiene (issue #15). Behaviour does not change; each repeated piece of
 * SQL now has one definition:
 * - one email domain (app_public.email) instead of three copies of the check;
 * - one uuid_or_null(text) for every reader of a jwt.claims.* setting;
 * - one last-admin check (app_private.assert_not_last_admin);
 * - delete_tenant checks its caller with app_private.assert_admin;
 * - assert_claims_current puts back the tenant context it sets for its lookup
 *   (tests/context-restore.test.ts checks every function that switches it);
 * - nobody may create objects in schema public.
 */

-------------------------------------------------------------------------------
-- Schema public: no objects from anyone but its owner
-------------------------------------------------------------------------------

-- PostgreSQL 15 and later already default to this; older clusters do not.
revoke create on schema public from public;

-------------------------------------------------------------------------------
-- Claim readers: a malformed or empty claim is null, never an error
-------------------------------------------------------------------------------

-- Null unless the text is a uuid in its canonical form. Never raises: Citus
-- (and the planner) may evaluate a claim reader before the setting exists,
-- when current_setting gives '' or null. IMMUTABLE SQL and not STRICT, so
-- that it is inlined into the readers and the policies that call them (the
-- plan of a policy is the same as with the expression written out).
create or replace function app_public.uuid_or_null(value text) returns uuid
  language sql immutable parallel safe
as $$
  select case
    when value ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then value::uuid
  end
$$;
comment on function app_public.uuid_or_null(text) is E'@behavior -queryField\nThe text as a uuid when it is one (canonical form, any case), else null; never raises. The claim readers (current_tenant_id, current_user_id, current_operator_id, current_session_id) read their settings with it.';
revoke all on function app_public.uuid_or_null(text) from public;
-- Every role that calls a claim reader: the readers run as their caller.
grant execute on function app_public.uuid_or_null(text) to :DATABASE_ANONYMOUS, :DATABASE_MEMBER, :DATABASE_OPERATOR;

-- The caller's tenant (jwt.claims.tenant_id); null when missing or malformed.
create or replace function app_public.current_tenant_id() returns uuid
  language sql stable parallel safe
as $$
  select app_public.uuid_or_null(current_setting('jwt.claims.tenant_id', true))
$$;

-- The calling user (jwt.claims.user_id); null when missing or malformed.
create or replace function app_public.current_user_id() returns uuid
  language sql stable parallel safe
as $$
  select app_public.uuid_or_null(current_setting('jwt.claims.user_id', true))
$$;

-- The calling operator (jwt.claims.operator_id); null when missing or malformed.
create or replace function app_public.current_operator_id() returns uuid
  language sql stable parallel safe
as $$
  select app_public.uuid_or_null(current_setting('jwt.claims.operator_id', true))
$$;

-- The session of the request (jwt.claims.session_id); null when missing or malformed.
create or replace function app_private.current_session_id() returns uuid
  language sql stable parallel safe
as $$
  select app_public.uuid_or_null(current_setting('jwt.claims.session_id', true))
$$;

-------------------------------------------------------------------------------
-- Email addresses: one domain
-------------------------------------------------------------------------------

-- Created only once, so that this file can run again. A domain over citext:
-- compared case-insensitively, like the columns it replaces.
do $$
begin
  if to_regtype('app_public.email') is null then
    create domain app_public.email as public.citext
      constraint email_format check (value ~ '^[^\s@]+@[^\s@]+\.[^\s@]+$' and char_length(value) <= 320);
  end if;
end;
$$;
comment on domain app_public.email is 'An email address: something@something.something, without spaces, at most 320 characters; compared case-insensitively (citext). Violations: check constraint email_format (BADEM where user input reaches it).';

-- The three columns that each had a copy of the check.
alter table app_public.users drop constraint if exists users_email_format;
alter table app_public.users alter column email type app_public.email;
alter table app_public.invitations drop constraint if exists invitations_email_format;
alter table app_public.invitations alter column email type app_public.email;
alter table app_public.operators drop constraint if exists operators_email_format;
alter table app_public.operators alter column email type app_public.email;

-- As before, with the domain's constraint (email_format) for the three
-- table constraints that became it.
create or replace function app_private.raise_input_error(constraint_name text) returns void
  language plpgsql
as $$
begin
  case constraint_name
    when 'tenants_slug_format' then
      raise exception 'A slug is 2 to 48 lowercase letters, digits or hyphens, starting and ending with a letter or digit.' using errcode = 'BADSL';
    when 'tenants_name_length' then
      raise exception 'A tenant name is 1 to 100 characters.' using errcode = 'BADNM';
    when 'email_format' then
      raise exception 'That is not a valid email address.' using errcode = 'BADEM';
    when 'users_name_length' then
      raise exception 'A name is 1 to 100 characters.' using errcode = 'BADNM';
    else
      return;
  end case;
end;
$$;
comment on function app_private.raise_input_error(text) is 'Turns a violated check constraint on user input into an error with a stable code (BADSL, BADNM, BADEM); returns for any other constraint.';

-- As before; a bad email now violates the domain's email_format.
create or replace function app_public.invite_user(email text, role app_public.user_role) returns app_public.new_invitation
  language plpgsql volatile strict
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_invitation app_public.invitations;
  v_token text;
  v_constraint text;
begin
  perform app_private.assert_admin();
  if exists (select 1 from app_public.users u where u.tenant_id = v_tenant_id and u.email = btrim(invite_user.email)::citext) then
    raise exception 'A user with this email already exists in this tenant.' using errcode = 'EMTKN';
  end if;
  update app_public.invitations i set revoked_at = now()
   where i.tenant_id = v_tenant_id and i.email = btrim(invite_user.email)::citext
     and i.accepted_at is null and i.revoked_at is null;
  begin
    insert into app_public.invitations (tenant_id, email, role, inviter_id)
      values (v_tenant_id, btrim(invite_user.email), invite_user.role, app_public.current_user_id())
      returning * into v_invitation;
  exception
    when check_violation then
      get stacked diagnostics v_constraint = constraint_name;
      perform app_private.raise_input_error(v_constraint);
      raise;
  end;
  v_token := app_private.new_token(v_tenant_id);
  insert into app_private.invitation_secrets (tenant_id, invitation_id, token_hash)
    values (v_tenant_id, v_invitation.id, app_private.token_hash(v_token));
  perform app_private.audit(v_tenant_id, 'invitation_sent', 'app_public.invitations', v_invitation.id::text, null,
    jsonb_build_object('email', v_invitation.email, 'role', v_invitation.role));
  return (v_invitation.id, v_token, v_invitation.expires_at)::app_public.new_invitation;
end;
$$;

-------------------------------------------------------------------------------
-- The last admin of a tenant
-------------------------------------------------------------------------------

-- Locks the tenant's admins (so that two demotions or removals cannot both
-- pass), then raises LASTA when giving the user new_role (null: removing
-- them) would leave the tenant without an admin. Called by set_user_role and
-- remove_user before they read the user, in the tenant's context.
create or replace function app_private.assert_not_last_admin(tenant_id uuid, user_id uuid, new_role app_public.user_role)
  returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform 1 from app_public.users u
   where u.tenant_id = assert_not_last_admin.tenant_id and u.role = 'admin'
   for update;
  if new_role is distinct from 'admin'
     and exists (select 1 from app_public.users u
                  where u.tenant_id = assert_not_last_admin.tenant_id and u.id = assert_not_last_admin.user_id and u.role = 'admin')
     and not exists (select 1 from app_public.users u
                      where u.tenant_id = assert_not_last_admin.tenant_id and u.id <> assert_not_last_admin.user_id and u.role = 'admin') then
    if new_role is null then
      raise exception 'The last admin of a tenant cannot be removed.' using errcode = 'LASTA';
    end if;
    raise exception 'The last admin of a tenant cannot be demoted.' using errcode = 'LASTA';
  end if;
end;
$$;
comment on function app_private.assert_not_last_admin(uuid, uuid, app_public.user_role) is 'Locks the tenant''s admins, then raises LASTA when giving the user new_role (null: removing them) would leave the tenant without an admin. Used by set_user_role and remove_user.';
revoke all on function app_private.assert_not_last_admin(uuid, uuid, app_public.user_role) from public;

-- As before, with the last-admin check from assert_not_last_admin.
create or replace function app_public.set_user_role(user_id uuid, role app_public.user_role) returns app_public.users
  language plpgsql volatile strict
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_user app_public.users;
  v_old_role app_public.user_role;
begin
  perform app_private.assert_admin();
  perform app_private.assert_not_last_admin(v_tenant_id, set_user_role.user_id, set_user_role.role);
  select u.* into v_user from app_public.users u where u.tenant_id = v_tenant_id and u.id = set_user_role.user_id;
  if v_user.id is null then
    raise exception 'No user with this id in the tenant.' using errcode = 'NOUSR';
  end if;
  if v_user.role = set_user_role.role then
    return v_user;
  end if;
  v_old_role := v_user.role;
  update app_public.users u set role = set_user_role.role
   where u.tenant_id = v_tenant_id and u.id = v_user.id
   returning * into strict v_user;
  perform app_private.audit(v_tenant_id, 'role_changed', 'app_public.users', v_user.id::text, array['role'],
    jsonb_build_object('email', v_user.email, 'from', v_old_role, 'to', v_user.role));
  return v_user;
end;
$$;

-- As before, with the last-admin check from assert_not_last_admin.
create or replace function app_public.remove_user(user_id uuid) returns boolean
  language plpgsql volatile strict
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_user app_public.users;
begin
  perform app_private.assert_admin();
  perform app_private.assert_not_last_admin(v_tenant_id, remove_user.user_id, null);
  select u.* into v_user from app_public.users u where u.tenant_id = v_tenant_id and u.id = remove_user.user_id;
  if v_user.id is null then
    raise exception 'No user with this id in the tenant.' using errcode = 'NOUSR';
  end if;
  delete from app_public.users u where u.tenant_id = v_tenant_id and u.id = v_user.id
    returning * into strict v_user;
  perform app_private.audit(v_tenant_id, 'user_removed', 'app_public.users', v_user.id::text, null,
    jsonb_build_object('email', v_user.email, 'role', v_user.role));
  return true;
end;
$$;

-------------------------------------------------------------------------------
-- delete_tenant: the caller checked by assert_admin
-------------------------------------------------------------------------------

-- As before (000003), with its own admin check replaced by assert_admin
-- (the same 42501, which the API reports as FORBIDDEN).
create or replace function app_public.delete_tenant(confirm_slug text) returns boolean
  language plpgsql volatile strict
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant app_public.tenants;
  v_table regclass;
  v_count bigint;
  v_counts jsonb := '{}';
begin
  perform app_private.assert_admin();
  select t.* into v_tenant from app_public.tenants t where t.id = app_public.current_tenant_id();
  if confirm_slug is distinct from v_tenant.slug then
    raise exception 'The slug does not match this tenant''s slug.' using errcode = 'CONFM';
  end if;
  for v_table in
    select c.oid::regclass from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
     where n.nspname in ('app_public', 'app_private') and c.relkind in ('r', 'p')
     order by 1
  loop
    execute format('select count(*) from %s where tenant_id = $1', v_table) into v_count using v_tenant.id;
    v_counts := v_counts || jsonb_build_object(v_table::text, v_count);
  end loop;
  delete from app_public.tenants where id = v_tenant.id;
  insert into app_private.tenant_deletions (deleted_tenant_id, slug, name, deleted_by, rows_deleted)
    values (v_tenant.id, v_tenant.slug, v_tenant.name, app_public.current_user_id(), v_counts);
  return true;
end;
$$;

-------------------------------------------------------------------------------
-- The per-request claims check leaves the context as it found it
-------------------------------------------------------------------------------

-- As before (000007), but the tenant context it sets for its lookup is put
-- back before it returns (the settings statement it runs in then sets the
-- request's own). On 28000 the request's transaction fails anyway.
create or replace function app_private.assert_claims_current(user_id uuid, tenant_id uuid, role text, session_id uuid) returns void
  language plpgsql volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_previous text;
begin
  if session_id is null then
    return;
  end if;
  v_previous := coalesce(current_setting('jwt.claims.tenant_id', true), '');
  perform set_config('jwt.claims.tenant_id', coalesce(assert_claims_current.tenant_id::text, ''), true);
  if not exists (
    select 1 from app_private.sessions s
      join app_public.users u on u.tenant_id = s.tenant_id and u.id = s.user_id
     where s.tenant_id = assert_claims_current.tenant_id
       and s.id = assert_claims_current.session_id
       and s.user_id = assert_claims_current.user_id
       and s.revoked_at is null
       and s.expires_at > now()
       and u.role::text = assert_claims_current.role
  ) then
    raise exception 'The token no longer matches its account or session.' using errcode = '28000';
  end if;
  perform set_config('jwt.claims.tenant_id', v_previous, true);
end;
$$;

--! split: 110-owner-policies.sql
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

--! split: 200-function-smart-tags.sql
--------------------------------------------------------------------------------
-- Smart tags: what a function means to the API, written next to the function.
--
-- PostGraphile reads the lines at the top of a function's comment that start
-- with @ as smart tags, and leaves them out of the GraphQL description. Two
-- tags carry meaning that the API's generic plugins apply to every mutation
-- built from a function with the tag, whatever its GraphQL name (@name):
--
--   @nullError CODE message
--     The function returns null, rather than raising, for a failure it must
--     record (a raise would roll the record back with the request). The API
--     answers that null with this error: extensions.code CODE (five capital
--     letters, like the SQLSTATEs raised on purpose) and this message.
--     (server/null-result-errors.ts)
--   @rateLimit bucket
--     Calls are counted per client address in a one-minute window of this
--     bucket, shared by every function tagged with it; a request may call the
--     function once. Buckets and their limits are in common/config.ts
--     (rateLimits); a bucket missing there stops the API at start-up.
--     (server/rate-limit.ts)
--
-- Each statement restates the function's whole comment (documentation text
-- as the committed migrations wrote it, after the tags), so it stands alone
-- whichever migration last created the function.
--------------------------------------------------------------------------------

-- Logging in to a tenant: a failure is counted (login throttle), so it returns null.
comment on function app_public.login(text, text, text) is
  E'@nullError CREDS Incorrect tenant, email or password.\n'
  '@rateLimit login\n'
  'Logs in to a tenant and returns an access token and a refresh token. A wrong slug, email or password all give the same error, CREDS; after 5 failures within 15 minutes for the same tenant and email, LOCKD for 15 minutes.';

-- Logging in as a platform operator: likewise.
comment on function app_public.operator_login(text, text) is
  E'@nullError CREDS Incorrect email or password.\n'
  '@rateLimit operatorLogin\n'
  'Logs a platform operator in and returns an access token (no refresh token). Errors: CREDS, LOCKD.';

-- Refreshing: a reused token revokes its session, so a refusal returns null.
comment on function app_public.refresh(text) is
  E'@nullError BADRT The refresh token is not valid (unknown, used, revoked or expired); log in again.\n'
  'Exchanges a refresh token for a new access token and refresh token. Each refresh token works once: a second use revokes the session. Error BADRT for an unknown, used, revoked or expired token.';

-- Accepting an invitation costs a password hash.
comment on function app_public.accept_invitation(text, text, text) is
  E'@rateLimit acceptInvitation\n'
  'Accepts an invitation: creates the user (with this name and password) in the invitation''s tenant and returns an access token and a refresh token. Errors: BADIN (unknown, used, revoked or expired), BADNM, WEAKP, LONGP, EMTKN.';

-- Signing up creates a tenant: limited against sign-up spam.
comment on function app_public.create_tenant(text, text, text, text) is
  E'@rateLimit createTenant\n'
  'Creates a tenant and its first admin (named after the email''s local part), and returns that admin''s access and refresh tokens. Errors: BADSL, BADNM, BADEM, WEAKP, LONGP, TAKEN.';

--! split: 300-export-authorization.sql
/*
 * Tenant export (GET /export): who may export is decided here, in the
 * database, by a function the server calls first in the export's
 * transaction, once the request's settings are in place (server/export.ts).
 * The export's compatibility is no longer the schema version: export files
 * declare their tables' columns and types, and the import compares those with
 * the target's catalog (common/tenant-export-format.ts, db/import.ts).
 */

drop function if exists app_public.assert_may_export() cascade;

-------------------------------------------------------------------------------
-- Export authorization
-------------------------------------------------------------------------------

-- Raises FORBIDDEN (42501) unless the caller may export the request's
-- tenant: an admin of that tenant according to the database (users.role,
-- not only the token), or a platform operator whose request names a tenant
-- (X-Operator-Tenant; before the request, app_private.operator_access
-- checked that the operator is enabled and the tenant exists, and audited
-- the access). Refused: members, operators naming no tenant, any request
-- without a tenant. Runs as the caller (no SECURITY DEFINER): the caller's
-- own policies answer the lookup.
create function app_public.assert_may_export() returns void
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if app_public.current_tenant_id() is null then
    raise exception 'Only a tenant admin, or an operator naming the tenant, may export a tenant.' using errcode = '42501';
  end if;
  if current_setting('jwt.claims.role', true) = 'operator' and app_public.current_operator_id() is not null then
    return;
  end if;
  if not exists (
    select 1 from app_public.users u
     where u.tenant_id = app_public.current_tenant_id() and u.id = app_public.current_user_id() and u.role = 'admin'
  ) then
    raise exception 'Only a tenant admin, or an operator naming the tenant, may export a tenant.' using errcode = '42501';
  end if;
end;
$$;
comment on function app_public.assert_may_export() is E'@behavior -queryField\nRaises 42501 (FORBIDDEN) unless the caller may export the current tenant: an admin of it (checked in the users table), or an operator whose request names it. GET /export calls it first in its transaction.';
revoke all on function app_public.assert_may_export() from public;
grant execute on function app_public.assert_may_export() to :DATABASE_MEMBER, :DATABASE_OPERATOR;

-------------------------------------------------------------------------------
-- Schema version: information only
-------------------------------------------------------------------------------

-- Exports still carry it (which migration the source had), but imports no
-- longer compare it: they compare the tables' columns and types.
comment on function app_public.schema_version() is 'The latest applied migration; tenant exports carry it as information (imports compare the tables'' columns and types instead).';
