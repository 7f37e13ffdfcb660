--------------------------------------------------------------------------------
-- Claim readers that cannot raise, even when Citus evaluates them early
--------------------------------------------------------------------------------

-- Citus evaluates the functions and casts of a distributed query on the
-- coordinator before it routes it, arm by arm: the CASE form's `value::uuid`
-- then ran on '' and raised (`invalid input syntax for type uuid: ""`, seen
-- in acceptInvitation's audit insert). Here the cast only ever sees the
-- regular expression's match, or null.
create or replace function app_public.uuid_or_null(value text) returns uuid
  language sql immutable parallel safe
as $$
  select (regexp_match(value, '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', 'i'))[1]::uuid
$$;

--------------------------------------------------------------------------------
-- deleteTenant on one connection per node
--------------------------------------------------------------------------------

-- On Citus, deleting the tenant's row from the reference table `tenants`
-- cascades into every distributed table; Citus refuses that after a parallel
-- operation on a distributed table in the same transaction (`cannot modify
-- table "tenants" because there was a parallel operation on a distributed
-- table`). Sequential mode for this transaction only, set first, before any
-- read, on the coordinator (set_config: it must not be forwarded); on plain
-- PostgreSQL it is an unused setting.
create or replace function app_public.delete_tenant(confirm_slug text) returns boolean
  language plpgsql strict security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant app_public.tenants;
  v_table regclass;
  v_count bigint;
  v_counts jsonb := '{}';
begin
  perform set_config('citus.multi_shard_modify_mode', 'sequential', true);
  perform app_private.assert_admin();
  select t.* into v_tenant from app_public.tenants t where t.id = app_public.current_tenant_id();
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

--------------------------------------------------------------------------------
-- assert_admin routed to the caller's shard
--------------------------------------------------------------------------------

-- Citus routes a query to one shard only when its tenant condition is a
-- constant or a parameter; `tenant_id = current_tenant_id()` (a setting read
-- on every shard) fanned out to all 32. The claims read into variables first
-- become parameters of the lookup.
create or replace function app_private.assert_admin() returns void
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_user_id uuid := app_public.current_user_id();
begin
  if not exists (
    select 1 from app_public.users u
    where u.tenant_id = v_tenant_id and u.id = v_user_id and u.role = 'admin'
  ) then
    raise exception 'Only an admin of the tenant may do this.' using errcode = '42501';
  end if;
end;
$$;
