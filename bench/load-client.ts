/**
 * The HTTP load generator, run as its own process so that it does not share the server's event
 * loop: `node dist/bench/load-client.js <spec.json>`. It cycles through the spec's request paths
 * (one path per request, shared by all connections), records every 2xx response time itself
 * (autocannon's histogram rounds to whole milliseconds) and prints `RESULT <json>` on stdout.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { round, summarize, type LatencySummary } from './stats.js';

export interface LoadSpec {
  /** http://127.0.0.1:port */
  url: string;
  connections: number;
  durationS: number;
  /** An unmeasured run first (JIT, sockets, caches). */
  warmupS: number;
  /** Request paths, used in order and wrapped around when exhausted. */
  paths: string[];
  /** Paths requested once, one at a time, before anything else (to fill the text cache). */
  prefetch: string[];
  /** Every request should get a path of its own (a "cold" scenario): report when they ran out. */
  distinct: boolean;
}

export interface LoadResult {
  requests: number;
  durationS: number;
  /** Completed 2xx responses per second. */
  qps: number;
  latency: LatencySummary;
  errors: number;
  timeouts: number;
  non2xx: number;
  /** True when a distinct-path run ran out of paths and reused some (it then had cache hits). */
  wrapped: boolean;
  pathsUsed: number;
}

async function main(): Promise<void> {
  const spec = JSON.parse(readFileSync(process.argv[2], 'utf8')) as LoadSpec;
  for (const path of spec.prefetch) {
    const response = await fetch(spec.url + path);
    if (!response.ok) throw new Error(`prefetch ${path}: HTTP ${response.status} ${await response.text()}`);
    await response.arrayBuffer();
  }
  let cursor = 0;
  const nextPath = (): string => spec.paths[cursor++ % spec.paths.length];
  const run = (durationS: number, onResponse?: (status: number, ms: number) => void) =>
    new Promise<autocannon.Result>((resolve, reject) => {
      const instance = autocannon(
        {
          url: spec.url,
          connections: spec.connections,
          duration: durationS,
          requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: nextPath() }) }],
        },
        (error: unknown, result) => (error ? reject(error as Error) : resolve(result)),
      );
      if (onResponse) instance.on('response', (_client, status, _bytes, ms) => onResponse(status, ms));
    });
  if (spec.warmupS > 0) await run(spec.warmupS);

  const startCursor = cursor;
  const samples: number[] = [];
  const result = await run(spec.durationS, (status, ms) => {
    if (status >= 200 && status < 300) samples.push(ms);
  });
  const out: LoadResult = {
    requests: samples.length,
    durationS: result.duration,
    qps: round(samples.length / result.duration, 1),
    latency: summarize(samples),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    wrapped: spec.distinct && cursor > spec.paths.length,
    pathsUsed: cursor - startCursor,
  };
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`load client failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
