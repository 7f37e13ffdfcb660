// Token verification (server/auth.ts) and its memory of verified tokens: a
// token seen before is taken without verifying its signature again, but only
// the exact same text, only while unexpired, and only a bounded number.
import jwt from "jsonwebtoken";
import { createSecretKey, randomUUID } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeAuthenticator } from "../server/auth.ts";
import { ROLES } from "../common/roles.ts";

const jwtConfig = { secret: "s".repeat(32), audience: "mts-test", issuer: "mts-test", expiresInSeconds: 60 };
const key = createSecretKey(Buffer.from(jwtConfig.secret, "utf8"));

function token(claims: Record<string, unknown> = {}, expiresIn = 60) {
  const userId = randomUUID();
  return jwt.sign(
    { role: "member", sub: userId, user_id: userId, tenant_id: randomUUID(), session_id: randomUUID(), operator_id: null, ...claims },
    jwtConfig.secret,
    { algorithm: "HS256", audience: jwtConfig.audience, issuer: jwtConfig.issuer, expiresIn },
  );
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("verifying tokens, and remembering the verified ones", () => {
  it("a token presented again is not verified again, and gets the same settings", () => {
    const verify = vi.spyOn(jwt, "verify");
    const settingsFor = makeAuthenticator(jwtConfig, key);
    const t = token();
    const first = settingsFor(`Bearer ${t}`);
    expect(first.role).toBe(ROLES.member);
    expect(settingsFor(`Bearer ${t}`)).toEqual(first);
    expect(verify).toHaveBeenCalledTimes(1);
  });

  it("a remembered token that has since expired is refused with TOKEN_EXPIRED", () => {
    vi.useFakeTimers({ now: new Date("2026-11-26T12:00:00Z") });
    const settingsFor = makeAuthenticator(jwtConfig, key);
    const t = token({}, 60);
    expect(settingsFor(`Bearer ${t}`).role).toBe(ROLES.member);
    vi.setSystemTime(new Date("2026-11-26T12:00:59Z"));
    expect(settingsFor(`Bearer ${t}`).role).toBe(ROLES.member);
    vi.setSystemTime(new Date("2026-11-26T12:01:00Z"));
    expect(() => settingsFor(`Bearer ${t}`)).toThrow(expect.objectContaining({ code: "TOKEN_EXPIRED", status: 401 }));
  });

  it("the same claims with another signature are refused, after the real token was remembered", () => {
    const settingsFor = makeAuthenticator(jwtConfig, key);
    const t = token();
    settingsFor(`Bearer ${t}`);
    const [header, payload, signature] = t.split(".");
    const forged = `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith("AA") ? "BB" : "AA"}`;
    expect(() => settingsFor(`Bearer ${forged}`)).toThrow(expect.objectContaining({ code: "INVALID_TOKEN" }));
    const resigned = jwt.sign(jwt.decode(t) as object, "another secret of 32 characters!", { algorithm: "HS256" });
    expect(() => settingsFor(`Bearer ${resigned}`)).toThrow(expect.objectContaining({ code: "INVALID_TOKEN" }));
  });

  it("a well-signed token with claims we refuse is refused every time, remembered or not", () => {
    const verify = vi.spyOn(jwt, "verify");
    const settingsFor = makeAuthenticator(jwtConfig, key);
    const t = token({ role: "superuser" });
    for (let i = 0; i < 3; i++) expect(() => settingsFor(`Bearer ${t}`)).toThrow(expect.objectContaining({ code: "INVALID_TOKEN" }));
    expect(verify).toHaveBeenCalledTimes(1);
  });

  it("a token that failed verification is not remembered: it is verified, and refused, each time", () => {
    const verify = vi.spyOn(jwt, "verify");
    const settingsFor = makeAuthenticator(jwtConfig, key);
    const expired = token({}, -10);
    for (let i = 0; i < 3; i++) expect(() => settingsFor(`Bearer ${expired}`)).toThrow(expect.objectContaining({ code: "TOKEN_EXPIRED" }));
    expect(verify).toHaveBeenCalledTimes(3);
  });

  it("remembers a bounded number of tokens, forgetting the oldest first", () => {
    const verify = vi.spyOn(jwt, "verify");
    const settingsFor = makeAuthenticator(jwtConfig, key, 2);
    const [a, b, c] = [token(), token(), token()];
    for (const t of [a, b, c]) settingsFor(`Bearer ${t}`);
    expect(verify).toHaveBeenCalledTimes(3);
    settingsFor(`Bearer ${c}`);
    settingsFor(`Bearer ${b}`);
    expect(verify).toHaveBeenCalledTimes(3);
    settingsFor(`Bearer ${a}`);
    expect(verify).toHaveBeenCalledTimes(4);
  });
});
