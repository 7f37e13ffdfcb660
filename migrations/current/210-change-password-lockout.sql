-- Issue 13, hole 1: change_password under login's rule. With a stolen access
-- token, change_password was an unthrottled oracle for the current password.
-- Now a wrong current password is counted in app_private.login_throttle
-- under the same key as a failed login (the tenant's slug and the user's
-- email: guesses through login and through change_password share one count),
-- audited (password_change_failed), and answered by returning null, so that
-- the count and the event commit; the API turns the null into CREDS
-- (@nullError). Five failures within 15 minutes lock the pair for 15 minutes:
-- LOCKD, for change_password and login alike, even with the right password.
-- A right password clears the count, as a successful login does.

create or replace function app_public.change_password(old_password text, new_password text) returns boolean as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_user_id uuid := app_public.current_user_id();
  v_slug text;
  v_email text;
  v_hash text;
begin
  select t.slug into v_slug from app_public.tenants t where t.id = v_tenant_id;
  select u.email into v_email from app_public.users u where u.tenant_id = v_tenant_id and u.id = v_user_id;
  if v_email is null then
    raise exception 'The current password is not correct.' using errcode = 'CREDS';
  end if;
  perform app_private.login_throttle_check(v_slug, v_email);
  select s.password_hash into v_hash from app_private.user_secrets s
   where s.tenant_id = v_tenant_id and s.user_id = v_user_id
   for update;
  if v_hash is null or crypt(old_password, v_hash) is distinct from v_hash then
    perform app_private.login_throttle_fail(v_slug, v_email);
    perform app_private.audit(v_tenant_id, 'password_change_failed', 'app_public.users', v_user_id::text, null,
      jsonb_build_object('reason', 'wrong_password'));
    return null;
  end if;
  perform app_private.assert_valid_password(new_password);
  delete from app_private.login_throttle t where t.scope = v_slug and t.email = v_email::citext;
  update app_private.user_secrets s
     set password_hash = crypt(new_password, gen_salt('bf', 10)), password_changed_at = now()
   where s.tenant_id = v_tenant_id and s.user_id = v_user_id;
  update app_private.sessions s set revoked_at = now(), revoked_reason = 'password_changed'
   where s.tenant_id = v_tenant_id and s.user_id = v_user_id and s.revoked_at is null
     and s.id is distinct from app_private.current_session_id();
  perform app_private.audit(v_tenant_id, 'password_changed', 'app_public.users', v_user_id::text);
  return true;
end;
$$ language plpgsql volatile strict security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function app_public.change_password(text, text) from public;
grant execute on function app_public.change_password(text, text) to :DATABASE_MEMBER;
comment on function app_public.change_password(text, text) is
  E'@nullError CREDS The current password is not correct.\n@rateLimit login\nChanges the caller''s password, given the current one; the user''s other sessions end at once. A wrong current password counts as a failed login of the user (recorded and audited): after 5 failures within 15 minutes, for the same tenant and email, both change_password and login get LOCKD for 15 minutes. Errors: CREDS (wrong current password), LOCKD, WEAKP, LONGP.';

-- The audit log's actions, with the new one (appended, so that an action
-- another migration adds to the list is kept; idempotent).
do $$
declare
  v_comment text := col_description('app_public.audit_events'::regclass,
    (select a.attnum from pg_attribute a where a.attrelid = 'app_public.audit_events'::regclass and a.attname = 'action'));
begin
  if position('password_change_failed' in v_comment) = 0 then
    execute format('comment on column app_public.audit_events.action is %L',
      v_comment || ' Also password_change_failed (a wrong current password given to change_password).');
  end if;
end;
$$;
