// The child side of a benchmarked server: listen on a random loopback port,
// tell the parent which, answer its questions about memory (peak RSS; the
// heap after a forced full GC), and stop when asked (or when the parent
// goes away).
import type { Server } from "node:http";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export type ToChild = { type: "peak-rss" } | { type: "heap" } | { type: "stop" };
export type FromChild =
  | { type: "listening"; port: number }
  | { type: "peak-rss"; kilobytes: number }
  /** After a forced full GC (MB, 2^20 bytes): V8's heap in use, the process's RSS, memory of C++ objects bound to JS (Buffers...); the GC's duration. */
  | { type: "heap"; heapAfterGcMb: number; rssMb: number; externalMb: number; gcMs: number };

function send(message: FromChild) {
  process.send?.(message);
}

let gc: (() => void) | undefined;
/**
 * A full, synchronous garbage collection: global.gc when the process runs
 * with --expose-gc, else the same function obtained at run time (so the
 * server keeps the V8 flags it was started with).
 */
function fullGc() {
  if (!gc) {
    gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) {
      setFlagsFromString("--expose-gc");
      gc = runInNewContext("gc") as () => void;
    }
  }
  gc();
}

function heapAfterGc(): FromChild {
  const started = performance.now();
  fullGc();
  const gcMs = performance.now() - started;
  const m = process.memoryUsage();
  const mb = (bytes: number) => bytes / 2 ** 20;
  return { type: "heap", heapAfterGcMb: mb(m.heapUsed), rssMb: mb(m.rss), externalMb: mb(m.external), gcMs };
}

export async function serveInChild(server: Server, close: () => Promise<void>) {
  if (!process.send) throw new Error("Start this file with child_process.fork (bench/child.ts does).");
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const stop = async () => {
    await close().catch((error) => console.error(error));
    process.exit(0);
  };
  process.on("message", (message: ToChild) => {
    // maxRSS: the peak resident set size of this process, in kilobytes.
    if (message.type === "peak-rss") send({ type: "peak-rss", kilobytes: process.resourceUsage().maxRSS });
    if (message.type === "heap") send(heapAfterGc());
    if (message.type === "stop") void stop();
  });
  process.on("disconnect", () => void stop());
  send({ type: "listening", port: (server.address() as { port: number }).port });
}
