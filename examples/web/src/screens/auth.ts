// Signing up a tenant, logging in, accepting an invitation: each returns the
// session's first tokens, stored by session.save(). (Password recovery and
// email verification: recovery.ts.)
import { client } from "../client.ts";
import { AcceptInvitation, CreateTenant, Login } from "../documents.ts";
import { refreshWithCookie } from "../refresh-cookie.ts";
import * as session from "../session.ts";
import { field, form, h, showError } from "../ui.ts";

type TokenResult = { accessToken?: string | null; refreshToken?: string | null } | null | undefined;

/**
 * Starts the session with the tokens a sign-up, login or acceptance
 * returned; false when there are none. In cookie mode the refresh token goes
 * straight to /auth/refresh, which moves it into the HttpOnly cookie.
 */
async function start(tokens: TokenResult): Promise<boolean> {
  if (!tokens?.accessToken || !tokens.refreshToken) return false;
  if (session.REFRESH_COOKIE) {
    const outcome = await refreshWithCookie(tokens.refreshToken);
    if (!("tokens" in outcome)) return false;
    await session.save(outcome.tokens);
  } else {
    await session.save({ accessToken: tokens.accessToken, refreshToken: tokens.refreshToken });
  }
  location.hash = "#/tasks";
  return true;
}

export function signUp(): HTMLElement {
  return h(
    "section",
    { "data-testid": "signup-screen" },
    h("h1", {}, "Create your organisation"),
    form(
      "signup-form",
      async (v) => {
        const result = await client.mutation(CreateTenant, { slug: v.slug, name: v.name, adminEmail: v.email, adminPassword: v.password });
        if (!(await start(result.data?.createTenant?.result))) showError(result.error ?? "Sign-up failed.");
      },
      field("Organisation name", "name"),
      field("Address (slug)", "slug", { pattern: "[a-z0-9\\-]+" }),
      field("Your email", "email", { type: "email" }),
      field("Password", "password", { type: "password", minlength: "8" }),
      h("button", { type: "submit" }, "Create organisation"),
    ),
    h("p", {}, "Already have an account? ", h("a", { href: "#/login" }, "Log in")),
  );
}

/** Messages the login screen shows when another screen sends the user there (`#/login?notice=…`). */
const NOTICES: Record<string, string> = {
  "password-reset": "Your password was changed, and every session of your account ended. Log in with the new password.",
};

export function logIn(params: URLSearchParams): HTMLElement {
  const notice = NOTICES[params.get("notice") ?? ""];
  return h(
    "section",
    { "data-testid": "login-screen" },
    h("h1", {}, "Log in"),
    notice && h("p", { class: "notice", "data-testid": "notice" }, notice),
    form(
      "login-form",
      async (v) => {
        const result = await client.mutation(Login, { tenantSlug: v.slug, email: v.email, password: v.password });
        if (!(await start(result.data?.login?.result))) showError(result.error ?? "Login failed.");
      },
      field("Organisation (slug)", "slug"),
      field("Email", "email", { type: "email" }),
      field("Password", "password", { type: "password" }),
      h("button", { type: "submit" }, "Log in"),
    ),
    h("p", {}, h("a", { href: "#/forgot", "data-testid": "forgot-link" }, "Forgot password?")),
    h("p", {}, "New here? ", h("a", { href: "#/signup" }, "Create an organisation")),
  );
}

export function acceptInvitation(params: URLSearchParams): HTMLElement {
  return h(
    "section",
    { "data-testid": "accept-screen" },
    h("h1", {}, "Join your team"),
    form(
      "accept-form",
      async (v) => {
        const result = await client.mutation(AcceptInvitation, { token: v.token, name: v.name, password: v.password });
        if (!(await start(result.data?.acceptInvitation?.result))) showError(result.error ?? "The invitation could not be accepted.");
      },
      field("Invitation token", "token", { value: params.get("token") ?? "" }),
      field("Your name", "name"),
      field("Choose a password", "password", { type: "password", minlength: "8" }),
      h("button", { type: "submit" }, "Join"),
    ),
  );
}
