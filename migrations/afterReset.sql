-- Run as the superuser by graphile-migrate after it (re)creates a database
-- (`reset`, and the shadow database during `commit`). It revokes everything
-- from PUBLIC first; give back what the roles need (as db/setup.ts does).
grant all on database :DATABASE_NAME to :DATABASE_OWNER;
grant connect on database :DATABASE_NAME to :DATABASE_AUTHENTICATOR;
