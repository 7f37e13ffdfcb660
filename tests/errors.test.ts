// How errors are masked (server/errors.ts), for the cases the wire tests
// cannot stage on demand: a socket's error whose code looks like one of our
// five-capital-letter application codes; and the one vocabulary: every code
// the server writes is in server/error-catalog.ts (generated/ERRORS.md).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { GraphQLError } from "graphql";
import { describe, expect, it, vi } from "vitest";
import { ROOT_DIR } from "../db/migrate.ts";
import { renderErrorsMarkdown, SERVER_ERROR_CODES } from "../server/error-catalog.ts";
import { withClientCodes } from "../server/error-descriptions.ts";
import { BY_SQLSTATE, makeMaskError, SQL_ERROR_CODES } from "../server/errors.ts";

const masked = (original: Error) => makeMaskError(false)(new GraphQLError(original.message, { originalError: original }));
const socketError = (code: string, syscall: string) => Object.assign(new Error(`${syscall} ${code}`), { code, syscall, errno: -32 });

describe("masking errors in production", () => {
  it("a broken connection to the database (EPIPE on write) is UNAVAILABLE, and the server hears of it", () => {
    const onUnavailable = vi.fn();
    const error = makeMaskError(false, onUnavailable)(new GraphQLError("write EPIPE", { originalError: socketError("EPIPE", "write") }));
    expect(error.extensions).toEqual({ code: "UNAVAILABLE" });
    expect(onUnavailable).toHaveBeenCalledOnce();
  });

  it("another socket error with a five-letter code (EPERM) is INTERNAL, not passed through as an application code", () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const error = masked(socketError("EPERM", "connect"));
    expect(error.extensions.code).toBe("INTERNAL");
    expect(error.message).not.toContain("EPERM");
  });

  it("an application code raised in SQL (CREDS) reaches the client as its word (INVALID_CREDENTIALS), with its message", () => {
    const error = masked(Object.assign(new Error("Wrong email or password."), { code: "CREDS", severity: "ERROR" }));
    expect(error.extensions).toEqual({ code: "INVALID_CREDENTIALS" });
    expect(error.message).toBe("Wrong email or password.");
  });

  it("a five-letter code SQL_ERROR_CODES does not name passes through as it is (npm run generate refuses to document it)", () => {
    expect(masked(Object.assign(new Error("Test only."), { code: "TESTN", severity: "ERROR" })).extensions).toEqual({ code: "TESTN" });
    expect(() => renderErrorsMarkdown([{ sqlState: "TESTN", messages: ["Test only."], functions: ["knock"], triggerTables: [] }])).toThrow(/TESTN/);
  });
});

describe("one vocabulary: words", () => {
  const words = [...Object.values(SQL_ERROR_CODES), ...Object.keys(SERVER_ERROR_CODES)];

  it("every code clients see is a word in SCREAMING_CASE, and each SQL code has its own", () => {
    // Not five capitals: that is what SQLSTATEs look like.
    for (const word of words) expect(word).toMatch(/^(?![A-Z]{5}$)[A-Z]+(_[A-Z]+)*$/);
    expect(new Set(Object.values(SQL_ERROR_CODES)).size).toBe(Object.keys(SQL_ERROR_CODES).length);
    for (const { code } of Object.values(BY_SQLSTATE)) expect(SERVER_ERROR_CODES[code], code).toBeDefined();
  });

  it("every code written in server/ is in server/error-catalog.ts", () => {
    const dir = join(ROOT_DIR, "server");
    const written = new Set<string>();
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts") && f !== "error-catalog.ts")) {
      const text = readFileSync(join(dir, file), "utf8");
      // `code: "X"`, sendError(res, 4xx, "X", …), refusal("X", …), limitError(…, "X", …), new AuthError("X", …)
      for (const m of text.matchAll(/\bcode: "([A-Z][A-Z_]+)"|sendError\(res, \d+, "([A-Z_]+)"|refusal\("([A-Z_]+)"|limitError\([^;]*?"([A-Z_]+)", context\)|AuthError\("([A-Z_]+)"/g)) {
        written.add(m.slice(1).find(Boolean)!);
      }
    }
    expect(written.size).toBeGreaterThan(15);
    const missing = [...written].filter((code) => !words.includes(code));
    expect(missing).toEqual([]);
  });

  it("the API's descriptions name SQL errors by their words", () => {
    expect(withClientCodes("Errors: CREDS, LOCKD. Admins only (42501 otherwise).")).toBe("Errors: INVALID_CREDENTIALS, LOGIN_LOCKED. Admins only (FORBIDDEN otherwise).");
    expect(withClientCodes("CREDSX and XCREDS stay")).toBe("CREDSX and XCREDS stay");
  });
});
