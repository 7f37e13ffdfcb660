// Members: who is in the tenant; admins invite by email. The invitation's
// token is shown once (the API never returns it again) with the link that
// accepts it.
import { client } from "../client.ts";
import { InviteUser, Members } from "../documents.ts";
import type { UserRole } from "../gql/graphql.ts";
import { field, form, h, select, showError } from "../ui.ts";

const ROLES: Record<UserRole, string> = { MEMBER: "Member", ADMIN: "Admin" };

export function members(): HTMLElement {
  const list = h("ul", { "data-testid": "member-list" });
  const invitation = h("div", { "data-testid": "invitation", hidden: true });

  async function load() {
    const result = await client.query(Members, {});
    if (!result.data?.users) return showError(result.error ?? "The members could not be read.");
    list.replaceChildren(
      ...result.data.users.nodes
        .filter((u) => u !== null)
        .map((u) => h("li", { "data-testid": "member" }, `${u.name} <${u.email}> `, h("span", { class: "role" }, ROLES[u.role]))),
    );
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
  return h("section", { "data-testid": "members-screen" }, h("h1", {}, "Members"), list, h("h2", {}, "Invite someone"), invite, invitation);
}
