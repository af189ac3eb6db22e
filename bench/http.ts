/**
 * Query latency over HTTP: the real app (createApp) listening on 127.0.0.1 at a random port in
 * this process, loaded by autocannon from a separate process (see load-client.ts).
 */
import { writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { createApp } from '../src/api/app.js';
import type { ParasolContext } from '../src/context.js';
import type { LoadResult, LoadSpec } from './load-client.js';
import type { QueryTexts } from './queries.js';
import { benchScript, runChild } from './spawn.js';

export interface HttpBudget {
  /** Connections of the throughput runs; the latency runs use one. */
  connections: number;
  durationS: number;
  warmupS: number;
}

export interface HttpResult extends LoadResult {
  scenario: string;
  description: string;
  /** 1: unloaded latency (one request at a time); more: a closed loop near saturation, where latency ≈ connections / QPS. */
  connections: number;
}

interface HttpScenario {
  name: string;
  description: string;
  paths: string[];
  prefetch: string[];
  distinct: boolean;
}

/** Requests per second no CPU-bound run here exceeds; sizes the list of distinct ("cold") paths. */
const MAX_EXPECTED_QPS = 1500;
const WARM_TEXTS = 50;

export async function startHttp(context: ParasolContext): Promise<{ url: string; close(): Promise<void> }> {
  const app = createApp({ config: context.config, logger: context.logger, services: context.services });
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(listening)));
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the server has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export function httpScenarios(texts: QueryTexts, k: number, budget: HttpBudget): HttpScenario[] {
  const cold = Math.ceil((budget.durationS + budget.warmupS) * MAX_EXPECTED_QPS);
  const search = (params: Record<string, string>) => `/v1/search?${new URLSearchParams({ ...params, k: String(k) }).toString()}`;
  const warmText = texts.content(WARM_TEXTS).map((q) => search({ q }));
  const warmBoth = zip(texts.content(WARM_TEXTS), texts.style(WARM_TEXTS)).map(([q, style]) => search({ q, style }));
  return [
    {
      name: 'text:cold',
      description: 'GET /v1/search?q=<distinct text>&k: the text tower runs for every request',
      paths: texts.content(cold).map((q) => search({ q })),
      prefetch: [],
      distinct: true,
    },
    {
      name: 'text:warm',
      description: `GET /v1/search?q=&k cycling ${WARM_TEXTS} texts already in the LRU cache`,
      paths: warmText,
      prefetch: warmText,
      distinct: false,
    },
    {
      name: 'text+style:cold',
      description: 'GET /v1/search?q=&style=&k with distinct texts: both text towers run for every request',
      paths: zip(texts.content(cold), texts.style(cold)).map(([q, style]) => search({ q, style })),
      prefetch: [],
      distinct: true,
    },
    {
      name: 'text+style:warm',
      description: `GET /v1/search?q=&style=&k cycling ${WARM_TEXTS} cached pairs`,
      paths: warmBoth,
      prefetch: warmBoth,
      distinct: false,
    },
  ];
}

/** One scenario at `connections` (build fresh scenarios for each run: their texts are then unseen). */
export async function runHttpScenario(
  url: string,
  scenario: HttpScenario,
  connections: number,
  budget: HttpBudget,
  tmpDir: string,
): Promise<HttpResult> {
  const spec: LoadSpec = {
    url,
    connections,
    durationS: budget.durationS,
    warmupS: budget.warmupS,
    paths: scenario.paths,
    prefetch: scenario.prefetch,
    distinct: scenario.distinct,
  };
  const specPath = join(tmpDir, `load-${scenario.name.replace(/[^a-z0-9]+/gi, '-')}-${connections}.json`);
  await writeFile(specPath, JSON.stringify(spec));
  const timeoutMs = (budget.durationS + budget.warmupS) * 1000 + 60_000;
  const { result } = await runChild<LoadResult>(benchScript('load-client.js'), [specPath], {
    label: `autocannon ${scenario.name} ×${connections}`,
    timeoutMs,
  });
  return { scenario: scenario.name, description: scenario.description, connections, ...result };
}

function zip<A, B>(a: A[], b: B[]): Array<[A, B]> {
  return a.map((x, i) => [x, b[i]]);
}
