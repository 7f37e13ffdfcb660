--! Previous: sha1:df92cac90cb1c5c09470c273e2015a6e687eb89d
--! Hash: sha1:7df03a634f1328241c65ce7a56c85416916ba9c2
--! Message: current_operator answers every caller

/*
 * currentOperator, like currentUser, now answers every caller: null for
 * anyone who is not an operator, instead of a permission error, so that a
 * client may ask for both in one query whoever is logged in.
 */

-- The calling operator, or null. PL/pgSQL, so that a caller who may not
-- read operators (anonymous, tenant users) gets null, not an error.
create or replace function app_public.current_operator() returns app_public.operators
  language plpgsql stable
as $$
begin
  if app_public.current_operator_id() is null then
    return null;
  end if;
  return (select o from app_public.operators o where o.id = app_public.current_operator_id());
end;
$$;
comment on function app_public.current_operator() is 'The operator making the request, or null when the caller is not an operator.';
grant execute on function app_public.current_operator() to :DATABASE_ANONYMOUS, :DATABASE_MEMBER, :DATABASE_OPERATOR;
