-- Refresh for a browser (issue #17): a short grace for the just-replaced
-- refresh token. Two tabs that refresh at once present the same token; with
-- strict rotation the second use revoked the session and logged the user out.
-- Now a second use within 30 seconds of the first, while the token's
-- successor has not been used yet, gets a fresh pair in the same session
-- (only hashes are kept, so the successor itself cannot be given again).
-- Any other reuse (after the grace, or once the successor has been used) is
-- theft, as before: the whole session is revoked and audited.

-- The successor a token was exchanged for.
alter table app_private.refresh_tokens add column if not exists replaced_by bytea;
comment on column app_private.refresh_tokens.replaced_by is
  'SHA-256 of the token it was first exchanged for; a reuse within the grace is allowed only while that one is unused.';

-- How long a used refresh token may be presented again (two tabs refreshing at once).
create or replace function app_private.refresh_grace() returns interval
  language sql immutable parallel safe
  set search_path to pg_catalog, public, pg_temp
  as $$ select interval '30 seconds' $$;
revoke all on function app_private.refresh_grace() from public;
comment on function app_private.refresh_grace() is
  'How long after its first use a refresh token may be presented again while its successor is unused (30 seconds): two tabs refreshing at once both succeed.';

-- The exchange, with the grace.
create or replace function app_public.refresh(refresh_token text) returns app_public.auth_tokens
  language plpgsql strict security definer
  set search_path to pg_catalog, public, pg_temp
  as $$
declare
  v_tenant_id uuid := app_private.token_tenant(refresh_token);
  v_previous text;
  v_token app_private.refresh_tokens;
  v_successor app_private.refresh_tokens;
  v_session app_private.sessions;
  v_role text;
  v_next text;
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
  if v_token.used_at is not null then
    select t.* into v_successor from app_private.refresh_tokens t
      where t.tenant_id = v_tenant_id and t.token_hash = v_token.replaced_by;
  end if;
  if v_token.session_id is null or v_session.id is null then
    v_result := null;
  elsif v_session.revoked_at is not null or v_session.expires_at <= now() then
    v_result := null;
  elsif v_token.used_at is not null
    and not (v_token.used_at > now() - app_private.refresh_grace() and v_successor.token_hash is not null and v_successor.used_at is null) then
    -- Reused after the grace, or after its successor was used: theft.
    update app_private.sessions s set revoked_at = now(), revoked_reason = 'refresh_token_reused'
      where s.tenant_id = v_tenant_id and s.id = v_session.id;
    perform app_private.audit(v_tenant_id, 'refresh_token_reused', 'app_public.users', v_session.user_id::text, null,
      jsonb_build_object('session_id', v_session.id), v_session.user_id);
    v_result := null;
  else
    -- First use, or a second within the grace: a new pair in the same session.
    v_next := app_private.new_refresh_token(v_tenant_id, v_session.id);
    if v_token.used_at is null then
      update app_private.refresh_tokens t set used_at = now(), replaced_by = app_private.token_hash(v_next)
        where t.tenant_id = v_tenant_id and t.token_hash = v_token.token_hash;
    end if;
    update app_private.sessions s set refreshed_at = now()
      where s.tenant_id = v_tenant_id and s.id = v_session.id;
    select u.role::text into v_role from app_public.users u
      where u.tenant_id = v_tenant_id and u.id = v_session.user_id;
    v_result := (
      (v_role, v_session.user_id::text, v_session.user_id, v_tenant_id, v_session.id, null)::app_public.jwt_token,
      v_next
    )::app_public.auth_tokens;
  end if;
  perform app_private.restore_tenant_context(v_previous);
  return v_result;
end;
$$;
comment on function app_public.refresh(text) is
  E'@nullError BADRT The refresh token is not valid (unknown, used, revoked or expired); log in again.\n'
  'Exchanges a refresh token for a new access token and refresh token. A token works once, with a grace for two tabs refreshing at once: presented again within 30 seconds of its first use, while the token it was exchanged for is unused, it gets a fresh pair in the same session. Any other reuse is theft and revokes the session. Error BADRT for an unknown, used, revoked or expired token.';
