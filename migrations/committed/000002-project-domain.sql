--! Previous: sha1:5c53f1ad0cf22e8c66ee5e92e593d5e729f9fc7e
--! Hash: sha1:5b7493c6c8760ca06be766533ce0cd09f00c9508
--! Message: project domain

/*
 * An example tenant-scoped domain: projects, their tasks, and comments on
 * tasks. Every table follows the same pattern (README: "Adding a
 * tenant-scoped table"): tenant_id defaulted from the context and immutable,
 * primary key (tenant_id, id), composite foreign keys that include
 * tenant_id, indexes that lead with tenant_id, RLS enabled and forced, one
 * policy per operation.
 */

drop table if exists app_public.comments cascade;
drop table if exists app_public.tasks cascade;
drop table if exists app_public.projects cascade;
drop type if exists app_public.task_status cascade;
drop function if exists app_private.tg_set_updated_at() cascade;

-------------------------------------------------------------------------------
-- Protected columns and referential actions
-------------------------------------------------------------------------------

-- As before, but a change made by a referential action (ON DELETE SET NULL
-- on a protected column such as comments.author_id) runs inside the foreign
-- key's trigger and is allowed: only direct updates are refused.
create or replace function app_private.tg_protect_columns() returns trigger
  language plpgsql
as $$
declare
  v_column text;
  v_old jsonb;
  v_new jsonb;
begin
  if pg_trigger_depth() > 1 then
    return new;
  end if;
  v_old := to_jsonb(old);
  v_new := to_jsonb(new);
  foreach v_column in array tg_argv loop
    if v_old -> v_column is distinct from v_new -> v_column then
      raise exception 'The column "%" cannot be changed.', v_column using errcode = 'IMMUT';
    end if;
  end loop;
  return new;
end;
$$;
comment on function app_private.tg_protect_columns() is 'Trigger: rejects direct updates that change the columns given as trigger arguments (error IMMUT); changes made by referential actions pass.';

-------------------------------------------------------------------------------
-- Projects
-------------------------------------------------------------------------------

create table app_public.projects (
  tenant_id uuid not null default app_public.current_tenant_id()
    references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  name text not null
    constraint projects_name_length check (char_length(btrim(name)) between 1 and 200),
  description text not null default ''
    constraint projects_description_length check (char_length(description) <= 10000),
  created_at timestamptz not null default now(),
  primary key (tenant_id, id)
);
alter table app_public.projects enable row level security;
alter table app_public.projects force row level security;

comment on table app_public.projects is 'A project of a tenant: a named list of tasks.';
comment on column app_public.projects.tenant_id is E'@behavior -insert -update\nThe tenant that owns the project; set from the caller''s context, never changed.';
comment on column app_public.projects.id is E'@behavior -insert -update\nThe project''s identifier.';
comment on column app_public.projects.name is E'@behavior +filterBy +orderBy\nName of the project (1 to 200 characters).';
comment on column app_public.projects.description is 'Free-text description.';
comment on column app_public.projects.created_at is E'@behavior -insert -update\nWhen the project was created.';

create index projects_tenant_created_idx on app_public.projects (tenant_id, created_at desc);

create trigger _100_protect_columns before update on app_public.projects
  for each row execute procedure app_private.tg_protect_columns('tenant_id', 'id', 'created_at');

-- Members read, create and edit their tenant's projects; admins also delete.
create policy select_own_tenant on app_public.projects for select
  using (tenant_id = app_public.current_tenant_id());
create policy insert_own_tenant on app_public.projects for insert
  with check (tenant_id = app_public.current_tenant_id());
create policy update_own_tenant on app_public.projects for update
  using (tenant_id = app_public.current_tenant_id())
  with check (tenant_id = app_public.current_tenant_id());
create policy delete_own_tenant on app_public.projects for delete
  using (tenant_id = app_public.current_tenant_id());

grant select, insert, update on app_public.projects to :DATABASE_MEMBER;
grant delete on app_public.projects to :DATABASE_ADMIN;

-------------------------------------------------------------------------------
-- Tasks
-------------------------------------------------------------------------------

create type app_public.task_status as enum ('todo', 'in_progress', 'done');
comment on type app_public.task_status is 'Where a task stands: todo, in_progress or done.';

create table app_public.tasks (
  tenant_id uuid not null default app_public.current_tenant_id()
    references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  project_id uuid not null,
  title text not null
    constraint tasks_title_length check (char_length(btrim(title)) between 1 and 500),
  status app_public.task_status not null default 'todo',
  assignee_id uuid,
  due_date date,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  -- Composite keys: a task can only point at a project and a user of its own tenant.
  constraint tasks_project_fkey foreign key (tenant_id, project_id)
    references app_public.projects (tenant_id, id) on delete cascade,
  constraint tasks_assignee_fkey foreign key (tenant_id, assignee_id)
    references app_public.users (tenant_id, id) on delete set null (assignee_id)
);
alter table app_public.tasks enable row level security;
alter table app_public.tasks force row level security;

comment on table app_public.tasks is 'A task in a project, optionally assigned to a user of the same tenant.';
comment on column app_public.tasks.tenant_id is E'@behavior -insert -update\nThe tenant that owns the task; set from the caller''s context, never changed.';
comment on column app_public.tasks.id is E'@behavior -insert -update\nThe task''s identifier.';
comment on column app_public.tasks.project_id is 'The project the task belongs to (same tenant).';
comment on column app_public.tasks.title is E'@behavior +filterBy +orderBy\nWhat is to be done (1 to 500 characters).';
comment on column app_public.tasks.status is E'@behavior +filterBy +orderBy\ntodo, in_progress or done.';
comment on column app_public.tasks.assignee_id is E'@behavior +filterBy\nThe user the task is assigned to (same tenant), if any.';
comment on column app_public.tasks.due_date is E'@behavior +filterBy +orderBy\nWhen the task is due, if it is.';
comment on column app_public.tasks.created_at is E'@behavior -insert -update\nWhen the task was created.';
comment on column app_public.tasks.updated_at is E'@behavior -insert -update\nWhen the task was last changed.';

