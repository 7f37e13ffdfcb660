// Fair share of the server per tenant. A rate: a tenant may use
// `ratePerSecond` units of work per second (bursts up to `burst`), where a
// request is one unit, one more per 256 bytes of its body past the first
// KiB (parsing a large document costs) and one more per 4 KiB of its
// response (charged when it ends), so that many cheap requests and a few
// huge ones both run out; past it, 429 RATE_LIMITED with the seconds to wait.
// Concurrency: one tenant's requests may run only
// `perTenant` at a time (by default 20 % of the pool), so a tenant that
// saturates its share leaves the rest of the pool to everyone else. A few
// more (`queuePerTenant`) wait, up to `queueTimeoutMs`, for one of the
// tenant's slots; past that the request gets 429 TENANT_BUSY with
// Retry-After, before it costs a connection. The share is keyed by the
// verified token: a tenant (its users, and operators acting in it) shares
// one, an operator outside any tenant has its own, and anonymous requests
// share one per client address.
import type { Handler, HttpRequest, HttpResponse } from "./http.ts";
import type { Config } from "../common/config.ts";
import { sendError } from "./errors.ts";

interface Share {
  running: number;
  waiting: (() => void)[];
}

/** Whose share a request counts against (after authentication). */
export function shareKey(req: HttpRequest): string {
  const settings = req.pgSettings ?? {};
  const tenant = settings["jwt.claims.tenant_id"];
  if (tenant) return `tenant:${tenant}`;
  const operator = settings["jwt.claims.operator_id"];
  if (operator) return `operator:${operator}`;
  return `address:${req.ip ?? req.socket.remoteAddress ?? "unknown"}`;
}

/**
 * Request body bytes (by Content-Length) that cost one unit of work: parsing
 * and validating a document costs far more per byte than sending a response
 * (measured: a 22 kB filter of 400 conditions took 16 to 40 ms to refuse, a
 * small list request 4 ms).
 */
export const REQUEST_BYTES_PER_UNIT = 256;
/** The first KiB of a body is free: an ordinary request costs one unit, whatever its variables. */
export const FREE_BODY_BYTES = 1024;
/**
 * What a request refused with 400 (a document that does not parse, is not
 * valid, or is over a limit) costs on top: it was parsed and validated for
 * nothing, and a client that keeps sending such documents is probing.
 */
export const REFUSED_REQUEST_UNITS = 50;
/** Response bytes that cost one unit of work (rows cost main-thread time to build: a 3 MB answer of 20,000 rows is about 750 units, 2.5 s of the default rate). */
export const RESPONSE_BYTES_PER_UNIT = 4 * 1024;

/**
 * A token bucket per share, in units of work. `admit` lets a request start
 * while the bucket holds a unit and takes what it costs to start (or says
 * how many seconds to wait); `charge` takes the units of its response once
 * it is sent. Either may leave the bucket in debt: the tenant then waits
 * until the rate has paid it back.
 */
export function makeWorkBudget(limits: Pick<Config["fairShare"], "ratePerSecond" | "burst">, now: () => number = Date.now) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = now();
  const bucket = (key: string) => {
    const t = now();
    if (t - lastSweep > 60_000) {
      // Buckets that have refilled are the same as no bucket.
      for (const [k, b] of buckets) if (b.tokens + ((t - b.at) / 1000) * limits.ratePerSecond >= limits.burst) buckets.delete(k);
      lastSweep = t;
    }
    let b = buckets.get(key);
    if (!b) buckets.set(key, (b = { tokens: limits.burst, at: t }));
    b.tokens = Math.min(limits.burst, b.tokens + ((t - b.at) / 1000) * limits.ratePerSecond);
    b.at = t;
    return b;
  };
  return {
    /** Seconds `key` must wait before its next request, or 0 (then `units` are taken). */
    admit(key: string, units = 1): number {
      const b = bucket(key);
      if (b.tokens < 1) return Math.max(1, Math.ceil((1 - b.tokens) / limits.ratePerSecond));
      b.tokens -= units;
      return 0;
    },
    /** Charges `units` more to `key`. */
    charge(key: string, units: number) {
      bucket(key).tokens -= units;
    },
  };
}

/**
 * A client over its rate (or its share of concurrency) that does not wait
 * as told would otherwise get thousands of cheap refusals a second, each
 * still costing the main thread. Its refusals are held for TARPIT_MS (up to TARPIT_PER_SHARE at a
 * time per share; past that they are sent at once), so that a client that
 * waits for its answers is slowed to about one request per second per
 * connection.
 */
const TARPIT_MS = 1000;
const TARPIT_PER_SHARE = 32;

function makeTarpit() {
  const held = new Map<string, number>();
  const leave = (key: string) => {
    const left = (held.get(key) ?? 1) - 1;
    if (left > 0) held.set(key, left);
    else held.delete(key);
  };
  return {
    /** Sends a refusal for `key` after TARPIT_MS, or at once when the share already has TARPIT_PER_SHARE held. */
    refuse(key: string, res: HttpResponse, send: () => void) {
      const count = held.get(key) ?? 0;
      if (count >= TARPIT_PER_SHARE) return send();
      held.set(key, count + 1);
      const gone = () => {
        clearTimeout(timer);
        leave(key);
      };
      const timer = setTimeout(() => {
        res.off("close", gone);
        leave(key);
        if (!res.destroyed) send();
      }, TARPIT_MS);
      res.once("close", gone);
    },
  };
}

