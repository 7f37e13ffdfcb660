/*
 * References to a user that become null when the user goes (issue #14).
 *
 * Four foreign keys to app_public.users were `on delete set null (col)`.
 * Citus refuses SET NULL and SET DEFAULT in a foreign key that includes the
 * distribution column (tenant_id), and every key between tenant tables does.
 * They are now plain keys (NO ACTION: still checked at the end of each
 * statement), and a BEFORE DELETE trigger on users nulls the four columns
 * first, as the referential action did: the task stays, unassigned; the
 * comment stays, authorless; the invitation stays, without its inviter or
 * the user who accepted it. The nested updates run at trigger depth 2, like
 * the referential action's, so they are not audited and pass the
 * protect-columns triggers, as before. On Citus the trigger runs on the
 * users shard and updates co-located shards of the same tenant.
 * Lint rule citus-fk-set-null keeps new keys from using SET NULL/DEFAULT.
 */

-------------------------------------------------------------------------------
-- The keys, without the referential action (their comments carry the API's
-- field names, so they are set again)
-------------------------------------------------------------------------------

alter table app_public.tasks drop constraint if exists tasks_assignee_fkey;
alter table app_public.tasks add constraint tasks_assignee_fkey
  foreign key (tenant_id, assignee_id) references app_public.users (tenant_id, id);
comment on constraint tasks_assignee_fkey on app_public.tasks is
  E'@fieldName assignee\n@foreignFieldName assignedTasks\nThe user a task is assigned to.';

alter table app_public.comments drop constraint if exists comments_author_fkey;
alter table app_public.comments add constraint comments_author_fkey
  foreign key (tenant_id, author_id) references app_public.users (tenant_id, id);
comment on constraint comments_author_fkey on app_public.comments is
  E'@fieldName author\n@foreignFieldName comments\nThe author of a comment.';

alter table app_public.invitations drop constraint if exists invitations_inviter_fkey;
alter table app_public.invitations add constraint invitations_inviter_fkey
  foreign key (tenant_id, inviter_id) references app_public.users (tenant_id, id);
comment on constraint invitations_inviter_fkey on app_public.invitations is
  E'@fieldName inviter\n@foreignFieldName invitationsSent\nThe admin who sent an invitation.';

alter table app_public.invitations drop constraint if exists invitations_accepted_user_fkey;
alter table app_public.invitations add constraint invitations_accepted_user_fkey
  foreign key (tenant_id, accepted_user_id) references app_public.users (tenant_id, id);
comment on constraint invitations_accepted_user_fkey on app_public.invitations is
  E'@fieldName acceptedUser\n@foreignFieldName acceptedInvitations\nThe user an invitation created.';

-------------------------------------------------------------------------------
-- The owner may clear a comment's author (the trigger, inside remove_user)
-------------------------------------------------------------------------------

-- The request roles' update policy on comments is the author's own; the
-- owner, deleting a user in remove_user or delete_tenant, needs its own.
drop policy if exists owner_unlink on app_public.comments;
create policy owner_unlink on app_public.comments for update to :DATABASE_OWNER
  using (tenant_id = app_public.current_tenant_id())
  with check (tenant_id = app_public.current_tenant_id());

-------------------------------------------------------------------------------
-- The trigger
-------------------------------------------------------------------------------

-- Runs as whoever deletes the user: the owner (remove_user, delete_tenant's
-- cascade) in the user's tenant context, which the users policies require
-- for the delete to see the row at all.
create or replace function app_private.tg_users_unlink() returns trigger
  language plpgsql
  set search_path to pg_catalog, public, pg_temp
as $$
begin
  update app_public.tasks t set assignee_id = null
   where t.tenant_id = old.tenant_id and t.assignee_id = old.id;
  update app_public.comments c set author_id = null
   where c.tenant_id = old.tenant_id and c.author_id = old.id;
  update app_public.invitations i set inviter_id = null
   where i.tenant_id = old.tenant_id and i.inviter_id = old.id;
  update app_public.invitations i set accepted_user_id = null
   where i.tenant_id = old.tenant_id and i.accepted_user_id = old.id;
  return old;
end;
$$;
revoke all on function app_private.tg_users_unlink() from public;
comment on function app_private.tg_users_unlink() is
  'Trigger: before a user is deleted, unassigns their tasks and clears them as author of comments and as inviter or acceptor of invitations (what on delete set null did, which Citus refuses on keys that include tenant_id).';

drop trigger if exists _800_unlink on app_public.users;
create trigger _800_unlink before delete on app_public.users
  for each row execute procedure app_private.tg_users_unlink();
