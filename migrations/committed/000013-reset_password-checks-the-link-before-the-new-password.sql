--! Previous: sha1:8645639e4f4556a9e3a520b6fef60841d2ccfe56
--! Hash: sha1:bdbff1a2a8fd743a4780cda7bcf2243c602ffdcf
--! Message: reset_password checks the link before the new password

--! split: 1-current.sql
-- Enter migration here

--! split: 100-reset-password-checks-the-link-first.sql
-- reset_password: the link is checked before the new password, so that a
-- client with a dead link hears so first (INVALID_ACCOUNT_TOKEN), not
-- that its password is too short.
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
  -- Only a valid link gets as far as the new password's rules.
  perform app_private.assert_valid_password(new_password);
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
