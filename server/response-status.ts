// Some refusals decided inside GraphQL processing have an HTTP meaning (429
// with Retry-After). The rule that decides one records it against the HTTP
// request itself, and this grafserv middleware applies it to the response:
// the fact is carried, never found by searching the response body.
import type { IncomingMessage } from "node:http";

interface Decision {
  status: number;
  headers: Record<string, string>;
}

const decisions = new WeakMap<IncomingMessage, Decision>();

/** The Node request behind a Grafast/grafserv request context (Express or plain Node adaptor). */
export function httpRequestOf(requestContext: unknown): IncomingMessage | undefined {
  const ctx = requestContext as { expressv4?: { req?: IncomingMessage }; node?: { req?: IncomingMessage } } | undefined;
  return ctx?.expressv4?.req ?? ctx?.node?.req;
}

/** The client's address, as the per-address limits see it. */
export function clientAddressOf(requestContext: unknown): string {
  const req = httpRequestOf(requestContext) as (IncomingMessage & { ip?: string }) | undefined;
  return req?.ip ?? req?.socket.remoteAddress ?? "unknown";
}

/** Records that the response to this request must have `status` (and these headers). */
export function setResponseStatus(requestContext: unknown, status: number, headers: Record<string, string> = {}) {
  const req = httpRequestOf(requestContext);
  if (req) decisions.set(req, { status, headers });
}

export const ResponseStatusPlugin: GraphileConfig.Plugin = {
  name: "ResponseStatusPlugin",
  version: "1.0.0",
  grafserv: {
    middleware: {
      async processRequest(next, event) {
        const result = await next();
        const req = httpRequestOf(event.requestDigest.requestContext);
        const decision = req && decisions.get(req);
        if (!decision || !result || result.type === "noContent") return result;
        return { ...result, statusCode: decision.status, headers: { ...result.headers, ...decision.headers } };
      },
    },
  },
};
