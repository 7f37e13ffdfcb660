// The child side of a benchmarked server: listen on a random loopback port,
// tell the parent which, answer its questions about peak memory, and stop
// when asked (or when the parent goes away).
import type { Server } from "node:http";

export type ToChild = { type: "peak-rss" } | { type: "stop" };
export type FromChild = { type: "listening"; port: number } | { type: "peak-rss"; kilobytes: number };

function send(message: FromChild) {
  process.send?.(message);
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
    if (message.type === "stop") void stop();
  });
  process.on("disconnect", () => void stop());
  send({ type: "listening", port: (server.address() as { port: number }).port });
}
