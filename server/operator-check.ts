// Before every request with an operator's token: does the database still
// agree with it? The operator exists and is not disabled, and the tenant the
// request names with X-Operator-Tenant (if any) exists; a request naming a
// tenant is written to that tenant's audit log here, in a statement of its
// own, so that the event stays even if the request then fails
// (app_private.operator_access, one of the functions the authenticator may
// call). Tenant users' tokens are checked inside the request's own
// transaction instead (server/request-context.ts).
//
// What is recorded is the whole operation as sent, so that what an operator
// read can be reconstructed from the log: the document's full text (bounded
// by the body limit, 100 KiB), its SHA-256 and length in bytes, the
// operation's name (or the trusted document's id, when TRUSTED_DOCUMENTS
// names documents instead of sending them), and the SHA-256 and length of
// its variables as sent. The variables' values are not written: the
// tenant's admins read this log, and an operator acting in this tenant may
// have typed another tenant's ids; the hash lets a copy kept elsewhere (a
// proxy's log) be matched against the event.
import type { HttpRequest } from "./http.ts";
import { createHash } from "node:crypto";
import type pg from "pg";
import type { PgSettings } from "./auth.ts";

/** What an operator's request is recorded as in the tenant's audit log. */
export interface RequestSummary {
  method: string;
  path: string;
  operationName?: string;
  /** The GraphQL document, whole. */
  query?: string;
  /** SHA-256 of the document's UTF-8 text, hex. */
  querySha256?: string;
  /** The document's length in UTF-8 bytes. */
  queryBytes?: number;
  /** SHA-256 of the variables as sent (their JSON, as the server parsed and re-serialized it), hex. */
  variablesSha256?: string;
  /** That JSON's length in UTF-8 bytes. */
  variablesBytes?: number;
  /** The trusted document the request names (TRUSTED_DOCUMENTS). */
  documentId?: string;
}

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

/** What an operator's request into a tenant is audited as: the endpoint and the whole GraphQL operation. */
export function summarize(req: HttpRequest): RequestSummary {
  const body = (typeof req.body === "string" ? { query: req.body } : (req.body ?? {})) as Record<string, unknown>;
  const query = typeof body.query === "string" ? body.query : undefined;
  const variables = body.variables != null ? JSON.stringify(body.variables) : undefined;
  return {
    method: req.method ?? "",
    path: (req.url ?? "/").split("?")[0],
    ...(typeof body.operationName === "string" ? { operationName: body.operationName } : {}),
    ...(query !== undefined
      ? { query, querySha256: sha256(query), queryBytes: Buffer.byteLength(query, "utf8") }
      : {}),
    ...(variables !== undefined ? { variablesSha256: sha256(variables), variablesBytes: Buffer.byteLength(variables, "utf8") } : {}),
    // A trusted document (TRUSTED_DOCUMENTS) is named, not sent.
    ...(typeof body.documentId === "string" ? { documentId: body.documentId } : {}),
  };
}

export function makeOperatorCheck(pool: pg.Pool) {
  return async function operatorMayProceed(settings: PgSettings, describeRequest: () => RequestSummary): Promise<boolean> {
    const { rows } = await pool.query<{ current: boolean }>({
      name: "operator_access",
      text: "select app_private.operator_access($1, $2, $3) as current",
      values: [settings["jwt.claims.operator_id"], settings["jwt.claims.tenant_id"] ?? null, JSON.stringify(describeRequest())],
    });
    return rows[0].current === true;
  };
}
