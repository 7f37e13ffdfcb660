-- Issue 13: invite_user also emails the invitation (queued in its
-- transaction); the token is still returned once to the inviting admin.
-- Otherwise as in migration 000006.

create or replace function app_public.invite_user(email text, role app_public.user_role)
returns app_public.new_invitation
language plpgsql
strict
security definer
set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_user_id uuid := app_public.current_user_id();
  v_invitation app_public.invitations;
  v_token text;
  v_constraint text;
  v_tenant app_public.tenants;
  v_inviter_name text;
begin
  perform app_private.assert_admin();
  if exists (select 1 from app_public.users u where u.tenant_id = v_tenant_id and u.email = btrim(invite_user.email)::citext) then
    raise exception 'A user with this email already exists in this tenant.' using errcode = 'EMTKN';
  end if;
  update app_public.invitations i set revoked_at = now()
   where i.tenant_id = v_tenant_id and i.email = btrim(invite_user.email)::citext
     and i.accepted_at is null and i.revoked_at is null;
  begin
    insert into app_public.invitations (tenant_id, email, role, inviter_id)
      values (v_tenant_id, btrim(invite_user.email), invite_user.role, v_user_id)
      returning * into v_invitation;
  exception
    when check_violation then
      get stacked diagnostics v_constraint = constraint_name;
      perform app_private.raise_input_error(v_constraint);
      raise;
  end;
  v_token := app_private.new_token(v_tenant_id);
  insert into app_private.invitation_secrets (tenant_id, invitation_id, token_hash)
    values (v_tenant_id, v_invitation.id, app_private.token_hash(v_token));
  perform app_private.audit(v_tenant_id, 'invitation_sent', 'app_public.invitations', v_invitation.id::text, null,
    jsonb_build_object('email', v_invitation.email, 'role', v_invitation.role));
  select t.* into v_tenant from app_public.tenants t where t.id = v_tenant_id;
  select u.name into v_inviter_name from app_public.users u where u.tenant_id = v_tenant_id and u.id = v_user_id;
  perform app_private.queue_email('invitation', v_invitation.email, jsonb_build_object(
    'token', v_token, 'role', v_invitation.role, 'inviter_name', v_inviter_name,
    'tenant_name', v_tenant.name, 'tenant_slug', v_tenant.slug, 'expires_at', v_invitation.expires_at));
  return (v_invitation.id, v_token, v_invitation.expires_at)::app_public.new_invitation;
end;
$$;
comment on function app_public.invite_user(email text, role app_public.user_role) is 'Invites someone by email with a role (admins only): the invitation is emailed to them (queued with the invitation, sent after the request commits), and its token is also returned here, once; it expires after 7 days. Errors: FORBIDDEN, BADEM, EMTKN (already a user).';
