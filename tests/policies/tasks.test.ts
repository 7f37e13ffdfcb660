// The policy spec of app_public.tasks: the cases are in ./tasks.cases.ts
// (data the coverage test reads too), run here as the real request roles.
import { policyMatrix } from "../helpers/policy.ts";
import { cases } from "./tasks.cases.ts";
import { policySpec } from "./setup.ts";

const spec = policySpec();
policyMatrix("app_public.tasks", spec.context, cases);
