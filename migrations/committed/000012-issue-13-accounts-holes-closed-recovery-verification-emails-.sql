--! Previous: sha1:d7cf06276e4a29cfdf0488ef0b1ad4c7e746fbbf
--! Hash: sha1:8645639e4f4556a9e3a520b6fef60841d2ccfe56
--! Message: issue 13 accounts: holes closed, recovery, verification, emails via graphile-worker; issue 17 refresh grace

--! split: 1-current.sql
-- Enter migration here

--! split: 100-email-verified-at.sql
-- Issue 13: a user's email_verified_at. Set by verify_email, by
-- reset_password (the reset link reached the address) and by
-- accept_invitation (the "holes" helper's 2xx files). Everyone in the
-- tenant who may read users reads it (admins see who is verified; members
-- see it too, as they see each other's email); nobody sets it through the
-- API: the protect trigger refuses a request role's change (IMMUT), and the
-- behavior hides it from the update input.

alter table app_public.users add column if not exists email_verified_at timestamptz;

comment on column app_public.users.email_verified_at is E'@behavior -insert -update +filterBy\nWhen the user proved they receive mail at their email address (verify_email, reset_password, or accepting an invitation sent there); null while unproven. Set only by those functions.';

-- The protect trigger, now with email_verified_at.
drop trigger if exists _100_protect_columns on app_public.users;
create trigger _100_protect_columns before update on app_public.users
  for each row execute procedure app_private.tg_protect_columns('tenant_id', 'id', 'email', 'role', 'created_at', 'email_verified_at');

--! split: 110-account-tokens.sql
-- Issue 13: single-use tokens that reach a user by email (password reset,
-- email verification). Only their SHA-256 is kept, like refresh and
-- invitation tokens; the token itself travels once, in the job that sends
-- the email (graphile_worker's tables, which no request role may read).

create table if not exists app_private.account_tokens (
  tenant_id uuid not null,
  id uuid not null default gen_random_uuid(),
  user_id uuid not null,
  purpose text not null constraint account_tokens_purpose check (purpose in ('password_reset', 'email_verification')),
  token_hash bytea not null,
  email app_public.email not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz,
  primary key (tenant_id, id),
  constraint account_tokens_token_unique unique (tenant_id, token_hash),
  constraint account_tokens_user_fkey foreign key (tenant_id, user_id)
    references app_public.users (tenant_id, id) on delete cascade
);
create index if not exists account_tokens_tenant_user_idx
  on app_private.account_tokens (tenant_id, user_id, purpose, created_at);
create index if not exists account_tokens_tenant_expires_idx
  on app_private.account_tokens (tenant_id, expires_at);
alter table app_private.account_tokens enable row level security;
alter table app_private.account_tokens force row level security;

-- Only the owner's functions reach it, in the token's tenant.
drop policy if exists owner_all on app_private.account_tokens;
create policy owner_all on app_private.account_tokens for all to :DATABASE_OWNER
  using (tenant_id = app_public.current_tenant_id())
  with check (tenant_id = app_public.current_tenant_id());

comment on table app_private.account_tokens is 'SHA-256 of each password-reset and email-verification token (single use, expiring); the token itself is only in the email job. Deleted with its user; pruned a day after it was used or expired.';
comment on column app_private.account_tokens.tenant_id is 'The user''s tenant (also the token''s prefix).';
comment on column app_private.account_tokens.id is 'Identifier of the token row.';
comment on column app_private.account_tokens.user_id is 'The user the token acts for.';
comment on column app_private.account_tokens.purpose is 'password_reset (reset_password) or email_verification (verify_email).';
comment on column app_private.account_tokens.token_hash is 'SHA-256 of the token.';
comment on column app_private.account_tokens.email is 'The address the token was sent to: it proves that address only while it is still the user''s.';
comment on column app_private.account_tokens.created_at is 'When it was issued (at most 3 per user and purpose within an hour).';
comment on column app_private.account_tokens.expires_at is 'After this it no longer works (reset: 1 hour; verification: 24 hours).';
comment on column app_private.account_tokens.used_at is 'When it was used, or made void by another of its kind being used.';

-- Issues a token for a user (the caller holds the tenant's context) and returns it.
create or replace function app_private.new_account_token(tenant_id uuid, user_id uuid, email text, purpose text, valid_for interval)
returns text
language plpgsql
set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_token text := app_private.new_token(tenant_id);
begin
  insert into app_private.account_tokens (tenant_id, user_id, email, purpose, token_hash, expires_at)
    values (tenant_id, user_id, email, purpose, app_private.token_hash(v_token), now() + valid_for);
  return v_token;
end;
$$;
revoke all on function app_private.new_account_token(uuid, uuid, text, text, interval) from public;
comment on function app_private.new_account_token(uuid, uuid, text, text, interval) is 'Issues a password-reset or email-verification token for a user (the caller holds the tenant''s context) and returns it; only its hash is kept.';

-- Whether a user has had 3 tokens of a purpose within the last hour (the per-account email limit).
create or replace function app_private.account_email_limit_reached(tenant_id uuid, user_id uuid, purpose text)
returns boolean
language sql
stable
set search_path to pg_catalog, public, pg_temp
as $$
  select count(*) >= 3 from app_private.account_tokens t
   where t.tenant_id = account_email_limit_reached.tenant_id and t.user_id = account_email_limit_reached.user_id
     and t.purpose = account_email_limit_reached.purpose and t.created_at > now() - interval '1 hour'
$$;
revoke all on function app_private.account_email_limit_reached(uuid, uuid, text) from public;
comment on function app_private.account_email_limit_reached(uuid, uuid, text) is 'True when the user has been sent 3 tokens of this purpose within the last hour: the next request sends nothing (silently).';

-- Queues an email (graphile-worker's send_email task) in the caller's transaction.
create or replace function app_private.queue_email(template text, recipient text, data jsonb)
returns void
language plpgsql
set search_path to pg_catalog, public, pg_temp
as $$
begin
  perform graphile_worker.add_job(
    'send_email',
    (coalesce(data, '{}') || jsonb_build_object('template', template, 'to', recipient))::json,
    max_attempts => 10
  );
end;
$$;
revoke all on function app_private.queue_email(text, text, jsonb) from public;
comment on function app_private.queue_email(text, text, jsonb) is 'Queues an email (the worker''s send_email task: template, recipient, the template''s data) in the caller''s transaction: it is sent after a commit, never after a rollback. Up to 10 attempts.';

--! split: 120-password-reset.sql
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

--! split: 130-email-verification.sql
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

--! split: 140-invitation-email.sql
-- Issue 13: invite_user also emails the invitation (queued in its
-- transaction); the token is still returned once to the inviting admin.
-- Otherwise as in migration 000006.

create or replace function app_public.invite_user(email text, role app_public.user_role)
returns app_public.new_invitation
language plpgsql
strict
security definer
set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_user_id uuid := app_public.current_user_id();
  v_invitation app_public.invitations;
  v_token text;
  v_constraint text;
  v_tenant app_public.tenants;
  v_inviter_name text;
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
      values (v_tenant_id, btrim(invite_user.email), invite_user.role, v_user_id)
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
  select t.* into v_tenant from app_public.tenants t where t.id = v_tenant_id;
  select u.name into v_inviter_name from app_public.users u where u.tenant_id = v_tenant_id and u.id = v_user_id;
  perform app_private.queue_email('invitation', v_invitation.email, jsonb_build_object(
    'token', v_token, 'role', v_invitation.role, 'inviter_name', v_inviter_name,
    'tenant_name', v_tenant.name, 'tenant_slug', v_tenant.slug, 'expires_at', v_invitation.expires_at));
  return (v_invitation.id, v_token, v_invitation.expires_at)::app_public.new_invitation;
end;
$$;
comment on function app_public.invite_user(email text, role app_public.user_role) is 'Invites someone by email with a role (admins only): the invitation is emailed to them (queued with the invitation, sent after the request commits), and its token is also returned here, once; it expires after 7 days. Errors: FORBIDDEN, BADEM, EMTKN (already a user).';

--! split: 150-account-maintenance.sql
-- Issue 13: what the worker's maintenance task prunes besides sessions
-- (app_private.prune_sessions): used or expired account tokens, invitations
-- that were never accepted and ended (revoked or expired) long ago, and,
-- when a retention is configured (AUDIT_RETENTION), old audit events.

create or replace function app_private.prune_account_data(
  tokens_ended_before interval default '1 day',
  invitations_ended_before interval default '30 days',
  audit_older_than interval default null
)
returns jsonb
language plpgsql
set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant uuid;
  v_previous text := coalesce(current_setting('jwt.claims.tenant_id', true), '');
  v_now timestamptz := now();
  v_count bigint;
  v_tokens bigint := 0;
  v_invitations bigint := 0;
  v_events bigint := 0;
begin
  for v_tenant in select t.id from app_public.tenants t loop
    perform app_private.switch_tenant_context(v_tenant);
    delete from app_private.account_tokens a
     where a.tenant_id = v_tenant
       and coalesce(a.used_at, a.expires_at) < v_now - tokens_ended_before;
    get diagnostics v_count = row_count;
    v_tokens := v_tokens + v_count;
    delete from app_public.invitations i
     where i.tenant_id = v_tenant and i.accepted_at is null
       and least(i.revoked_at, i.expires_at) < v_now - invitations_ended_before;  -- least() skips a null revoked_at
    get diagnostics v_count = row_count;
    v_invitations := v_invitations + v_count;
    if audit_older_than is not null then
      delete from app_public.audit_events e
       where e.tenant_id = v_tenant and e.occurred_at < v_now - audit_older_than;
      get diagnostics v_count = row_count;
      v_events := v_events + v_count;
    end if;
  end loop;
  perform app_private.restore_tenant_context(v_previous);
  return jsonb_build_object('account_tokens', v_tokens, 'invitations', v_invitations, 'audit_events', v_events);
end;
$$;
revoke all on function app_private.prune_account_data(interval, interval, interval) from public;
comment on function app_private.prune_account_data(interval, interval, interval) is 'In every tenant, deletes account tokens used or expired more than tokens_ended_before ago, invitations never accepted that were revoked or expired more than invitations_ended_before ago, and, unless audit_older_than is null (keep forever, the default), audit events older than that; returns the counts. Run by the worker''s maintenance task.';

-- The session's end reasons now include a reset.
comment on column app_private.sessions.revoked_reason is 'Why: logout, password_changed, password_reset or refresh_token_reused.';

-- The audit log's actions now include the account events.
comment on column app_public.audit_events.action is E'@behavior +filterBy\nWhat happened: insert, update, delete (row changes), or login, login_failed, invitation_sent, invitation_revoked, invitation_accepted, role_changed, user_removed, password_changed, password_reset_requested, password_reset, verification_email_sent, email_verified, refresh_token_reused, operator_access.';

--! split: 200-audit-actor-of-the-tenant.sql
-- Issue 13, hole 3: the actor of an audit event is a user of the event's
-- tenant, or an operator acting in it, or none.
--
-- Functions that work in another tenant than the caller's (accept_invitation,
-- login) switch the tenant context before they audit, so the caller's claims
-- (user_id of tenant B) would land in tenant A's log: as the actor of the
-- users row insert (tg_audit) or of a failed login. The tenant claim cannot
-- tell (it was switched), so the user is looked up in the event's tenant:
-- an actor that is not a user of that tenant is recorded as none. Every
-- event goes through app_private.audit (tg_audit calls it), so this holds
-- for every path, the row-change trigger's included.
--
-- Operators are users of no tenant: an operator is the actor when named
-- (operator_access) or when the request is an operator's, whose tenant is the
-- one X-Operator-Tenant names (operators may execute no function that switches
-- the tenant context).

create or replace function app_private.audit(
  tenant_id uuid,
  action text,
  table_name text default null,
  row_key text default null,
  changed_columns text[] default null,
  details jsonb default '{}',
  actor_user_id uuid default null,
  actor_operator_id uuid default null
) returns void as $$
declare
  v_previous text := app_private.switch_tenant_context(audit.tenant_id);
  v_actor uuid := coalesce(audit.actor_user_id, app_public.current_user_id());
begin
  if v_actor is not null and not exists (
    select 1 from app_public.users u where u.tenant_id = audit.tenant_id and u.id = v_actor
  ) then
    v_actor := null;
  end if;
  insert into app_public.audit_events (tenant_id, actor_user_id, actor_operator_id, action, table_name, row_key, changed_columns, details)
    values (audit.tenant_id, v_actor,
            coalesce(audit.actor_operator_id, app_public.current_operator_id()),
            action, table_name, row_key, changed_columns, coalesce(details, '{}'));
  perform app_private.restore_tenant_context(v_previous);
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.audit(uuid, text, text, text, text[], jsonb, uuid, uuid) from public;
comment on function app_private.audit(uuid, text, text, text, text[], jsonb, uuid, uuid) is
  'Appends an audit event to a tenant''s log. The actor user is the one given, or else the request''s user, and only if that is a user of the event''s tenant (a user of another tenant, e.g. accepting an invitation while logged in elsewhere, is recorded as no actor); the actor operator is the one given, or else the request''s operator.';

--! split: 210-change-password-lockout.sql
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

--! split: 220-invitations-die-with-inviter.sql
-- Issue 13, hole 2: an invitation dies with its inviter's admin rights.
-- Before, an admin could invite a second address of their own as admin, be
-- removed or demoted, and come back as admin by accepting it. Both ways now:
-- - revoked when the rights go: a trigger on app_public.users revokes the
--   pending invitations a user sent when that user is deleted (remove_user,
--   or any other delete) or loses the admin role (set_user_role, or any
--   other update of role), and audits each (invitation_revoked, with the
--   reason). A trigger, not code in remove_user and set_user_role, so that
--   no present or future path that removes or demotes a user forgets it.
-- - checked at acceptance: accept_invitation refuses (BADIN, as for any
--   invitation that is no longer valid) one whose inviter is not, at that
--   moment, an admin of the invitation's tenant; an invitation without an
--   inviter (inviter_id null: the inviter was deleted) is refused too.

-- accept_invitation marks the address as proven (an invitation was sent to
-- it). The column is the email helper's (issue 13, its comment, protection
-- and visibility); added here too, idempotently, so that each migration set
-- works alone. Its comment is written only where none exists yet.
alter table app_public.users add column if not exists email_verified_at timestamptz;
do $$
begin
  if col_description('app_public.users'::regclass,
       (select a.attnum from pg_attribute a where a.attrelid = 'app_public.users'::regclass and a.attname = 'email_verified_at')) is null then
    comment on column app_public.users.email_verified_at is E'@behavior -insert -update\nWhen the user proved they receive mail at their address (accepting an invitation sent to it), if they have.';
  end if;
end;
$$;

-- Revokes the pending invitations of a user who is deleted or stops being an admin.
create or replace function app_private.tg_users_revoke_invitations() returns trigger as $$
declare
  v_reason text := case when tg_op = 'DELETE' then 'inviter_removed' else 'inviter_demoted' end;
  v_invitation app_public.invitations;
begin
  -- A tenant's own deletion cascades to its users and invitations alike: nothing to revoke or audit.
  if pg_trigger_depth() > 1 then
    return coalesce(new, old);
  end if;
  for v_invitation in
    update app_public.invitations i set revoked_at = now()
     where i.tenant_id = old.tenant_id and i.inviter_id = old.id
       and i.accepted_at is null and i.revoked_at is null and i.expires_at > now()
    returning i.*
  loop
    perform app_private.audit(v_invitation.tenant_id, 'invitation_revoked', 'app_public.invitations', v_invitation.id::text, null,
      jsonb_build_object('email', v_invitation.email, 'role', v_invitation.role, 'reason', v_reason, 'inviter_id', old.id));
  end loop;
  return coalesce(new, old);
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.tg_users_revoke_invitations() from public;
comment on function app_private.tg_users_revoke_invitations() is
  'Trigger on app_public.users (before delete, and before an update that takes the admin role away): revokes the pending invitations the user sent and audits each as invitation_revoked (reason inviter_removed or inviter_demoted). Does nothing inside a cascade (a tenant''s deletion).';

-- Before _800_unlink, which clears inviter_id.
drop trigger if exists _790_revoke_invitations on app_public.users;
create trigger _790_revoke_invitations before delete on app_public.users
  for each row execute procedure app_private.tg_users_revoke_invitations();
drop trigger if exists _790_revoke_invitations_on_demotion on app_public.users;
create trigger _790_revoke_invitations_on_demotion before update of role on app_public.users
  for each row when (old.role = 'admin' and new.role is distinct from 'admin')
  execute procedure app_private.tg_users_revoke_invitations();

-- Accepting checks the inviter too, and marks the address as proven.
create or replace function app_public.accept_invitation(token text, name text, password text) returns app_public.auth_tokens as $$
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
  if v_invitation.id is null or not exists (
    select 1 from app_public.users u
     where u.tenant_id = v_tenant_id and u.id = v_invitation.inviter_id and u.role = 'admin'
  ) then
    raise exception 'This invitation is not valid: it is unknown, used, revoked or expired.' using errcode = 'BADIN';
  end if;
  v_user_id := app_private.create_user(v_tenant_id, v_invitation.email, name, v_invitation.role, password);
  update app_public.users u set email_verified_at = now()
   where u.tenant_id = v_tenant_id and u.id = v_user_id
   returning * into v_user;
  update app_public.invitations i set accepted_at = now(), accepted_user_id = v_user.id
   where i.tenant_id = v_tenant_id and i.id = v_invitation.id;
  v_tokens := app_private.issue_tokens(v_tenant_id, v_user.id);
  perform app_private.audit(v_tenant_id, 'invitation_accepted', 'app_public.invitations', v_invitation.id::text, null,
    jsonb_build_object('email', v_user.email, 'role', v_user.role, 'user_id', v_user.id), v_user.id);
  perform app_private.restore_tenant_context(v_previous);
  return v_tokens;
end;
$$ language plpgsql volatile strict security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function app_public.accept_invitation(text, text, text) from public;
grant execute on function app_public.accept_invitation(text, text, text) to :DATABASE_ANONYMOUS, :DATABASE_MEMBER;
comment on function app_public.accept_invitation(text, text, text) is
  E'@rateLimit acceptInvitation\nAccepts an invitation: creates the user (with this name and password) in the invitation''s tenant, its address proven (email_verified_at), and returns an access token and a refresh token. Refused while the inviter is not an admin of the tenant (an invitation dies with its inviter''s rights: removing or demoting a user revokes their pending invitations). Errors: BADIN (unknown, used, revoked or expired, or its inviter no longer an admin), BADNM, WEAKP, LONGP, EMTKN.';

--! split: 300-refresh-grace.sql
-- Refresh for a browser (issue #17): a short grace for the just-replaced
-- refresh token. Two tabs that refresh at once present the same token; with
-- strict rotation the second use revoked the session and logged the user out.
-- Now a second use within 30 seconds of the first, while the token's
-- successor has not been used yet, gets a fresh pair in the same session
-- (only hashes are kept, so the successor itself cannot be given again).
-- Any other reuse (after the grace, or once the successor has been used) is
-- theft, as before: the whole session is revoked and audited.

-- The successor a token was exchanged for.
alter table app_private.refresh_tokens add column if not exists replaced_by bytea;
comment on column app_private.refresh_tokens.replaced_by is
  'SHA-256 of the token it was first exchanged for; a reuse within the grace is allowed only while that one is unused.';

-- How long a used refresh token may be presented again (two tabs refreshing at once).
create or replace function app_private.refresh_grace() returns interval
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
  as $$ select interval '30 seconds' $$;
revoke all on function app_private.refresh_grace() from public;
comment on function app_private.refresh_grace() is
  'How long after its first use a refresh token may be presented again while its successor is unused (30 seconds): two tabs refreshing at once both succeed.';

-- The exchange, with the grace.
create or replace function app_public.refresh(refresh_token text) returns app_public.auth_tokens
  language plpgsql strict security definer
  set search_path to pg_catalog, public, pg_temp
  as $$
declare
  v_tenant_id uuid := app_private.token_tenant(refresh_token);
  v_previous text;
  v_token app_private.refresh_tokens;
  v_successor app_private.refresh_tokens;
  v_session app_private.sessions;
  v_role text;
  v_next text;
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
  if v_token.used_at is not null then
    select t.* into v_successor from app_private.refresh_tokens t
      where t.tenant_id = v_tenant_id and t.token_hash = v_token.replaced_by;
  end if;
  if v_token.session_id is null or v_session.id is null then
    v_result := null;
  elsif v_session.revoked_at is not null or v_session.expires_at <= now() then
    v_result := null;
  elsif v_token.used_at is not null
    and not (v_token.used_at > now() - app_private.refresh_grace() and v_successor.token_hash is not null and v_successor.used_at is null) then
    -- Reused after the grace, or after its successor was used: theft.
    update app_private.sessions s set revoked_at = now(), revoked_reason = 'refresh_token_reused'
      where s.tenant_id = v_tenant_id and s.id = v_session.id;
    perform app_private.audit(v_tenant_id, 'refresh_token_reused', 'app_public.users', v_session.user_id::text, null,
      jsonb_build_object('session_id', v_session.id), v_session.user_id);
    v_result := null;
  else
    -- First use, or a second within the grace: a new pair in the same session.
    v_next := app_private.new_refresh_token(v_tenant_id, v_session.id);
    if v_token.used_at is null then
      update app_private.refresh_tokens t set used_at = now(), replaced_by = app_private.token_hash(v_next)
        where t.tenant_id = v_tenant_id and t.token_hash = v_token.token_hash;
    end if;
    update app_private.sessions s set refreshed_at = now()
      where s.tenant_id = v_tenant_id and s.id = v_session.id;
    select u.role::text into v_role from app_public.users u
      where u.tenant_id = v_tenant_id and u.id = v_session.user_id;
    v_result := (
      (v_role, v_session.user_id::text, v_session.user_id, v_tenant_id, v_session.id, null)::app_public.jwt_token,
      v_next
    )::app_public.auth_tokens;
  end if;
  perform app_private.restore_tenant_context(v_previous);
  return v_result;
end;
$$;
comment on function app_public.refresh(text) is
  E'@nullError BADRT The refresh token is not valid (unknown, used, revoked or expired); log in again.\n'
  'Exchanges a refresh token for a new access token and refresh token. A token works once, with a grace for two tabs refreshing at once: presented again within 30 seconds of its first use, while the token it was exchanged for is unused, it gets a fresh pair in the same session. Any other reuse is theft and revokes the session. Error BADRT for an unknown, used, revoked or expired token.';
