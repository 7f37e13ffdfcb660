// The policy spec of app_public.create_tenant: the cases are in ./create_tenant.cases.ts
// (data the coverage test reads too), run here as the real request roles. That
// onboarding leaves the caller's tenant context as it found it is
// tests/context-restore.test.ts ("app_public.create_tenant").
import { policyMatrix } from "../helpers/policy.ts";
import { cases } from "./create_tenant.cases.ts";
import { policySpec } from "./setup.ts";

const spec = policySpec();
policyMatrix("app_public.create_tenant", spec.context, cases);
