/*
 * Tenant export (GET /export): who may export is decided here, in the
 * database, by a function the server calls first in the export's
 * transaction, once the request's settings are in place (server/export.ts).
 * The export's compatibility is no longer the schema version: export files
 * declare their tables' columns and types, and the import compares those with
 * the target's catalog (common/tenant-export-format.ts, db/import.ts).
 */

drop function if exists app_public.assert_may_export() cascade;

-------------------------------------------------------------------------------
-- Export authorization
-------------------------------------------------------------------------------

-- Raises FORBIDDEN (42501) unless the caller may export the request's
-- tenant: an admin of that tenant according to the database (users.role,
-- not only the token), or a platform operator whose request names a tenant
-- (X-Operator-Tenant; before the request, app_private.operator_access
-- checked that the operator is enabled and the tenant exists, and audited
-- the access). Refused: members, operators naming no tenant, any request
-- without a tenant. Runs as the caller (no SECURITY DEFINER): the caller's
-- own policies answer the lookup.
create function app_public.assert_may_export() returns void
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if app_public.current_tenant_id() is null then
    raise exception 'Only a tenant admin, or an operator naming the tenant, may export a tenant.' using errcode = '42501';
  end if;
  if current_setting('jwt.claims.role', true) = 'operator' and app_public.current_operator_id() is not null then
    return;
  end if;
  if not exists (
    select 1 from app_public.users u
     where u.tenant_id = app_public.current_tenant_id() and u.id = app_public.current_user_id() and u.role = 'admin'
  ) then
    raise exception 'Only a tenant admin, or an operator naming the tenant, may export a tenant.' using errcode = '42501';
  end if;
end;
$$;
comment on function app_public.assert_may_export() is E'@behavior -queryField\nRaises 42501 (FORBIDDEN) unless the caller may export the current tenant: an admin of it (checked in the users table), or an operator whose request names it. GET /export calls it first in its transaction.';
revoke all on function app_public.assert_may_export() from public;
grant execute on function app_public.assert_may_export() to :DATABASE_MEMBER, :DATABASE_OPERATOR;

-------------------------------------------------------------------------------
-- Schema version: information only
-------------------------------------------------------------------------------

-- Exports still carry it (which migration the source had), but imports no
-- longer compare it: they compare the tables' columns and types.
comment on function app_public.schema_version() is 'The latest applied migration; tenant exports carry it as information (imports compare the tables'' columns and types instead).';
