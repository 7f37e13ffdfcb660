// The security functions that must record a failure (a wrong password, a
// reused refresh token) cannot raise: raising would roll the record back
// with the request. They return null instead, and this plugin turns that
// null into the error the client sees, after the function's transaction has
// committed. (Graphile Starter does the same for its login.)
import { sideEffect } from "postgraphile/grafast";
import { wrapPlans } from "postgraphile/utils";

/** Mutation field → the error its null result stands for (codes as docs/api.md, "Errors", lists them). */
export const NULL_RESULT_ERRORS: Readonly<Record<string, { code: string; message: string }>> = {
  login: { code: "CREDS", message: "Incorrect tenant, email or password." },
  operatorLogin: { code: "CREDS", message: "Incorrect email or password." },
  refresh: { code: "BADRT", message: "The refresh token is not valid (unknown, used, revoked or expired); log in again." },
};

/** An error whose code passes through maskError like a five-letter SQLSTATE. */
class ApplicationError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export const NullResultErrorsPlugin = wrapPlans(
  {
    Mutation: Object.fromEntries(
      Object.entries(NULL_RESULT_ERRORS).map(([field, { code, message }]) => [
        field,
        (plan) => {
          const $payload = plan();
          // Steps planned after a side effect depend on it: the payload's
          // fields fail with this error when the result is null.
          sideEffect($payload.get("result"), (result) => {
            if (result == null) throw new ApplicationError(code, message);
          });
          return $payload;
        },
      ]),
    ),
  },
  { name: "NullResultErrorsPlugin" },
);
