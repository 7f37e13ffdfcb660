--! Previous: -
--! Hash: sha1:5c53f1ad0cf22e8c66ee5e92e593d5e729f9fc7e
--! Message: foundation

/*
 * The roles are cluster-wide and created by db/setup.ts before migrations
 * run; their names arrive as placeholders (:DATABASE_OWNER is the owner
 * that runs this file). Request roles: :DATABASE_ANONYMOUS, :DATABASE_MEMBER
 * and :DATABASE_ADMIN (admin inherits member, so member grants apply to it).
 *
 * Error codes raised on purpose are five capital letters (CREDS, WEAKP...);
 * the server passes their message through to the client. Every other
 * database error is masked. README.md lists them.
 */

-------------------------------------------------------------------------------
-- Schemas, extensions and default privileges
-------------------------------------------------------------------------------

drop schema if exists app_public cascade;
drop schema if exists app_private cascade;

create extension if not exists citext with schema public;
create extension if not exists pgcrypto with schema public;

-- Nothing the owner creates is executable by PUBLIC unless granted here.
alter default privileges revoke all on functions from public;

create schema app_public;
comment on schema app_public is 'What the API exposes: every object here is visible through GraphQL, subject to grants and row-level security.';
grant usage on schema app_public to :DATABASE_ANONYMOUS, :DATABASE_MEMBER;

create schema app_private;
comment on schema app_private is 'Secrets and internal helpers. No request role may use this schema.';

-------------------------------------------------------------------------------
-- Request context helpers, called directly by every policy
-------------------------------------------------------------------------------

-- The caller's tenant, from the transaction-local setting jwt.claims.tenant_id.
-- Missing, empty or malformed context yields null, so policies match no row.
create function app_public.current_tenant_id() returns uuid
  language sql stable parallel safe
as $$
  select case
    when current_setting('jwt.claims.tenant_id', true) ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    then current_setting('jwt.claims.tenant_id', true)::uuid
  end
$$;
comment on function app_public.current_tenant_id() is E'@behavior -queryField\nThe tenant of the current request (from its verified token), or null when there is none. Row-level security policies compare tenant_id with this.';
grant execute on function app_public.current_tenant_id() to :DATABASE_ANONYMOUS, :DATABASE_MEMBER;

-- The calling user, from jwt.claims.user_id; null when missing or malformed.
create function app_public.current_user_id() returns uuid
  language sql stable parallel safe
as $$
  select case
    when current_setting('jwt.claims.user_id', true) ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    then current_setting('jwt.claims.user_id', true)::uuid
  end
$$;
comment on function app_public.current_user_id() is E'@behavior -queryField\nThe user making the current request (from its verified token), or null when there is none.';
grant execute on function app_public.current_user_id() to :DATABASE_ANONYMOUS, :DATABASE_MEMBER;

-------------------------------------------------------------------------------
-- Protected columns
-------------------------------------------------------------------------------

-- Rejects an UPDATE that changes any column named in the trigger's arguments.
-- Column GRANTs would do this too, but Citus rejects them; the API also hides
-- these columns from its inputs with @behavior tags.
create function app_private.tg_protect_columns() returns trigger
  language plpgsql
as $$
declare
  v_column text;
  v_old jsonb := to_jsonb(old);
  v_new jsonb := to_jsonb(new);
begin
  foreach v_column in array tg_argv loop
    if v_old -> v_column is distinct from v_new -> v_column then
      raise exception 'The column "%" cannot be changed.', v_column using errcode = 'IMMUT';
    end if;
  end loop;
  return new;
end;
$$;
comment on function app_private.tg_protect_columns() is 'Trigger: rejects updates that change the columns given as trigger arguments (error IMMUT).';

-------------------------------------------------------------------------------
-- Tenants (global: the tenant registry itself)
-------------------------------------------------------------------------------

create table app_public.tenants (
  id uuid primary key default gen_random_uuid(),
  slug text not null
    constraint tenants_slug_unique unique
    constraint tenants_slug_format check (slug ~ '^[a-z0-9][a-z0-9-]{0,46}[a-z0-9]$'),
  name text not null
    constraint tenants_name_length check (char_length(btrim(name)) between 1 and 100),
  created_at timestamptz not null default now()
);
alter table app_public.tenants enable row level security;
alter table app_public.tenants force row level security;

