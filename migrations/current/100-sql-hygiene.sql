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
