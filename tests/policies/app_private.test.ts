// The policy spec of app_private (its tables and functions): the cases are in ./app_private.cases.ts
// (data the coverage test reads too), run here as the real request roles.
import { policyMatrix } from "../helpers/policy.ts";
import { cases } from "./app_private.cases.ts";
import { policySpec } from "./setup.ts";

const spec = policySpec();
policyMatrix("app_private (its tables and functions)", spec.context, cases);
