--! Previous: sha1:e8c8220bb643e522297bd0ffae03063692dbab69
--! Hash: sha1:35977b55bb1e8bee87559bdd407ff07a16441608
--! Message: claims checked against the database

/*
 * A verified token is only as good as the database says: the server asks,
 * before every authenticated request, whether the token's user still exists
 * in the token's tenant with the token's role. A token whose tenant_id names
 * a tenant the user does not belong to (possible only with the signing key),
 * a removed user, or a changed role, gets 401 on its very next request.
 */

drop function if exists app_private.claims_are_current(uuid, uuid, text) cascade;

-- True when the user exists in the tenant with that role. Called by the
-- authenticator (the API's login role), outside any request transaction, so
-- the tenant context it sets ends with its own statement.
create function app_private.claims_are_current(user_id uuid, tenant_id uuid, role text) returns boolean
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
    select 1 from app_public.users u
    where u.tenant_id = claims_are_current.tenant_id
      and u.id = claims_are_current.user_id
      and u.role::text = claims_are_current.role
  ) into v_current;
  perform set_config('jwt.claims.tenant_id', v_previous, true);
  return v_current;
end;
$$;
comment on function app_private.claims_are_current(uuid, uuid, text) is 'Whether a token''s user still belongs to its tenant with its role; the API checks every authenticated request with it.';

-- The authenticator may call this one function in the private schema, and nothing else there.
grant usage on schema app_private to :DATABASE_AUTHENTICATOR;
grant execute on function app_private.claims_are_current(uuid, uuid, text) to :DATABASE_AUTHENTICATOR;
