--! Previous: sha1:1e18d7943c11cace12de0f09dda821c6c92a7d56
--! Hash: sha1:b180dd36c9307174a5008ded1761c043d684a116
--! Message: claims checked inside the request's transaction

/*
 * The per-request check of a user's token (app_private.claims_are_current)
 * cost one more round trip per request, measured at 20-30 % of a simple
 * request's throughput. Now it rides in the statement that applies the
 * request's settings, inside the request's own transaction: the server
 * prefixes that statement with assert_claims_current (server/request-context.ts),
 * which runs as the authenticator before the role switch and raises 28000
 * (invalid_authorization_specification) when the token's session, user, tenant
 * or role no longer hold; the API answers 401 INVALID_TOKEN.
 */

drop function if exists app_private.assert_claims_current(json) cascade;

-- Raises 28000 unless the settings of a user's request (pairs [name, value],
-- as PostGraphile sends them) name a live session of a user who still
-- belongs to that tenant with that role. Settings without a session
-- (anonymous and operator requests, checked before the request) pass.
create function app_private.assert_claims_current(settings json) returns void
  language plpgsql volatile
  security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_claims jsonb;
begin
  select jsonb_object_agg(el ->> 0, el ->> 1) into v_claims from json_array_elements(settings) el;
  if not (v_claims ? 'jwt.claims.session_id') then
    return;
  end if;
  if (v_claims ->> 'jwt.claims.session_id') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
     or (v_claims ->> 'jwt.claims.user_id') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
     or (v_claims ->> 'jwt.claims.tenant_id') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
     -- claims_are_current is strict: a missing claim gives null, which must refuse.
     or not coalesce(app_private.claims_are_current(
       (v_claims ->> 'jwt.claims.user_id')::uuid,
       (v_claims ->> 'jwt.claims.tenant_id')::uuid,
       v_claims ->> 'jwt.claims.role',
       (v_claims ->> 'jwt.claims.session_id')::uuid
     ), false) then
    raise exception 'The token no longer matches its account or session.' using errcode = '28000';
  end if;
end;
$$;
comment on function app_private.assert_claims_current(json) is 'Raises 28000 unless a user request''s settings name a live session of a user still in that tenant with that role; the API runs it at the start of every request transaction, before the role switch.';
grant execute on function app_private.assert_claims_current(json) to :DATABASE_AUTHENTICATOR;
