/*
 * Tenant context that reaches the Citus workers (issue #14).
 *
 * The owner's functions reach one tenant's rows under forced RLS by setting
 * jwt.claims.tenant_id for the transaction. They did it with
 * set_config(…, true), which Citus never forwards: on the workers the
 * policies then saw no tenant (every token 401, sign-up an RLS violation).
 * Citus forwards SET LOCAL (with citus.propagate_set_commands = 'local'), so
 * the switch and its restore are now SET LOCAL, run through EXECUTE (SET
 * takes no variables). On plain PostgreSQL nothing changes: SET LOCAL and
 * set_config(…, true) are the same action, and inside a function both last
 * to the end of the transaction (or are rolled back with its savepoint).
 *
 * Every switch goes through switch_tenant_context and every restore through
 * restore_tenant_context: lint rule citus-set-config flags set_config() of a
 * jwt.claims.* setting or of role in any function body.
 */

-------------------------------------------------------------------------------
-- The switch and its restore
-------------------------------------------------------------------------------

-- Sets jwt.claims.tenant_id (SET LOCAL) and returns the value it replaced
-- ('' for none), which the caller hands to restore_tenant_context.
create or replace function app_private.switch_tenant_context(tenant_id uuid) returns text
  language plpgsql
as $$
declare
  v_previous text := coalesce(current_setting('jwt.claims.tenant_id', true), '');
begin
  execute format('set local jwt.claims.tenant_id = %L', coalesce(tenant_id::text, ''));
  return v_previous;
end;
$$;
revoke all on function app_private.switch_tenant_context(uuid) from public;
comment on function app_private.switch_tenant_context(uuid) is
  'Sets jwt.claims.tenant_id for the transaction with SET LOCAL (which Citus forwards to its workers; set_config does not) and returns the previous value, for the owner''s onboarding and login functions.';

-- Puts back, verbatim, the value switch_tenant_context returned.
create or replace function app_private.restore_tenant_context(previous text) returns void
  language plpgsql
as $$
begin
  execute format('set local jwt.claims.tenant_id = %L', coalesce(previous, ''));
