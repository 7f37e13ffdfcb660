// The policy spec of app_public.operators, operator_login, current_operator, current_operator_id, app_private.operator_access: the cases are in ./operators.cases.ts
// (data the coverage test reads too), run here as the real request roles.
import { policyMatrix } from "../helpers/policy.ts";
import { cases } from "./operators.cases.ts";
import { policySpec } from "./setup.ts";

const spec = policySpec();
policyMatrix("app_public.operators, operator_login, current_operator, current_operator_id, app_private.operator_access", spec.context, cases);
