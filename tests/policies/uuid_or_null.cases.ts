// app_public.uuid_or_null (what the claim readers call): every request role
// may call it; an empty or malformed string is null, never an error, and a
// well-formed uuid comes back as itself.
import type { PolicyCase } from "../helpers/policy.ts";

const nullFor = (input: string) => `select 1 where app_public.uuid_or_null('${input}') is null`;
const WELL_FORMED = "select 1 where app_public.uuid_or_null('6f1c8a70-3f1e-4b8a-9a51-0c3f6ad1e9a2') = '6f1c8a70-3f1e-4b8a-9a51-0c3f6ad1e9a2'::uuid";

export const cases: PolicyCase[] = [
  { actor: "anonymous", does: "reads an empty claim as null", sql: nullFor(""), expect: { rows: 1 } },
  { actor: "anonymous", does: "reads a malformed claim as null", sql: nullFor("not-a-uuid"), expect: { rows: 1 } },
  { actor: "member of A", does: "reads a malformed claim as null", sql: nullFor("6f1c8a70-3f1e"), expect: { rows: 1 } },
  { actor: "member of A", does: "reads a well-formed claim as its uuid", sql: WELL_FORMED, expect: { rows: 1 } },
  { actor: "admin of A", does: "reads an empty claim as null", sql: nullFor(""), expect: { rows: 1 } },
  { actor: "operator", does: "reads a well-formed claim as its uuid", sql: WELL_FORMED, expect: { rows: 1 } },
];
