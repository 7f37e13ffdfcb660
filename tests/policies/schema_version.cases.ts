// app_public.schema_version (what an export carries): members, admins and
// operators read it; anonymous may not.
import type { PolicyCase } from "../helpers/policy.ts";

export const cases: PolicyCase[] = [
  { actor: "operator", does: "reads the schema version (for exports)", sql: "select app_public.schema_version() as v", expect: { rows: 1 } },
  { actor: "member of A", does: "reads the schema version", sql: "select app_public.schema_version() as v", expect: { rows: 1 } },
  { actor: "admin of A", does: "reads the schema version", sql: "select app_public.schema_version() as v", expect: { rows: 1 } },
  { actor: "anonymous", does: "reads the schema version", sql: "select app_public.schema_version() as v", expect: { error: "permission denied" } },
];
