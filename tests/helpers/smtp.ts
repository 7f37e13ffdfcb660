// A real SMTP server for the tests (smtp-server on 127.0.0.1, a free port):
// every message it accepts is parsed (mailparser) and kept. `reject`
// refuses a delivery with a temporary error (451), so that the sender retries.
import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";
import { onCleanup } from "./cleanup.ts";

export interface ReceivedEmail {
  to: string;
  subject: string;
  text: string;
  /** The first link in the text. */
  link?: string;
}

export interface SmtpSink {
  url: string;
  received: ReceivedEmail[];
  /** Deliveries refused so far (with reject). */
  refused: string[];
  /** Return true to refuse this delivery (451) to a recipient. */
  reject: (to: string) => boolean;
  /** Waits until `predicate` holds for the received emails (or fails after timeoutMs). */
  waitFor(predicate: (received: ReceivedEmail[]) => boolean, timeoutMs?: number): Promise<ReceivedEmail[]>;
  to(address: string): ReceivedEmail[];
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const received: ReceivedEmail[] = [];
  const refused: string[] = [];
  const sink: SmtpSink = {
    url: "",
    received,
    refused,
    reject: () => false,
    async waitFor(predicate, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline) throw new Error(`no such email within ${timeoutMs} ms; received: ${JSON.stringify(received.map((m) => [m.to, m.subject]))}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return received;
    },
    to: (address) => received.filter((m) => m.to === address.toLowerCase()),
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (sink.reject(address.address.toLowerCase())) {
        refused.push(address.address.toLowerCase());
        const error = new Error("Try again later") as Error & { responseCode: number };
        error.responseCode = 451;
        return callback(error);
      }
      callback();
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          const text = mail.text ?? "";
          received.push({
            to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()).join(","),
            subject: mail.subject ?? "",
            text,
            link: /https?:\/\/\S+/.exec(text)?.[0],
          });
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  sink.url = `smtp://127.0.0.1:${(server.server.address() as { port: number }).port}`;
  return sink;
}
