// The policy spec of app_public.delete_tenant: the cases are in ./delete_tenant.cases.ts
// (data the coverage test reads too), run here as the real request roles.
import { policyMatrix } from "../helpers/policy.ts";
import { cases } from "./delete_tenant.cases.ts";
import { policySpec } from "./setup.ts";

const spec = policySpec();
policyMatrix("app_public.delete_tenant", spec.context, cases);
