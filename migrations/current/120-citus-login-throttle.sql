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
