// The app: a hash router over the screens, and the header of a signed-in user.
import "./style.css";
import { client } from "./client.ts";
import { Logout, Me } from "./documents.ts";
import { logoutWithCookie } from "./refresh-cookie.ts";
import * as session from "./session.ts";
import { acceptInvitation, logIn, signUp } from "./screens/auth.ts";
import * as linkToken from "./link-token.ts";
import { members } from "./screens/members.ts";
import { forgotPassword, resetPassword, verifyEmail } from "./screens/recovery.ts";
import { tasks } from "./screens/tasks.ts";
import { h, showError } from "./ui.ts";

const PUBLIC: Record<string, (params: URLSearchParams) => HTMLElement> = {
  "/signup": signUp,
  "/login": logIn,
  "/accept": acceptInvitation,
  "/forgot": forgotPassword,
  "/reset": resetPassword,
  "/verify": verifyEmail,
};
/** Public screens that a signed-in user may open too (the links of emails). */
const ANY_SESSION = new Set(["/accept", "/reset", "/verify"]);
const SIGNED_IN: Record<string, () => HTMLElement> = { "/tasks": tasks, "/members": members };

const root = document.querySelector<HTMLElement>("#app")!;

// The API's invitation emails link to PUBLIC_URL/accept-invitation?token=…
// (and the members screen shows the same link): that is the acceptance
// screen. The token leaves the address bar (and the history) at once.
if (location.pathname === `${import.meta.env.BASE_URL}accept-invitation`) {
  const token = new URLSearchParams(location.search).get("token") ?? "";
  history.replaceState(null, "", `${import.meta.env.BASE_URL}#/accept?token=${encodeURIComponent(token)}`);
}
// The password-reset and verification emails link to
// PUBLIC_URL/reset-password?token=… and PUBLIC_URL/verify-email?token=…:
// their token goes to the tab's sessionStorage (src/link-token.ts) and
// leaves the address bar and the history entirely.
const EMAIL_LINKS: Record<string, string> = { "reset-password": "/reset", "verify-email": "/verify" };
const emailLink = EMAIL_LINKS[location.pathname.slice(import.meta.env.BASE_URL.length)];
if (emailLink) {
  linkToken.keep(emailLink, new URLSearchParams(location.search).get("token") ?? "");
  history.replaceState(null, "", `${import.meta.env.BASE_URL}#${emailLink}`);
}

async function logOut() {
  const tokens = session.load();
  // The session ends on the server too; the tokens go whatever the answer.
  if (session.REFRESH_COOKIE) await logoutWithCookie();
  else if (tokens?.refreshToken) await client.mutation(Logout, { refreshToken: tokens.refreshToken });
  await session.clear();
}

function header(): HTMLElement {
  const who = h("span", { "data-testid": "who" });
  void client.query(Me, {}).then((result) => {
    if (result.data?.currentUser && result.data.currentTenant) {
      who.textContent = `${result.data.currentUser.email} · ${result.data.currentTenant.name}`;
    } else showError(result.error);
  });
  return h(
    "header",
    {},
    h("nav", {}, h("a", { href: "#/tasks" }, "Tasks"), h("a", { href: "#/members" }, "Members")),
    who,
    h("button", { type: "button", "data-testid": "logout", onclick: () => void logOut() }, "Log out"),
  );
}

function render() {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const signedIn = session.load() !== null;
  showError(undefined);
  if (path in SIGNED_IN && signedIn) {
    root.replaceChildren(header(), SIGNED_IN[path]());
  } else if (path in PUBLIC && !(signedIn && !ANY_SESSION.has(path))) {
    root.replaceChildren(PUBLIC[path](new URLSearchParams(query)));
  } else {
    const target = signedIn ? "#/tasks" : "#/login";
    if (location.hash === target) return;
    location.hash = target; // renders through hashchange
  }
}

window.addEventListener("hashchange", render);
// Logged in or out here or in another tab: show the matching screen.
let wasSignedIn = session.load() !== null;
session.onChange(() => {
  const signedIn = session.load() !== null;
  if (signedIn !== wasSignedIn) {
    wasSignedIn = signedIn;
    render();
  }
});
render();
