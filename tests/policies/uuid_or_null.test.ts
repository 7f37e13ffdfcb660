// The policy spec of app_public.uuid_or_null: the cases are in ./uuid_or_null.cases.ts
// (data the coverage test reads too), run here as the real request roles.
import { policyMatrix } from "../helpers/policy.ts";
import { cases } from "./uuid_or_null.cases.ts";
import { policySpec } from "./setup.ts";

const spec = policySpec();
policyMatrix("app_public.uuid_or_null", spec.context, cases);
