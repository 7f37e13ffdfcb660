// The HTTP plumbing of the GraphQL path, in plain Node: request and response
// types, a middleware chain, the client's address behind trusted proxies,
// and the body reader (size limit, JSON). /graphql runs through these and
// grafserv's Node adaptor, without Express (docs/performance.md says what
// that saves); the other endpoints stay on Express, whose requests and
// responses are also Node's, so the same middleware serves both.
import type { IncomingMessage, ServerResponse } from "node:http";
import { getBodyFromFrameworkBody } from "postgraphile/grafserv";
import { NodeGrafservBase } from "postgraphile/grafserv/node";
import proxyaddr from "proxy-addr";
import type { PgSettings } from "./auth.ts";
import { sendError } from "./errors.ts";

export interface HttpRequest extends IncomingMessage {
  /** Set by the token check from the verified token. */
  pgSettings?: PgSettings;
  /** The client's address (behind trusted proxies, the one they report). */
  ip?: string;
  /** The parsed body: a JSON value, or the text of an application/graphql body. */
  body?: unknown;
}
export type HttpResponse = ServerResponse;
export type Next = (error?: unknown) => void;
/** A middleware in the Connect style that Express uses too: call `next()` to go on, `next(error)` to fail. */
export type Handler = (req: HttpRequest, res: HttpResponse, next: Next) => unknown;
export type ErrorHandler = (error: unknown, req: HttpRequest, res: HttpResponse) => void;

/** Runs `handlers` in order; an error (thrown, rejected or passed to next) goes to `onError`. */
export function chain(handlers: Handler[], onError: ErrorHandler): (req: HttpRequest, res: HttpResponse) => void {
  return (req, res) => {
    let i = 0;
    const next: Next = (error) => {
      if (error !== undefined) return onError(error, req, res);
      const handler = handlers[i++];
      if (!handler) return;
      try {
        const result = handler(req, res, next);
        if (result instanceof Promise) result.catch((e) => onError(e ?? new Error("rejected"), req, res));
      } catch (e) {
        onError(e, req, res);
      }
    };
    next();
  };
}

/**
 * The client's address as Express's `trust proxy` setting computes it
 * (common/config.ts TRUST_PROXY: false, a number of hops, or addresses and
 * subnets), through the same package Express uses.
 */
export function makeClientAddress(trustProxy: boolean | number | string): (req: IncomingMessage) => string {
  const trust: (address: string, hop: number) => boolean =
    typeof trustProxy === "number"
      ? (_address, hop) => hop < trustProxy
      : typeof trustProxy === "string"
        ? proxyaddr.compile(trustProxy.split(",").map((s) => s.trim()))
        : () => trustProxy;
  return (req) => proxyaddr(req, trust);
}

/** Sets `req.ip` (what Express gives its handlers; the fair share and the rate limits read it). */
export function clientAddress(trustProxy: boolean | number | string): Handler {
  const addressOf = makeClientAddress(trustProxy);
  return (req, _res, next) => {
    req.ip = addressOf(req);
    next();
  };
}

const JSON_TYPE = /^application\/json\s*(;|$)/i;
const GRAPHQL_TYPE = /^application\/graphql\s*(;|$)/i;

/**
 * Reads a JSON or application/graphql body of at most `limit` bytes into
 * `req.body` (as Express's json and text parsers did): 413 TOO_LARGE past the
 * limit (by Content-Length before reading, or while reading), 400
 * BAD_REQUEST for JSON that does not parse or is not an object or array, 415
 * for a compressed body. Other content types are left to grafserv, which
 * refuses them.
 */
export function readBody(limit: number): Handler {
  return (req, res, next) => {
    const type = req.headers["content-type"] ?? "";
    const json = JSON_TYPE.test(type);
    if (!json && !GRAPHQL_TYPE.test(type)) return next();
    const encoding = req.headers["content-encoding"];
    if (encoding !== undefined && encoding.toLowerCase() !== "identity") {
      return refuse(req, res, 415, "UNSUPPORTED_MEDIA_TYPE", "A compressed request body is not accepted.");
    }
    if (Number(req.headers["content-length"]) > limit) return refuse(req, res, 413, "TOO_LARGE", "The request body is too large.");
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length > limit) {
        cleanup();
        return refuse(req, res, 413, "TOO_LARGE", "The request body is too large.");
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      const text = Buffer.concat(chunks, length).toString("utf8");
      if (!json) {
        req.body = text;
        return next();
      }
      // An empty body is an empty object, as Express's JSON parser had it (grafserv then says what is missing).
      let parsed: unknown = {};
      try {
        if (text.trim() !== "") parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      if (parsed === null || typeof parsed !== "object") return refuse(req, res, 400, "BAD_REQUEST", "The request body is not valid JSON.");
      req.body = parsed;
      next();
    };
    const onError = (error: Error) => {
      cleanup();
      next(error);
    };
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  };
}

/** Answers before the body is read to its end: the connection closes after the answer, so that the unread rest is not taken for the next request. */
function refuse(req: HttpRequest, res: HttpResponse, status: number, code: string, message: string) {
  if (!req.complete) res.setHeader("Connection", "close");
  sendError(res, status, code, message);
}

/**
 * grafserv's plain Node adaptor, reading the body that `readBody` parsed
 * (as its Express adaptor reads Express's) instead of the stream. A custom
 * adaptor is grafserv's documented way to serve from another framework:
 * subclass the base and give it the request's digest.
 */
export class NodeGrafservWithBody extends NodeGrafservBase {
  protected override getDigest(dynamicOptions: Parameters<NodeGrafservBase["getDigest"]>[0], req: HttpRequest, res: HttpResponse, isHTTPS: boolean) {
    const digest = super.getDigest(dynamicOptions, req, res, isHTTPS);
    if (req.body === undefined) return digest;
    const body = req.body;
    return { ...digest, getBody: () => getBodyFromFrameworkBody(body) };
  }

  /** The request handler; `next` is called for a request grafserv does not serve (another path). */
  handler(): (req: HttpRequest, res: HttpResponse, next: (error?: Error) => void) => void {
    return this._createHandler();
  }
}
