--! Previous: sha1:35977b55bb1e8bee87559bdd407ff07a16441608
--! Hash: sha1:1e18d7943c11cace12de0f09dda821c6c92a7d56
--! Message: tenant lifecycle

/*
 * What a team needs to run its tenant safely: invitations, member and role
 * management, sessions with rotating refresh tokens, login lockout, platform
 * operators, and an audit log.
 *
 * Tokens handed out (refresh tokens, invitation tokens) are
 * '<tenant id>.<32 random bytes, base64url>'. Only their SHA-256 is stored,
 * in app_private. The tenant id in front routes the lookup to one tenant
 * (one shard under Citus) without any cross-tenant index.
 *
 * Failures that must be recorded (a wrong password, a reused refresh token)
 * return null instead of raising, so that the record commits; the server
 * turns that null into the error (server/null-result-errors.ts), as Graphile
 * Starter does.
 */

drop function if exists app_public.login(text, text, text) cascade;
drop function if exists app_public.create_tenant(text, text, text, text) cascade;
drop function if exists app_public.invite_user(text, app_public.user_role) cascade;
drop function if exists app_public.revoke_invitation(uuid) cascade;
drop function if exists app_public.accept_invitation(text, text, text) cascade;
drop function if exists app_public.set_user_role(uuid, app_public.user_role) cascade;
drop function if exists app_public.remove_user(uuid) cascade;
drop function if exists app_public.change_password(text, text) cascade;
drop function if exists app_public.refresh(text) cascade;
drop function if exists app_public.logout(text) cascade;
drop function if exists app_public.operator_login(text, text) cascade;
drop function if exists app_public.current_operator_id() cascade;
drop function if exists app_public.current_operator() cascade;
drop function if exists app_public.invitations_status(app_public.invitations) cascade;
drop function if exists app_private.claims_are_current(uuid, uuid, text) cascade;
drop function if exists app_private.claims_are_current(uuid, uuid, text, uuid) cascade;
drop function if exists app_private.operator_access(uuid, uuid, jsonb) cascade;
drop function if exists app_private.issue_tokens(uuid, uuid) cascade;
drop function if exists app_private.new_token(uuid) cascade;
drop function if exists app_private.new_refresh_token(uuid, uuid) cascade;
drop function if exists app_private.token_hash(text) cascade;
drop function if exists app_private.token_tenant(text) cascade;
drop function if exists app_private.audit(uuid, text, text, text, text[], jsonb, uuid, uuid) cascade;
drop function if exists app_private.current_session_id() cascade;
drop function if exists app_private.tg_audit() cascade;
drop function if exists app_private.assert_admin() cascade;
drop function if exists app_private.login_throttle_check(text, text) cascade;
drop function if exists app_private.login_throttle_fail(text, text) cascade;
drop function if exists app_private.create_operator(text, text, text) cascade;
drop table if exists app_private.refresh_tokens cascade;
drop table if exists app_private.sessions cascade;
drop table if exists app_private.invitation_secrets cascade;
drop table if exists app_public.invitations cascade;
drop table if exists app_public.audit_events cascade;
drop table if exists app_private.login_throttle cascade;
drop table if exists app_private.operator_secrets cascade;
drop table if exists app_public.operators cascade;
drop type if exists app_public.auth_tokens cascade;
drop type if exists app_public.new_invitation cascade;
drop type if exists app_public.invitation_status cascade;
drop policy if exists select_as_operator on app_public.tenants;
drop policy if exists update_own_tenant on app_public.users;
drop policy if exists update_self on app_public.users;
drop policy if exists update_as_admin on app_public.users;
drop policy if exists owner_manage on app_public.users;

-------------------------------------------------------------------------------
-- Token claims: sessions and operators
-------------------------------------------------------------------------------

-- Access tokens now name their session (user tokens) or their operator
-- (operator tokens). Added only once, so that this file can run again.
do $$
begin
  if not exists (select 1 from pg_attribute where attrelid = 'app_public.jwt_token'::regclass and attname = 'session_id') then
    alter type app_public.jwt_token add attribute session_id uuid, add attribute operator_id uuid;
  end if;
end;
$$;
comment on type app_public.jwt_token is 'The claims of an access token. The API signs it (HS256) and adds iat, exp, aud and iss. A user''s token has role, sub, user_id, tenant_id and session_id; an operator''s has role operator, sub and operator_id.';
comment on column app_public.jwt_token.role is 'admin or member for a tenant user; operator for a platform operator.';
comment on column app_public.jwt_token.sub is 'The user id, or the operator id (the JWT subject).';
comment on column app_public.jwt_token.session_id is 'The login session the token belongs to; the API refuses it once the session is revoked.';
comment on column app_public.jwt_token.operator_id is 'The platform operator (operator tokens only).';

-- What login, refresh, accept_invitation and create_tenant return.
create type app_public.auth_tokens as (
  access_token app_public.jwt_token,
  refresh_token text
);
comment on type app_public.auth_tokens is 'A signed access token (short-lived) and an opaque refresh token (single use; exchange it with refresh for a new pair).';
comment on column app_public.auth_tokens.access_token is 'The access token, a JWT: send it as "Authorization: Bearer <token>".';
comment on column app_public.auth_tokens.refresh_token is 'The refresh token. Keep it secret; it is valid once. Null for operators, who log in again instead.';

-- The operator of the current request (jwt.claims.operator_id); null when
-- missing or malformed.
create function app_public.current_operator_id() returns uuid
  language sql stable parallel safe
as $$
  select case
    when current_setting('jwt.claims.operator_id', true) ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    then current_setting('jwt.claims.operator_id', true)::uuid
  end
$$;
comment on function app_public.current_operator_id() is E'@behavior -queryField\nThe platform operator making the current request, or null.';
grant execute on function app_public.current_operator_id() to :DATABASE_ANONYMOUS, :DATABASE_MEMBER, :DATABASE_OPERATOR;
grant execute on function app_public.current_tenant_id() to :DATABASE_OPERATOR;
grant execute on function app_public.current_user_id() to :DATABASE_OPERATOR;
grant usage on schema app_public to :DATABASE_OPERATOR;

-------------------------------------------------------------------------------
-- Opaque tokens
-------------------------------------------------------------------------------

