-- Issue 13: forgot_password and reset_password.
-- forgot_password does the same on every path: it queues one job
-- (forgot_password) carrying what was typed, and returns true. The worker
-- (app_private.send_password_reset, as the owner) looks the account up; if
-- it exists and has had fewer than 3 reset emails this hour, it issues the
-- token and queues its email in one transaction. So neither the answer nor
-- the request's timing says whether an account exists.

create or replace function app_public.forgot_password(tenant_slug text, email text)
returns boolean
language plpgsql
strict
security definer
set search_path to pg_catalog, public, pg_temp
as $$
begin
  -- Nothing longer than a slug or an address can name an account.
  if char_length(tenant_slug) <= 48 and char_length(email) <= 320 then
    perform graphile_worker.add_job(
      'forgot_password',
      json_build_object('tenant_slug', lower(btrim(tenant_slug)), 'email', btrim(email)),
      max_attempts => 5
    );
  end if;
  return true;
end;
$$;
revoke all on function app_public.forgot_password(text, text) from public;
grant execute on function app_public.forgot_password(text, text) to :DATABASE_ANONYMOUS, :DATABASE_MEMBER;
comment on function app_public.forgot_password(text, text) is E'@rateLimit forgotPassword\nAsks for a password-reset email. Always returns true, whether or not the tenant and email name an account; if they do, the user receives a link with a single-use token that works for 1 hour (at most 3 such emails per account and hour; more requests send nothing). Users imported with tenant:import, who have no password, set one this way.';

-- The worker's half of forgot_password (task forgot_password, as the owner).
create or replace function app_private.send_password_reset(tenant_slug text, email text)
returns boolean
language plpgsql
set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant app_public.tenants;
  v_user app_public.users;
  v_previous text;
  v_token text;
begin
  select t.* into v_tenant from app_public.tenants t where t.slug = send_password_reset.tenant_slug;
  if v_tenant.id is null then
    return false;
  end if;
  v_previous := app_private.switch_tenant_context(v_tenant.id);
  select u.* into v_user from app_public.users u
   where u.tenant_id = v_tenant.id and u.email = send_password_reset.email::citext;
  if v_user.id is null or app_private.account_email_limit_reached(v_tenant.id, v_user.id, 'password_reset') then
    perform app_private.restore_tenant_context(v_previous);
    return false;
  end if;
  v_token := app_private.new_account_token(v_tenant.id, v_user.id, v_user.email, 'password_reset', interval '1 hour');
  perform app_private.queue_email('password_reset', v_user.email, jsonb_build_object(
    'token', v_token, 'name', v_user.name, 'tenant_name', v_tenant.name, 'tenant_slug', v_tenant.slug));
  perform app_private.audit(v_tenant.id, 'password_reset_requested', 'app_public.users', v_user.id::text);
  perform app_private.restore_tenant_context(v_previous);
  return true;
end;
$$;
revoke all on function app_private.send_password_reset(text, text) from public;
comment on function app_private.send_password_reset(text, text) is 'Run by the worker for forgot_password: when the slug and email name a user who has had fewer than 3 reset emails this hour, issues a reset token (1 hour) and queues its email in the same transaction; returns whether it did.';

-- Sets a new password with a reset token; ends every session of the user.
create or replace function app_public.reset_password(token text, new_password text)
returns boolean
language plpgsql
strict
security definer
set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_private.token_tenant(token);
  v_previous text;
  v_token app_private.account_tokens;
  v_user app_public.users;
  v_slug text;
  v_hash text;
  v_now timestamptz := now();
  v_sessions bigint;
begin
  perform app_private.assert_valid_password(new_password);
  if v_tenant_id is null then
    raise exception 'This link is not valid: it is unknown, used or expired. Ask for a new one.' using errcode = 'BADTK';
  end if;
  v_previous := app_private.switch_tenant_context(v_tenant_id);
  select t.* into v_token from app_private.account_tokens t
   where t.tenant_id = v_tenant_id and t.token_hash = app_private.token_hash(reset_password.token)
     and t.purpose = 'password_reset' and t.used_at is null and t.expires_at > v_now
   for update;
  select u.* into v_user from app_public.users u
   where u.tenant_id = v_tenant_id and u.id = v_token.user_id and u.email = v_token.email;
  if v_user.id is null then
    raise exception 'This link is not valid: it is unknown, used or expired. Ask for a new one.' using errcode = 'BADTK';
  end if;
  v_hash := crypt(new_password, gen_salt('bf', 10));
  insert into app_private.user_secrets as s (tenant_id, user_id, password_hash, password_changed_at)
    values (v_tenant_id, v_user.id, v_hash, v_now)
    on conflict on constraint user_secrets_pkey do update
      set password_hash = excluded.password_hash, password_changed_at = excluded.password_changed_at;
  -- This token and every other reset token of the user: used up.
  update app_private.account_tokens t set used_at = v_now
   where t.tenant_id = v_tenant_id and t.user_id = v_user.id and t.purpose = 'password_reset' and t.used_at is null;
  update app_private.sessions s set revoked_at = v_now, revoked_reason = 'password_reset'
   where s.tenant_id = v_tenant_id and s.user_id = v_user.id and s.revoked_at is null;
  get diagnostics v_sessions = row_count;
  -- The link reached the address.
  update app_public.users u set email_verified_at = v_now
   where u.tenant_id = v_tenant_id and u.id = v_user.id and u.email_verified_at is null;
  -- A lockout from guessing ends with the reset.
  select t.slug into v_slug from app_public.tenants t where t.id = v_tenant_id;
  delete from app_private.login_throttle t where t.scope = v_slug and t.email = v_user.email::citext;
  perform app_private.audit(v_tenant_id, 'password_reset', 'app_public.users', v_user.id::text, null,
    jsonb_build_object('sessions_ended', v_sessions), v_user.id);
  perform app_private.restore_tenant_context(v_previous);
  return true;
end;
$$;
revoke all on function app_public.reset_password(text, text) from public;
grant execute on function app_public.reset_password(text, text) to :DATABASE_ANONYMOUS, :DATABASE_MEMBER;
comment on function app_public.reset_password(text, text) is E'@rateLimit accountToken\nSets a new password with the token of a reset email, and ends every session of the user (their refresh tokens stop working; log in again). The token works once; it also proves the email address (email_verified_at) and lifts a login lockout. Errors: BADTK (unknown, used or expired token), WEAKP, LONGP.';