/** `bodyLimitBytes`: a larger body is refused (413) without being parsed, so it costs no units for its size. */
export function makeFairShare(limits: Config["fairShare"], bodyLimitBytes: number) {
  const shares = new Map<string, Share>();
  const work = makeWorkBudget(limits);
  const tarpit = makeTarpit();

  /** Gives the slot back: to the next waiting request of the share, or frees it. */
  const release = (key: string, share: Share) => {
    const next = share.waiting.shift();
    if (next) return next();
    share.running -= 1;
    if (share.running === 0) shares.delete(key);
  };

  /** `chargeResponse`: whether the response's bytes cost units (not for exports, which have caps of their own and pass text through). */
  const share = (chargeResponse: boolean): Handler => (req, res, next) => {
    const key = shareKey(req);
    const declared = Number(req.headers["content-length"]) || 0;
    const bodyBytes = declared <= bodyLimitBytes ? Math.max(0, declared - FREE_BODY_BYTES) : 0;
    const wait = work.admit(key, 1 + bodyBytes / REQUEST_BYTES_PER_UNIT);
    if (wait) {
      return tarpit.refuse(key, res, () =>
        sendError(res, 429, "RATE_LIMITED", `This tenant's requests are over its rate; retry in ${wait} s.`, { "Retry-After": String(wait) }),
      );
    }
    // The response's bytes are charged when it ends (responses on one socket come one after another).
    if (chargeResponse) {
      const socket = req.socket;
      const written = socket.bytesWritten;
      res.once("close", () => {
        const refused = res.statusCode === 400 ? REFUSED_REQUEST_UNITS : 0;
        work.charge(key, refused + (socket.bytesWritten - written) / RESPONSE_BYTES_PER_UNIT);
      });
    }
    let found = shares.get(key);
    if (!found) shares.set(key, (found = { running: 0, waiting: [] }));
    const s = found;
    let holding = false;
    const start = () => {
      holding = true;
      res.once("close", () => release(key, s));
      next();
    };
    if (s.running < limits.perTenant) {
      s.running += 1;
      return start();
    }
    // (A refusal without waiting is held like one over the rate: the client is over its share.)
    if (s.waiting.length >= limits.queuePerTenant || limits.queueTimeoutMs === 0) return tarpit.refuse(key, res, () => refuse(res));
    // Wait for a slot handed over by a finishing request (running stays the same).
    const wake = () => {
      clearTimeout(timer);
      res.off("close", gaveUp);
      if (res.destroyed) return release(key, s);
      start();
    };
    const leave = () => {
      const i = s.waiting.indexOf(wake);
      if (i >= 0) s.waiting.splice(i, 1);
    };
    const gaveUp = () => {
      clearTimeout(timer);
      leave();
    };
    const timer = setTimeout(() => {
      res.off("close", gaveUp);
      leave();
      if (!holding) refuse(res);
    }, limits.queueTimeoutMs);
    s.waiting.push(wake);
    res.once("close", gaveUp);
  };

  return { graphql: share(true), export: share(false) };
}

function refuse(res: HttpResponse) {
  sendError(res, 429, "TENANT_BUSY", "Too many requests of this tenant are running; retry shortly.", { "Retry-After": "1" });
}

/**
 * The rows running requests may ask for (their row budget, see
 * server/request-budget.ts), server-wide and per share. A request whose
 * rows do not fit waits (up to `queueTimeoutMs`) for running ones to give
 * theirs back; then it is refused: 429 TENANT_BUSY when its tenant's running
 * requests hold `rowsInFlightPerTenant`, 503 BUSY when all running requests
 * hold `rowsInFlight`. This bounds what the server holds in memory at once,
 * whatever the number of tenants asking.
 */
export function makeRowShare(limits: Pick<Config["fairShare"], "rowsInFlight" | "rowsInFlightPerTenant" | "queueTimeoutMs">) {
  type Release = () => void;
  type Refusal = "tenant" | "server";
  const held = new Map<string, number>();
  let total = 0;
  const waiting: { key: string; rows: number; grant: (outcome: Release | Refusal) => void }[] = [];
  const refusal = (key: string, rows: number): Refusal | undefined =>
    (held.get(key) ?? 0) + rows > limits.rowsInFlightPerTenant ? "tenant" : total + rows > limits.rowsInFlight ? "server" : undefined;

  const hold = (key: string, rows: number): Release => {
    held.set(key, (held.get(key) ?? 0) + rows);
    total += rows;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      total -= rows;
      const left = (held.get(key) ?? rows) - rows;
      if (left > 0) held.set(key, left);
      else held.delete(key);
      // Rows came free: start the waiting requests that now fit, in order.
      for (const w of [...waiting]) {
        if (refusal(w.key, w.rows)) continue;
        waiting.splice(waiting.indexOf(w), 1);
        w.grant(hold(w.key, w.rows));
      }
    };
  };

  return {
    /** Takes `rows` for `key`: a function that gives them back, at once or after a wait; or why not. */
    take(key: string, rows: number): Release | Promise<Release | Refusal> {
      if (!refusal(key, rows)) return hold(key, rows);
      return new Promise((resolve) => {
        const entry = {
          key,
          rows,
          grant: (outcome: Release | Refusal) => {
            clearTimeout(timer);
            resolve(outcome);
          },
        };
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(entry), 1);
          resolve(refusal(key, rows) ?? "server");
        }, limits.queueTimeoutMs);
        waiting.push(entry);
      });
    },
  };
}
