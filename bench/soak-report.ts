// What a soak (bench/soak.ts) measured and what it concludes: the memory
// samples, the verdict (heap after GC and RSS, median of minute 2 against
// median of the last minute; the heap's least-squares slope), and the
// report as text (terminal) and Markdown (SOAK.md).
import type { SoakKind, SoakOptions } from "./options.ts";
import { markdownTable, plainTable } from "./report.ts";
import { median, percentile } from "./stats.ts";

/** Growth of the heap after GC and of RSS allowed between minute 2 and the last minute. */
export const GROWTH_LIMIT_PCT = 10;
/** Failed answers (all kinds) above this share of all answers mean the run is broken. */
export const FAILURE_LIMIT_PCT = 1;

export interface SoakSample {
  /** Seconds since the load started (0: before it). */
  t: number;
  /** After a forced full GC in the server (MB). */
  heapAfterGcMb: number;
  rssMb: number;
  externalMb: number;
  gcMs: number;
  /** The server's RSS (/proc) just before the GC: what it held under load. */
  rssBeforeGcMb: number;
  /** The server's CPU time over the interval, % of one core (all threads). */
  cpuPercent: number;
  /** Correct answers per second over the interval, per kind. */
  rps: Partial<Record<SoakKind, number>>;
  /** Failed answers over the interval, all kinds. */
  failed: number;
}

export interface Window {
  label: string;
  /** Samples with from < t ≤ to (seconds). */
  from: number;
  to: number;
  samples: number;
  heapAfterGcMb: number;
  rssMb: number;
}

export interface Verdict {
  early: Window;
  late: Window;
  heapChangePct: number;
  rssChangePct: number;
  heapPass: boolean | "skipped";
  rssPass: boolean | "skipped";
  /** Least squares over the samples after the early window's start (MB per minute). */
  heapSlopeMbPerMin: number;
  rssSlopeMbPerMin: number;
}

export interface KindSummary {
  kind: SoakKind;
  ok: number;
  failed: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  messages: string[];
}

export interface SoakResults {
  date: string;
  command: string;
  machine: { cpus: number; cpuModel: string; memoryGb: number; node: string; postgres: string; database: string };
  options: Omit<SoakOptions, "databaseUrl">;
  dataset: { tenants: number; rows: number; loadSeconds: number; listTokens: number; writeTenants: number; loginUsers: number };
  server: { entry: string; flags: string[]; settings: Record<string, string> };
  loadSeconds: number;
  samples: SoakSample[];
  kinds: KindSummary[];
  verdict: Verdict;
  api: { peakRssMb: number };
  baseline: { entry: string; seconds: number; summary?: KindSummary; peakRssMb: number; heapAfterGcMb: number; rssMb: number };
  /** What was broken (the run fails); empty when nothing was. */
  broken: string[];
  runSeconds: number;
}

function windowOf(samples: SoakSample[], label: string, from: number, to: number): Window {
  const inside = samples.filter((s) => s.t > from && s.t <= to);
  return {
    label,
    from,
    to,
    samples: inside.length,
    heapAfterGcMb: median(inside.map((s) => s.heapAfterGcMb)),
    rssMb: median(inside.map((s) => s.rssMb)),
  };
}

/** The least-squares slope of y over x. NaN with fewer than two points. */
export function slope(points: [number, number][]): number {
  if (points.length < 2) return NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / points.length;
  const my = points.reduce((s, [, y]) => s + y, 0) / points.length;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  return sxx > 0 ? sxy / sxx : NaN;
}

/**
 * Minute 2 against the last minute (runs of 3 minutes or more); a shorter
 * run (a smoke run) compares its second quarter with its last, and says so.
 */