comment on table app_public.tenants is 'A customer organisation. Every tenant-scoped row belongs to exactly one tenant; members see only their own.';
comment on column app_public.tenants.id is E'@behavior -insert -update\nThe tenant''s identifier.';
comment on column app_public.tenants.slug is E'@behavior -update\nShort unique name used to log in: 2 to 48 lowercase letters, digits or hyphens.';
comment on column app_public.tenants.name is 'Display name of the tenant.';
comment on column app_public.tenants.created_at is E'@behavior -insert -update\nWhen the tenant was created.';

create trigger _100_protect_columns before update on app_public.tenants
  for each row execute procedure app_private.tg_protect_columns('id', 'slug', 'created_at');

-- Members see their own tenant.
create policy select_own on app_public.tenants for select
  using (id = app_public.current_tenant_id());
-- Admins rename their own tenant (the UPDATE grant is the admin's only).
create policy update_own on app_public.tenants for update
  using (id = app_public.current_tenant_id())
  with check (id = app_public.current_tenant_id());
-- The owner (inside login) finds a tenant by slug before any tenant context exists.
create policy owner_lookup on app_public.tenants for select to :DATABASE_OWNER
  using (true);
-- The owner (inside create_tenant) inserts the tenant whose context it has just set.
create policy owner_onboarding on app_public.tenants for insert to :DATABASE_OWNER
  with check (id = app_public.current_tenant_id());

grant select on app_public.tenants to :DATABASE_MEMBER;
grant update on app_public.tenants to :DATABASE_ADMIN;

-------------------------------------------------------------------------------
-- Users (tenant-scoped)
-------------------------------------------------------------------------------

create type app_public.user_role as enum ('admin', 'member');
comment on type app_public.user_role is 'What a user may do in their tenant: admins also manage its users.';

create table app_public.users (
  tenant_id uuid not null default app_public.current_tenant_id()
    references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  email citext not null
    constraint users_email_format check (email ~ '^[^\s@]+@[^\s@]+\.[^\s@]+$' and char_length(email) <= 320),
  name text not null
    constraint users_name_length check (char_length(btrim(name)) between 1 and 100),
  role app_public.user_role not null default 'member',
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint users_email_unique unique (tenant_id, email)
);
alter table app_public.users enable row level security;
alter table app_public.users force row level security;

comment on table app_public.users is 'A person who can log in to one tenant. The same email may exist in several tenants, once in each.';
comment on column app_public.users.tenant_id is E'@behavior -insert -update\nThe tenant this user belongs to: taken from the caller''s context, never changed.';
comment on column app_public.users.id is E'@behavior -insert -update\nThe user''s identifier (unique within the tenant).';
comment on column app_public.users.email is 'Email address used to log in; unique within the tenant, compared case-insensitively.';
comment on column app_public.users.name is 'Display name.';
comment on column app_public.users.role is 'admin or member.';
comment on column app_public.users.created_at is E'@behavior -insert -update\nWhen the user was created.';

create trigger _100_protect_columns before update on app_public.users
  for each row execute procedure app_private.tg_protect_columns('tenant_id', 'id', 'created_at');

-- Every operation is confined to the caller's tenant; grants decide who may
-- do what (members read; admins also insert, update and delete).
create policy select_own_tenant on app_public.users for select
  using (tenant_id = app_public.current_tenant_id());
create policy insert_own_tenant on app_public.users for insert
  with check (tenant_id = app_public.current_tenant_id());
create policy update_own_tenant on app_public.users for update
  using (tenant_id = app_public.current_tenant_id())
  with check (tenant_id = app_public.current_tenant_id());
create policy delete_own_tenant on app_public.users for delete
  using (tenant_id = app_public.current_tenant_id());

grant select on app_public.users to :DATABASE_MEMBER;
grant insert, update, delete on app_public.users to :DATABASE_ADMIN;

-------------------------------------------------------------------------------
-- User secrets (private: the API cannot reach this schema)
-------------------------------------------------------------------------------

create table app_private.user_secrets (
  tenant_id uuid not null,
  user_id uuid not null,
  password_hash text not null,
  password_changed_at timestamptz not null default now(),
  primary key (tenant_id, user_id),
  foreign key (tenant_id, user_id) references app_public.users (tenant_id, id) on delete cascade
);
alter table app_private.user_secrets enable row level security;
alter table app_private.user_secrets force row level security;

comment on table app_private.user_secrets is 'Password hashes (bcrypt), one row per user. Only the owner reaches it, inside login and onboarding.';
comment on column app_private.user_secrets.tenant_id is 'The user''s tenant.';
comment on column app_private.user_secrets.user_id is 'The user.';
comment on column app_private.user_secrets.password_hash is 'bcrypt hash (pgcrypto crypt with gen_salt(''bf'')).';
comment on column app_private.user_secrets.password_changed_at is 'When the password was last set.';

-- Even the owner sees only the tenant whose context it has set.
create policy own_tenant on app_private.user_secrets for all
  using (tenant_id = app_public.current_tenant_id())
  with check (tenant_id = app_public.current_tenant_id());

-------------------------------------------------------------------------------
-- Internal helpers for onboarding and login
-------------------------------------------------------------------------------

-- Sets the tenant context (jwt.claims.tenant_id) for the rest of the
-- transaction and returns the previous value, so that the caller can put it
-- back before it returns. This is the deliberate, narrow path by which the
-- owner's functions reach one tenant's rows under forced RLS.
create function app_private.switch_tenant_context(tenant_id uuid) returns text
  language plpgsql volatile
as $$
declare
  v_previous text := coalesce(current_setting('jwt.claims.tenant_id', true), '');
begin
  perform set_config('jwt.claims.tenant_id', coalesce(tenant_id::text, ''), true);
  return v_previous;
end;
$$;
comment on function app_private.switch_tenant_context(uuid) is 'Sets jwt.claims.tenant_id for the transaction and returns the previous value, for the owner''s onboarding and login functions.';

-- Raises a friendly, stable error for the check constraints that user input
-- can break; anything else is re-raised unchanged by the caller.
create function app_private.raise_input_error(constraint_name text) returns void
  language plpgsql
as $$
begin
  case constraint_name
    when 'tenants_slug_format' then
      raise exception 'A slug is 2 to 48 lowercase letters, digits or hyphens, starting and ending with a letter or digit.' using errcode = 'BADSL';
    when 'tenants_name_length' then
      raise exception 'A tenant name is 1 to 100 characters.' using errcode = 'BADNM';
    when 'users_email_format' then
      raise exception 'That is not a valid email address.' using errcode = 'BADEM';
    when 'users_name_length' then
      raise exception 'A name is 1 to 100 characters.' using errcode = 'BADNM';
    else
      return;
  end case;
end;
$$;
comment on function app_private.raise_input_error(text) is 'Turns a violated check constraint on user input into an error with a stable code (BADSL, BADNM, BADEM); returns for any other constraint.';

-- Passwords: at least 8 characters; at most 72 bytes (bcrypt ignores the rest).
create function app_private.assert_valid_password(password text) returns void
  language plpgsql immutable
as $$
begin
  if password is null or char_length(password) < 8 then
    raise exception 'A password must have at least 8 characters.' using errcode = 'WEAKP';
  end if;
  if octet_length(password) > 72 then
    raise exception 'A password must be at most 72 bytes long.' using errcode = 'LONGP';
  end if;
end;
$$;
comment on function app_private.assert_valid_password(text) is 'Rejects passwords shorter than 8 characters (WEAKP) or longer than 72 bytes (LONGP).';

-- Creates a user and its password hash in the given tenant. Owner only.
create function app_private.create_user(
  tenant_id uuid,
  email text,
  name text,
  role app_public.user_role,
  password text
) returns app_public.users
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user app_public.users;
  v_previous text;
  v_constraint text;
begin
  perform app_private.assert_valid_password(password);
  v_previous := app_private.switch_tenant_context(tenant_id);
  begin
    insert into app_public.users (tenant_id, email, name, role)
      values (tenant_id, btrim(email), btrim(name), role)
      returning * into v_user;
  exception
    when check_violation then
      get stacked diagnostics v_constraint = constraint_name;
      perform app_private.raise_input_error(v_constraint);
      raise;
    when unique_violation then
      raise exception 'A user with this email already exists in this tenant.' using errcode = 'EMTKN';
  end;
  insert into app_private.user_secrets (tenant_id, user_id, password_hash)
    values (tenant_id, v_user.id, crypt(password, gen_salt('bf', 10)));
  perform set_config('jwt.claims.tenant_id', v_previous, true);
  return v_user;
end;
$$;
comment on function app_private.create_user(uuid, text, text, app_public.user_role, text) is 'Creates a user with a bcrypt password hash in the given tenant. Used by onboarding and the demo data; not reachable from the API.';

-------------------------------------------------------------------------------
-- Tokens
-------------------------------------------------------------------------------

create type app_public.jwt_token as (
  role text,
  sub text,
  user_id uuid,
  tenant_id uuid
);
comment on type app_public.jwt_token is 'The claims of an access token. The API signs it (HS256) and adds iat, exp, aud and iss.';
comment on column app_public.jwt_token.role is 'The user''s role in the tenant: admin or member.';
comment on column app_public.jwt_token.sub is 'The user id (the JWT subject).';
comment on column app_public.jwt_token.user_id is 'The user id.';
comment on column app_public.jwt_token.tenant_id is 'The tenant the token is valid for.';

-------------------------------------------------------------------------------
-- Onboarding
-------------------------------------------------------------------------------

-- Self-serve sign-up: creates a tenant and its first admin in one
-- transaction and returns a token for that admin.
create function app_public.create_tenant(
  name text,
  slug text,
  admin_email text,
  admin_password text
) returns app_public.jwt_token
  language plpgsql volatile strict
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant app_public.tenants;
  v_admin app_public.users;
  v_previous text;
  v_constraint text;
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
  perform set_config('jwt.claims.tenant_id', v_previous, true);
  return ('admin', v_admin.id::text, v_admin.id, v_tenant.id)::app_public.jwt_token;
end;
$$;
comment on function app_public.create_tenant(text, text, text, text) is E'Creates a tenant and its first admin (named after the email''s local part), and returns an access token for that admin. Errors: BADSL, BADNM, BADEM, WEAKP, LONGP, TAKEN.';
grant execute on function app_public.create_tenant(text, text, text, text) to :DATABASE_ANONYMOUS, :DATABASE_MEMBER;

-------------------------------------------------------------------------------
-- Login
-------------------------------------------------------------------------------

-- Returns a token for the user with this email in the tenant with this slug,
-- if the password matches. Every failure is the same error (CREDS), and an
-- unknown tenant or email still costs one bcrypt comparison, so neither the
-- message nor the timing tells which part was wrong.
create function app_public.login(
  tenant_slug text,
  email text,
  password text
) returns app_public.jwt_token
  language plpgsql volatile strict
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid;
  v_user app_public.users;
  v_hash text;
  v_previous text;
begin
  select t.id into v_tenant_id from app_public.tenants t where t.slug = lower(btrim(tenant_slug));
  if v_tenant_id is not null then
    v_previous := app_private.switch_tenant_context(v_tenant_id);
    select u.* into v_user
      from app_public.users u
      where u.tenant_id = v_tenant_id and u.email = btrim(login.email)::citext;
    select s.password_hash into v_hash
      from app_private.user_secrets s
      where s.tenant_id = v_tenant_id and s.user_id = v_user.id;
    perform set_config('jwt.claims.tenant_id', v_previous, true);
  end if;
  if v_hash is null then
    -- Same work as a real comparison (bcrypt, cost 10), then the same error.
    perform crypt(password, '$2a$10$YnIjOHM8BcuwXxxu1E9CCeO93oXkBoCbFB9fVeD31h9ORxCH2JqLW');
    raise exception 'Incorrect tenant, email or password.' using errcode = 'CREDS';
  end if;
  if crypt(password, v_hash) is distinct from v_hash then
    raise exception 'Incorrect tenant, email or password.' using errcode = 'CREDS';
  end if;
  return (v_user.role::text, v_user.id::text, v_user.id, v_tenant_id)::app_public.jwt_token;
end;
$$;
comment on function app_public.login(text, text, text) is 'Logs in to a tenant and returns an access token. A wrong slug, email or password all give the same error, CREDS.';
grant execute on function app_public.login(text, text, text) to :DATABASE_ANONYMOUS, :DATABASE_MEMBER;

-------------------------------------------------------------------------------
-- Who am I
-------------------------------------------------------------------------------

-- The calling user, or null without a (valid) token. PL/pgSQL, so that an
-- anonymous caller, who may not read users, gets null instead of an error.
create function app_public."current_user"() returns app_public.users
  language plpgsql stable
as $$
begin
  if app_public.current_user_id() is null or app_public.current_tenant_id() is null then
    return null;
  end if;
  return (
    select u from app_public.users u
    where u.tenant_id = app_public.current_tenant_id() and u.id = app_public.current_user_id()
  );
end;
$$;
comment on function app_public."current_user"() is 'The user making the request, or null when not logged in.';
grant execute on function app_public."current_user"() to :DATABASE_ANONYMOUS, :DATABASE_MEMBER;

-- The caller's tenant, or null without a (valid) token.
create function app_public.current_tenant() returns app_public.tenants
  language plpgsql stable
as $$
begin
  if app_public.current_tenant_id() is null then
    return null;
  end if;
  return (select t from app_public.tenants t where t.id = app_public.current_tenant_id());
end;
$$;
comment on function app_public.current_tenant() is 'The tenant of the request, or null when not logged in.';
grant execute on function app_public.current_tenant() to :DATABASE_ANONYMOUS, :DATABASE_MEMBER;
