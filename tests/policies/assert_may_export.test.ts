// The policy spec of app_public.assert_may_export: the cases are in ./assert_may_export.cases.ts
// (data the coverage test reads too), run here as the real request roles.
import { policyMatrix } from "../helpers/policy.ts";
import { cases } from "./assert_may_export.cases.ts";
import { policySpec } from "./setup.ts";

const spec = policySpec();
policyMatrix("app_public.assert_may_export", spec.context, cases);
