/**
 * The fuzz run: malformed and hostile requests generated from openapi.yaml (cases.ts) against a
 * real server, with bounded concurrency. It passes when no answer is a 5xx, no request broke the
 * connection without an answer, the process saw no uncaught error, /healthz still answers, and
 * neither the catalog (stats + version) nor the key store changed.
 */
import http from 'node:http';
import { OPENAPI_PATH } from '../../src/api/openapi.js';
import type { CatalogStats } from '../../src/store/types.js';
import { round, summarize, type LatencySummary } from '../stats.js';
import { CaseGenerator, type FuzzCase } from './cases.js';
import { send, type Exchange } from './client.js';
import { badFiles } from './images.js';
import { startServerUnderTest, type ServerOptions } from './server.js';
import { loadOperations } from './spec.js';

export interface FuzzOptions {
  requests: number;
  seed: number;
  concurrency: number;
  server: ServerOptions;
  /** Progress lines (stderr in the CLI; nothing in tests). */
  log?: (message: string) => void;
}

export interface RequestRecord {
  n: number;
  kind: string;
  operation: string;
  method: string;
  target: string;
  headers: Record<string, string>;
  bodyBytes: number;
  /** The body's first 1000 characters (UTF-8, lossy). */
  bodyPreview: string;
  status: number;
  error?: string;
  response: string;
}

export interface FuzzReport {
  seed: number;
  requests: number;
  concurrency: number;
  operations: number;
  seconds: number;
  byStatus: Record<string, number>;
  byOperation: Record<string, Record<string, number>>;
  byKind: Record<string, Record<string, number>>;
  latency: LatencySummary;
  serverErrors: RequestRecord[];
  transportErrors: RequestRecord[];
  /** 2xx answers to requests that must not succeed (an ingest of a bad file, a delete, a new key). */
  unexpectedSuccesses: RequestRecord[];
  uncaught: string[];
  /** Errors the server logged (its 500s log here). */
  loggedErrors: string[];
  catalogBefore: CatalogStats;
  catalogAfter: CatalogStats;
  catalogUnchanged: boolean;
  keysCreated: boolean;
  aliveAfter: boolean;
  failures: string[];
  ok: boolean;
}

/**
 * An answer that means the catalog or access control changed: an upload that added an item (201;
 * 200 is "every file skipped"), a deleted item, a created key.
 */
function changedSomething(c: FuzzCase, status: number): boolean {
  if (status < 200 || status > 299) return false;
  if (c.method === 'POST' && /^\/v1\/items\/?(\?|$)/.test(c.target)) return status === 201;
  return (c.method === 'DELETE' && c.target.startsWith('/v1/items/')) || (c.method === 'POST' && c.target.startsWith('/v1/admin/keys'));
}

/** 503 GENERATION_UNAVAILABLE from a generation route is the contract's answer on a pack without a generator. */
function documentedUnavailable(c: FuzzCase, x: Exchange): boolean {
  return x.status === 503 && c.target.startsWith('/v1/generate') && x.body.includes('"GENERATION_UNAVAILABLE"');
}

function record(c: FuzzCase, x: Exchange): RequestRecord {
  return {
    n: c.n,
    kind: c.kind,
    operation: c.operation,
    method: c.method,
    target: c.target.length > 2000 ? `${c.target.slice(0, 2000)}…(${c.target.length} chars)` : c.target,
    headers: Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k, v.length > 300 ? `${v.slice(0, 300)}…(${v.length})` : v])),
    bodyBytes: c.body?.length ?? 0,
    bodyPreview: c.body ? c.body.subarray(0, 1000).toString('utf8') : '',
    status: x.status,
    ...(x.error ? { error: x.error } : {}),
    response: x.body.slice(0, 500),
  };
}

