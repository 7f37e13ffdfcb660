// bench/soak.svg (or BENCH_OUT_DIR/soak.svg): the soak's memory samples over
// time, two panels side by side: the server's heap after a forced GC, and its
// RSS after that GC; the early and late windows of the verdict shaded, with
// their medians as dashed lines. Plain hand-written SVG.
import { niceMax } from "./chart.ts";
import type { SoakResults, SoakSample, Window } from "./soak-report.ts";

const PANEL = { width: 480, height: 300, left: 60, right: 20, top: 50, bottom: 50 };
const r1 = (v: number) => Math.round(v * 10) / 10;

function panel(x0: number, title: string, samples: SoakSample[], value: (s: SoakSample) => number, windows: [Window, number][]): string {
  const { width, height, left, right, top, bottom } = PANEL;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const end = Math.max(60, ...samples.map((s) => s.t));
  const max = niceMax(Math.max(...samples.map(value).filter(Number.isFinite)));
  const x = (t: number) => r1(x0 + left + (t / end) * plotW);
  const y = (v: number) => r1(top + plotH - (v / max) * plotH);
  const parts = [`<text x="${x0 + width / 2}" y="24" text-anchor="middle" font-weight="bold">${title}</text>`];
  for (const [w, median] of windows) {
    parts.push(`<rect x="${x(w.from)}" y="${top}" width="${r1(x(w.to) - x(w.from))}" height="${plotH}" fill="#f0f0f0"/>`);
    if (Number.isFinite(median)) {
      parts.push(`<line x1="${x(w.from)}" x2="${x(w.to)}" y1="${y(median)}" y2="${y(median)}" stroke="#e6550d" stroke-dasharray="4 3"/>`);
    }
  }
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    parts.push(
      `<line x1="${x0 + left}" x2="${x0 + left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${x0 + left - 6}" y="${r1(y(v) + 4)}" text-anchor="end" font-size="11">${v.toLocaleString("en-US")}</text>`,
    );
  }
  for (let m = 0; m * 60 <= end; m += Math.max(1, Math.ceil(end / 600))) {
    parts.push(`<text x="${x(m * 60)}" y="${top + plotH + 16}" text-anchor="middle" font-size="11">${m}</text>`);
  }
  parts.push(
    `<text x="${x0 + left + plotW / 2}" y="${top + plotH + 34}" text-anchor="middle" font-size="11">minutes of load</text>`,
    `<text x="${x0 + 14}" y="${top + plotH / 2}" text-anchor="middle" font-size="11" transform="rotate(-90 ${x0 + 14} ${top + plotH / 2})">MB</text>`,
    `<polyline fill="none" stroke="#3182bd" stroke-width="2" points="${samples.filter((s) => Number.isFinite(value(s))).map((s) => `${x(s.t)},${y(value(s))}`).join(" ")}"/>`,
  );
  return parts.join("\n");
}

export function soakSvg(r: SoakResults): string {
  const v = r.verdict;
  const width = 2 * PANEL.width;
  const height = PANEL.height + 30;
  const note = `Shaded: ${v.early.label} and ${v.late.label}; dashed: their medians. Heap ${v.heapChangePct >= 0 ? "+" : ""}${v.heapChangePct.toFixed(1)} %, RSS ${v.rssChangePct >= 0 ? "+" : ""}${v.rssChangePct.toFixed(1)} %; peak RSS: API ${r.api.peakRssMb.toFixed(0)} MB, baseline ${r.baseline.peakRssMb.toFixed(0)} MB.`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
${panel(0, "Heap after a forced full GC (MB)", r.samples, (s) => s.heapAfterGcMb, [[v.early, v.early.heapAfterGcMb], [v.late, v.late.heapAfterGcMb]])}
${panel(PANEL.width, "RSS after that GC (MB)", r.samples, (s) => s.rssMb, [[v.early, v.early.rssMb], [v.late, v.late.rssMb]])}
<text x="${width / 2}" y="${height - 8}" text-anchor="middle" font-size="11" fill="#555">${note}</text>
</svg>
`;
}
