-- Issue 13: email verification: send_verification_email (the current user)
-- and verify_email (anyone holding the link's token).

create or replace function app_public.send_verification_email()
returns boolean
language plpgsql
volatile
security definer
set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_user_id uuid := app_public.current_user_id();
  v_user app_public.users;
  v_tenant app_public.tenants;
  v_token text;
begin
  select u.* into v_user from app_public.users u where u.tenant_id = v_tenant_id and u.id = v_user_id;
  if v_user.id is null then
    raise exception 'Only a user of a tenant may verify their email.' using errcode = '42501';
  end if;
  if v_user.email_verified_at is not null
     or app_private.account_email_limit_reached(v_tenant_id, v_user.id, 'email_verification') then
    return false;
  end if;
  select t.* into v_tenant from app_public.tenants t where t.id = v_tenant_id;
  v_token := app_private.new_account_token(v_tenant_id, v_user.id, v_user.email, 'email_verification', interval '24 hours');
  perform app_private.queue_email('email_verification', v_user.email, jsonb_build_object(
    'token', v_token, 'name', v_user.name, 'tenant_name', v_tenant.name, 'tenant_slug', v_tenant.slug));
  perform app_private.audit(v_tenant_id, 'verification_email_sent', 'app_public.users', v_user.id::text);
  return true;
end;
$$;
revoke all on function app_public.send_verification_email() from public;
grant execute on function app_public.send_verification_email() to :DATABASE_MEMBER;
comment on function app_public.send_verification_email() is E'@rateLimit verificationEmail\nEmails the current user a link that proves their address (its token works once, for 24 hours). Returns true when an email was queued; false when the address is already verified or 3 such emails went out within the hour. Errors: FORBIDDEN (no user in the request).';

create or replace function app_public.verify_email(token text)
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
  v_now timestamptz := now();
begin
  if v_tenant_id is null then
    raise exception 'This link is not valid: it is unknown, used or expired. Ask for a new one.' using errcode = 'BADTK';
  end if;
  v_previous := app_private.switch_tenant_context(v_tenant_id);
  select t.* into v_token from app_private.account_tokens t
   where t.tenant_id = v_tenant_id and t.token_hash = app_private.token_hash(verify_email.token)
     and t.purpose = 'email_verification' and t.used_at is null and t.expires_at > v_now
   for update;
  select u.* into v_user from app_public.users u
   where u.tenant_id = v_tenant_id and u.id = v_token.user_id and u.email = v_token.email;
  if v_user.id is null then
    raise exception 'This link is not valid: it is unknown, used or expired. Ask for a new one.' using errcode = 'BADTK';
  end if;
  update app_private.account_tokens t set used_at = v_now
   where t.tenant_id = v_tenant_id and t.user_id = v_user.id and t.purpose = 'email_verification' and t.used_at is null;
  update app_public.users u set email_verified_at = v_now
   where u.tenant_id = v_tenant_id and u.id = v_user.id and u.email_verified_at is null;
  perform app_private.audit(v_tenant_id, 'email_verified', 'app_public.users', v_user.id::text, null,
    jsonb_build_object('email', v_user.email), v_user.id);
  perform app_private.restore_tenant_context(v_previous);
  return true;
end;
$$;
revoke all on function app_public.verify_email(text) from public;
grant execute on function app_public.verify_email(text) to :DATABASE_ANONYMOUS, :DATABASE_MEMBER;
comment on function app_public.verify_email(text) is E'@rateLimit accountToken\nMarks the user''s email as verified (email_verified_at) with the token of a verification email; works logged in or not. The token works once. Errors: BADTK (unknown, used or expired token).';
