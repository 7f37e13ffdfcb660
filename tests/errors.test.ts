// How errors are masked (server/errors.ts), for the cases the wire tests
// cannot stage on demand: a socket's error whose code looks like one of our
// five-capital-letter application codes.
import { GraphQLError } from "graphql";
import { describe, expect, it, vi } from "vitest";
import { makeMaskError } from "../server/errors.ts";

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

  it("an application code raised in SQL (CREDS) passes through with its message", () => {
    const error = masked(Object.assign(new Error("Wrong email or password."), { code: "CREDS", severity: "ERROR" }));
    expect(error.extensions).toEqual({ code: "CREDS" });
    expect(error.message).toBe("Wrong email or password.");
  });
});
