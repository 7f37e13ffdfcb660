--------------------------------------------------------------------------------
-- Smart tags: what a function means to the API, written next to the function.
--
-- PostGraphile reads the lines at the top of a function's comment that start
-- with @ as smart tags, and leaves them out of the GraphQL description. Two
-- tags carry meaning that the API's generic plugins apply to every mutation
-- built from a function with the tag, whatever its GraphQL name (@name):
--
--   @nullError CODE message
--     The function returns null, rather than raising, for a failure it must
--     record (a raise would roll the record back with the request). The API
--     answers that null with this error: extensions.code CODE (five capital
--     letters, like the SQLSTATEs raised on purpose) and this message.
--     (server/null-result-errors.ts)
--   @rateLimit bucket
--     Calls are counted per client address in a one-minute window of this
--     bucket, shared by every function tagged with it; a request may call the
--     function once. Buckets and their limits are in common/config.ts
--     (rateLimits); a bucket missing there stops the API at start-up.
--     (server/rate-limit.ts)
--
-- Each statement restates the function's whole comment (documentation text
-- as the committed migrations wrote it, after the tags), so it stands alone
-- whichever migration last created the function.
--------------------------------------------------------------------------------

-- Logging in to a tenant: a failure is counted (login throttle), so it returns null.
comment on function app_public.login(text, text, text) is
  E'@nullError CREDS Incorrect tenant, email or password.\n'
  '@rateLimit login\n'
  'Logs in to a tenant and returns an access token and a refresh token. A wrong slug, email or password all give the same error, CREDS; after 5 failures within 15 minutes for the same tenant and email, LOCKD for 15 minutes.';

-- Logging in as a platform operator: likewise.
comment on function app_public.operator_login(text, text) is
  E'@nullError CREDS Incorrect email or password.\n'
  '@rateLimit operatorLogin\n'
  'Logs a platform operator in and returns an access token (no refresh token). Errors: CREDS, LOCKD.';

-- Refreshing: a reused token revokes its session, so a refusal returns null.
comment on function app_public.refresh(text) is
  E'@nullError BADRT The refresh token is not valid (unknown, used, revoked or expired); log in again.\n'
  'Exchanges a refresh token for a new access token and refresh token. Each refresh token works once: a second use revokes the session. Error BADRT for an unknown, used, revoked or expired token.';

-- Accepting an invitation costs a password hash.
comment on function app_public.accept_invitation(text, text, text) is
  E'@rateLimit acceptInvitation\n'
  'Accepts an invitation: creates the user (with this name and password) in the invitation''s tenant and returns an access token and a refresh token. Errors: BADIN (unknown, used, revoked or expired), BADNM, WEAKP, LONGP, EMTKN.';

-- Signing up creates a tenant: limited against sign-up spam.
comment on function app_public.create_tenant(text, text, text, text) is
  E'@rateLimit createTenant\n'
  'Creates a tenant and its first admin (named after the email''s local part), and returns that admin''s access and refresh tokens. Errors: BADSL, BADNM, BADEM, WEAKP, LONGP, TAKEN.';
