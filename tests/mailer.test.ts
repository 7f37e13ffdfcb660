// Without SMTP_URL (development and test), each email is written to
// DATA_DIR/emails/ as an .eml file and its link printed; the templates put
// PUBLIC_URL in front of every link and refuse a payload they cannot render.
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../common/config.ts";
import { renderEmail } from "../worker/emails.ts";
import { makeMailer } from "../worker/mailer.ts";

describe("emails without SMTP_URL", () => {
  it("go to DATA_DIR/emails/<time>-<recipient>.eml, and the link is printed", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "mts-mail-"));
    const config = loadConfig({ DATA_DIR: dataDir, PUBLIC_URL: "https://app.example.test" });
    const printed: string[] = [];
    const mailer = makeMailer(config.mail, (m) => printed.push(m));
    const email = renderEmail({ template: "password_reset", to: "bob@acme.test", token: "T.abc", name: "Bob", tenant_name: "Acme", tenant_slug: "acme" }, config.mail.publicUrl);
    await mailer.send(email);
    mailer.close();
    const files = readdirSync(join(dataDir, "emails"));
    expect(files).toEqual([expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d-]+Z-bob@acme\.test\.eml$/)]);
    const eml = readFileSync(join(dataDir, "emails", files[0]), "utf8");
    expect(eml).toMatch(/^To: bob@acme\.test$/m);
    expect(eml).toMatch(/^Subject: Reset your password for Acme$/m);
    expect(printed.join("\n")).toContain("https://app.example.test/reset-password?token=T.abc");
    expect(printed.join("\n")).toContain(join(dataDir, "emails", files[0]));
  });

  it("the templates: each link starts with PUBLIC_URL; an unknown template or a missing token is refused", () => {
    const url = "https://app.example.test";
    expect(renderEmail({ template: "email_verification", to: "a@b.test", token: "T.1" }, url).link).toBe(`${url}/verify-email?token=T.1`);
    expect(renderEmail({ template: "invitation", to: "a@b.test", token: "T.2", role: "admin", tenant_name: "Acme" }, url)).toMatchObject({
      link: `${url}/accept-invitation?token=T.2`,
      subject: "You are invited to join Acme",
    });
    expect(() => renderEmail({ template: "spam", to: "a@b.test", token: "x" }, url)).toThrow(/unknown template "spam"/);
    expect(() => renderEmail({ template: "password_reset", to: "a@b.test" }, url)).toThrow(/lacks "token"/);
    expect(() => renderEmail({ template: "toString", to: "a@b.test", token: "x" }, url)).toThrow(/unknown template/);
  });
});