-- A new token for a tenant: '<tenant id>.<32 random bytes, base64url>'.
create function app_private.new_token(tenant_id uuid) returns text
  language sql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
  select tenant_id::text || '.' || rtrim(translate(encode(gen_random_bytes(32), 'base64'), '+/', '-_'), '=')
$$;
comment on function app_private.new_token(uuid) is 'A new random token for the tenant (refresh and invitation tokens): its id, a dot, 32 random bytes in base64url.';

-- What is stored of a token.
create function app_private.token_hash(token text) returns bytea
  language sql immutable strict
  set search_path to pg_catalog, public, pg_temp
as $$
  select digest(token, 'sha256')
$$;
comment on function app_private.token_hash(text) is 'SHA-256 of a token: the only form in which tokens are stored.';

-- The tenant a token names, or null when the token is malformed.
create function app_private.token_tenant(token text) returns uuid
  language sql immutable strict
as $$
  select case
    when token ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.[A-Za-z0-9_-]{43}$'
    then split_part(token, '.', 1)::uuid
  end
$$;
comment on function app_private.token_tenant(text) is 'The tenant id at the front of a refresh or invitation token; null for anything malformed.';

-------------------------------------------------------------------------------
-- Audit log
-------------------------------------------------------------------------------

create table app_public.audit_events (
  tenant_id uuid not null default app_public.current_tenant_id()
    references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  occurred_at timestamptz not null default clock_timestamp(),
  actor_user_id uuid,
  actor_operator_id uuid,
  action text not null,
  table_name text,
  row_key text,
  changed_columns text[],
  details jsonb not null default '{}',
  primary key (tenant_id, id)
);
alter table app_public.audit_events enable row level security;
alter table app_public.audit_events force row level security;

comment on table app_public.audit_events is E'@behavior -insert -update -delete\nWhat happened in a tenant, who did it and when: row changes made through the API (written by triggers) and security events (logins, invitations, role changes, removals, password changes, operator access). Admins read their own tenant''s events; nobody changes them.';
comment on column app_public.audit_events.tenant_id is 'The tenant the event belongs to.';
comment on column app_public.audit_events.id is 'The event''s identifier.';
comment on column app_public.audit_events.occurred_at is E'@behavior +orderBy +filterBy\nWhen it happened.';
comment on column app_public.audit_events.actor_user_id is E'@behavior +filterBy\nThe tenant user who did it, if a user did (kept after the user is removed).';
comment on column app_public.audit_events.actor_operator_id is 'The platform operator who did it, if an operator did.';
comment on column app_public.audit_events.action is E'@behavior +filterBy\nWhat happened: insert, update, delete (row changes), or login, login_failed, invitation_sent, invitation_revoked, invitation_accepted, role_changed, user_removed, password_changed, refresh_token_reused, operator_access.';
comment on column app_public.audit_events.table_name is 'The table a row change was made to (e.g. app_public.tasks), if any.';
comment on column app_public.audit_events.row_key is 'The id of the row changed or concerned, if any.';
comment on column app_public.audit_events.changed_columns is 'For inserts and updates: the columns set or changed.';
comment on column app_public.audit_events.details is 'More about the event (e.g. the old and new role); never secrets.';

create index audit_events_tenant_occurred_idx on app_public.audit_events (tenant_id, occurred_at desc, id desc);

-- Admins (and operators acting in the tenant) read the tenant's events;
-- only the owner writes them, inside triggers and security functions.
create policy select_own_tenant on app_public.audit_events for select to :DATABASE_ADMIN, :DATABASE_OPERATOR
  using (tenant_id = app_public.current_tenant_id());
create policy owner_all on app_public.audit_events for all to :DATABASE_OWNER
  using (tenant_id = app_public.current_tenant_id())
  with check (tenant_id = app_public.current_tenant_id());

grant select on app_public.audit_events to :DATABASE_ADMIN, :DATABASE_OPERATOR;

-- Writes one event in the given tenant, as the owner, whatever the caller's
-- tenant context is. The actor is the one given, or else the request's.
create function app_private.audit(
  tenant_id uuid,
  action text,
  table_name text default null,
  row_key text default null,
  changed_columns text[] default null,
  details jsonb default '{}',
  actor_user_id uuid default null,
  actor_operator_id uuid default null
) returns void
  language plpgsql volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_previous text := app_private.switch_tenant_context(audit.tenant_id);
begin
  insert into app_public.audit_events (tenant_id, actor_user_id, actor_operator_id, action, table_name, row_key, changed_columns, details)
    values (audit.tenant_id, coalesce(audit.actor_user_id, app_public.current_user_id()),
            coalesce(audit.actor_operator_id, app_public.current_operator_id()),
            action, table_name, row_key, changed_columns, coalesce(details, '{}'));
  perform set_config('jwt.claims.tenant_id', v_previous, true);
end;
$$;
comment on function app_private.audit(uuid, text, text, text, text[], jsonb, uuid, uuid) is 'Appends an audit event to a tenant''s log; the actor is the one given, or else the request''s user or operator.';

