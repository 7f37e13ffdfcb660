--! Previous: sha1:1e18d7943c11cace12de0f09dda821c6c92a7d56
--! Hash: sha1:df92cac90cb1c5c09470c273e2015a6e687eb89d
--! Message: claims checked inside the request's transaction

/*
 * The per-request check of a user's token (app_private.claims_are_current)
 * cost one more round trip per request. Now it rides in the statement that
 * applies the request's settings, inside the request's own transaction: the
 * server (server/request-context.ts) puts assert_claims_current in front of
 * that statement, where it runs as the authenticator before the role
 * switch, and raises 28000 (invalid_authorization_specification) when the
 * token's session, user, tenant or role no longer hold; the API answers 401
 * INVALID_TOKEN. It is the same lookup as claims_are_current, written flat
 * (one plpgsql call, no nested helpers, the claims as parameters): measured
 * with pgbench, it adds about a third of what the nested version did.
 */

drop function if exists app_private.assert_claims_current(uuid, uuid, text, uuid) cascade;

-- Raises 28000 unless the session is live and its user still belongs to
-- the tenant with that role. Without a session (anonymous and operator
-- requests, which the server checks before the request) it passes. It sets
-- the tenant context for its lookup; the settings statement it runs in sets
-- the request's own context right after it.
create function app_private.assert_claims_current(user_id uuid, tenant_id uuid, role text, session_id uuid) returns void
  language plpgsql volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  if session_id is null then
    return;
  end if;
  perform set_config('jwt.claims.tenant_id', coalesce(assert_claims_current.tenant_id::text, ''), true);
  if not exists (
    select 1 from app_private.sessions s
      join app_public.users u on u.tenant_id = s.tenant_id and u.id = s.user_id
     where s.tenant_id = assert_claims_current.tenant_id
       and s.id = assert_claims_current.session_id
       and s.user_id = assert_claims_current.user_id
       and s.revoked_at is null
       and s.expires_at > now()
       and u.role::text = assert_claims_current.role
  ) then
    raise exception 'The token no longer matches its account or session.' using errcode = '28000';
  end if;
end;
$$;
comment on function app_private.assert_claims_current(uuid, uuid, text, uuid) is 'Raises 28000 unless the session is live and its user still belongs to the tenant with that role (passes without a session); the API runs it at the start of every request transaction, before the role switch.';
grant execute on function app_private.assert_claims_current(uuid, uuid, text, uuid) to :DATABASE_AUTHENTICATOR;
