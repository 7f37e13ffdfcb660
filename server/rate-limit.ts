// Rate limits for the mutations anyone may call without a token: `login`,
// `operatorLogin` and `acceptInvitation` (password guessing, bcrypt cost)
// and `createTenant` (sign-up spam). Fixed one-minute windows per client
// address and mutation, kept in this process's memory: behind several
// server processes or a proxy, put the same limit there too.
// Counted on the operation as it runs (server/operation.ts), with fragments
// expanded. A request may call each of them once (a validation rule:
// TOO_MANY_CALLS), since 20 bcrypt comparisons in one request are a burst of
// database CPU that no client needs; each call takes one from the window. A
// Grafast `execute` middleware, so trusted documents (which carry no text)
// are counted too.
import { GraphQLError, Kind, OperationTypeNode, type DocumentNode, type ValidationRule } from "postgraphile/graphql";
import { fragmentsOf, operationOf, perOperation, rootFieldsOf } from "./operation.ts";
import { clientAddressOf, setResponseStatus } from "./response-status.ts";

const WINDOW_MS = 60_000;

/** The limited mutations an operation calls, once per call (field names, not aliases; fragments expanded). */
export function limitedCalls(document: DocumentNode, operationName: string | null | undefined, limited: ReadonlySet<string>): string[] {
  const operation = operationOf(document, operationName);
  if (operation?.operation !== OperationTypeNode.MUTATION) return [];
  return rootFieldsOf(operation, fragmentsOf(document))
    .map((f) => f.name.value)
    .filter((name) => limited.has(name));
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

/** A Grafast plugin: a request whose limited calls exceed its address's window gets 429 RATE_LIMITED with Retry-After, and runs nothing. */
export function makeRateLimitPlugin(perMinute: Readonly<Record<string, number>>): GraphileConfig.Plugin {
  const limited = new Set(Object.keys(perMinute));
  const take = makeRateLimiter(perMinute);
  const callsOf = perOperation((document, operationName) => limitedCalls(document, operationName, limited));
  const oncePerRequest: ValidationRule = (context) => ({
    Document(document) {
      for (const d of document.definitions) {
        if (d.kind !== Kind.OPERATION_DEFINITION) continue;
        const names = limitedCalls(document, d.name?.value, limited);
        const twice = names.find((name, i) => names.indexOf(name) !== i);
        if (twice) {
          context.reportError(new GraphQLError(`A request may call ${twice} once (this one calls it ${names.filter((n) => n === twice).length} times).`, { extensions: { code: "TOO_MANY_CALLS" } }));
        }
      }
    },
  });
  return {
    name: "RateLimitPlugin",
    version: "1.0.0",
    grafserv: {
      middleware: {
        setPreset(next, event) {
          event.validationRules.push(oncePerRequest);
          return next();
        },
      },
    },
    grafast: {
      middleware: {
        execute(next, event) {
          const { document, operationName, requestContext } = event.args;
          const called = callsOf(document, operationName);
          if (!called.length) return next();
          const address = clientAddressOf(requestContext);
          for (const mutation of called) {
            const wait = take(address, mutation);
            if (!wait) continue;
            setResponseStatus(requestContext, 429, { "Retry-After": String(wait) });
            return { errors: [new GraphQLError(`Too many ${mutation} attempts; retry in ${wait} s.`, { extensions: { code: "RATE_LIMITED" } })] };
          }
          return next();
        },
      },
    },
  };
}
