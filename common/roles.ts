// The database roles the project creates and the JWT role claims that map to
// them: database concepts every layer names, so they live here, beside the
// configuration, where db/, server/, bin/, tests and bench may import them.
/** Role names. Roles are cluster-wide; migrations receive them as placeholders. */
export const ROLES = {
  owner: "mts_owner",
  authenticator: "mts_authenticator",
  anonymous: "mts_anonymous",
  member: "mts_member",
  admin: "mts_admin",
  /** Platform operators (not users of any tenant). */
  operator: "mts_operator",
} as const;

/** The JWT `role` claim (an application role) → the database role a request switches to. */
export const REQUEST_ROLE_BY_CLAIM: Readonly<Record<string, string>> = Object.freeze({
  member: ROLES.member,
  admin: ROLES.admin,
});