-- Relation names in the API (the keys include tenant_id, which the default names would repeat).
comment on constraint tasks_project_fkey on app_public.tasks is E'@fieldName project\n@foreignFieldName tasks\nThe project of a task.';
comment on constraint tasks_assignee_fkey on app_public.tasks is E'@fieldName assignee\n@foreignFieldName assignedTasks\nThe user a task is assigned to.';

create index tasks_tenant_created_idx on app_public.tasks (tenant_id, created_at desc);
create index tasks_tenant_project_idx on app_public.tasks (tenant_id, project_id, created_at desc);
create index tasks_tenant_assignee_idx on app_public.tasks (tenant_id, assignee_id);
-- The common question "what is still open, soonest first" reads only open tasks.
create index tasks_tenant_open_due_idx on app_public.tasks (tenant_id, due_date) where status <> 'done';

create trigger _100_protect_columns before update on app_public.tasks
  for each row execute procedure app_private.tg_protect_columns('tenant_id', 'id', 'created_at');

-- Sets updated_at on every update.
create function app_private.tg_set_updated_at() returns trigger
  language plpgsql
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
comment on function app_private.tg_set_updated_at() is 'Trigger: sets updated_at to now() on update.';

create trigger _200_set_updated_at before update on app_public.tasks
  for each row execute procedure app_private.tg_set_updated_at();

-- Members read, create, edit and delete their tenant's tasks.
create policy select_own_tenant on app_public.tasks for select
  using (tenant_id = app_public.current_tenant_id());
create policy insert_own_tenant on app_public.tasks for insert
  with check (tenant_id = app_public.current_tenant_id());
create policy update_own_tenant on app_public.tasks for update
  using (tenant_id = app_public.current_tenant_id())
  with check (tenant_id = app_public.current_tenant_id());
create policy delete_own_tenant on app_public.tasks for delete
  using (tenant_id = app_public.current_tenant_id());

grant select, insert, update, delete on app_public.tasks to :DATABASE_MEMBER;

-------------------------------------------------------------------------------
-- Comments
-------------------------------------------------------------------------------

create table app_public.comments (
  tenant_id uuid not null default app_public.current_tenant_id()
    references app_public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  task_id uuid not null,
  author_id uuid default app_public.current_user_id(),
  body text not null
    constraint comments_body_length check (char_length(btrim(body)) between 1 and 10000),
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint comments_task_fkey foreign key (tenant_id, task_id)
    references app_public.tasks (tenant_id, id) on delete cascade,
  constraint comments_author_fkey foreign key (tenant_id, author_id)
    references app_public.users (tenant_id, id) on delete set null (author_id)
);
alter table app_public.comments enable row level security;
alter table app_public.comments force row level security;

comment on table app_public.comments is 'A comment on a task. Its author may edit or delete it; admins may delete any.';
comment on column app_public.comments.tenant_id is E'@behavior -insert -update\nThe tenant that owns the comment; set from the caller''s context, never changed.';
comment on column app_public.comments.id is E'@behavior -insert -update\nThe comment''s identifier.';
comment on column app_public.comments.task_id is E'@behavior -update\nThe task commented on (same tenant).';
comment on column app_public.comments.author_id is E'@behavior -insert -update\nWho wrote it: the caller, set automatically; null once that user is removed.';
comment on column app_public.comments.body is 'The text of the comment (1 to 10000 characters).';
comment on column app_public.comments.created_at is E'@behavior -insert -update\nWhen the comment was written.';

comment on constraint comments_task_fkey on app_public.comments is E'@fieldName task\n@foreignFieldName comments\nThe task a comment is on.';
comment on constraint comments_author_fkey on app_public.comments is E'@fieldName author\n@foreignFieldName comments\nThe author of a comment.';

create index comments_tenant_task_idx on app_public.comments (tenant_id, task_id, created_at);
create index comments_tenant_author_idx on app_public.comments (tenant_id, author_id);

create trigger _100_protect_columns before update on app_public.comments
  for each row execute procedure app_private.tg_protect_columns('tenant_id', 'id', 'task_id', 'author_id', 'created_at');

-- Members read their tenant's comments and write their own; authors edit and
-- delete their own; admins delete any in their tenant.
create policy select_own_tenant on app_public.comments for select
  using (tenant_id = app_public.current_tenant_id());
create policy insert_as_self on app_public.comments for insert
  with check (tenant_id = app_public.current_tenant_id() and author_id = app_public.current_user_id());
create policy update_own on app_public.comments for update
  using (tenant_id = app_public.current_tenant_id() and author_id = app_public.current_user_id())
  with check (tenant_id = app_public.current_tenant_id() and author_id = app_public.current_user_id());
create policy delete_own on app_public.comments for delete
  using (tenant_id = app_public.current_tenant_id() and author_id = app_public.current_user_id());
create policy delete_as_admin on app_public.comments for delete to :DATABASE_ADMIN
  using (tenant_id = app_public.current_tenant_id());

grant select, insert, update, delete on app_public.comments to :DATABASE_MEMBER;

-------------------------------------------------------------------------------
-- Filtering and ordering on common user fields
-------------------------------------------------------------------------------

-- Only indexed columns are filterable by default; these are cheap within one
-- tenant (every query is already narrowed to it by the tenant index).
comment on column app_public.users.name is E'@behavior +filterBy +orderBy\nDisplay name.';
comment on column app_public.users.role is E'@behavior +filterBy +orderBy\nadmin or member.';
