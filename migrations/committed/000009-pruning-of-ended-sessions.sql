--! Previous: sha1:7df03a634f1328241c65ce7a56c85416916ba9c2
--! Hash: sha1:297d4640239fa448412a09e282f3c3d5be2543d1
--! Message: pruning of ended sessions

/*
 * Sessions and their refresh tokens (one row per refresh, about 96 a day
 * for an active session) would otherwise grow without end. A session that
 * ended (revoked or expired) more than a grace period ago can go: its
 * access tokens expired long before, and presenting its refresh tokens gets
 * the same BADRT as any unknown token. `npm run db:prune` runs this (from
 * cron, say daily), as the owner, tenant by tenant under forced RLS.
 */

drop function if exists app_private.prune_sessions(interval) cascade;

-- Deletes, in every tenant, the sessions (with their refresh tokens) that
-- ended more than `ended_before` ago, and login throttle rows quiet for as
-- long. Returns the number of sessions deleted. Owner only.
create function app_private.prune_sessions(ended_before interval default interval '1 day') returns bigint
  language plpgsql volatile
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant uuid;
  v_previous text := coalesce(current_setting('jwt.claims.tenant_id', true), '');
  v_count bigint;
  v_total bigint := 0;
begin
  for v_tenant in select t.id from app_public.tenants t loop
    perform set_config('jwt.claims.tenant_id', v_tenant::text, true);
    delete from app_private.sessions s
     where s.tenant_id = v_tenant
       and least(s.revoked_at, s.expires_at) < now() - ended_before;  -- least() skips a null revoked_at
    get diagnostics v_count = row_count;
    v_total := v_total + v_count;
  end loop;
  delete from app_private.login_throttle t
   where t.window_started_at < now() - ended_before and (t.locked_until is null or t.locked_until < now());
  perform set_config('jwt.claims.tenant_id', v_previous, true);
  return v_total;
end;
$$;
comment on function app_private.prune_sessions(interval) is 'Deletes sessions (and their refresh tokens) that ended more than the given interval ago, in every tenant, and quiet login throttle rows; returns the sessions deleted. Run by npm run db:prune.';

create index if not exists sessions_tenant_expires_idx on app_private.sessions (tenant_id, expires_at);
