// generated/ is committed and never edited by hand: it must be exactly what
// the committed migrations produce. If this fails, run `npm run generate`
// (on a database migrated to the latest commit) and commit the result.
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { generateAccess, generateCitus, generateErrors, generateSchema, generateSchemaSql, generateTypes } from "../bin/generate.ts";
import { ROOT_DIR } from "../db/migrate.ts";
import { createTestDatabase } from "./helpers/database.ts";

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe("generated/", () => {
  const fresh = mkdtempSync(join(tmpdir(), "mts-generated-"));
  const committed = join(ROOT_DIR, "generated");

  beforeAll(async () => {
    const db = await createTestDatabase();
    await generateTypes(db.ownerUrl, fresh);
    await generateSchema(db.authUrl, fresh);
    await generateAccess(db.ownerUrl, fresh);
    await generateSchemaSql(db.ownerUrl, fresh);
    await generateCitus(db.ownerUrl, fresh);
    await generateErrors(db.ownerUrl, fresh);
  });

  it("has the same files as a fresh generation", () => {
    expect(listFiles(committed)).toEqual(listFiles(fresh));
  });

  it("has the same content in every file (run `npm run generate` if not)", () => {
    for (const file of listFiles(fresh)) {
      expect(readFileSync(join(committed, file), "utf8"), file).toBe(readFileSync(join(fresh, file), "utf8"));
    }
  });
});
