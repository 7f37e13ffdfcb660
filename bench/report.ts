// The results as text: the table and the checks for the terminal, and
// bench/RESULTS.md.
import type { Check, Results, Row } from "./results.ts";

const num = (v: number, digits = 0) =>
  Number.isFinite(v) ? v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "–";

function rowCells(r: Row): string[] {
  return [
    r.label,
    r.scale,
    num(r.requestsPerSecond),
    num(r.p50Ms, 2),
    num(r.p99Ms, 2),
    r.peakRssMb === undefined ? "–" : num(r.peakRssMb),
    r.failures ? String(r.failures) : "",
  ];
}

function checkCells(c: Check): string[] {
  const value = c.unit === "ratio" ? num(c.value, 2) : c.unit === "%" ? `${num(c.value, 1)}%` : `${num(c.value)} ${c.unit}`;
  const verdict = c.pass === "skipped" ? "SKIPPED" : c.pass ? "PASS" : "MISS";
  return [c.name, value, c.target, verdict, c.detail];
}

const TABLE_HEAD = ["system", "scale", "req/s", "p50 ms", "p99 ms", "peak RSS MB", "failed"];
const CHECK_HEAD = ["ratio / target", "value", "target", "result", "detail"];

function plainTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const right = (i: number) => head[i] !== "" && i > 0 && /^[\d,.–%]/.test(rows[0]?.[i] ?? "");
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  ").trimEnd(), ...rows.map(line)].join("\n");
}

function markdownTable(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replaceAll("|", "\\|")).join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

function datasetLines(results: Results): string[] {
  return results.datasets.map(
    (d) =>
      `${d.scale}: ${num(d.tenants)} tenants × ${num(d.rows)} tasks (loaded in ${num(d.loadSeconds, 1)} s; ${d.tokens} member tokens)`,
  );
}

export function textReport(results: Results): string {
  return [
    `Data sets: ${datasetLines(results).join("; ")}`,
    "",
    plainTable(TABLE_HEAD, results.rows.map(rowCells)),
    "",
    plainTable(CHECK_HEAD, results.checks.map(checkCells)),
    ...(results.notes.length ? ["", ...results.notes.map((n) => `note: ${n}`)] : []),
  ].join("\n");
}

export function markdownReport(results: Results): string {
  const o = results.options;
  const m = results.machine;
  const startup = results.startup;
  return `# Benchmark results

Written by \`bench/run.ts\` (\`npm run bench\`); do not edit by hand.

- Date: ${results.date}
- Command: \`${results.command}\`
- Machine: ${m.cpus} cores (\`nproc\`), ${m.cpuModel}, ${m.memoryGb} GB memory; Node ${m.node}; ${m.postgres} (${m.database})
- Loads: ${o.duration} s each, ${o.connections} HTTP connections (autocannon), ${o.pgbenchClients} pgbench clients, ${o.rounds} alternating rounds, ${o.warmup} s warm-up per server; pool of ${o.poolSize} connections per server
- Data sets: ${datasetLines(results).join("; ")}

![req/s and p99 per system and scale](results.svg)

How to read it (bench/README.md has the details): every HTTP load is closed-loop
(each connection sends its next request when the last one is answered), so
p50 and p99 include queueing at saturation. Servers run with
\`NODE_ENV=production\`, the login rate limit raised. The two RLS rows are the
two halves of one pgbench run in which each transaction picks a path at
random; their overhead is the ratio of mean latencies. Peak RSS is the server
process's maximum resident set size over the whole run.

## Table (median over the rounds)

${markdownTable(TABLE_HEAD, results.rows.map(rowCells))}

## Ratios and targets

${markdownTable(CHECK_HEAD, results.checks.map(checkCells))}
${
  startup
    ? `
## Start-up (\`node server/main.ts\` to "ready in")

| | wall clock, ms (each run) | median | server's own "ready in", ms |
| --- | --- | --- | --- |
| first start (fresh DATA_DIR) | ${startup.firstStartMs.map((v) => num(v)).join(", ")} | ${num(startup.medianFirstStartMs)} | ${startup.firstStartReportedMs.join(", ")} |
| restart (same DATA_DIR) | ${startup.restartMs.map((v) => num(v)).join(", ")} | ${num(startup.medianRestartMs)} | ${startup.restartReportedMs.join(", ")} |
`
    : ""
}
## Every load

${markdownTable(
  ["round", "system", "scale", "req/s", "p50 ms", "p99 ms", "requests", "failures"],
  results.samples.map((s) => [
    String(s.round),
    s.system,
    s.scale,
    num(s.requestsPerSecond),
    num(s.p50Ms, 2),
    num(s.p99Ms, 2),
    num(s.requests),
    String(s.failures),
  ]),
)}
${results.notes.length ? `\n## Notes\n\n${results.notes.map((n) => `- ${n}`).join("\n")}\n` : ""}`;
}
