// The policy spec of app_public.schema_version: the cases are in ./schema_version.cases.ts
// (data the coverage test reads too), run here as the real request roles.
import { policyMatrix } from "../helpers/policy.ts";
import { cases } from "./schema_version.cases.ts";
import { policySpec } from "./setup.ts";

const spec = policySpec();
policyMatrix("app_public.schema_version", spec.context, cases);
