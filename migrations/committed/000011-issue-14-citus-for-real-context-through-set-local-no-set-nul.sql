--! Previous: sha1:defb6db6c498720e7e8d65649080480b29b4a32f
--! Hash: sha1:d7cf06276e4a29cfdf0488ef0b1ad4c7e746fbbf
--! Message: Issue 14: Citus for real: context through SET LOCAL, no SET NULL keys with tenant_id, login_throttle without now() in DO UPDATE, audit trigger names the logical table, create_user returns a uuid, claim readers and admin checks that route

--! split: 1-current.sql
-- Enter migration here

--! split: 100-citus-context.sql
/*
 * Tenant context that reaches the Citus workers (issue #14).
 *
 * The owner's functions reach one tenant's rows under forced RLS by setting
 * jwt.claims.tenant_id for the transaction. They did it with
 * set_config(…, true), which Citus never forwards: on the workers the
 * policies then saw no tenant (every token 401, sign-up an RLS violation).
 * Citus forwards SET LOCAL (with citus.propagate_set_commands = 'local'), so
 * the switch and its restore are now SET LOCAL, run through EXECUTE (SET
 * takes no variables). On plain PostgreSQL nothing changes: SET LOCAL and
 * set_config(…, true) are the same action, and inside a function both last
 * to the end of the transaction (or are rolled back with its savepoint).
 *
 * Every switch goes through switch_tenant_context and every restore through
 * restore_tenant_context: lint rule citus-set-config flags set_config() of a
 * jwt.claims.* setting or of role in any function body.
 */

-------------------------------------------------------------------------------
-- The switch and its restore
-------------------------------------------------------------------------------

-- Sets jwt.claims.tenant_id (SET LOCAL) and returns the value it replaced
-- ('' for none), which the caller hands to restore_tenant_context.
create or replace function app_private.switch_tenant_context(tenant_id uuid) returns text
  language plpgsql
as $$
declare
  v_previous text := coalesce(current_setting('jwt.claims.tenant_id', true), '');
begin
  execute format('set local jwt.claims.tenant_id = %L', coalesce(tenant_id::text, ''));
  return v_previous;
end;
$$;
revoke all on function app_private.switch_tenant_context(uuid) from public;
comment on function app_private.switch_tenant_context(uuid) is
  'Sets jwt.claims.tenant_id for the transaction with SET LOCAL (which Citus forwards to its workers; set_config does not) and returns the previous value, for the owner''s onboarding and login functions.';

-- Puts back, verbatim, the value switch_tenant_context returned.
create or replace function app_private.restore_tenant_context(previous text) returns void
  language plpgsql
as $$
begin
  execute format('set local jwt.claims.tenant_id = %L', coalesce(previous, ''));
