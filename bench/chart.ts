// bench/results.svg: bar charts, req/s and p99 latency side by side, one
// group per system, one bar per scale. Top row: the list request (pgbench,
// the baseline with and without the revocation check, GraphQL). Bottom row:
// the authentication mutations (login, refresh), on their own axes (tens of
// req/s beside thousands would not be readable on one). The revocation
// check's cost is spelled out under the charts. Plain hand-written SVG.
import type { CostLine, Row, SystemId } from "./results.ts";

/** The systems drawn, with a two-line label each, per row of panels. */
const LIST_SYSTEMS: [SystemId, string, string][] = [
  ["postgres", "PostgreSQL", "(pgbench)"],
  ["baseline", "Baseline", "(with check)"],
  ["baseline-unchecked", "Baseline", "(no check)"],
  ["graphql", "GraphQL", "(PostGraphile)"],
];
const AUTH_SYSTEMS: [SystemId, string, string][] = [
  ["login", "login", "(bcrypt cost 10)"],
  ["refresh", "refresh", "(token rotation)"],
];
const COLOURS = ["#9ecae1", "#3182bd", "#fd8d3c", "#31a354"];
const PANEL = { width: 420, height: 300, left: 60, top: 50, bottom: 60 };

/** Coordinates to one decimal. */
const r1 = (v: number) => Math.round(v * 10) / 10;
const esc = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

/** A "nice" axis maximum: 1, 2 or 5 × a power of ten, at or above `max`. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((m) => m * power).find((v) => v >= max)!;
}

interface PanelSpec {
  systems: [SystemId, string, string][];
  scales: string[];
  x0: number;
  y0: number;
  title: string;
  value: (r: Row) => number;
  digits: number;
  /** The bar colour of a scale (the same in every panel, as in the legend). */
  colour: (scale: string) => string;
}

function panel(rows: Row[], { systems, scales, x0, y0, title, value, digits, colour }: PanelSpec): string {
  const { width, height, left, top, bottom } = PANEL;
  const plotW = width - left - 20;
  const plotH = height - top - bottom;
  const drawn = rows.filter((r) => systems.some(([system]) => system === r.system) && scales.includes(r.scale));
  const max = niceMax(Math.max(...drawn.map(value).filter(Number.isFinite)));
  const y = (v: number) => r1(y0 + top + plotH - (v / max) * plotH);
  const parts: string[] = [`<text x="${x0 + width / 2}" y="${y0 + 24}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`];
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    parts.push(
      `<line x1="${x0 + left}" x2="${x0 + left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${x0 + left - 6}" y="${r1(y(v) + 4)}" text-anchor="end" font-size="11">${v.toLocaleString("en-US")}</text>`,
    );
  }
  const groupW = plotW / systems.length;
  const barW = Math.min(40, (groupW - 12) / scales.length);
  const base = y0 + top + plotH;
  systems.forEach(([system, name, detail], g) => {
    const present = scales.filter((scale) => drawn.some((r) => r.system === system && r.scale === scale));
    const gx = r1(x0 + left + g * groupW + (groupW - barW * present.length) / 2);
    present.forEach((scale, s) => {
      const row = drawn.find((r) => r.system === system && r.scale === scale)!;
      if (!Number.isFinite(value(row))) return;
      const v = value(row);
      const bx = r1(gx + s * barW);
      parts.push(
        `<rect x="${bx}" y="${y(v)}" width="${r1(barW - 4)}" height="${r1(base - y(v))}" fill="${colour(scale)}"/>`,
        `<text x="${r1(bx + (barW - 4) / 2)}" y="${r1(y(v) - 4)}" text-anchor="middle" font-size="10">${v.toLocaleString("en-US", { maximumFractionDigits: digits })}</text>`,
      );
    });
    const cx = r1(x0 + left + g * groupW + groupW / 2);
    parts.push(
      `<text x="${cx}" y="${base + 16}" text-anchor="middle" font-size="11">${esc(name)}</text>`,
      `<text x="${cx}" y="${base + 30}" text-anchor="middle" font-size="10" fill="#555">${esc(detail)}</text>`,
    );
  });
  parts.push(`<line x1="${x0 + left}" x2="${x0 + left + plotW}" y1="${base}" y2="${base}" stroke="#333"/>`);
  return parts.join("\n");
}

