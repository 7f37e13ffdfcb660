// Account recovery and email verification, the screens behind the links of
// the API's emails: asking for a reset link, setting a new password with it,
// and proving an email address.
import { client, errorCode } from "../client.ts";
import { ForgotPassword, ResetPassword, VerifyEmail } from "../documents.ts";
import * as linkToken from "../link-token.ts";
import * as session from "../session.ts";
import { field, form, h, showError } from "../ui.ts";

/** The API's code for an unknown, used or expired reset or verification token (generated/ERRORS.md). */
const INVALID_ACCOUNT_TOKEN = "INVALID_ACCOUNT_TOKEN";

/**
 * Asks for a reset link. The answer is the same whether or not the account
 * exists (the API always says true), so the screen never tells.
 */
export function forgotPassword(): HTMLElement {
  const sent = h("p", { "data-testid": "forgot-sent", hidden: true });
  const request = form(
    "forgot-form",
    async (v) => {
      const result = await client.mutation(ForgotPassword, { tenantSlug: v.slug, email: v.email });
      // Only a refused request (bad input, rate limit, no network) is shown as an error.
      if (result.error) return showError(result.error);
      request.hidden = true;
      sent.hidden = false;
      sent.textContent = `If an account exists for ${v.email} in “${v.slug}”, we sent it a link to set a new password. The link works once, for an hour.`;
    },
    field("Organisation (slug)", "slug"),
    field("Email", "email", { type: "email" }),
    h("button", { type: "submit" }, "Send me a link"),
  );
  return h(
    "section",
    { "data-testid": "forgot-screen" },
    h("h1", {}, "Forgot your password?"),
    request,
    sent,
    h("p", {}, h("a", { href: "#/login" }, "Back to log in")),
  );
}

/** A new password with the token of a reset email; then log in again (every session of the user ended). */
export function resetPassword(): HTMLElement {
  const token = linkToken.read("/reset");
  const invalid = h(
    "p",
    { "data-testid": "reset-invalid", hidden: true },
    "This link is no longer valid: it was used already, it expired (after an hour), or it is incomplete. ",
    h("a", { href: "#/forgot" }, "Ask for a new link"),
    ".",
  );
  const reset = form(
    "reset-form",
    async (v) => {
      const result = await client.mutation(ResetPassword, { token, newPassword: v.password });
      if (result.data?.resetPassword?.result) {
        linkToken.forget("/reset");
        // The API ended every session of the user; this tab's one too.
        if (session.load()) await session.clear();
        location.hash = "#/login?notice=password-reset";
      } else if (errorCode(result.error) === INVALID_ACCOUNT_TOKEN) {
        linkToken.forget("/reset");
        reset.hidden = true;
        invalid.hidden = false;
      } else showError(result.error ?? "The password could not be changed.");
    },
    field("New password", "password", { type: "password", minlength: "8", autocomplete: "new-password" }),
    h("button", { type: "submit" }, "Set password"),
  );
  if (!token) {
    reset.hidden = true;
    invalid.hidden = false;
  }
  return h("section", { "data-testid": "reset-screen" }, h("h1", {}, "Choose a new password"), reset, invalid);
}

/** Proves the email address with the token of a verification email, at once; logged in or not. */
export function verifyEmail(): HTMLElement {
  const token = linkToken.read("/verify");
  const outcome = h("p", { "data-testid": "verify-outcome" }, "Checking the link…");
  const next = h("a", { href: session.load() ? "#/members" : "#/login" }, session.load() ? "Back to the app" : "Log in");
  void (async () => {
    const result = token ? await client.mutation(VerifyEmail, { token }) : undefined;
    if (result?.data?.verifyEmail?.result) {
      linkToken.forget("/verify");
      outcome.dataset.result = "verified";
      outcome.textContent = "Your email address is verified. Thank you.";
    } else if (!result || errorCode(result.error) === INVALID_ACCOUNT_TOKEN) {
      linkToken.forget("/verify");
      outcome.dataset.result = "invalid";
      outcome.textContent = "This link is no longer valid: it was used already, it expired (after 24 hours), or it is incomplete. Send a new one from the Members screen.";
    } else {
      outcome.dataset.result = "failed";
      outcome.textContent = "The address could not be verified.";
      showError(result.error);
    }
  })();
  return h("section", { "data-testid": "verify-screen" }, h("h1", {}, "Email verification"), outcome, h("p", {}, next));
}
