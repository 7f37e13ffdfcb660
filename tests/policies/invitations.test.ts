// The policy spec of app_public.invitations, invite_user, revoke_invitation, accept_invitation, invitations_status: the cases are in ./invitations.cases.ts
// (data the coverage test reads too), run here as the real request roles.
import { policyMatrix } from "../helpers/policy.ts";
import { cases } from "./invitations.cases.ts";
import { policySpec } from "./setup.ts";

const spec = policySpec();
policyMatrix("app_public.invitations, invite_user, revoke_invitation, accept_invitation, invitations_status", spec.context, cases);
