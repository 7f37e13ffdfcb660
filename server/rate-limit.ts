// Rate limits for the mutations anyone may call without a token: `login`,
// `operatorLogin` and `acceptInvitation` (password guessing, bcrypt cost)
// and `createTenant` (sign-up spam). Fixed one-minute
// windows per client address and mutation, kept in this process's memory:
// behind several server processes or a proxy, put the same limit there too.
import type { RequestHandler } from "express";
import { Kind, OperationTypeNode, parse } from "postgraphile/graphql";
import { sendError } from "./errors.ts";

const WINDOW_MS = 60_000;
const MENTIONS = /\b(login|operatorLogin|createTenant|acceptInvitation)\b/;

/** The limited mutations a GraphQL document calls (field names, not aliases). */
export function limitedMutations(query: string, limited: ReadonlySet<string>): string[] {
  if (!MENTIONS.test(query)) return []; // the common case costs one regex
  let document;
  try {
    document = parse(query);
  } catch {
    return []; // grafserv answers the syntax error
  }
  const found: string[] = [];
  for (const d of document.definitions) {
    if (d.kind !== Kind.OPERATION_DEFINITION || d.operation !== OperationTypeNode.MUTATION) continue;
    for (const s of d.selectionSet.selections) {
      if (s.kind === Kind.FIELD && limited.has(s.name.value)) found.push(s.name.value);
    }
  }
  return found;
}

/** Counts calls per (address, mutation); returns the seconds to wait, or 0 when the call may go ahead. */
export function makeRateLimiter(perMinute: Readonly<Record<string, number>>, now: () => number = Date.now) {
  const windows = new Map<string, { start: number; count: number }>();
  let lastSweep = now();
  return function take(address: string, mutation: string): number {
    const t = now();
    if (t - lastSweep > WINDOW_MS) {
      for (const [key, w] of windows) if (t - w.start >= WINDOW_MS) windows.delete(key);
      lastSweep = t;
    }
    const key = `${mutation} ${address}`;
    let w = windows.get(key);
    if (!w || t - w.start >= WINDOW_MS) windows.set(key, (w = { start: t, count: 0 }));
    if (w.count >= perMinute[mutation]) return Math.ceil((w.start + WINDOW_MS - t) / 1000);
    w.count += 1;
    return 0;
  };
}

/** Express middleware for /graphql; needs the parsed body (JSON, or the query as text). */
export function makeRateLimitMiddleware(perMinute: Readonly<Record<string, number>>): RequestHandler {
  const limited = new Set(Object.keys(perMinute));
  const take = makeRateLimiter(perMinute);
  return (req, res, next) => {
    const query = typeof req.body === "string" ? req.body : req.body?.query;
    if (typeof query !== "string") return next();
    for (const mutation of limitedMutations(query, limited)) {
      const wait = take(req.ip ?? "unknown", mutation);
      if (wait) {
        return sendError(res, 429, "RATE_LIMITED", `Too many ${mutation} attempts; retry in ${wait} s.`, { "Retry-After": String(wait) });
      }
    }
    next();
  };
}
