-- Issue 13: what the worker's maintenance task prunes besides sessions
-- (app_private.prune_sessions): used or expired account tokens, invitations
-- that were never accepted and ended (revoked or expired) long ago, and,
-- when a retention is configured (AUDIT_RETENTION), old audit events.

create or replace function app_private.prune_account_data(
  tokens_ended_before interval default '1 day',
  invitations_ended_before interval default '30 days',
  audit_older_than interval default null
)
returns jsonb
language plpgsql
set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant uuid;
  v_previous text := coalesce(current_setting('jwt.claims.tenant_id', true), '');
  v_now timestamptz := now();
  v_count bigint;
  v_tokens bigint := 0;
  v_invitations bigint := 0;
  v_events bigint := 0;
begin
  for v_tenant in select t.id from app_public.tenants t loop
    perform app_private.switch_tenant_context(v_tenant);
    delete from app_private.account_tokens a
     where a.tenant_id = v_tenant
       and coalesce(a.used_at, a.expires_at) < v_now - tokens_ended_before;
    get diagnostics v_count = row_count;
    v_tokens := v_tokens + v_count;
    delete from app_public.invitations i
     where i.tenant_id = v_tenant and i.accepted_at is null
       and least(i.revoked_at, i.expires_at) < v_now - invitations_ended_before;  -- least() skips a null revoked_at
    get diagnostics v_count = row_count;
    v_invitations := v_invitations + v_count;
    if audit_older_than is not null then
      delete from app_public.audit_events e
       where e.tenant_id = v_tenant and e.occurred_at < v_now - audit_older_than;
      get diagnostics v_count = row_count;
      v_events := v_events + v_count;
    end if;
  end loop;
  perform app_private.restore_tenant_context(v_previous);
  return jsonb_build_object('account_tokens', v_tokens, 'invitations', v_invitations, 'audit_events', v_events);
end;
$$;
revoke all on function app_private.prune_account_data(interval, interval, interval) from public;
comment on function app_private.prune_account_data(interval, interval, interval) is 'In every tenant, deletes account tokens used or expired more than tokens_ended_before ago, invitations never accepted that were revoked or expired more than invitations_ended_before ago, and, unless audit_older_than is null (keep forever, the default), audit events older than that; returns the counts. Run by the worker''s maintenance task.';

-- The session's end reasons now include a reset.
comment on column app_private.sessions.revoked_reason is 'Why: logout, password_changed, password_reset or refresh_token_reused.';

-- The audit log's actions now include the account events.
comment on column app_public.audit_events.action is E'@behavior +filterBy\nWhat happened: insert, update, delete (row changes), or login, login_failed, invitation_sent, invitation_revoked, invitation_accepted, role_changed, user_removed, password_changed, password_reset_requested, password_reset, verification_email_sent, email_verified, refresh_token_reused, operator_access.';
