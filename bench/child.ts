// The parent side of a benchmarked server: fork it with its own environment,
// learn its port, ask for its peak memory or its heap after a forced GC,
// stop it. Bounded in time throughout.
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { FromChild, ToChild } from "./server-process.ts";

export type HeapSample = Omit<Extract<FromChild, { type: "heap" }>, "type">;

/**
 * The V8 flags `npm start` gives the server (package.json), so that every
 * benchmarked server runs as deployed: the same heap limits for GraphQL and
 * the baselines.
 */
export const START_FLAGS: string[] =
  JSON.parse(readFileSync(join(import.meta.dirname, "..", "package.json"), "utf8")).scripts.start.match(/--[a-z-]+=\S+/g) ?? [];

export interface ServerProcess {
  name: string;
  url: string;
  pid: number;
  /** Peak resident set size of the process so far (MB, 2^20 bytes). */
  peakRssMb(): Promise<number>;
  /** Forces a full GC in the child and returns its memory after it (MB). */
  heap(): Promise<HeapSample>;
  /** Whether the process is still running. */
  alive(): boolean;
  /** CPU time used so far (ms, user + system): by the whole process, and by its main thread (the one that runs JavaScript). */
  cpuMs(): { process: number; mainThread: number };
  stop(): Promise<void>;
}

/** utime + stime of a /proc stat file (Linux), in ms (clock ticks of 10 ms). */
function cpuMsOf(statFile: string): number {
  const stat = readFileSync(statFile, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function waitFor<T>(what: string, ms: number, executor: (resolve: (v: T) => void, reject: (e: Error) => void) => void) {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    executor(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });
}

export async function startServer(name: string, entry: string, env: NodeJS.ProcessEnv, execArgv = START_FLAGS): Promise<ServerProcess> {
  const child = fork(entry, [], { env, execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const ask = (message: ToChild) => child.send(message);
  try {
    const port = await waitFor<number>(`${name} to listen`, 120_000, (resolve, reject) => {
      child.on("message", (m: FromChild) => m.type === "listening" && resolve(m.port));
      child.once("exit", (code) => reject(new Error(`${name} exited (code ${code}) before listening`)));
    });
    return {
      name,
      url: `http://127.0.0.1:${port}`,
      pid: child.pid!,
      peakRssMb: () =>
        waitFor<number>(`${name}'s peak RSS`, 10_000, (resolve) => {
          const listener = (m: FromChild) => {
            if (m.type !== "peak-rss") return;
            child.off("message", listener);
            resolve(m.kilobytes / 1024);
          };
          child.on("message", listener);
          ask({ type: "peak-rss" });
        }),
      heap: () =>
        waitFor<HeapSample>(`${name}'s heap after a GC`, 10_000, (resolve) => {
          const listener = (m: FromChild) => {
            if (m.type !== "heap") return;
            child.off("message", listener);
            const { type: _, ...sample } = m;
            resolve(sample);
          };
          child.on("message", listener);
          ask({ type: "heap" });
        }),
      alive: () => child.exitCode === null && child.signalCode === null,
      cpuMs: () => ({ process: cpuMsOf(`/proc/${child.pid}/stat`), mainThread: cpuMsOf(`/proc/${child.pid}/task/${child.pid}/stat`) }),
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        ask({ type: "stop" });
        await waitFor<void>(`${name} to stop`, 15_000, (resolve) => void exited.then(resolve)).catch(() => {
          child.kill("SIGKILL");
          return exited;
        });
      },
    };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}
