// bench/results.svg: two bar charts side by side, req/s and p99 latency,
// one group per system, one bar per scale. Plain hand-written SVG.
import type { Row, SystemId } from "./results.ts";

/** The systems drawn, with a two-line label each. */
const CHART_SYSTEMS: [SystemId, string, string][] = [
  ["postgres", "PostgreSQL", "(pgbench)"],
  ["baseline", "Baseline", "(Express + pg)"],
  ["graphql", "GraphQL", "(PostGraphile)"],
];
const COLOURS = ["#9ecae1", "#3182bd", "#fd8d3c", "#31a354"];
const PANEL = { width: 420, height: 300, left: 60, top: 50, bottom: 60 };

/** Coordinates to one decimal. */
const r1 = (v: number) => Math.round(v * 10) / 10;
const esc = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

/** A "nice" axis maximum: 1, 2 or 5 × a power of ten, at or above `max`. */
function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((m) => m * power).find((v) => v >= max)!;
}

function panel(rows: Row[], scales: string[], x0: number, title: string, value: (r: Row) => number, digits: number): string {
  const { width, height, left, top, bottom } = PANEL;
  const plotW = width - left - 20;
  const plotH = height - top - bottom;
  const drawn = rows.filter((r) => CHART_SYSTEMS.some(([system]) => system === r.system) && scales.includes(r.scale));
  const max = niceMax(Math.max(...drawn.map(value).filter(Number.isFinite)));
  const y = (v: number) => r1(top + plotH - (v / max) * plotH);
  const parts: string[] = [`<text x="${x0 + width / 2}" y="24" text-anchor="middle" font-weight="bold">${esc(title)}</text>`];
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    parts.push(
      `<line x1="${x0 + left}" x2="${x0 + left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${x0 + left - 6}" y="${r1(y(v) + 4)}" text-anchor="end" font-size="11">${v.toLocaleString("en-US")}</text>`,
    );
  }
  const groupW = plotW / CHART_SYSTEMS.length;
  const barW = Math.min(40, (groupW - 20) / scales.length);
  CHART_SYSTEMS.forEach(([system, name, detail], g) => {
    const gx = r1(x0 + left + g * groupW + (groupW - barW * scales.length) / 2);
    scales.forEach((scale, s) => {
      const row = drawn.find((r) => r.system === system && r.scale === scale);
      if (!row || !Number.isFinite(value(row))) return;
      const v = value(row);
      const bx = r1(gx + s * barW);
      parts.push(
        `<rect x="${bx}" y="${y(v)}" width="${r1(barW - 4)}" height="${r1(top + plotH - y(v))}" fill="${COLOURS[s % COLOURS.length]}"/>`,
        `<text x="${r1(bx + (barW - 4) / 2)}" y="${r1(y(v) - 4)}" text-anchor="middle" font-size="10">${v.toLocaleString("en-US", { maximumFractionDigits: digits })}</text>`,
      );
    });
    const cx = r1(x0 + left + g * groupW + groupW / 2);
    parts.push(
      `<text x="${cx}" y="${top + plotH + 16}" text-anchor="middle" font-size="11">${esc(name)}</text>`,
      `<text x="${cx}" y="${top + plotH + 30}" text-anchor="middle" font-size="10" fill="#555">${esc(detail)}</text>`,
    );
  });
  parts.push(`<line x1="${x0 + left}" x2="${x0 + left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  return parts.join("\n");
}

/** `scales` maps a scale name to its legend text, in drawing order. */
export function chartSvg(rows: Row[], scales: [string, string][], caption: string): string {
  const width = PANEL.width * 2 + 20;
  const height = PANEL.height + 30;
  const names = scales.map(([name]) => name);
  const legend = scales
    .map(
      ([, text], i) =>
        `<rect x="${20 + i * 260}" y="${PANEL.height - 4}" width="12" height="12" fill="${COLOURS[i % COLOURS.length]}"/>` +
        `<text x="${38 + i * 260}" y="${PANEL.height + 6}" font-size="11">${esc(text)}</text>`,
    )
    .join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${panel(rows, names, 0, "Requests per second (higher is better)", (r) => r.requestsPerSecond, 0)}
${panel(rows, names, PANEL.width + 20, "p99 latency, ms (lower is better)", (r) => r.p99Ms, 1)}
${legend}
<text x="20" y="${height - 6}" font-size="10" fill="#555">${esc(caption)}</text>
</svg>
`;
}