/** The revocation check's cost in one line (the first data set that has the figures, from `costScale`). */
function costLines(cost: CostLine[], costScale: string): string[] {
  const find = (prefix: string) => cost.find((c) => c.name.startsWith(prefix) && c.name.endsWith(`(${costScale})`));
  const lost = find("req/s lost: ");
  const share = find("req/s lost, share");
  const meanAdded = find("mean latency added");
  const p99 = find("p99 added");
  const aloneTps = find("revocation check alone, pgbench (");
  const aloneMean = find("revocation check alone, pgbench mean");
  if (!lost) return [];
  /** Signed, with a real minus: the change from "without" to "with the check". */
  const n = (v: number | undefined, digits = 0) => {
    if (v === undefined || !Number.isFinite(v)) return "–";
    const text = Math.abs(v).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
    return `${v < 0 ? "−" : "+"}${text}`;
  };
  const plain = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "–");
  return [
    `Revocation check (assert_claims_current) per request, baseline with vs without it (${costScale}): ` +
      `${n(-lost.value)} req/s (${n(share === undefined ? undefined : -share.value, 1)}%), ` +
      `mean latency ${n(meanAdded?.value)} µs, p99 ${n(p99?.value, 2)} ms`,
    ...(aloneTps ? [`The check alone in pgbench (${costScale}): ${plain(aloneTps.value)} tps, mean latency ${plain(aloneMean?.value)} µs`] : []),
  ];
}

/**
 * `scales` maps a scale name to its legend text, in drawing order;
 * `authScale` is the data set of the login and refresh loads (and of the cost line).
 */
export function chartSvg(rows: Row[], scales: [string, string][], caption: string, cost: CostLine[] = [], authScale?: string): string {
  const width = PANEL.width * 2 + 20;
  const names = scales.map(([name]) => name);
  const auth = authScale ?? names[names.length - 1];
  const hasAuth = rows.some((r) => AUTH_SYSTEMS.some(([s]) => s === r.system));
  const authY = PANEL.height + 30;
  const legendY = (hasAuth ? authY + PANEL.height : PANEL.height) + 4;
  const check = costLines(cost, auth);
  const height = legendY + 30 + check.length * 14;
  const colour = (scale: string) => COLOURS[Math.max(0, names.indexOf(scale)) % COLOURS.length];
  const legend = scales
    .map(
      ([, text], i) =>
        `<rect x="${20 + i * 260}" y="${legendY - 8}" width="12" height="12" fill="${COLOURS[i % COLOURS.length]}"/>` +
        `<text x="${38 + i * 260}" y="${legendY + 2}" font-size="11">${esc(text)}</text>`,
    )
    .join("\n");
  const spec = (systems: PanelSpec["systems"], panelScales: string[], y0: number, prefix: string) => [
    panel(rows, { systems, scales: panelScales, x0: 0, y0, title: `${prefix}requests per second (higher is better)`, value: (r) => r.requestsPerSecond, digits: 0, colour }),
    panel(rows, { systems, scales: panelScales, x0: PANEL.width + 20, y0, title: `${prefix}p99 latency, ms (lower is better)`, value: (r) => r.p99Ms, digits: 1, colour }),
  ];
  const top = spec(LIST_SYSTEMS, names, 0, "List: ");
  const bottom = hasAuth ? spec(AUTH_SYSTEMS, [auth], authY, `Auth (${auth}): `) : [];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${[...top, ...bottom].join("\n")}
${legend}
${check.map((line, i) => `<text x="20" y="${legendY + 22 + i * 14}" font-size="10" fill="#333">${esc(line)}</text>\n`).join("")}<text x="20" y="${height - 6}" font-size="10" fill="#555">${esc(caption)}</text>
</svg>
`;
}
