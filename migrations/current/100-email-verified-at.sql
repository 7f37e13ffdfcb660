-- Issue 13: a user's email_verified_at. Set by verify_email, by
-- reset_password (the reset link reached the address) and by
-- accept_invitation (the "holes" helper's 2xx files). Everyone in the
-- tenant who may read users reads it (admins see who is verified; members
-- see it too, as they see each other's email); nobody sets it through the
-- API: the protect trigger refuses a request role's change (IMMUT), and the
-- behavior hides it from the update input.

alter table app_public.users add column if not exists email_verified_at timestamptz;

comment on column app_public.users.email_verified_at is E'@behavior -insert -update +filterBy\nWhen the user proved they receive mail at their email address (verify_email, reset_password, or accepting an invitation sent there); null while unproven. Set only by those functions.';

-- The protect trigger, now with email_verified_at.
drop trigger if exists _100_protect_columns on app_public.users;
create trigger _100_protect_columns before update on app_public.users
  for each row execute procedure app_private.tg_protect_columns('tenant_id', 'id', 'email', 'role', 'created_at', 'email_verified_at');
