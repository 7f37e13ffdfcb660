// The security functions that must record a failure (a wrong password, a
// reused refresh token) cannot raise: raising would roll the record back
// with the request. They return null instead, and say in their comment which
// error that null stands for: `@nullError CODE message`. This plugin turns
// the null result of every mutation built from such a function into that
// error, after the function's transaction has committed. (Graphile Starter
// does the same for its login.)
import { sideEffect } from "postgraphile/grafast";
import { wrapPlans } from "postgraphile/utils";
import { taggedMutations } from "./function-tags.ts";

/** Application codes are five capital letters, like the SQLSTATEs raised on purpose, so that maskError passes them through. */
const CODE = /^[A-Z]{5}$/;

/** Reads `@nullError CODE message`; throws when it is not that. */
function parseNullError(value: string): { code: string; message: string } {
  const [, code, message] = value.match(/^(\S+)\s+(.+)$/) ?? [];
  if (!code || !CODE.test(code) || !message) throw new Error(`@nullError must be a code of five capital letters and a message, got "${value}"`);
  return { code, message };
}

/** An error whose code passes through maskError like a five-letter SQLSTATE. */
class ApplicationError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export const NullResultErrorsPlugin = wrapPlans(
  (build) => ({
    Mutation: Object.fromEntries(
      taggedMutations(build, "nullError", parseNullError).map(({ fieldName, value: { code, message } }) => [
        fieldName,
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
  }),
  { name: "NullResultErrorsPlugin" },
);
