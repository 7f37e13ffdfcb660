--! Previous: sha1:5b7493c6c8760ca06be766533ce0cd09f00c9508
--! Hash: sha1:401bd4343f883f7198015d5a21b3bd17910f25ec
--! Message: tenant export and offboarding

/*
 * Export, import and offboarding of a whole tenant. The export itself runs in
 * the server, under the caller's RLS, over every tenant-scoped table found in
 * the catalog; the database supplies the schema version and the owner's
 * narrow paths for import (tests/export.test.ts covers each).
 */

drop function if exists app_public.schema_version() cascade;
drop function if exists app_public.delete_tenant(text) cascade;
drop table if exists app_private.tenant_deletions cascade;
drop policy if exists owner_offboarding on app_public.tenants;
drop policy if exists owner_import on app_public.comments;

-------------------------------------------------------------------------------
-- Schema version
-------------------------------------------------------------------------------

-- The latest applied migration (e.g. '000003-tenant-export-and-offboarding'),
-- which an export carries and an import must match.
create function app_public.schema_version() returns text
  language sql stable
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
  select regexp_replace(max(filename), '\.sql$', '') from graphile_migrate.migrations
$$;
comment on function app_public.schema_version() is 'The latest applied migration, which tenant exports carry and imports must match.';
grant execute on function app_public.schema_version() to :DATABASE_MEMBER;

-------------------------------------------------------------------------------
-- Offboarding
-------------------------------------------------------------------------------

-- One row per deleted tenant: global (it must outlive the tenant), private.
create table app_private.tenant_deletions (
  id uuid primary key default gen_random_uuid(),
  deleted_tenant_id uuid not null,
  slug text not null,
  name text not null,
  deleted_by uuid,
  deleted_at timestamptz not null default now(),
  rows_deleted jsonb not null
);
alter table app_private.tenant_deletions enable row level security;
alter table app_private.tenant_deletions force row level security;
comment on table app_private.tenant_deletions is 'Audit record of every deleted tenant, kept outside the tenant so that it survives the deletion.';
comment on column app_private.tenant_deletions.id is 'Identifier of the record.';
comment on column app_private.tenant_deletions.deleted_tenant_id is 'The deleted tenant''s id (not named tenant_id: this table is global, not tenant-scoped).';
comment on column app_private.tenant_deletions.slug is 'The deleted tenant''s slug.';
comment on column app_private.tenant_deletions.name is 'The deleted tenant''s name.';
comment on column app_private.tenant_deletions.deleted_by is 'The user (an admin of the tenant) who deleted it.';
comment on column app_private.tenant_deletions.deleted_at is 'When it was deleted.';
comment on column app_private.tenant_deletions.rows_deleted is 'Rows removed per table, e.g. {"app_public.tasks": 3}.';

-- Only the owner (inside delete_tenant) reads and writes these records.
create policy owner_only on app_private.tenant_deletions for all to :DATABASE_OWNER
  using (true) with check (true);

-- The owner (inside delete_tenant) deletes the tenant whose context it holds.
create policy owner_offboarding on app_public.tenants for delete to :DATABASE_OWNER
  using (id = app_public.current_tenant_id());

-- Deletes the caller's tenant and, through the ON DELETE CASCADE foreign
-- keys every tenant-scoped table has (directly or through its parent), every
-- row of it; records the deletion with the row count of each tenant-scoped
-- table (found in the catalog) in app_private.tenant_deletions. Only an admin
-- of the tenant (checked in the database, not only in the token) may, and
-- only by repeating its slug. tests/export.test.ts checks from the catalog
-- that no row of the tenant remains in any table.
create function app_public.delete_tenant(confirm_slug text) returns boolean
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
  select t.* into v_tenant from app_public.tenants t where t.id = app_public.current_tenant_id();
  if v_tenant.id is null or not exists (
    select 1 from app_public.users u
    where u.tenant_id = v_tenant.id and u.id = app_public.current_user_id() and u.role = 'admin'
  ) then
    raise exception 'Only an admin of the tenant may delete it.' using errcode = '42501';
  end if;
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
comment on function app_public.delete_tenant(text) is 'Deletes the caller''s tenant with all its rows, given its slug as confirmation. Admins only (42501 otherwise); CONFM when the slug does not match.';
grant execute on function app_public.delete_tenant(text) to :DATABASE_MEMBER;

-------------------------------------------------------------------------------
-- Import (owner only, through `npm run tenant:import`)
-------------------------------------------------------------------------------

-- An import writes comments in the name of their authors, which the insert
-- policy only allows the author itself; the owner may write them for the
-- tenant whose context it holds.
create policy owner_import on app_public.comments for insert to :DATABASE_OWNER
  with check (tenant_id = app_public.current_tenant_id());
