// Members: who is in the tenant and whose email address is verified; admins
// invite by email. The invitation's token is shown once (the API never
// returns it again) with the link that accepts it. A user whose own address
// is not verified yet can ask for the verification email here.
import { client } from "../client.ts";
import { InviteUser, Me, Members, SendVerificationEmail } from "../documents.ts";
import type { UserRole } from "../gql/graphql.ts";
import { field, form, h, select, showError } from "../ui.ts";

const ROLES: Record<UserRole, string> = { MEMBER: "Member", ADMIN: "Admin" };

export function members(): HTMLElement {
  const list = h("ul", { "data-testid": "member-list" });
  const invitation = h("div", { "data-testid": "invitation", hidden: true });
  const verification = h("div", { "data-testid": "verification", hidden: true });

  async function load() {
    const [result, me] = await Promise.all([client.query(Members, {}), client.query(Me, {})]);
    if (!result.data?.users) return showError(result.error ?? "The members could not be read.");
    list.replaceChildren(
      ...result.data.users.nodes
        .filter((u) => u !== null)
        .map((u) =>
          h(
            "li",
            { "data-testid": "member" },
            `${u.name} <${u.email}> `,
            h("span", { class: "role" }, ROLES[u.role]),
            " ",
            h(
              "span",
              { class: u.emailVerifiedAt ? "verified" : "unverified", "data-testid": "member-verified", title: u.emailVerifiedAt ? `since ${new Date(u.emailVerifiedAt).toLocaleString()}` : "" },
              u.emailVerifiedAt ? "verified" : "not verified",
            ),
          ),
        ),
    );
    const user = me.data?.currentUser;
    verification.hidden = !user || user.emailVerifiedAt !== null;
    if (user && !user.emailVerifiedAt) verification.replaceChildren(h("p", {}, `Your address ${user.email} is not verified yet.`), sendVerification(user.email));
  }

  /** The button that emails the current user a verification link. */
  function sendVerification(email: string): HTMLElement {
    const outcome = h("p", { "data-testid": "verification-outcome", hidden: true });
    const button = h("button", { type: "button", "data-testid": "send-verification" }, "Send verification email");
    button.addEventListener("click", async () => {
      button.disabled = true;
      showError(undefined);
      const result = await client.mutation(SendVerificationEmail, {});
      button.disabled = false;
      const sent = result.data?.sendVerificationEmail?.result;
      if (sent === undefined || sent === null) return showError(result.error ?? "The email could not be sent.");
      outcome.hidden = false;
      outcome.textContent = sent
        ? `We sent a link to ${email}; it works once, for 24 hours.`
        : "No email was sent: the address is verified already, or three went out within the hour. Try again later.";
    });
    return h("div", {}, button, outcome);
  }

  const invite = form(
    "invite-form",
    async (v, element) => {
      const result = await client.mutation(InviteUser, { email: v.email, role: v.role as UserRole });
      const created = result.data?.inviteUser?.result;
      if (!created?.token) return showError(result.error ?? "The invitation could not be sent.");
      // The link the API's invitation email carries too (PUBLIC_URL = this app's address).
      const link = new URL(`accept-invitation?token=${encodeURIComponent(created.token)}`, location.origin + import.meta.env.BASE_URL).href;
      invitation.hidden = false;
      invitation.replaceChildren(
        h("p", {}, `Invitation for ${v.email}, sent by email. The link is also shown here, only now; it works once, until ${new Date(created.expiresAt ?? "").toLocaleDateString()}.`),
        h("input", { readonly: true, value: link, "data-testid": "invitation-link" }),
      );
      element.reset();
    },
    field("Email", "email", { type: "email" }),
    select("Role", "role", Object.entries(ROLES) as [UserRole, string][]),
    h("button", { type: "submit" }, "Invite"),
  );

  void load();
  return h("section", { "data-testid": "members-screen" }, h("h1", {}, "Members"), verification, list, h("h2", {}, "Invite someone"), invite, invitation);
}
