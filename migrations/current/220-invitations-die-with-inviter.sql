-- Issue 13, hole 2: an invitation dies with its inviter's admin rights.
-- Before, an admin could invite a second address of their own as admin, be
-- removed or demoted, and come back as admin by accepting it. Both ways now:
-- - revoked when the rights go: a trigger on app_public.users revokes the
--   pending invitations a user sent when that user is deleted (remove_user,
--   or any other delete) or loses the admin role (set_user_role, or any
--   other update of role), and audits each (invitation_revoked, with the
--   reason). A trigger, not code in remove_user and set_user_role, so that
--   no present or future path that removes or demotes a user forgets it.
-- - checked at acceptance: accept_invitation refuses (BADIN, as for any
--   invitation that is no longer valid) one whose inviter is not, at that
--   moment, an admin of the invitation's tenant; an invitation without an
--   inviter (inviter_id null: the inviter was deleted) is refused too.

-- accept_invitation marks the address as proven (an invitation was sent to
-- it). The column is the email helper's (issue 13, its comment, protection
-- and visibility); added here too, idempotently, so that each migration set
-- works alone. Its comment is written only where none exists yet.
alter table app_public.users add column if not exists email_verified_at timestamptz;
do $$
begin
  if col_description('app_public.users'::regclass,
       (select a.attnum from pg_attribute a where a.attrelid = 'app_public.users'::regclass and a.attname = 'email_verified_at')) is null then
    comment on column app_public.users.email_verified_at is E'@behavior -insert -update\nWhen the user proved they receive mail at their address (accepting an invitation sent to it), if they have.';
  end if;
end;
$$;

-- Revokes the pending invitations of a user who is deleted or stops being an admin.
create or replace function app_private.tg_users_revoke_invitations() returns trigger as $$
declare
  v_reason text := case when tg_op = 'DELETE' then 'inviter_removed' else 'inviter_demoted' end;
  v_invitation app_public.invitations;
begin
  -- A tenant's own deletion cascades to its users and invitations alike: nothing to revoke or audit.
  if pg_trigger_depth() > 1 then
    return coalesce(new, old);
  end if;
  for v_invitation in
    update app_public.invitations i set revoked_at = now()
     where i.tenant_id = old.tenant_id and i.inviter_id = old.id
       and i.accepted_at is null and i.revoked_at is null and i.expires_at > now()
    returning i.*
  loop
    perform app_private.audit(v_invitation.tenant_id, 'invitation_revoked', 'app_public.invitations', v_invitation.id::text, null,
      jsonb_build_object('email', v_invitation.email, 'role', v_invitation.role, 'reason', v_reason, 'inviter_id', old.id));
  end loop;
  return coalesce(new, old);
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
revoke all on function app_private.tg_users_revoke_invitations() from public;
comment on function app_private.tg_users_revoke_invitations() is
  'Trigger on app_public.users (before delete, and before an update that takes the admin role away): revokes the pending invitations the user sent and audits each as invitation_revoked (reason inviter_removed or inviter_demoted). Does nothing inside a cascade (a tenant''s deletion).';

-- Before _800_unlink, which clears inviter_id.
drop trigger if exists _790_revoke_invitations on app_public.users;
create trigger _790_revoke_invitations before delete on app_public.users
  for each row execute procedure app_private.tg_users_revoke_invitations();
drop trigger if exists _790_revoke_invitations_on_demotion on app_public.users;
create trigger _790_revoke_invitations_on_demotion before update of role on app_public.users
  for each row when (old.role = 'admin' and new.role is distinct from 'admin')
  execute procedure app_private.tg_users_revoke_invitations();

-- Accepting checks the inviter too, and marks the address as proven.
create or replace function app_public.accept_invitation(token text, name text, password text) returns app_public.auth_tokens as $$
declare
  v_tenant_id uuid := app_private.token_tenant(token);
  v_previous text;
  v_invitation app_public.invitations;
  v_user_id uuid;
  v_user app_public.users;
  v_tokens app_public.auth_tokens;
begin
  perform app_private.assert_valid_password(password);
  v_previous := app_private.switch_tenant_context(v_tenant_id);
  select i.* into v_invitation
    from app_private.invitation_secrets s
    join app_public.invitations i on i.tenant_id = s.tenant_id and i.id = s.invitation_id
   where s.tenant_id = v_tenant_id and s.token_hash = app_private.token_hash(token)
     and i.accepted_at is null and i.revoked_at is null and i.expires_at > now()
   for update of i;
  if v_invitation.id is null or not exists (
    select 1 from app_public.users u
     where u.tenant_id = v_tenant_id and u.id = v_invitation.inviter_id and u.role = 'admin'
  ) then
    raise exception 'This invitation is not valid: it is unknown, used, revoked or expired.' using errcode = 'BADIN';
  end if;
  v_user_id := app_private.create_user(v_tenant_id, v_invitation.email, name, v_invitation.role, password);
  update app_public.users u set email_verified_at = now()
   where u.tenant_id = v_tenant_id and u.id = v_user_id
   returning * into v_user;
  update app_public.invitations i set accepted_at = now(), accepted_user_id = v_user.id
   where i.tenant_id = v_tenant_id and i.id = v_invitation.id;
  v_tokens := app_private.issue_tokens(v_tenant_id, v_user.id);
  perform app_private.audit(v_tenant_id, 'invitation_accepted', 'app_public.invitations', v_invitation.id::text, null,
    jsonb_build_object('email', v_user.email, 'role', v_user.role, 'user_id', v_user.id), v_user.id);
  perform app_private.restore_tenant_context(v_previous);
  return v_tokens;
end;
$$ language plpgsql volatile strict security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function app_public.accept_invitation(text, text, text) from public;
grant execute on function app_public.accept_invitation(text, text, text) to :DATABASE_ANONYMOUS, :DATABASE_MEMBER;
comment on function app_public.accept_invitation(text, text, text) is
  E'@rateLimit acceptInvitation\nAccepts an invitation: creates the user (with this name and password) in the invitation''s tenant, its address proven (email_verified_at), and returns an access token and a refresh token. Refused while the inviter is not an admin of the tenant (an invitation dies with its inviter''s rights: removing or demoting a user revokes their pending invitations). Errors: BADIN (unknown, used, revoked or expired, or its inviter no longer an admin), BADNM, WEAKP, LONGP, EMTKN.';