function bump(table: Record<string, number>, key: string): void {
  table[key] = (table[key] ?? 0) + 1;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const log = options.log ?? (() => {});
  const uncaught: string[] = [];
  const onUncaught = (error: unknown) => uncaught.push(String((error as Error)?.stack ?? error).slice(0, 2000));
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  const loggedErrors: string[] = [];
  const logger = {
    info() {},
    warn() {},
    error(message: string, fields?: Record<string, unknown>) {
      if (loggedErrors.length < 50) loggedErrors.push(`${message} ${JSON.stringify(fields ?? {})}`.slice(0, 1000));
    },
  };
  log(`starting the server (${options.server.items} demo items)`);
  const sut = await startServerUnderTest(options.server, logger);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  try {
    const base = new URL(sut.url);
    const operations = await loadOperations(OPENAPI_PATH);
    const sessionIds: string[] = [];
    for (const q of ['cat', 'a red bird', 'watercolour flower']) {
      const res = await send(agent, base, 'POST', '/v1/sessions', { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ q, k: 5 })));
      if (res.status === 201) sessionIds.push((JSON.parse(res.body) as { session: { id: string } }).session.id);
    }
    const generator = new CaseGenerator(
      { operations, itemIds: sut.itemIds, sessionIds, badFiles: await badFiles(), jsonBytes: sut.config.limits.jsonBytes },
      options.seed,
    );
    const catalogBefore = await sut.context.store.catalog.stats();
    const keysBefore = sut.context.keys.hasAny();

    const byStatus: Record<string, number> = {};
    const byOperation: Record<string, Record<string, number>> = {};
    const byKind: Record<string, Record<string, number>> = {};
    const latencies: number[] = [];
    const serverErrors: RequestRecord[] = [];
    const transportErrors: RequestRecord[] = [];
    const unexpectedSuccesses: RequestRecord[] = [];
    let issued = 0;
    let finished = 0;
    const started = performance.now();
    const worker = async () => {
      while (issued < options.requests) {
        issued++;
        const c = generator.next();
        const x = await send(agent, base, c.method, c.target, c.headers, c.body);
        finished++;
        const status = x.status === 0 ? `error:${x.error}` : String(x.status);
        bump(byStatus, status);
        bump((byOperation[`${c.method} ${c.operation}`] ??= {}), status);
        bump((byKind[c.kind] ??= {}), status);
        if (x.status !== 0) latencies.push(x.ms);
        if (x.status >= 500 && !documentedUnavailable(c, x)) serverErrors.push(record(c, x));
        else if (x.status === 0) transportErrors.push(record(c, x));
        else if (changedSomething(c, x.status)) unexpectedSuccesses.push(record(c, x));
        if (finished % 1000 === 0) log(`${finished}/${options.requests} requests, ${serverErrors.length} 5xx`);
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
    const seconds = (performance.now() - started) / 1000;

    // Jobs the fuzz queued (valid-looking generate requests) may still run; they touch no catalog.
    const catalogAfter = await sut.context.store.catalog.stats();
    const health = await send(agent, base, 'GET', '/healthz', {}, undefined, 10_000);
    const aliveAfter = health.status === 200;
    const keysCreated = !keysBefore && sut.context.keys.hasAny();
    const catalogUnchanged = JSON.stringify(catalogBefore) === JSON.stringify(catalogAfter);

    const failures: string[] = [];
    if (serverErrors.length) failures.push(`${serverErrors.length} answers were 5xx`);
    if (transportErrors.length) failures.push(`${transportErrors.length} requests got no answer`);
    if (unexpectedSuccesses.length) failures.push(`${unexpectedSuccesses.length} requests that must fail succeeded`);
    if (uncaught.length) failures.push(`${uncaught.length} uncaught errors in the process`);
    if (!aliveAfter) failures.push(`/healthz answered ${health.status || health.error} after the run`);
    if (!catalogUnchanged) failures.push(`the catalog changed: ${JSON.stringify(catalogBefore)} → ${JSON.stringify(catalogAfter)}`);
    if (keysCreated) failures.push('an API key was created');
    return {
      seed: options.seed,
      requests: finished,
      concurrency: options.concurrency,
      operations: operations.length,
      seconds: round(seconds, 2),
      byStatus,
      byOperation,
      byKind,
      latency: summarize(latencies),
      serverErrors,
      transportErrors,
      unexpectedSuccesses,
      uncaught,
      loggedErrors,
      catalogBefore,
      catalogAfter,
      catalogUnchanged,
      keysCreated,
      aliveAfter,
      failures,
      ok: failures.length === 0,
    };
  } finally {
    agent.destroy();
    await sut.close();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  }
}
