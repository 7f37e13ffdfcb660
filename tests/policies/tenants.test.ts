// The policy spec of app_public.tenants, current_tenant, current_tenant_id: the cases are in ./tenants.cases.ts
// (data the coverage test reads too), run here as the real request roles.
import { policyMatrix } from "../helpers/policy.ts";
import { cases } from "./tenants.cases.ts";
import { policySpec } from "./setup.ts";

const spec = policySpec();
policyMatrix("app_public.tenants, current_tenant, current_tenant_id", spec.context, cases);
