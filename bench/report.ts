// The results as text: the table and the checks for the terminal, and
// bench/RESULTS.md.
import type { Check, CostLine, Results, Row } from "./results.ts";

const num = (v: number, digits = 0) =>
  Number.isFinite(v) ? v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "–";

function rowCells(r: Row): string[] {
  return [
    r.label,
    r.scale,
    num(r.requestsPerSecond),
    num(r.meanMs, 2),
    num(r.p50Ms, 2),
    num(r.p99Ms, 2),
    r.peakRssMb === undefined ? "–" : num(r.peakRssMb),
    r.serverCpuUs === undefined ? "–" : `${num(r.serverCpuUs)} (${num(r.mainThreadCpuUs!)})`,
    r.failures ? String(r.failures) : "",
  ];
}

function checkCells(c: Check): string[] {
  const value = c.unit === "ratio" ? num(c.value, 2) : c.unit === "%" ? `${num(c.value, 1)}%` : `${num(c.value)} ${c.unit}`;
  const verdict = c.pass === "skipped" ? "SKIPPED" : c.pass ? "PASS" : "MISS";
  return [c.name, value, c.target, verdict, c.detail];
}

function costCells(c: CostLine): string[] {
  const digits = c.unit === "ms" ? 2 : c.unit === "%" ? 1 : 0;
  const value = c.unit === "%" ? `${num(c.value, digits)}%` : `${num(c.value, digits)} ${c.unit}`;
  return [c.name, value, c.detail];
}

const TABLE_HEAD = ["system", "scale", "req/s", "mean ms", "p50 ms", "p99 ms", "peak RSS MB", "server CPU µs/req (main thread)", "failed"];
const CHECK_HEAD = ["ratio / target", "value", "target", "result", "detail"];
const COST_HEAD = ["revocation check: cost per request", "value", "detail"];

export function plainTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const right = (i: number) => head[i] !== "" && i > 0 && /^-?[\d,.–%]/.test(rows[0]?.[i] ?? "");
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  ").trimEnd(), ...rows.map(line)].join("\n");
}

export function markdownTable(head: string[], rows: string[][]): string {
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
    ...(results.checkCost.length ? ["", plainTable(COST_HEAD, results.checkCost.map(costCells))] : []),
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
- Loads: ${o.duration} s each, ${o.connections} HTTP connections (autocannon), ${o.refreshClients} refresh clients, ${o.pgbenchClients} pgbench clients, ${o.rounds} alternating rounds, ${o.warmup} s warm-up per server; pool of ${o.poolSize} connections per server
- Data sets: ${datasetLines(results).join("; ")}

![req/s and p99 per system and scale](results.svg)

How to read it (bench/README.md has the details): every HTTP load is closed-loop
(each connection sends its next request when the last one is answered), so
p50 and p99 include queueing at saturation. Servers run with
\`NODE_ENV=production\`, the login rate limit raised. The two RLS rows are the
two halves of one pgbench run in which each transaction picks a path at
random; their overhead is the ratio of mean latencies. Peak RSS is the server
process's maximum resident set size over the whole run. Server CPU is the
server process's CPU time (user + system, all threads) during the load,
divided by the requests it answered; in brackets, its main thread's alone
(the thread that runs JavaScript; the rest is mostly V8's garbage collector).
On these 2 cores, shared with PostgreSQL and the load generator, CPU per
request is what sets req/s.

The API sends each request's \`begin\`, claims check and settings and its
first query in one write, and answers a query without waiting for its
\`commit\` (\`server/request-context.ts\`); the baseline sends its four
statements one after another, as hand-written code usually does.

The API checks every authenticated request against the database
(\`app_private.assert_claims_current\`: live session, user still in the
tenant with that role) in the first statement of its transaction
(\`server/request-context.ts\`). The baseline does the same, in the same
statement, so the GraphQL ratios compare equal guarantees; the baseline without that check runs too,
back to back with it, and their difference is the check's cost per request.
The refresh row: each client exchanges its own refresh token again and again
(rotation); every answer must carry a new one, or it counts as failed.

## Table (median over the rounds)

${markdownTable(TABLE_HEAD, results.rows.map(rowCells))}

## Ratios and targets

The GraphQL ratios are taken against the baseline WITH the revocation check
(the same guarantee as the API).

${markdownTable(CHECK_HEAD, results.checks.map(checkCells))}
${
  results.checkCost.length
    ? `
## Cost of the per-request revocation check

Baseline with \`app_private.assert_claims_current\` in its settings statement
minus the same baseline without it, per round (the two run back to back),
median over the rounds. HTTP loads are closed-loop at saturation, so
"mean latency added" includes queueing behind ${o.connections} connections;
"server time per request added" (1/req/s with − 1/req/s without) is the
check's cost in the saturated server's capacity. The pgbench rows run the
statement alone, as the authenticator, with ${o.pgbenchClients} clients.

${markdownTable(COST_HEAD, results.checkCost.map(costCells))}
`
    : ""
}${
  startup
    ? `
## Start-up (\`node bin/start.ts\` to "ready in")

| | wall clock, ms (each run) | median | server's own "ready in", ms |
| --- | --- | --- | --- |
| first start (fresh DATA_DIR) | ${startup.firstStartMs.map((v) => num(v)).join(", ")} | ${num(startup.medianFirstStartMs)} | ${startup.firstStartReportedMs.join(", ")} |
| restart (same DATA_DIR) | ${startup.restartMs.map((v) => num(v)).join(", ")} | ${num(startup.medianRestartMs)} | ${startup.restartReportedMs.join(", ")} |
`
    : ""
}
## Every load

${markdownTable(
  ["round", "system", "scale", "req/s", "mean ms", "p50 ms", "p99 ms", "requests", "failures"],
  results.samples.map((s) => [
    String(s.round),
    s.system,
    s.scale,
    num(s.requestsPerSecond),
    s.meanMs === undefined ? "–" : num(s.meanMs, 2),
    num(s.p50Ms, 2),
    num(s.p99Ms, 2),
    num(s.requests),
    String(s.failures),
  ]),
)}
${results.notes.length ? `\n## Notes\n\n${results.notes.map((n) => `- ${n}`).join("\n")}\n` : ""}`;
}
