// The policy spec of app_public.audit_events: the cases are in ./audit_events.cases.ts
// (data the coverage test reads too), run here as the real request roles.
import { policyMatrix } from "../helpers/policy.ts";
import { cases } from "./audit_events.cases.ts";
import { policySpec } from "./setup.ts";

const spec = policySpec();
policyMatrix("app_public.audit_events", spec.context, cases);
