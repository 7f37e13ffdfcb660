// One HTTP load with autocannon: a fixed time, a fixed number of
// connections, each request drawn at random from a list. Latencies are
// recorded per response (autocannon's own histogram rounds to whole ms).
import autocannon, { type Result } from "autocannon";
import { mean, percentile } from "./stats.ts";

export interface HttpRequest {
  headers: Record<string, string>;
  body: string;
}

export interface LoadResult {
  requestsPerSecond: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Connection errors, timeouts, non-2xx responses and bodies that failed `verify`. */
  failures: number;
}

export async function runLoad(options: {
  url: string;
  connections: number;
  seconds: number;
  requests: HttpRequest[];
  /** A response body that does not pass counts as a failure. */
  verify: (body: string) => boolean;
}): Promise<LoadResult> {
  const { requests } = options;
  const latencies: number[] = [];
  let finished = false;
  const result = await new Promise<Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        method: "POST",
        connections: options.connections,
        duration: options.seconds,
        timeout: 10,
        requests: [
          {
            setupRequest: (request) => {
              const pick = requests[Math.floor(Math.random() * requests.length)];
              return { ...request, headers: { ...request.headers, ...pick.headers }, body: pick.body };
            },
          },
        ],
        verifyBody: options.verify,
      },
      (error, res) => {
        finished = true;
        if (error) reject(error);
        else resolve(res);
      },
    );
    instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
    // A bound of its own, in case autocannon itself hangs.
    setTimeout(() => finished || instance.stop(), (options.seconds + 30) * 1000).unref();
  });
  return {
    requestsPerSecond: latencies.length / result.duration,
    meanMs: mean(latencies),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    requests: latencies.length,
    failures: result.errors + result.non2xx + result.mismatches,
  };
}