-- Trigger: records every row change made through the API, including those
-- the security functions make (which also write their own, more telling
-- events). Sessions logged in as the owner itself (migrations, imports, demo
-- data: session_user is then this definer's current_user) and referential
-- actions (a cascade is implied by the event of the row that caused it)
-- are not recorded.
-- Argument: the column holding the tenant id (tenant_id, or id for tenants).
-- A BEFORE trigger, run last (_900): the row as it will be written, and
-- pg_trigger_depth() sees cascades (AFTER triggers of cascaded rows fire
-- at the outer statement's depth). Should the change fail later, the
-- event is rolled back with it.
create function app_private.tg_audit() returns trigger
  language plpgsql volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_old jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  v_new jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  v_row jsonb := coalesce(v_new, v_old);
  v_changed text[];
begin
  if pg_trigger_depth() > 1 or session_user = current_user then
    return coalesce(new, old);
  end if;
  if tg_op = 'UPDATE' then
    select array_agg(n.key order by n.key) into v_changed
      from jsonb_each(v_new) n where n.value is distinct from v_old -> n.key;
    if v_changed is null then
      return new;
    end if;
  elsif tg_op = 'INSERT' then
    select array_agg(n.key order by n.key) into v_changed from jsonb_each(v_new) n where n.value <> 'null';
  end if;
  perform app_private.audit(
    (v_row ->> tg_argv[0])::uuid, lower(tg_op), tg_table_schema || '.' || tg_table_name, v_row ->> 'id', v_changed
  );
  return coalesce(new, old);
end;
$$;
comment on function app_private.tg_audit() is 'Trigger: appends an audit event (insert, update or delete, with the changed columns) for each row a request role changes.';

-------------------------------------------------------------------------------
-- Protected columns: only the functions meant for it change them
-------------------------------------------------------------------------------

-- As before, but the owner (the SECURITY DEFINER functions that change
-- roles and emails on purpose, migrations, imports) may change protected
-- columns; request roles never may.
create or replace function app_private.tg_protect_columns() returns trigger
  language plpgsql
as $$
declare
  v_column text;
  v_old jsonb;
  v_new jsonb;
begin
  if pg_trigger_depth() > 1 or current_user = (select pg_get_userbyid(c.relowner) from pg_class c where c.oid = tg_relid) then
    return new;
  end if;
  v_old := to_jsonb(old);
  v_new := to_jsonb(new);
  foreach v_column in array tg_argv loop
    if v_old -> v_column is distinct from v_new -> v_column then
      raise exception 'The column "%" cannot be changed.', v_column using errcode = 'IMMUT';
    end if;
  end loop;
  return new;
end;
$$;
comment on function app_private.tg_protect_columns() is 'Trigger: rejects direct updates by request roles that change the columns given as trigger arguments (error IMMUT). The table owner (security functions) and referential actions pass.';

drop trigger if exists _100_protect_columns on app_public.users;
create trigger _100_protect_columns before update on app_public.users
  for each row execute procedure app_private.tg_protect_columns('tenant_id', 'id', 'email', 'role', 'created_at');

comment on column app_public.users.email is E'@behavior -update\nEmail address used to log in; unique within the tenant, compared case-insensitively. Set by the invitation; never changed through the API.';
comment on column app_public.users.role is E'@behavior +filterBy +orderBy -insert -update\nadmin or member. Changed only by set_user_role.';

-- Users change their own name; admins change anyone's name in their tenant.
-- Nobody inserts or deletes users directly: invitations and remove_user do.
create policy update_self on app_public.users for update
  using (tenant_id = app_public.current_tenant_id() and id = app_public.current_user_id())
  with check (tenant_id = app_public.current_tenant_id() and id = app_public.current_user_id());
create policy update_as_admin on app_public.users for update to :DATABASE_ADMIN
  using (tenant_id = app_public.current_tenant_id())
  with check (tenant_id = app_public.current_tenant_id());
-- The owner changes roles inside set_user_role.
create policy owner_manage on app_public.users for update to :DATABASE_OWNER
  using (tenant_id = app_public.current_tenant_id())
  with check (tenant_id = app_public.current_tenant_id());
revoke insert, delete on app_public.users from :DATABASE_ADMIN;
grant update on app_public.users to :DATABASE_MEMBER;

-- Row changes made through the API are audited.
drop trigger if exists _900_audit on app_public.tenants;
drop trigger if exists _900_audit on app_public.users;
drop trigger if exists _900_audit on app_public.projects;
drop trigger if exists _900_audit on app_public.tasks;
drop trigger if exists _900_audit on app_public.comments;
create trigger _900_audit before update on app_public.tenants
  for each row execute procedure app_private.tg_audit('id');
create trigger _900_audit before insert or update or delete on app_public.users
  for each row execute procedure app_private.tg_audit('tenant_id');
create trigger _900_audit before insert or update or delete on app_public.projects
  for each row execute procedure app_private.tg_audit('tenant_id');
create trigger _900_audit before insert or update or delete on app_public.tasks
  for each row execute procedure app_private.tg_audit('tenant_id');
create trigger _900_audit before insert or update or delete on app_public.comments
  for each row execute procedure app_private.tg_audit('tenant_id');

-------------------------------------------------------------------------------
-- Sessions and refresh tokens
-------------------------------------------------------------------------------

create table app_private.sessions (
  tenant_id uuid not null,
  id uuid not null default gen_random_uuid(),
  user_id uuid not null,
  created_at timestamptz not null default now(),
  refreshed_at timestamptz not null default now(),
  expires_at timestamptz not null default now() + interval '30 days',
  revoked_at timestamptz,
  revoked_reason text,
  primary key (tenant_id, id),
  foreign key (tenant_id, user_id) references app_public.users (tenant_id, id) on delete cascade
);
alter table app_private.sessions enable row level security;
alter table app_private.sessions force row level security;
comment on table app_private.sessions is 'A login of a user: what its access tokens name and its refresh tokens extend. Revoked by logout, a password change, or a reused refresh token; deleted with its user.';
comment on column app_private.sessions.tenant_id is 'The user''s tenant.';
comment on column app_private.sessions.id is 'The session id (the session_id claim of its access tokens).';
comment on column app_private.sessions.user_id is 'The user logged in.';
comment on column app_private.sessions.created_at is 'When the user logged in.';
comment on column app_private.sessions.refreshed_at is 'When a refresh token of the session was last exchanged.';
comment on column app_private.sessions.expires_at is 'After this, the session cannot be refreshed (30 days after login).';
comment on column app_private.sessions.revoked_at is 'When the session was ended, if it was.';
comment on column app_private.sessions.revoked_reason is 'Why: logout, password_changed or refresh_token_reused.';
create index sessions_tenant_user_idx on app_private.sessions (tenant_id, user_id);

create policy own_tenant on app_private.sessions for all
  using (tenant_id = app_public.current_tenant_id())
  with check (tenant_id = app_public.current_tenant_id());

create table app_private.refresh_tokens (
  tenant_id uuid not null,
  token_hash bytea not null,
  session_id uuid not null,
  issued_at timestamptz not null default now(),
  used_at timestamptz,
  primary key (tenant_id, token_hash),
  foreign key (tenant_id, session_id) references app_private.sessions (tenant_id, id) on delete cascade
);
alter table app_private.refresh_tokens enable row level security;
alter table app_private.refresh_tokens force row level security;
comment on table app_private.refresh_tokens is 'Every refresh token issued (as a SHA-256 hash). A token is used once; presenting a used one again revokes its session.';
comment on column app_private.refresh_tokens.tenant_id is 'The session''s tenant (also the token''s prefix).';
comment on column app_private.refresh_tokens.token_hash is 'SHA-256 of the token.';
comment on column app_private.refresh_tokens.session_id is 'The session the token extends.';
comment on column app_private.refresh_tokens.issued_at is 'When it was issued.';
comment on column app_private.refresh_tokens.used_at is 'When it was exchanged for a new pair; a second use is theft.';
create index refresh_tokens_tenant_session_idx on app_private.refresh_tokens (tenant_id, session_id);

create policy own_tenant on app_private.refresh_tokens for all
  using (tenant_id = app_public.current_tenant_id())
  with check (tenant_id = app_public.current_tenant_id());

-- The session of the current request (jwt.claims.session_id); null when
-- missing or malformed.
create function app_private.current_session_id() returns uuid
  language sql stable parallel safe
as $$
  select case
    when current_setting('jwt.claims.session_id', true) ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    then current_setting('jwt.claims.session_id', true)::uuid
  end
$$;
comment on function app_private.current_session_id() is 'The session of the current request (from its verified token), or null.';

-- A refresh token for a session, stored as its hash.
create function app_private.new_refresh_token(tenant_id uuid, session_id uuid) returns text
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_token text := app_private.new_token(tenant_id);
begin
  insert into app_private.refresh_tokens (tenant_id, token_hash, session_id)
    values (tenant_id, app_private.token_hash(v_token), session_id);
  return v_token;
end;
$$;
comment on function app_private.new_refresh_token(uuid, uuid) is 'Issues a refresh token for a session (the caller holds the tenant''s context) and returns it; only its hash is kept.';

-- Starts a session for a user and returns its tokens. The caller holds the
-- tenant's context (owner, inside a security function).
create function app_private.issue_tokens(tenant_id uuid, user_id uuid) returns app_public.auth_tokens
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_role text;
  v_session_id uuid;
begin
  select u.role::text into v_role from app_public.users u where u.tenant_id = issue_tokens.tenant_id and u.id = issue_tokens.user_id;
  insert into app_private.sessions (tenant_id, user_id) values (tenant_id, user_id) returning id into v_session_id;
  return (
    (v_role, user_id::text, user_id, tenant_id, v_session_id, null)::app_public.jwt_token,
    app_private.new_refresh_token(tenant_id, v_session_id)
  )::app_public.auth_tokens;
end;
$$;
comment on function app_private.issue_tokens(uuid, uuid) is 'Starts a session for the user and returns an access token and its first refresh token.';

-------------------------------------------------------------------------------
-- Login protection
-------------------------------------------------------------------------------

-- One row per (tenant slug, email) that has failed recently, whether or not
-- the tenant or the email exists (so that lockout says nothing about which
-- accounts exist). Global and private.
create table app_private.login_throttle (
  scope text not null,
  email citext not null,
  failures integer not null default 0,
  window_started_at timestamptz not null default now(),
  locked_until timestamptz,
  primary key (scope, email)
);
alter table app_private.login_throttle enable row level security;
alter table app_private.login_throttle force row level security;
comment on table app_private.login_throttle is 'Recent failed logins per tenant slug (or "operators") and email: 5 failures within 15 minutes lock that pair for 15 minutes.';
comment on column app_private.login_throttle.scope is 'The tenant slug tried, or "*operators*" for operator logins.';
comment on column app_private.login_throttle.email is 'The email tried.';
comment on column app_private.login_throttle.failures is 'Failures since window_started_at.';
comment on column app_private.login_throttle.window_started_at is 'The first failure of the current 15-minute window.';
comment on column app_private.login_throttle.locked_until is 'Logins for this pair are refused (LOCKD) until then.';
create index login_throttle_window_idx on app_private.login_throttle (window_started_at);

create policy owner_only on app_private.login_throttle for all to :DATABASE_OWNER
  using (true) with check (true);

-- Raises LOCKD while the pair is locked.
create function app_private.login_throttle_check(scope text, email text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if exists (
    select 1 from app_private.login_throttle t
    where t.scope = login_throttle_check.scope and t.email = login_throttle_check.email::citext and t.locked_until > now()
  ) then
    raise exception 'Too many failed logins; try again in 15 minutes.' using errcode = 'LOCKD';
  end if;
end;
$$;
comment on function app_private.login_throttle_check(text, text) is 'Refuses (LOCKD) a login for a tenant slug and email locked by recent failures.';

-- Records a failure; the fifth within 15 minutes locks the pair for 15 minutes.
create function app_private.login_throttle_fail(scope text, email text) returns void
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  insert into app_private.login_throttle as t (scope, email, failures)
    values (scope, email::citext, 1)
    on conflict on constraint login_throttle_pkey do update set
      failures = case when t.window_started_at < now() - interval '15 minutes' then 1 else t.failures + 1 end,
      window_started_at = case when t.window_started_at < now() - interval '15 minutes' then now() else t.window_started_at end;
  update app_private.login_throttle t
     set locked_until = now() + interval '15 minutes', failures = 0, window_started_at = now()
   where t.scope = login_throttle_fail.scope and t.email = login_throttle_fail.email::citext and t.failures >= 5;
  -- Forget pairs that have been quiet for a day.
  delete from app_private.login_throttle t
   where t.window_started_at < now() - interval '1 day' and (t.locked_until is null or t.locked_until < now());
end;
$$;
comment on function app_private.login_throttle_fail(text, text) is 'Counts a failed login for a tenant slug and email; the fifth failure within 15 minutes locks the pair for 15 minutes.';

-------------------------------------------------------------------------------
-- Login and onboarding, now with sessions
-------------------------------------------------------------------------------

-- Returns tokens for the user with this email in the tenant with this slug,
-- if the password matches. A failure is recorded (throttle and audit log)
-- and returns null, which the API reports as CREDS: a wrong slug, email or
-- password look the same, and an unknown tenant or email still costs one
-- bcrypt comparison. While the pair is locked: LOCKD, even with the right
-- password.
create function app_public.login(
  tenant_slug text,
  email text,
  password text
) returns app_public.auth_tokens
  language plpgsql volatile strict
  security definer
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
    perform set_config('jwt.claims.tenant_id', v_previous, true);
    return null;
  end if;
  delete from app_private.login_throttle t where t.scope = v_slug and t.email = v_email::citext;
  v_tokens := app_private.issue_tokens(v_tenant_id, v_user.id);
  perform app_private.audit(v_tenant_id, 'login', 'app_public.users', v_user.id::text, null,
    jsonb_build_object('session_id', (v_tokens.access_token).session_id), v_user.id);
  perform set_config('jwt.claims.tenant_id', v_previous, true);
  return v_tokens;
end;
$$;
comment on function app_public.login(text, text, text) is 'Logs in to a tenant and returns an access token and a refresh token. A wrong slug, email or password all give the same error, CREDS; after 5 failures within 15 minutes for the same tenant and email, LOCKD for 15 minutes.';
grant execute on function app_public.login(text, text, text) to :DATABASE_ANONYMOUS, :DATABASE_MEMBER;

-- Self-serve sign-up: creates a tenant and its first admin in one
-- transaction and returns that admin's tokens.
create function app_public.create_tenant(
  name text,
  slug text,
  admin_email text,
  admin_password text
) returns app_public.auth_tokens
  language plpgsql volatile strict
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant app_public.tenants;
  v_admin app_public.users;
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
  v_admin := app_private.create_user(
    v_tenant.id, admin_email, split_part(btrim(admin_email), '@', 1), 'admin', admin_password
  );
  v_tokens := app_private.issue_tokens(v_tenant.id, v_admin.id);
  perform set_config('jwt.claims.tenant_id', v_previous, true);
  return v_tokens;
end;
$$;
comment on function app_public.create_tenant(text, text, text, text) is E'Creates a tenant and its first admin (named after the email''s local part), and returns that admin''s access and refresh tokens. Errors: BADSL, BADNM, BADEM, WEAKP, LONGP, TAKEN.';
grant execute on function app_public.create_tenant(text, text, text, text) to :DATABASE_ANONYMOUS, :DATABASE_MEMBER;

-------------------------------------------------------------------------------
-- Refresh and logout
-------------------------------------------------------------------------------

-- Exchanges a refresh token for a new access token and a new refresh token
-- (rotation). The token is then used up; presenting it again revokes its
-- whole session (someone else has a copy) and is audited. Any failure
-- returns null, which the API reports as BADRT.
create function app_public.refresh(refresh_token text) returns app_public.auth_tokens
  language plpgsql volatile strict
  security definer
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
  perform set_config('jwt.claims.tenant_id', v_previous, true);
  return v_result;
end;
$$;
comment on function app_public.refresh(text) is 'Exchanges a refresh token for a new access token and refresh token. Each refresh token works once: a second use revokes the session. Error BADRT for an unknown, used, revoked or expired token.';
grant execute on function app_public.refresh(text) to :DATABASE_ANONYMOUS, :DATABASE_MEMBER;

-- Ends the session of a refresh token: its access tokens stop working at
-- once. True whether or not the token was valid (it says nothing).
create function app_public.logout(refresh_token text) returns boolean
  language plpgsql volatile strict
  security definer
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
    perform set_config('jwt.claims.tenant_id', v_previous, true);
  end if;
  return true;
end;
$$;
comment on function app_public.logout(text) is 'Ends the session of a refresh token; its access tokens are refused from the next request on. Always returns true.';
grant execute on function app_public.logout(text) to :DATABASE_ANONYMOUS, :DATABASE_MEMBER;

-------------------------------------------------------------------------------
-- The per-request check of a user's token
-------------------------------------------------------------------------------

-- True when the session is live and its user still exists in the tenant
-- with that role. The authenticator calls it before every authenticated
-- request, outside any request transaction.
create function app_private.claims_are_current(user_id uuid, tenant_id uuid, role text, session_id uuid) returns boolean
  language plpgsql volatile strict
  security definer
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
  perform set_config('jwt.claims.tenant_id', v_previous, true);
  return v_current;
end;
$$;
comment on function app_private.claims_are_current(uuid, uuid, text, uuid) is 'Whether a token''s session is live and its user still belongs to its tenant with its role; the API checks every authenticated request with it.';
grant execute on function app_private.claims_are_current(uuid, uuid, text, uuid) to :DATABASE_AUTHENTICATOR;

-------------------------------------------------------------------------------
-- Invitations
-------------------------------------------------------------------------------

create type app_public.invitation_status as enum ('pending', 'accepted', 'revoked', 'expired');
comment on type app_public.invitation_status is 'Where an invitation stands.';

create table app_public.invitations (
  tenant_id uuid not null default app_public.current_tenant_id()
    references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  email citext not null
    constraint invitations_email_format check (email ~ '^[^\s@]+@[^\s@]+\.[^\s@]+$' and char_length(email) <= 320),
  role app_public.user_role not null,
  inviter_id uuid,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null default now() + interval '7 days',
  accepted_at timestamptz,
  accepted_user_id uuid,
  revoked_at timestamptz,
  primary key (tenant_id, id),
  constraint invitations_inviter_fkey foreign key (tenant_id, inviter_id)
    references app_public.users (tenant_id, id) on delete set null (inviter_id),
  constraint invitations_accepted_user_fkey foreign key (tenant_id, accepted_user_id)
    references app_public.users (tenant_id, id) on delete set null (accepted_user_id)
);
alter table app_public.invitations enable row level security;
alter table app_public.invitations force row level security;

comment on table app_public.invitations is E'@behavior -insert -update -delete\nAn invitation to join a tenant with a role. Admins create them with invite_user and revoke them with revoke_invitation; the invitee accepts with accept_invitation.';
comment on column app_public.invitations.tenant_id is 'The tenant the invitee joins.';
comment on column app_public.invitations.id is 'The invitation''s identifier.';
comment on column app_public.invitations.email is E'@behavior +filterBy\nThe invitee''s email: the user''s email once accepted.';
comment on column app_public.invitations.role is 'The role the invitee gets.';
comment on column app_public.invitations.inviter_id is 'The admin who sent it (null once that user is removed).';
comment on column app_public.invitations.created_at is E'@behavior +orderBy\nWhen it was sent.';
comment on column app_public.invitations.expires_at is 'After this it can no longer be accepted (7 days after sending).';
comment on column app_public.invitations.accepted_at is 'When it was accepted, if it was.';
comment on column app_public.invitations.accepted_user_id is 'The user it created, if accepted.';
comment on column app_public.invitations.revoked_at is 'When an admin revoked it, if one did.';
comment on constraint invitations_inviter_fkey on app_public.invitations is E'@fieldName inviter\n@foreignFieldName invitationsSent\nThe admin who sent an invitation.';
comment on constraint invitations_accepted_user_fkey on app_public.invitations is E'@fieldName acceptedUser\n@foreignFieldName acceptedInvitations\nThe user an invitation created.';

create index invitations_tenant_created_idx on app_public.invitations (tenant_id, created_at desc, id desc);
create index invitations_tenant_email_idx on app_public.invitations (tenant_id, email);
create index invitations_tenant_inviter_idx on app_public.invitations (tenant_id, inviter_id);
create index invitations_tenant_accepted_user_idx on app_public.invitations (tenant_id, accepted_user_id);

-- Admins (and operators acting in the tenant) read the tenant's
-- invitations; they change only through the functions below.
create policy select_own_tenant on app_public.invitations for select to :DATABASE_ADMIN, :DATABASE_OPERATOR
  using (tenant_id = app_public.current_tenant_id());
grant select on app_public.invitations to :DATABASE_ADMIN, :DATABASE_OPERATOR;
-- The owner writes them inside the functions below (and imports them).
create policy owner_all on app_public.invitations for all to :DATABASE_OWNER
  using (tenant_id = app_public.current_tenant_id())
  with check (tenant_id = app_public.current_tenant_id());

-- Computed column `status`.
create function app_public.invitations_status(invitation app_public.invitations) returns app_public.invitation_status
  language sql stable
as $$
  select case
    when invitation.accepted_at is not null then 'accepted'
    when invitation.revoked_at is not null then 'revoked'
    when invitation.expires_at <= now() then 'expired'
    else 'pending'
  end::app_public.invitation_status
$$;
comment on function app_public.invitations_status(app_public.invitations) is 'pending, accepted, revoked or expired.';
grant execute on function app_public.invitations_status(app_public.invitations) to :DATABASE_ADMIN, :DATABASE_OPERATOR;

-- The hash of each invitation's token.
create table app_private.invitation_secrets (
  tenant_id uuid not null,
  invitation_id uuid not null,
  token_hash bytea not null,
  primary key (tenant_id, invitation_id),
  constraint invitation_secrets_token_unique unique (tenant_id, token_hash),
  foreign key (tenant_id, invitation_id) references app_public.invitations (tenant_id, id) on delete cascade
);
alter table app_private.invitation_secrets enable row level security;
alter table app_private.invitation_secrets force row level security;
comment on table app_private.invitation_secrets is 'SHA-256 of each invitation token; the token itself is returned once, to the admin who invites.';
comment on column app_private.invitation_secrets.tenant_id is 'The invitation''s tenant.';
comment on column app_private.invitation_secrets.invitation_id is 'The invitation.';
comment on column app_private.invitation_secrets.token_hash is 'SHA-256 of the token.';

create policy own_tenant on app_private.invitation_secrets for all
  using (tenant_id = app_public.current_tenant_id())
  with check (tenant_id = app_public.current_tenant_id());

-- Raises FORBIDDEN (42501) unless the caller is an admin of its tenant
-- according to the database (not only the token).
create function app_private.assert_admin() returns void
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if not exists (
    select 1 from app_public.users u
    where u.tenant_id = app_public.current_tenant_id() and u.id = app_public.current_user_id() and u.role = 'admin'
  ) then
    raise exception 'Only an admin of the tenant may do this.' using errcode = '42501';
  end if;
end;
$$;
comment on function app_private.assert_admin() is 'Raises 42501 unless the current user is an admin of the current tenant (checked in the table, called by security functions).';

-- What invite_user returns: the token is shown here and never again.
create type app_public.new_invitation as (
  invitation_id uuid,
  token text,
  expires_at timestamptz
);
comment on type app_public.new_invitation is 'A new invitation and its token. Send the token to the invitee; it cannot be read again.';
comment on column app_public.new_invitation.invitation_id is 'The invitation (listed in invitations).';
comment on column app_public.new_invitation.token is 'The single-use token the invitee passes to acceptInvitation.';
comment on column app_public.new_invitation.expires_at is 'When the token stops working.';

-- Invites someone to the caller's tenant with a role. A pending invitation
-- for the same email is revoked (the newest one counts).
create function app_public.invite_user(email text, role app_public.user_role) returns app_public.new_invitation
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
      if v_constraint = 'invitations_email_format' then
        perform app_private.raise_input_error('users_email_format');
      end if;
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
comment on function app_public.invite_user(text, app_public.user_role) is 'Invites someone by email with a role (admins only) and returns the invitation''s token, once; it expires after 7 days. Errors: FORBIDDEN, BADEM, EMTKN (already a user).';
grant execute on function app_public.invite_user(text, app_public.user_role) to :DATABASE_ADMIN;

-- Revokes a pending invitation of the caller's tenant.
create function app_public.revoke_invitation(invitation_id uuid) returns app_public.invitations
  language plpgsql volatile strict
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_invitation app_public.invitations;
begin
  perform app_private.assert_admin();
  update app_public.invitations i set revoked_at = now()
   where i.tenant_id = app_public.current_tenant_id() and i.id = revoke_invitation.invitation_id
     and i.accepted_at is null and i.revoked_at is null and i.expires_at > now()
   returning * into v_invitation;
  if v_invitation.id is null then
    raise exception 'No pending invitation with this id.' using errcode = 'NOINV';
  end if;
  perform app_private.audit(v_invitation.tenant_id, 'invitation_revoked', 'app_public.invitations', v_invitation.id::text, null,
    jsonb_build_object('email', v_invitation.email));
  return v_invitation;
end;
$$;
comment on function app_public.revoke_invitation(uuid) is 'Revokes a pending invitation of the caller''s tenant (admins only). Errors: FORBIDDEN, NOINV (no pending invitation with this id in the tenant).';
grant execute on function app_public.revoke_invitation(uuid) to :DATABASE_ADMIN;

-- Accepts an invitation: creates the user in the invitation's tenant with
-- its role and returns tokens, like login. Any token that does not name a
-- pending invitation gets the same error, BADIN.
create function app_public.accept_invitation(token text, name text, password text) returns app_public.auth_tokens
  language plpgsql volatile strict
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_private.token_tenant(token);
  v_previous text;
  v_invitation app_public.invitations;
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
  v_user := app_private.create_user(v_tenant_id, v_invitation.email, name, v_invitation.role, password);
  update app_public.invitations i set accepted_at = now(), accepted_user_id = v_user.id
   where i.tenant_id = v_tenant_id and i.id = v_invitation.id;
  v_tokens := app_private.issue_tokens(v_tenant_id, v_user.id);
  perform app_private.audit(v_tenant_id, 'invitation_accepted', 'app_public.invitations', v_invitation.id::text, null,
    jsonb_build_object('email', v_user.email, 'role', v_user.role, 'user_id', v_user.id), v_user.id);
  perform set_config('jwt.claims.tenant_id', v_previous, true);
  return v_tokens;
end;
$$;
comment on function app_public.accept_invitation(text, text, text) is 'Accepts an invitation: creates the user (with this name and password) in the invitation''s tenant and returns an access token and a refresh token. Errors: BADIN (unknown, used, revoked or expired), BADNM, WEAKP, LONGP, EMTKN.';
grant execute on function app_public.accept_invitation(text, text, text) to :DATABASE_ANONYMOUS, :DATABASE_MEMBER;

-------------------------------------------------------------------------------
-- Members and roles
-------------------------------------------------------------------------------

-- Changes a user's role. The last admin of a tenant stays an admin.
create function app_public.set_user_role(user_id uuid, role app_public.user_role) returns app_public.users
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
  -- Lock the tenant's admins, so that two demotions cannot both pass the check.
  perform 1 from app_public.users u where u.tenant_id = v_tenant_id and u.role = 'admin' for update;
  select u.* into v_user from app_public.users u where u.tenant_id = v_tenant_id and u.id = set_user_role.user_id;
  if v_user.id is null then
    raise exception 'No user with this id in the tenant.' using errcode = 'NOUSR';
  end if;
  if v_user.role = 'admin' and set_user_role.role <> 'admin'
     and (select count(*) from app_public.users u where u.tenant_id = v_tenant_id and u.role = 'admin') = 1 then
    raise exception 'The last admin of a tenant cannot be demoted.' using errcode = 'LASTA';
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
comment on function app_public.set_user_role(uuid, app_public.user_role) is 'Changes a user''s role (admins only). The user''s current tokens stop working at once; a refresh gives tokens with the new role. Errors: FORBIDDEN, NOUSR, LASTA (the last admin cannot be demoted).';
grant execute on function app_public.set_user_role(uuid, app_public.user_role) to :DATABASE_ADMIN;

-- Removes a user from the tenant (their sessions go with them). The last
-- admin cannot be removed.
create function app_public.remove_user(user_id uuid) returns boolean
  language plpgsql volatile strict
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_user app_public.users;
begin
  perform app_private.assert_admin();
  perform 1 from app_public.users u where u.tenant_id = v_tenant_id and u.role = 'admin' for update;
  select u.* into v_user from app_public.users u where u.tenant_id = v_tenant_id and u.id = remove_user.user_id;
  if v_user.id is null then
    raise exception 'No user with this id in the tenant.' using errcode = 'NOUSR';
  end if;
  if v_user.role = 'admin'
     and (select count(*) from app_public.users u where u.tenant_id = v_tenant_id and u.role = 'admin') = 1 then
    raise exception 'The last admin of a tenant cannot be removed.' using errcode = 'LASTA';
  end if;
  delete from app_public.users u where u.tenant_id = v_tenant_id and u.id = v_user.id
    returning * into strict v_user;
  perform app_private.audit(v_tenant_id, 'user_removed', 'app_public.users', v_user.id::text, null,
    jsonb_build_object('email', v_user.email, 'role', v_user.role));
  return true;
end;
$$;
comment on function app_public.remove_user(uuid) is 'Removes a user from the tenant (admins only); their tokens stop working at once. Their tasks become unassigned and their comments authorless. Errors: FORBIDDEN, NOUSR, LASTA (the last admin cannot be removed).';
grant execute on function app_public.remove_user(uuid) to :DATABASE_ADMIN;

-- Changes the caller's password, given the current one. Every other session
-- of the user ends (the one making the request goes on).
create function app_public.change_password(old_password text, new_password text) returns boolean
  language plpgsql volatile strict
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_user_id uuid := app_public.current_user_id();
  v_hash text;
begin
  select s.password_hash into v_hash from app_private.user_secrets s
   where s.tenant_id = v_tenant_id and s.user_id = v_user_id
   for update;
  if v_hash is null or crypt(old_password, v_hash) is distinct from v_hash then
    raise exception 'The current password is not correct.' using errcode = 'CREDS';
  end if;
  perform app_private.assert_valid_password(new_password);
  update app_private.user_secrets s
     set password_hash = crypt(new_password, gen_salt('bf', 10)), password_changed_at = now()
   where s.tenant_id = v_tenant_id and s.user_id = v_user_id;
  update app_private.sessions s set revoked_at = now(), revoked_reason = 'password_changed'
   where s.tenant_id = v_tenant_id and s.user_id = v_user_id and s.revoked_at is null
     and s.id is distinct from app_private.current_session_id();
  perform app_private.audit(v_tenant_id, 'password_changed', 'app_public.users', v_user_id::text);
  return true;
end;
$$;
comment on function app_public.change_password(text, text) is 'Changes the caller''s password, given the current one; the user''s other sessions end at once. Errors: CREDS (wrong current password), WEAKP, LONGP.';
grant execute on function app_public.change_password(text, text) to :DATABASE_MEMBER;

-------------------------------------------------------------------------------
-- Platform operators
-------------------------------------------------------------------------------

-- Operators run the SaaS itself. They are not users of any tenant.
create table app_public.operators (
  id uuid primary key default gen_random_uuid(),
  email citext not null
    constraint operators_email_unique unique
    constraint operators_email_format check (email ~ '^[^\s@]+@[^\s@]+\.[^\s@]+$' and char_length(email) <= 320),
  name text not null
    constraint operators_name_length check (char_length(btrim(name)) between 1 and 100),
  created_at timestamptz not null default now(),
  disabled_at timestamptz
);
alter table app_public.operators enable row level security;
alter table app_public.operators force row level security;

comment on table app_public.operators is E'@behavior -insert -update -delete\nA platform operator: staff of the SaaS, not a user of any tenant. Created with `npm run operator:create`; logs in with operatorLogin; lists tenants and, for support, reads inside one tenant named per request (every such request is audited in that tenant).';
comment on column app_public.operators.id is 'The operator''s identifier.';
comment on column app_public.operators.email is 'Email address used to log in.';
comment on column app_public.operators.name is 'Display name.';
comment on column app_public.operators.created_at is 'When the operator was created.';
comment on column app_public.operators.disabled_at is 'When the operator was disabled; a disabled operator''s tokens stop working at once.';

create policy select_as_operator on app_public.operators for select to :DATABASE_OPERATOR
  using (true);
grant select on app_public.operators to :DATABASE_OPERATOR;

create table app_private.operator_secrets (
  operator_id uuid primary key references app_public.operators (id) on delete cascade,
  password_hash text not null
);
alter table app_private.operator_secrets enable row level security;
alter table app_private.operator_secrets force row level security;
comment on table app_private.operator_secrets is 'Password hashes (bcrypt) of operators.';
comment on column app_private.operator_secrets.operator_id is 'The operator.';
comment on column app_private.operator_secrets.password_hash is 'bcrypt hash.';

create policy owner_only on app_private.operator_secrets for all to :DATABASE_OWNER
  using (true) with check (true);
create policy owner_only on app_public.operators for all to :DATABASE_OWNER
  using (true) with check (true);

-- Operators see every tenant (and read inside the one their request names,
-- through the ordinary tenant policies and the grants below).
create policy select_as_operator on app_public.tenants for select to :DATABASE_OPERATOR
  using (true);
grant select on app_public.tenants, app_public.users, app_public.projects, app_public.tasks, app_public.comments
  to :DATABASE_OPERATOR;

-- Creates an operator. Owner only (npm run operator:create).
create function app_private.create_operator(email text, name text, password text) returns app_public.operators
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_operator app_public.operators;
begin
  perform app_private.assert_valid_password(password);
  insert into app_public.operators (email, name) values (btrim(email), btrim(name)) returning * into v_operator;
  insert into app_private.operator_secrets (operator_id, password_hash)
    values (v_operator.id, crypt(password, gen_salt('bf', 10)));
  return v_operator;
end;
$$;
comment on function app_private.create_operator(text, text, text) is 'Creates a platform operator with a bcrypt password hash; not reachable from the API.';

-- The calling operator, or null.
create function app_public.current_operator() returns app_public.operators
  language sql stable
as $$
  select o from app_public.operators o where o.id = app_public.current_operator_id()
$$;
comment on function app_public.current_operator() is 'The operator making the request, or null when the caller is not an operator.';
grant execute on function app_public.current_operator() to :DATABASE_OPERATOR;
-- Asked by the same clients: null for an operator (no user), and the tenant it names, if any.
grant execute on function app_public."current_user"(), app_public.current_tenant() to :DATABASE_OPERATOR;

-- Operators export a tenant they name (GET /export), which carries the schema version.
grant execute on function app_public.schema_version() to :DATABASE_OPERATOR;

-- An operator's login: an access token only (no refresh token: operators
-- log in again when it expires). Failures are recorded and return null
-- (CREDS); locked out like tenant logins (LOCKD).
create function app_public.operator_login(email text, password text) returns app_public.auth_tokens
  language plpgsql volatile strict
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_email text := btrim(email);
  v_operator app_public.operators;
  v_hash text;
begin
  perform app_private.login_throttle_check('*operators*', v_email);
  select o.* into v_operator from app_public.operators o where o.email = v_email::citext and o.disabled_at is null;
  select s.password_hash into v_hash from app_private.operator_secrets s where s.operator_id = v_operator.id;
  if crypt(password, coalesce(v_hash, '$2a$10$YnIjOHM8BcuwXxxu1E9CCeO93oXkBoCbFB9fVeD31h9ORxCH2JqLW')) is distinct from v_hash then
    perform app_private.login_throttle_fail('*operators*', v_email);
    return null;
  end if;
  delete from app_private.login_throttle t where t.scope = '*operators*' and t.email = v_email::citext;
  return (
    ('operator', v_operator.id::text, null, null, null, v_operator.id)::app_public.jwt_token,
    null
  )::app_public.auth_tokens;
end;
$$;
comment on function app_public.operator_login(text, text) is 'Logs a platform operator in and returns an access token (no refresh token). Errors: CREDS, LOCKD.';
grant execute on function app_public.operator_login(text, text) to :DATABASE_ANONYMOUS, :DATABASE_MEMBER;

-- The per-request check of an operator's token: the operator exists and is
-- not disabled, and the tenant named (if any) exists. Each request that
-- names a tenant is written to that tenant's audit log, before the request
-- runs and whatever it then does.
create function app_private.operator_access(operator_id uuid, tenant_id uuid, details jsonb) returns boolean
  language plpgsql volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if operator_id is null or not exists (
    select 1 from app_public.operators o where o.id = operator_access.operator_id and o.disabled_at is null
  ) then
    return false;
  end if;
  if tenant_id is null then
    return true;
  end if;
  if not exists (select 1 from app_public.tenants t where t.id = operator_access.tenant_id) then
    return false;
  end if;
  perform app_private.audit(tenant_id, 'operator_access', null, null, null, details, null, operator_id);
  return true;
end;
$$;
comment on function app_private.operator_access(uuid, uuid, jsonb) is 'Whether an operator token is still good (operator exists, not disabled) and the tenant it names exists; audits every request that names a tenant. Called by the API before each operator request.';
grant execute on function app_private.operator_access(uuid, uuid, jsonb) to :DATABASE_AUTHENTICATOR;
