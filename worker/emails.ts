// The emails the application sends, rendered from a send_email job's
// payload (queued in SQL by app_private.queue_email: a template name, the
// recipient, and the template's data). Pure: no I/O. Links start with
// PUBLIC_URL (common/config.ts).

export interface Email {
  to: string;
  subject: string;
  text: string;
  /** The link the email is about (printed when emails go to the outbox folder). */
  link: string;
}

type Data = Record<string, unknown>;

const str = (data: Data, key: string): string => {
  const value = data[key];
  if (typeof value !== "string" || value === "") throw new Error(`send_email: the payload lacks "${key}"`);
  return value;
};
const opt = (data: Data, key: string, fallback: string) => (typeof data[key] === "string" && data[key] ? (data[key] as string) : fallback);

const link = (publicUrl: string, path: string, token: string) => `${publicUrl}/${path}?token=${encodeURIComponent(token)}`;

const TEMPLATES: Record<string, (data: Data, publicUrl: string) => Omit<Email, "to">> = {
  password_reset(data, publicUrl) {
    const url = link(publicUrl, "reset-password", str(data, "token"));
    return {
      subject: `Reset your password for ${opt(data, "tenant_name", "your account")}`,
      link: url,
      text: [
        `Hello ${opt(data, "name", "")},`.replace(" ,", ","),
        "",
        `Someone (we hope you) asked to reset the password of your account in ${opt(data, "tenant_name", "")} (${opt(data, "tenant_slug", "")}).`,
        "To choose a new password, open this link within the hour:",
        "",
        url,
        "",
        "The link works once. Every session of your account ends when you use it.",
        "If you did not ask for this, ignore this email: your password stays as it is.",
      ].join("\n"),
    };
  },
  email_verification(data, publicUrl) {
    const url = link(publicUrl, "verify-email", str(data, "token"));
    return {
      subject: `Confirm your email address for ${opt(data, "tenant_name", "your account")}`,
      link: url,
      text: [
        `Hello ${opt(data, "name", "")},`.replace(" ,", ","),
        "",
        `To confirm that this address belongs to your account in ${opt(data, "tenant_name", "")} (${opt(data, "tenant_slug", "")}), open this link within 24 hours:`,
        "",
        url,
        "",
        "If you did not ask for this, ignore this email.",
      ].join("\n"),
    };
  },
  invitation(data, publicUrl) {
    const url = link(publicUrl, "accept-invitation", str(data, "token"));
    const tenant = opt(data, "tenant_name", "a team");
    return {
      subject: `You are invited to join ${tenant}`,
      link: url,
      text: [
        "Hello,",
        "",
        `${opt(data, "inviter_name", "An admin")} invites you to join ${tenant} (${opt(data, "tenant_slug", "")}) as ${opt(data, "role", "member")}.`,
        "To accept, open this link within 7 days and choose your name and password:",
        "",
        url,
        "",
        "If you do not know why you got this, ignore this email.",
      ].join("\n"),
    };
  },
};

/** The email a send_email payload describes; throws for an unknown template or a missing field. */
export function renderEmail(payload: unknown, publicUrl: string): Email {
  const data = (payload ?? {}) as Data;
  const template = str(data, "template");
  const render = Object.hasOwn(TEMPLATES, template) ? TEMPLATES[template] : undefined;
  if (!render) throw new Error(`send_email: unknown template "${template}"`);
  return { to: str(data, "to"), ...render(data, publicUrl) };
}
