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
