// The policy spec of app_public.users, set_user_role, remove_user, current_user, current_user_id: the cases are in ./users.cases.ts
// (data the coverage test reads too), run here as the real request roles.
import { policyMatrix } from "../helpers/policy.ts";
import { cases } from "./users.cases.ts";
import { policySpec } from "./setup.ts";

const spec = policySpec();
policyMatrix("app_public.users, set_user_role, remove_user, current_user, current_user_id", spec.context, cases);
