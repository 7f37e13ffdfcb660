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
