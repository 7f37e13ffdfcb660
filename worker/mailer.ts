// Delivers rendered emails: through SMTP_URL with nodemailer, or, without it
// (development and test only: common/config.ts refuses production), into
// DATA_DIR/emails/<time>-<recipient>.eml, printing the file and the link.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import nodemailer from "nodemailer";
import type { Config } from "../common/config.ts";
import type { Email } from "./emails.ts";

export interface Mailer {
  send(email: Email): Promise<void>;
  close(): void;
}

export function makeMailer(mail: Config["mail"], log: (message: string) => void = console.log): Mailer {
  if (mail.smtpUrl) {
    const transport = nodemailer.createTransport(mail.smtpUrl);
    return {
      async send(email) {
        await transport.sendMail({ from: mail.from, to: email.to, subject: email.subject, text: email.text });
      },
      close: () => transport.close(),
    };
  }
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "unix" });
  return {
    async send(email) {
      const info = await transport.sendMail({ from: mail.from, to: email.to, subject: email.subject, text: email.text });
      mkdirSync(mail.outboxDir, { recursive: true });
      const file = join(mail.outboxDir, `${new Date().toISOString().replace(/[:.]/g, "-")}-${email.to.replace(/[^\w.@+-]/g, "_")}.eml`);
      writeFileSync(file, info.message as Buffer, { mode: 0o600 });
      log(`[mail] no SMTP_URL: email to ${email.to} written to ${file}\n[mail]   ${email.link}`);
    },
    close: () => transport.close(),
  };
}