export function verdictOf(samples: SoakSample[], minutes: number): Verdict {
  const end = Math.max(0, ...samples.map((s) => s.t));
  const long = minutes >= 3;
  const early = long ? windowOf(samples, "minute 2", 60, 120) : windowOf(samples, "second quarter (short run)", end / 4, end / 2);
  const late = long ? windowOf(samples, "last minute", end - 60, end) : windowOf(samples, "last quarter (short run)", (3 * end) / 4, end);
  const change = (a: number, b: number) => (b / a - 1) * 100;
  const judged = (pct: number) => (Number.isFinite(pct) && early.to <= late.from ? pct <= GROWTH_LIMIT_PCT : "skipped");
  const after = samples.filter((s) => s.t > early.from);
  const heapChangePct = change(early.heapAfterGcMb, late.heapAfterGcMb);
  const rssChangePct = change(early.rssMb, late.rssMb);
  return {
    early,
    late,
    heapChangePct,
    rssChangePct,
    heapPass: judged(heapChangePct),
    rssPass: judged(rssChangePct),
    heapSlopeMbPerMin: slope(after.map((s) => [s.t / 60, s.heapAfterGcMb])),
    rssSlopeMbPerMin: slope(after.map((s) => [s.t / 60, s.rssMb])),
  };
}

export function summarizeKind(kind: SoakKind, s: { ok: number; failed: number; latencies: number[]; messages: string[] }, seconds: number): KindSummary {
  return {
    kind,
    ok: s.ok,
    failed: s.failed,
    requestsPerSecond: s.ok / seconds,
    p50Ms: percentile(s.latencies, 50),
    p99Ms: percentile(s.latencies, 99),
    messages: s.messages,
  };
}

const num = (v: number, digits = 0) =>
  Number.isFinite(v) ? v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "–";
const pct = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? "+" : ""}${num(v, 1)}%` : "–");
const result = (p: boolean | "skipped") => (p === "skipped" ? "SKIPPED" : p ? "PASS" : "MISS");

const VERDICT_HEAD = ["memory (server)", "early", "late", "change", "target", "result"];
function verdictRows(r: SoakResults): string[][] {
  const v = r.verdict;
  const windows = `${v.early.label}: ${v.early.samples} samples; ${v.late.label}: ${v.late.samples}`;
  return [
    ["heap after a full GC, median MB", num(v.early.heapAfterGcMb, 1), num(v.late.heapAfterGcMb, 1), pct(v.heapChangePct), `≤ +${GROWTH_LIMIT_PCT}%`, result(v.heapPass)],
    ["RSS after that GC, median MB", num(v.early.rssMb, 1), num(v.late.rssMb, 1), pct(v.rssChangePct), `≤ +${GROWTH_LIMIT_PCT}%`, result(v.rssPass)],
    ["heap after GC: least-squares slope", "", `${num(v.heapSlopeMbPerMin, 2)} MB/min`, "", "(no target)", ""],
    ["RSS: least-squares slope", "", `${num(v.rssSlopeMbPerMin, 2)} MB/min`, "", "(no target)", ""],
    ["peak RSS: API (whole soak)", "", `${num(r.api.peakRssMb)} MB`, "", "(no target)", ""],
    ["peak RSS: baseline (its list load)", "", `${num(r.baseline.peakRssMb)} MB`, `API ×${num(r.api.peakRssMb / r.baseline.peakRssMb, 2)}`, "(no target)", ""],
    [`windows: ${windows}`, "", "", "", "", ""],
  ];
}

const KIND_HEAD = ["load", "answers ok", "failed", "req/s", "p50 ms", "p99 ms"];
function kindCells(label: string, k: KindSummary): string[] {
  return [label, num(k.ok), num(k.failed), num(k.requestsPerSecond, 1), num(k.p50Ms, 2), num(k.p99Ms, 2)];
}
function kindRows(r: SoakResults): string[][] {
  return [
    ...r.kinds.map((k) => kindCells(`API: ${k.kind}`, k)),
    ...(r.baseline.summary ? [kindCells(`baseline: list, ${r.baseline.seconds} s after the soak`, r.baseline.summary)] : []),
  ];
}

function sampleHead(r: SoakResults): string[] {
  return ["t s", "heap after GC MB", "RSS after GC MB", "RSS before GC MB", "external MB", "GC ms", "server CPU %", ...r.kinds.map((k) => `${k.kind}/s`), "failed"];
}
function sampleRows(r: SoakResults): string[][] {
  return r.samples.map((s) => [
    num(s.t),
    num(s.heapAfterGcMb, 1),
    num(s.rssMb, 1),
    num(s.rssBeforeGcMb, 1),
    num(s.externalMb, 1),
    num(s.gcMs, 0),
    num(s.cpuPercent, 0),
    ...r.kinds.map((k) => num(s.rps[k.kind] ?? NaN, k.kind === "login" || k.kind === "export" ? 2 : 0)),
    String(s.failed),
  ]);
}

function failureLines(r: SoakResults): string[] {
  const kinds = [...r.kinds, ...(r.baseline.summary ? [{ ...r.baseline.summary, kind: "baseline list" }] : [])];
  return kinds.filter((k) => k.messages.length).map((k) => `first failures of ${k.kind}: ${k.messages.join(" | ")}`);
}

function outcome(r: SoakResults): string {
  if (r.broken.length) return `FAIL: ${r.broken.join("; ")}`;
  const misses = [r.verdict.heapPass, r.verdict.rssPass].filter((p) => p === false).length;
  return misses ? `The run worked; ${misses} memory target(s) MISS: a finding.` : "The run worked; memory targets as above.";
}

export function textReport(r: SoakResults): string {
  return [
    plainTable(VERDICT_HEAD, verdictRows(r)),
    "",
    plainTable(KIND_HEAD, kindRows(r)),
    "",
    plainTable(sampleHead(r), sampleRows(r)),
    ...failureLines(r).map((l) => `note: ${l}`),
    "",
    outcome(r),
  ].join("\n");
}

export function markdownReport(r: SoakResults): string {
  const o = r.options;
  const m = r.machine;
  const rates = Object.entries(o.rates)
    .map(([k, v]) => `${k} ${k === "login" || k === "export" ? `${num(v * 60, 1)}/min` : `${num(v, 1)}/s`} on ${o.connections[k as SoakKind]} connection(s)`)
    .join(", ");
  return `# Memory soak

