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