end;
$$;
revoke all on function app_private.restore_tenant_context(text) from public;
comment on function app_private.restore_tenant_context(text) is
  'Sets jwt.claims.tenant_id back (SET LOCAL, as switch_tenant_context does) to the value switch_tenant_context returned; '''' or null for none.';

-------------------------------------------------------------------------------
-- The claims check: switch and restore through the helpers
-------------------------------------------------------------------------------

-- Same checks as before; only the switch and its restore change.
create or replace function app_private.assert_claims_current(user_id uuid, tenant_id uuid, role text, session_id uuid)
  returns void
  language plpgsql security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_previous text;
begin
  if session_id is null then
    return;
  end if;
  v_previous := app_private.switch_tenant_context(assert_claims_current.tenant_id);
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
  perform app_private.restore_tenant_context(v_previous);
end;
$$;

create or replace function app_private.claims_are_current(user_id uuid, tenant_id uuid, role text, session_id uuid)
  returns boolean
  language plpgsql strict security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_previous text;
  v_current boolean;
begin
  v_previous := app_private.switch_tenant_context(claims_are_current.tenant_id);
  select exists (
    select 1 from app_private.sessions s
      join app_public.users u on u.tenant_id = s.tenant_id and u.id = s.user_id
    where s.tenant_id = claims_are_current.tenant_id
      and s.id = claims_are_current.session_id
      and s.user_id = claims_are_current.user_id
      and s.revoked_at is null
      and s.expires_at > now()
      and u.role::text = claims_are_current.role
  ) into v_current;
  perform app_private.restore_tenant_context(v_previous);
  return v_current;
end;
$$;

-------------------------------------------------------------------------------
-- The owner's helpers
-------------------------------------------------------------------------------

create or replace function app_private.audit(
  tenant_id uuid, action text, table_name text default null, row_key text default null,
  changed_columns text[] default null, details jsonb default '{}', actor_user_id uuid default null,
  actor_operator_id uuid default null
) returns void
  language plpgsql security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_previous text := app_private.switch_tenant_context(audit.tenant_id);
begin
  insert into app_public.audit_events (tenant_id, actor_user_id, actor_operator_id, action, table_name, row_key, changed_columns, details)
    values (audit.tenant_id, coalesce(audit.actor_user_id, app_public.current_user_id()),
            coalesce(audit.actor_operator_id, app_public.current_operator_id()),
            action, table_name, row_key, changed_columns, coalesce(details, '{}'));
  perform app_private.restore_tenant_context(v_previous);
end;
$$;

-- Visits every tenant in turn (the switch inside the loop), then restores.
create or replace function app_private.prune_sessions(ended_before interval default '1 day') returns bigint
  language plpgsql
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant uuid;
  v_previous text := coalesce(current_setting('jwt.claims.tenant_id', true), '');
  v_count bigint;
  v_total bigint := 0;
begin
  for v_tenant in select t.id from app_public.tenants t loop
    perform app_private.switch_tenant_context(v_tenant);
    delete from app_private.sessions s
     where s.tenant_id = v_tenant
       and least(s.revoked_at, s.expires_at) < now() - ended_before;  -- least() skips a null revoked_at
    get diagnostics v_count = row_count;
    v_total := v_total + v_count;
  end loop;
  delete from app_private.login_throttle t
   where t.window_started_at < now() - ended_before and (t.locked_until is null or t.locked_until < now());
  perform app_private.restore_tenant_context(v_previous);
  return v_total;
end;
$$;

-------------------------------------------------------------------------------
-- The API's functions that work in another tenant's context
-------------------------------------------------------------------------------

create or replace function app_public.accept_invitation(token text, name text, password text)
  returns app_public.auth_tokens
  language plpgsql strict security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_private.token_tenant(token);
  v_previous text;
  v_invitation app_public.invitations;
  v_user_id uuid;
  v_user app_public.users;
  v_tokens app_public.auth_tokens;
begin
  perform app_private.assert_valid_password(password);
  v_previous := app_private.switch_tenant_context(v_tenant_id);
  select i.* into v_invitation
    from app_private.invitation_secrets s
    join app_public.invitations i on i.tenant_id = s.tenant_id and i.id = s.invitation_id
   where s.tenant_id = v_tenant_id and s.token_hash = app_private.token_hash(token)
     and i.accepted_at is null and i.revoked_at is null and i.expires_at > now()
   for update of i;
  if v_invitation.id is null then
    raise exception 'This invitation is not valid: it is unknown, used, revoked or expired.' using errcode = 'BADIN';
  end if;
  v_user_id := app_private.create_user(v_tenant_id, v_invitation.email, name, v_invitation.role, password);
  select u.* into v_user from app_public.users u where u.tenant_id = v_tenant_id and u.id = v_user_id;
  update app_public.invitations i set accepted_at = now(), accepted_user_id = v_user.id
   where i.tenant_id = v_tenant_id and i.id = v_invitation.id;
  v_tokens := app_private.issue_tokens(v_tenant_id, v_user.id);
  perform app_private.audit(v_tenant_id, 'invitation_accepted', 'app_public.invitations', v_invitation.id::text, null,
    jsonb_build_object('email', v_user.email, 'role', v_user.role, 'user_id', v_user.id), v_user.id);
  perform app_private.restore_tenant_context(v_previous);
  return v_tokens;
end;
$$;

create or replace function app_public.create_tenant(name text, slug text, admin_email text, admin_password text)
  returns app_public.auth_tokens
  language plpgsql strict security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant app_public.tenants;
  v_admin_id uuid;
  v_previous text;
  v_constraint text;
  v_tokens app_public.auth_tokens;
begin
  perform app_private.assert_valid_password(admin_password);
  v_previous := app_private.switch_tenant_context(gen_random_uuid());
  begin
    insert into app_public.tenants (id, slug, name)
      values (app_public.current_tenant_id(), lower(btrim(slug)), btrim(name))
      returning * into v_tenant;
  exception
    when check_violation then
      get stacked diagnostics v_constraint = constraint_name;
      perform app_private.raise_input_error(v_constraint);
      raise;
    when unique_violation then
      raise exception 'That slug is already taken.' using errcode = 'TAKEN';
  end;
  v_admin_id := app_private.create_user(
    v_tenant.id, admin_email, split_part(btrim(admin_email), '@', 1), 'admin', admin_password
  );
  v_tokens := app_private.issue_tokens(v_tenant.id, v_admin_id);
  perform app_private.restore_tenant_context(v_previous);
  return v_tokens;
end;
$$;

create or replace function app_public.login(tenant_slug text, email text, password text)
  returns app_public.auth_tokens
  language plpgsql strict security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_slug text := lower(btrim(tenant_slug));
  v_email text := btrim(email);
  v_tenant_id uuid;
  v_user app_public.users;
  v_hash text;
  v_previous text;
  v_tokens app_public.auth_tokens;
begin
  perform app_private.login_throttle_check(v_slug, v_email);
  select t.id into v_tenant_id from app_public.tenants t where t.slug = v_slug;
  v_previous := app_private.switch_tenant_context(v_tenant_id);
  if v_tenant_id is not null then
    select u.* into v_user from app_public.users u
      where u.tenant_id = v_tenant_id and u.email = v_email::citext;
    select s.password_hash into v_hash from app_private.user_secrets s
      where s.tenant_id = v_tenant_id and s.user_id = v_user.id;
  end if;
  -- Without a hash, the same work as a real comparison (bcrypt, cost 10).
  if crypt(password, coalesce(v_hash, '$2a$10$YnIjOHM8BcuwXxxu1E9CCeO93oXkBoCbFB9fVeD31h9ORxCH2JqLW')) is distinct from v_hash then
    perform app_private.login_throttle_fail(v_slug, v_email);
    if v_tenant_id is not null then
      perform app_private.audit(v_tenant_id, 'login_failed', 'app_public.users', v_user.id::text, null,
        jsonb_build_object('email', v_email, 'reason', case when v_user.id is null then 'unknown_email' else 'wrong_password' end));
    end if;
    perform app_private.restore_tenant_context(v_previous);
    return null;
  end if;
  delete from app_private.login_throttle t where t.scope = v_slug and t.email = v_email::citext;
  v_tokens := app_private.issue_tokens(v_tenant_id, v_user.id);
  perform app_private.audit(v_tenant_id, 'login', 'app_public.users', v_user.id::text, null,
    jsonb_build_object('session_id', (v_tokens.access_token).session_id), v_user.id);
  perform app_private.restore_tenant_context(v_previous);
  return v_tokens;
end;
$$;

create or replace function app_public.logout(refresh_token text) returns boolean
  language plpgsql strict security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_private.token_tenant(refresh_token);
  v_previous text;
begin
  if v_tenant_id is not null then
    v_previous := app_private.switch_tenant_context(v_tenant_id);
    update app_private.sessions s set revoked_at = now(), revoked_reason = 'logout'
      from app_private.refresh_tokens t
     where t.tenant_id = v_tenant_id and t.token_hash = app_private.token_hash(refresh_token)
       and s.tenant_id = v_tenant_id and s.id = t.session_id and s.revoked_at is null;
    perform app_private.restore_tenant_context(v_previous);
  end if;
  return true;
end;
$$;

create or replace function app_public.refresh(refresh_token text) returns app_public.auth_tokens
  language plpgsql strict security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_private.token_tenant(refresh_token);
  v_previous text;
  v_token app_private.refresh_tokens;
  v_session app_private.sessions;
  v_role text;
  v_result app_public.auth_tokens;
begin
  if v_tenant_id is null then
    return null;
  end if;
  v_previous := app_private.switch_tenant_context(v_tenant_id);
  select t.* into v_token from app_private.refresh_tokens t
    where t.tenant_id = v_tenant_id and t.token_hash = app_private.token_hash(refresh_token)
    for update;
  select s.* into v_session from app_private.sessions s
    where s.tenant_id = v_tenant_id and s.id = v_token.session_id
    for update;
  if v_token.session_id is null or v_session.id is null then
    v_result := null;
  elsif v_token.used_at is not null then
    if v_session.revoked_at is null then
      update app_private.sessions s set revoked_at = now(), revoked_reason = 'refresh_token_reused'
        where s.tenant_id = v_tenant_id and s.id = v_session.id;
      perform app_private.audit(v_tenant_id, 'refresh_token_reused', 'app_public.users', v_session.user_id::text, null,
        jsonb_build_object('session_id', v_session.id), v_session.user_id);
    end if;
    v_result := null;
  elsif v_session.revoked_at is not null or v_session.expires_at <= now() then
    v_result := null;
  else
    update app_private.refresh_tokens t set used_at = now()
      where t.tenant_id = v_tenant_id and t.token_hash = v_token.token_hash;
    update app_private.sessions s set refreshed_at = now()
      where s.tenant_id = v_tenant_id and s.id = v_session.id;
    select u.role::text into v_role from app_public.users u
      where u.tenant_id = v_tenant_id and u.id = v_session.user_id;
    v_result := (
      (v_role, v_session.user_id::text, v_session.user_id, v_tenant_id, v_session.id, null)::app_public.jwt_token,
      app_private.new_refresh_token(v_tenant_id, v_session.id)
    )::app_public.auth_tokens;
  end if;
  perform app_private.restore_tenant_context(v_previous);
  return v_result;
end;
$$;