Written by \`bench/soak.ts\` (\`npm run bench:soak\`); do not edit by hand.

- Date: ${r.date}
- Command: \`${r.command}\`
- Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB, Node ${m.node}, ${m.postgres} (${m.database}); server, database and load generator on the same cores
- Data set: ${num(r.dataset.tenants)} tenants × ${num(r.dataset.rows)} tasks (loaded in ${num(r.dataset.loadSeconds, 1)} s); list tokens of ${r.dataset.listTokens} members; writes and exports in ${r.dataset.writeTenants} tenants (a member and the admin of each); logins of ${r.dataset.loginUsers} users
- API: \`${r.server.entry}\`, V8 flags \`${r.server.flags.join(" ") || "(none)"}\` (those of \`npm start\`), settings ${JSON.stringify(r.server.settings)}
- Load: ${num(r.loadSeconds)} s of mixed load at bounded rates: ${rates}; every answer checked. A memory sample every ${o.sampleSeconds} s: a full GC forced in the server through its IPC channel, then its heap in use, RSS and external memory
- Baseline: \`${r.baseline.entry}\` (with the revocation check, the same V8 flags), after the soak, alone: the list request at the API's list rate and connections for ${r.baseline.seconds} s
- Run time: ${num(r.runSeconds)} s

## Verdict

Heap after GC and RSS: the median of the samples of the early window (${r.verdict.early.label}, ${num(r.verdict.early.from)} s < t ≤ ${num(r.verdict.early.to)} s) against the median of the late window (${r.verdict.late.label}, ${num(r.verdict.late.from)} s < t ≤ ${num(r.verdict.late.to)} s); growth above ${GROWTH_LIMIT_PCT} % is a MISS (a finding; the run still succeeds). The run fails only when something is broken: failed answers above ${FAILURE_LIMIT_PCT} % of all, a kind with no correct answer, the server gone.

${markdownTable(VERDICT_HEAD, verdictRows(r))}

Baseline after its load: heap after GC ${num(r.baseline.heapAfterGcMb, 1)} MB, RSS ${num(r.baseline.rssMb, 1)} MB.

**${outcome(r)}**

## Answers

${markdownTable(KIND_HEAD, kindRows(r))}
${failureLines(r).map((l) => `\n- ${l.replaceAll("|", "\\|")}`).join("")}

## Samples

${markdownTable(sampleHead(r), sampleRows(r))}
`;
}
