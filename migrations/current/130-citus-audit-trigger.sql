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