end;
$$;
revoke all on function app_private.restore_tenant_context(text) from public;
comment on function app_private.restore_tenant_context(text) is
  'Sets jwt.claims.tenant_id back (SET LOCAL, as switch_tenant_context does) to the value switch_tenant_context returned; '''' or null for none.';

-------------------------------------------------------------------------------
-- The claims check: switch and restore through the helpers
-------------------------------------------------------------------------------

-- Same checks as before; only the switch and its restore change.
create or replace function app_private.assert_claims_current(user_id uuid, tenant_id uuid, role text, session_id uuid)
  returns void
  language plpgsql security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_previous text;
begin
  if session_id is null then
    return;
  end if;
  v_previous := app_private.switch_tenant_context(assert_claims_current.tenant_id);
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
  perform app_private.restore_tenant_context(v_previous);
end;
$$;

create or replace function app_private.claims_are_current(user_id uuid, tenant_id uuid, role text, session_id uuid)
  returns boolean
  language plpgsql strict security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_previous text;
  v_current boolean;
begin
  v_previous := app_private.switch_tenant_context(claims_are_current.tenant_id);
  select exists (
    select 1 from app_private.sessions s
      join app_public.users u on u.tenant_id = s.tenant_id and u.id = s.user_id
    where s.tenant_id = claims_are_current.tenant_id
      and s.id = claims_are_current.session_id
      and s.user_id = claims_are_current.user_id
      and s.revoked_at is null
      and s.expires_at > now()
      and u.role::text = claims_are_current.role
  ) into v_current;
  perform app_private.restore_tenant_context(v_previous);
  return v_current;
end;
$$;

-------------------------------------------------------------------------------
-- The owner's helpers
-------------------------------------------------------------------------------

create or replace function app_private.audit(
  tenant_id uuid, action text, table_name text default null, row_key text default null,
  changed_columns text[] default null, details jsonb default '{}', actor_user_id uuid default null,
  actor_operator_id uuid default null
) returns void
  language plpgsql security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_previous text := app_private.switch_tenant_context(audit.tenant_id);
begin
  insert into app_public.audit_events (tenant_id, actor_user_id, actor_operator_id, action, table_name, row_key, changed_columns, details)
    values (audit.tenant_id, coalesce(audit.actor_user_id, app_public.current_user_id()),
            coalesce(audit.actor_operator_id, app_public.current_operator_id()),
            action, table_name, row_key, changed_columns, coalesce(details, '{}'));
  perform app_private.restore_tenant_context(v_previous);
end;
$$;

-- Visits every tenant in turn (the switch inside the loop), then restores.
create or replace function app_private.prune_sessions(ended_before interval default '1 day') returns bigint
  language plpgsql
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant uuid;
  v_previous text := coalesce(current_setting('jwt.claims.tenant_id', true), '');
  v_count bigint;
  v_total bigint := 0;
begin
  for v_tenant in select t.id from app_public.tenants t loop
    perform app_private.switch_tenant_context(v_tenant);
    delete from app_private.sessions s
     where s.tenant_id = v_tenant
       and least(s.revoked_at, s.expires_at) < now() - ended_before;  -- least() skips a null revoked_at
    get diagnostics v_count = row_count;
    v_total := v_total + v_count;
  end loop;
  delete from app_private.login_throttle t
   where t.window_started_at < now() - ended_before and (t.locked_until is null or t.locked_until < now());
  perform app_private.restore_tenant_context(v_previous);
  return v_total;
end;
$$;

-------------------------------------------------------------------------------
-- The API's functions that work in another tenant's context
-------------------------------------------------------------------------------

create or replace function app_public.accept_invitation(token text, name text, password text)
  returns app_public.auth_tokens
  language plpgsql strict security definer
  set search_path to pg_catalog, public, pg_temp
as $$
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
  if v_invitation.id is null then
    raise exception 'This invitation is not valid: it is unknown, used, revoked or expired.' using errcode = 'BADIN';
  end if;
  v_user_id := app_private.create_user(v_tenant_id, v_invitation.email, name, v_invitation.role, password);
  select u.* into v_user from app_public.users u where u.tenant_id = v_tenant_id and u.id = v_user_id;
  update app_public.invitations i set accepted_at = now(), accepted_user_id = v_user.id
   where i.tenant_id = v_tenant_id and i.id = v_invitation.id;
  v_tokens := app_private.issue_tokens(v_tenant_id, v_user.id);
  perform app_private.audit(v_tenant_id, 'invitation_accepted', 'app_public.invitations', v_invitation.id::text, null,
    jsonb_build_object('email', v_user.email, 'role', v_user.role, 'user_id', v_user.id), v_user.id);
  perform app_private.restore_tenant_context(v_previous);
  return v_tokens;
end;
$$;

create or replace function app_public.create_tenant(name text, slug text, admin_email text, admin_password text)
  returns app_public.auth_tokens
  language plpgsql strict security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant app_public.tenants;
  v_admin_id uuid;
  v_previous text;
  v_constraint text;
  v_tokens app_public.auth_tokens;
begin
  perform app_private.assert_valid_password(admin_password);
  v_previous := app_private.switch_tenant_context(gen_random_uuid());
  begin
    insert into app_public.tenants (id, slug, name)
      values (app_public.current_tenant_id(), lower(btrim(slug)), btrim(name))
      returning * into v_tenant;
  exception
    when check_violation then
      get stacked diagnostics v_constraint = constraint_name;
      perform app_private.raise_input_error(v_constraint);
      raise;
    when unique_violation then
      raise exception 'That slug is already taken.' using errcode = 'TAKEN';
  end;
  v_admin_id := app_private.create_user(
    v_tenant.id, admin_email, split_part(btrim(admin_email), '@', 1), 'admin', admin_password
  );
  v_tokens := app_private.issue_tokens(v_tenant.id, v_admin_id);
  perform app_private.restore_tenant_context(v_previous);
  return v_tokens;
end;
$$;

create or replace function app_public.login(tenant_slug text, email text, password text)
  returns app_public.auth_tokens
  language plpgsql strict security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_slug text := lower(btrim(tenant_slug));
  v_email text := btrim(email);
  v_tenant_id uuid;
  v_user app_public.users;
  v_hash text;
  v_previous text;
  v_tokens app_public.auth_tokens;
begin
  perform app_private.login_throttle_check(v_slug, v_email);
  select t.id into v_tenant_id from app_public.tenants t where t.slug = v_slug;
  v_previous := app_private.switch_tenant_context(v_tenant_id);
  if v_tenant_id is not null then
    select u.* into v_user from app_public.users u
      where u.tenant_id = v_tenant_id and u.email = v_email::citext;
    select s.password_hash into v_hash from app_private.user_secrets s
      where s.tenant_id = v_tenant_id and s.user_id = v_user.id;
  end if;
  -- Without a hash, the same work as a real comparison (bcrypt, cost 10).
  if crypt(password, coalesce(v_hash, '$2a$10$YnIjOHM8BcuwXxxu1E9CCeO93oXkBoCbFB9fVeD31h9ORxCH2JqLW')) is distinct from v_hash then
    perform app_private.login_throttle_fail(v_slug, v_email);
    if v_tenant_id is not null then
      perform app_private.audit(v_tenant_id, 'login_failed', 'app_public.users', v_user.id::text, null,
        jsonb_build_object('email', v_email, 'reason', case when v_user.id is null then 'unknown_email' else 'wrong_password' end));
    end if;
    perform app_private.restore_tenant_context(v_previous);
    return null;
  end if;
  delete from app_private.login_throttle t where t.scope = v_slug and t.email = v_email::citext;
  v_tokens := app_private.issue_tokens(v_tenant_id, v_user.id);
  perform app_private.audit(v_tenant_id, 'login', 'app_public.users', v_user.id::text, null,
    jsonb_build_object('session_id', (v_tokens.access_token).session_id), v_user.id);
  perform app_private.restore_tenant_context(v_previous);
  return v_tokens;
end;
$$;

create or replace function app_public.logout(refresh_token text) returns boolean
  language plpgsql strict security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_private.token_tenant(refresh_token);
  v_previous text;
begin
  if v_tenant_id is not null then
    v_previous := app_private.switch_tenant_context(v_tenant_id);
    update app_private.sessions s set revoked_at = now(), revoked_reason = 'logout'
      from app_private.refresh_tokens t
     where t.tenant_id = v_tenant_id and t.token_hash = app_private.token_hash(refresh_token)
       and s.tenant_id = v_tenant_id and s.id = t.session_id and s.revoked_at is null;
    perform app_private.restore_tenant_context(v_previous);
  end if;
  return true;
end;
$$;

create or replace function app_public.refresh(refresh_token text) returns app_public.auth_tokens
  language plpgsql strict security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_private.token_tenant(refresh_token);
  v_previous text;
  v_token app_private.refresh_tokens;
  v_session app_private.sessions;
  v_role text;
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
  if v_token.session_id is null or v_session.id is null then
    v_result := null;
  elsif v_token.used_at is not null then
    if v_session.revoked_at is null then
      update app_private.sessions s set revoked_at = now(), revoked_reason = 'refresh_token_reused'
        where s.tenant_id = v_tenant_id and s.id = v_session.id;
      perform app_private.audit(v_tenant_id, 'refresh_token_reused', 'app_public.users', v_session.user_id::text, null,
        jsonb_build_object('session_id', v_session.id), v_session.user_id);
    end if;
    v_result := null;
  elsif v_session.revoked_at is not null or v_session.expires_at <= now() then
    v_result := null;
  else
    update app_private.refresh_tokens t set used_at = now()
      where t.tenant_id = v_tenant_id and t.token_hash = v_token.token_hash;
    update app_private.sessions s set refreshed_at = now()
      where s.tenant_id = v_tenant_id and s.id = v_session.id;
    select u.role::text into v_role from app_public.users u
      where u.tenant_id = v_tenant_id and u.id = v_session.user_id;
    v_result := (
      (v_role, v_session.user_id::text, v_session.user_id, v_tenant_id, v_session.id, null)::app_public.jwt_token,
      app_private.new_refresh_token(v_tenant_id, v_session.id)
    )::app_public.auth_tokens;
  end if;
  perform app_private.restore_tenant_context(v_previous);
  return v_result;
end;
$$;

--! split: 110-citus-user-references.sql
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

--! split: 120-citus-login-throttle.sql
/*
 * The login throttle's upsert without now() in DO UPDATE (issue #14).
 *
 * Citus refuses, at run time, an INSERT … ON CONFLICT DO UPDATE on a
 * distributed or reference table whose DO UPDATE SET clause calls a function
 * that is not IMMUTABLE ("functions used in the DO UPDATE SET clause of
 * INSERTs on distributed tables must be marked IMMUTABLE"); now() is STABLE,
 * and so is timestamptz - interval. The times are now computed once, into
 * variables, which reach the statements as parameters; the DO UPDATE clause
 * keeps only comparisons and integer arithmetic (IMMUTABLE), and the UPDATE
 * and DELETE after it compute nothing on the workers either. now() is the transaction's
 * start either way, so the counts and windows are exactly as before.
 * Lint rule citus-upsert-volatile flags such a call in any function body.
 */

-------------------------------------------------------------------------------
-- login_throttle_fail
-------------------------------------------------------------------------------

create or replace function app_private.login_throttle_fail(scope text, email text) returns void
  language plpgsql
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_now timestamptz := now();
  v_window_cutoff timestamptz := v_now - interval '15 minutes';
  v_locked_until timestamptz := v_now + interval '15 minutes';
  v_quiet_cutoff timestamptz := v_now - interval '1 day';
begin
  insert into app_private.login_throttle as t (scope, email, failures, window_started_at)
    values (scope, email::citext, 1, v_now)
    on conflict on constraint login_throttle_pkey do update set
      failures = case when t.window_started_at < v_window_cutoff then 1 else t.failures + 1 end,
      window_started_at = case when t.window_started_at < v_window_cutoff then v_now else t.window_started_at end;
  update app_private.login_throttle t
     set locked_until = v_locked_until, failures = 0, window_started_at = v_now
   where t.scope = login_throttle_fail.scope and t.email = login_throttle_fail.email::citext and t.failures >= 5;
  -- Forget pairs that have been quiet for a day.
  delete from app_private.login_throttle t
   where t.window_started_at < v_quiet_cutoff and (t.locked_until is null or t.locked_until < v_now);
end;
$$;

--! split: 130-citus-audit-trigger.sql
/*
 * The audit trigger names the logical table and stays quiet while Citus
 * copies rows (issue #14).
 *
 * On Citus a trigger on a distributed or reference table fires on the shard
 * (app_public.tasks_102142), so TG_TABLE_NAME named the shard in the log.
 * The table's name is now the trigger's second argument, written where the
 * trigger is created; lint rule citus-trigger-table-name checks that it is
 * the table's own name and that no trigger function records TG_TABLE_NAME.
 *
 * Copying existing rows into shards (create_distributed_table,
 * create_reference_table, shard moves) fires the shards' insert triggers in
 * sessions that carry no tenant context. The trigger now records nothing
 * when the context names no tenant. On plain PostgreSQL that changes
 * nothing a request can do: with row-level security forced, every role but a
 * superuser (or BYPASSRLS, which no role of ours has) can write a row of an
 * audited table only in that row's tenant context. What it skips there is a
 * superuser's write without a context, such as psql by hand.
 */

-------------------------------------------------------------------------------
-- tg_audit
-------------------------------------------------------------------------------

create or replace function app_private.tg_audit() returns trigger
  language plpgsql security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_old jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  v_new jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  v_row jsonb := coalesce(v_new, v_old);
  v_changed text[];
begin
  if pg_trigger_depth() > 1 or session_user = current_user or app_public.current_tenant_id() is null then
    return coalesce(new, old);
  end if;
  if tg_nargs < 2 then
    raise exception 'app_private.tg_audit needs two arguments: the tenant column and the table''s name.';
  end if;
  if tg_op = 'UPDATE' then
    select array_agg(n.key order by n.key) into v_changed
      from jsonb_each(v_new) n where n.value is distinct from v_old -> n.key;
    if v_changed is null then
      return new;
    end if;
  elsif tg_op = 'INSERT' then
    select array_agg(n.key order by n.key) into v_changed from jsonb_each(v_new) n where n.value <> 'null';
  end if;
  perform app_private.audit((v_row ->> tg_argv[0])::uuid, lower(tg_op), tg_argv[1], v_row ->> 'id', v_changed);
  return coalesce(new, old);
end;
$$;
comment on function app_private.tg_audit() is
  'Trigger (arguments: the tenant column, the table''s schema-qualified name): appends an audit event (insert, update or delete, with the changed columns) for each row a request role changes in a tenant''s context. Records the name it is given, never the relation it fires on (a shard, on Citus).';

-------------------------------------------------------------------------------
-- The audited tables: their name as the second argument
-------------------------------------------------------------------------------

drop trigger if exists _900_audit on app_public.comments;
create trigger _900_audit before insert or update or delete on app_public.comments
  for each row execute procedure app_private.tg_audit('tenant_id', 'app_public.comments');

drop trigger if exists _900_audit on app_public.projects;
create trigger _900_audit before insert or update or delete on app_public.projects
  for each row execute procedure app_private.tg_audit('tenant_id', 'app_public.projects');

drop trigger if exists _900_audit on app_public.tasks;
create trigger _900_audit before insert or update or delete on app_public.tasks
  for each row execute procedure app_private.tg_audit('tenant_id', 'app_public.tasks');

drop trigger if exists _900_audit on app_public.tenants;
create trigger _900_audit before update on app_public.tenants
  for each row execute procedure app_private.tg_audit('id', 'app_public.tenants');

drop trigger if exists _900_audit on app_public.users;
create trigger _900_audit before insert or update or delete on app_public.users
  for each row execute procedure app_private.tg_audit('tenant_id', 'app_public.users');

--! split: 140-citus-row-types.sql
/*
 * app_private.create_user returns the new user's id (issue #14).
 *
 * On Citus, a function whose argument or result is a table's row type is
 * bound to that type; when making tenants a reference table turns the
 * tables linked to it into Citus local tables, the type follows the shard
 * (returns app_public.users_102009), and distributing users then drops the
 * function with it (drop cascades to function app_private.create_user).
 * create_user is internal (app_private is not in the API), so it returns a
 * uuid; its callers read the row when they need more. The API's functions
 * that return or take a row type (current_user, current_tenant,
 * current_operator, set_user_role, revoke_invitation, invitations_status)
 * keep theirs: their GraphQL types come from it.
 */

-------------------------------------------------------------------------------
-- create_user
-------------------------------------------------------------------------------

-- A different result type needs drop and create; its callers are PL/pgSQL
-- (create_tenant, accept_invitation: 100-citus-context.sql), which the
-- catalog does not tie to it.
drop function if exists app_private.create_user(uuid, text, text, app_public.user_role, text);
create function app_private.create_user(tenant_id uuid, email text, name text, role app_public.user_role, password text)
  returns uuid
  language plpgsql
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid;
  v_previous text;
  v_constraint text;
begin
  perform app_private.assert_valid_password(password);
  v_previous := app_private.switch_tenant_context(tenant_id);
  begin
    insert into app_public.users (tenant_id, email, name, role)
      values (tenant_id, btrim(email), btrim(name), role)
      returning id into v_user_id;
  exception
    when check_violation then
      get stacked diagnostics v_constraint = constraint_name;
      perform app_private.raise_input_error(v_constraint);
      raise;
    when unique_violation then
      raise exception 'A user with this email already exists in this tenant.' using errcode = 'EMTKN';
  end;
  insert into app_private.user_secrets (tenant_id, user_id, password_hash)
    values (tenant_id, v_user_id, crypt(password, gen_salt('bf', 10)));
  perform app_private.restore_tenant_context(v_previous);
  return v_user_id;
end;
$$;
revoke all on function app_private.create_user(uuid, text, text, app_public.user_role, text) from public;
comment on function app_private.create_user(uuid, text, text, app_public.user_role, text) is
  'Creates a user with a bcrypt password hash in the given tenant and returns the user''s id. Used by onboarding and the demo data; not reachable from the API.';

--! split: 150-citus-early-evaluation.sql
--------------------------------------------------------------------------------
-- Claim readers that cannot raise, even when Citus evaluates them early
--------------------------------------------------------------------------------

-- Citus evaluates the functions and casts of a distributed query on the
-- coordinator before it routes it, arm by arm: the CASE form's `value::uuid`
-- then ran on '' and raised (`invalid input syntax for type uuid: ""`, seen
-- in acceptInvitation's audit insert). Here the cast only ever sees the
-- regular expression's match, or null.
create or replace function app_public.uuid_or_null(value text) returns uuid
  language sql immutable parallel safe
as $$
  select (regexp_match(value, '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', 'i'))[1]::uuid
$$;

--------------------------------------------------------------------------------
-- deleteTenant on one connection per node
--------------------------------------------------------------------------------

-- On Citus, deleting the tenant's row from the reference table `tenants`
-- cascades into every distributed table; Citus refuses that after a parallel
-- operation on a distributed table in the same transaction (`cannot modify
-- table "tenants" because there was a parallel operation on a distributed
-- table`). Sequential mode for this transaction only, set first, before any
-- read, on the coordinator (set_config: it must not be forwarded); on plain
-- PostgreSQL it is an unused setting.
create or replace function app_public.delete_tenant(confirm_slug text) returns boolean
  language plpgsql strict security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant app_public.tenants;
  v_table regclass;
  v_count bigint;
  v_counts jsonb := '{}';
begin
  perform set_config('citus.multi_shard_modify_mode', 'sequential', true);
  perform app_private.assert_admin();
  select t.* into v_tenant from app_public.tenants t where t.id = app_public.current_tenant_id();
  if confirm_slug is distinct from v_tenant.slug then
    raise exception 'The slug does not match this tenant''s slug.' using errcode = 'CONFM';
  end if;
  for v_table in
    select c.oid::regclass from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
     where n.nspname in ('app_public', 'app_private') and c.relkind in ('r', 'p')
     order by 1
  loop
    execute format('select count(*) from %s where tenant_id = $1', v_table) into v_count using v_tenant.id;
    v_counts := v_counts || jsonb_build_object(v_table::text, v_count);
  end loop;
  delete from app_public.tenants where id = v_tenant.id;
  insert into app_private.tenant_deletions (deleted_tenant_id, slug, name, deleted_by, rows_deleted)
    values (v_tenant.id, v_tenant.slug, v_tenant.name, app_public.current_user_id(), v_counts);
  return true;
end;
$$;

--------------------------------------------------------------------------------
-- assert_admin routed to the caller's shard
--------------------------------------------------------------------------------

-- Citus routes a query to one shard only when its tenant condition is a
-- constant or a parameter; `tenant_id = current_tenant_id()` (a setting read
-- on every shard) fanned out to all 32. The claims read into variables first
-- become parameters of the lookup.
create or replace function app_private.assert_admin() returns void
  language plpgsql stable
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_user_id uuid := app_public.current_user_id();
begin
  if not exists (
    select 1 from app_public.users u
    where u.tenant_id = v_tenant_id and u.id = v_user_id and u.role = 'admin'
  ) then
    raise exception 'Only an admin of the tenant may do this.' using errcode = '42501';
  end if;
end;
$$;
