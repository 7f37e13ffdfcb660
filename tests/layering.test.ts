// The layering rule (README, "Where things are"), read from the import lines
// of every TypeScript file:
//   common/  configuration, role names, the tenant export format: imports no other folder
//   db/      the database: may import common/
//   server/  the HTTP and GraphQL server: may import common/
//   worker/  the job queue's worker (graphile-worker tasks, emails): may import common/
//            (its own folder: it runs in npm start's process or alone, as the owner,
//            and neither the server nor the database libraries need it)
//   bin/     entry points (npm start, dev, worker, every CLI): wire db/, server/ and worker/ together
//   tests/, bench/: may import any of the above (bench/ also the attack
//            catalogue in tests/helpers/); nothing else imports them
//   examples/ frontends: import only themselves (they talk to the API over HTTP)
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const MAY_IMPORT: Record<string, string[]> = {
  common: ["common"],
  db: ["db", "common"],
  server: ["server", "common"],
  worker: ["worker", "common"],
  bin: ["bin", "db", "server", "worker", "common"],
  tests: ["tests", "bin", "db", "server", "worker", "common"],
  bench: ["bench", "tests", "bin", "db", "server", "worker", "common"],
  examples: ["examples"],
};

function tsFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { withFileTypes: true, recursive: true })
    // An example's own packages (examples/web/node_modules) are not the project's code.
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.parentPath.split("/").includes("node_modules"))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** Every relative module a file imports, statically, dynamically or by re-export, as a path from the root. */
export function importsOf(file: string): string[] {
  const source = readFileSync(join(ROOT, file), "utf8");
  const specifiers = [
    ...source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gms),
    ...source.matchAll(/^\s*import\s*["']([^"']+)["']/gm),
    ...source.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
  ].map((m) => m[1]);
  return specifiers.filter((s) => s.startsWith(".")).map((s) => relative(ROOT, resolve(dirname(join(ROOT, file)), s)));
}

const topFolder = (path: string) => (path.includes("/") ? path.split("/")[0] : ".");

describe("layering: which folder may import which", () => {
  it("finds the imports it judges (the reader itself works)", () => {
    expect(importsOf("bin/start.ts")).toEqual(expect.arrayContaining(["db/database.ts", "common/config.ts", "server/app.ts"]));
    expect(importsOf("server/export.ts")).toContain("common/tenant-export-format.ts");
  });

  for (const [folder, allowed] of Object.entries(MAY_IMPORT)) {
    it(`${folder}/ imports only ${allowed.map((f) => `${f}/`).join(", ")}`, () => {
      const files = tsFiles(folder);
      expect(files.length).toBeGreaterThan(0);
      const violations = files.flatMap((file) =>
        importsOf(file)
          .filter((target) => !allowed.includes(topFolder(target)))
          .map((target) => `${file} → ${target}`),
      );
      expect(violations).toEqual([]);
    });
  }

  it("every folder with TypeScript has a rule", () => {
    const folders = readdirSync(ROOT, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith(".") && e.name !== "node_modules" && e.name !== "generated")
      .filter((e) => tsFiles(e.name).length > 0)
      .map((e) => e.name);
    expect(folders.filter((f) => !(f in MAY_IMPORT))).toEqual([]);
  });
});
