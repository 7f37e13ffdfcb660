// The documentation's links: every relative Markdown link in README.md and
// docs/ names a file (or folder) that exists, and a link with a #fragment
// into a Markdown file names one of its headings (GitHub's anchors). A page
// moved or a section renamed without its links fails here.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");

const PAGES = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

/** The page's text outside fenced code blocks and inline code spans. */
function prose(markdown: string): string {
  return markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "")
    .replace(/`[^`\n]*`/g, "");
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2, … */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").split("\n")) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = heading[1]
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n ? `${base}-${n}` : base);
  }
  return anchors;
}

/** Every link target of the page's prose: `[text](target)` and `![alt](target)`. */
function linksOf(markdown: string): string[] {
  return [...prose(markdown).matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]);
}

describe("documentation links", () => {
  it("the pages exist: README.md and docs/", () => {
    expect(PAGES).toEqual(expect.arrayContaining(["README.md", "docs/security.md", "docs/api.md", "docs/operations.md"]));
  });

  it("the anchor rule gives GitHub's anchors", () => {
    expect([...anchorsOf("# Tokens and the per-request check\n## Limits per request\n## Limits per request\n```\n# not a heading\n```")]).toEqual([
      "tokens-and-the-per-request-check",
      "limits-per-request",
      "limits-per-request-1",
    ]);
  });

  for (const page of PAGES) {
    it(`every relative link in ${page} resolves`, () => {
      const text = readFileSync(join(ROOT, page), "utf8");
      const broken: string[] = [];
      let checked = 0;
      for (const link of linksOf(text)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:
        checked++;
        const [path, fragment] = link.split("#", 2);
        const target = path === "" ? join(ROOT, page) : resolve(dirname(join(ROOT, page)), path);
        const fromRoot = relative(ROOT, target);
        if (!existsSync(target)) {
          broken.push(`${link}: no such file ${fromRoot}`);
          continue;
        }
        if (fragment !== undefined && statSync(target).isFile() && target.endsWith(".md")) {
          if (!anchorsOf(readFileSync(target, "utf8")).has(fragment)) broken.push(`${link}: no heading #${fragment} in ${fromRoot}`);
        }
      }
      expect(broken).toEqual([]);
      // A page of this repository's docs links somewhere; zero links checked would mean the parser broke.
      expect(checked).toBeGreaterThan(0);
    });
  }
});
