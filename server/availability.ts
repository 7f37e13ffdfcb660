// While the database is unreachable (restart, outage), /graphql and /export
// answer 503 with a retry hint instead of failing request by request. Any
// sign of an outage (a pooled connection dropped, a request's connection
// error) closes the gate; the first request after that probes the database
// (one probe at a time) and reopens the gate when it answers.
import type { Handler } from "./http.ts";
import type pg from "pg";
import { sendError, UNAVAILABLE } from "./errors.ts";

export function makeAvailability(pool: pg.Pool) {
  let down = false;
  let probe: Promise<boolean> | undefined;
  const reachable = () =>
    (probe ??= pool
      .query("select 1")
      .then(() => true, () => false)
      .finally(() => (probe = undefined)));

  const gate: Handler = async (_req, res, next) => {
    if (!down || (await reachable())) {
      down = false;
      return next();
    }
    sendError(res, 503, UNAVAILABLE.code, UNAVAILABLE.message, { "Retry-After": "2" });
  };
  return {
    gate,
    markDown() {
      down = true;
    },
  };
}
