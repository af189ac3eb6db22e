/**
 * What the bench runs in fresh processes, on a data directory the parent has built and closed:
 *
 *   node dist/bench/child.js cold-start <dataDir> <packDir> <text>
 *       openContext (as `parasol serve` does) and one text query; reports when each step ended.
 *   node dist/bench/child.js cold-start-split <dataDir> <packDir> <text>
 *       the same two steps openContext takes (models, then store) timed apart, then the query.
 *   node --expose-gc dist/bench/child.js memory <dataDir> <packDir> <semanticDim>,<styleDim>
 *       opens only the store (catalog + both HNSW snapshots; no models) and reports RSS before and after.
 *
 * Times are ms since the process started (performance.now() counts from process start), so
 * `bootMs` is Node's own start-up plus loading the modules. The line `ANSWER` goes out the moment
 * the answer is in hand, before the (slow, at 100k) item count and the RESULT line.
 */
import { loadConfig } from '../src/config.js';
import { createEngine, openContext, openEncoders, openStore } from '../src/context.js';
import { isEmbeddedStore, openEmbeddedStore } from '../src/store/embedded.js';
import type { Store } from '../src/store/types.js';

/** What opening found for each HNSW snapshot (loaded, rebuilt…); empty for a server-side store. */
function snapshotStates(store: Store): Record<string, string> {
  return isEmbeddedStore(store) ? Object.fromEntries(Object.entries(store.startup).map(([m, s]) => [m, s.status])) : {};
}

export interface ColdStartChildResult {
  mode: 'cold-start' | 'cold-start-split';
  /** Process start → main() running (Node start-up + module loading). */
  bootMs: number;
  /** openContext (cold-start) or its steps one by one (split). */
  openMs: number;
  /** Split mode only. */
  modelsMs?: number;
  indicesMs?: number;
  /** The first query, text encoding included. */
  queryMs: number;
  /** Process start → answer in hand. */
  answerAtMs: number;
  results: number;
  items: number;
  rssBytes: number;
  snapshots: Record<string, string>;
}

export interface MemoryChildResult {
  rssBeforeBytes: number;
  rssAfterBytes: number;
  heapUsedAfterBytes: number;
  externalAfterBytes: number;
  items: number;
  gc: boolean;
}

const gc = (globalThis as { gc?: () => void }).gc;

function settle(): void {
  if (gc) for (let i = 0; i < 3; i++) gc();
}

function emit(value: unknown): void {
  process.stdout.write(`RESULT ${JSON.stringify(value)}\n`);
}

async function coldStart(dataDir: string, packDir: string, text: string): Promise<void> {
  const bootMs = performance.now();
  const config = loadConfig({ dataDir, packDir });
  const context = await openContext(config);
  const openedAt = performance.now();
  const response = await context.engine.search({ q: text });
  const answerAtMs = performance.now();
  process.stdout.write('ANSWER\n');
  const result: ColdStartChildResult = {
    mode: 'cold-start',
    bootMs,
    openMs: openedAt - bootMs,
    queryMs: answerAtMs - openedAt,
    answerAtMs,
    results: response.results.length,
    items: (await context.store.catalog.stats()).items,
    rssBytes: process.memoryUsage().rss,
    snapshots: snapshotStates(context.store),
  };
  emit(result);
  await context.close();
}

async function coldStartSplit(dataDir: string, packDir: string, text: string): Promise<void> {
  const bootMs = performance.now();
  const config = loadConfig({ dataDir, packDir });
  // The same steps as openContext (src/context.ts), timed one by one.
  const encoders = await openEncoders(config);
  const modelsAt = performance.now();
  const store = await openStore(config, encoders);
  const indicesAt = performance.now();
  const engine = createEngine(config, store, encoders);
  const response = await engine.search({ q: text });
  const answerAtMs = performance.now();
  process.stdout.write('ANSWER\n');
  const result: ColdStartChildResult = {
    mode: 'cold-start-split',
    bootMs,
    openMs: indicesAt - bootMs,
    modelsMs: modelsAt - bootMs,
    indicesMs: indicesAt - modelsAt,
    queryMs: answerAtMs - indicesAt,
    answerAtMs,
    results: response.results.length,
    items: (await store.catalog.stats()).items,
    rssBytes: process.memoryUsage().rss,
    snapshots: snapshotStates(store),
  };
  emit(result);
  await store.close({ save: false });
  await encoders.dispose();
}

async function memory(dataDir: string, packDir: string, dims: { semantic: number; style: number }): Promise<void> {
  const config = loadConfig({ dataDir, packDir });
  settle();
  const before = process.memoryUsage();
  const store = await openEmbeddedStore({ dataDir, dims, hnsw: config.hnsw, joint: config.hnsw.joint, jointM: config.hnsw.jointM, jointEfConstruction: config.hnsw.jointEfConstruction, jointEfSearch: config.hnsw.jointEfSearch });
  settle();
  const after = process.memoryUsage();
  const result: MemoryChildResult = {
    rssBeforeBytes: before.rss,
    rssAfterBytes: after.rss,
    heapUsedAfterBytes: after.heapUsed,
    externalAfterBytes: after.external,
    items: (await store.catalog.stats()).items,
    gc: gc !== undefined,
  };
  emit(result);
  await store.close({ save: false });
}

async function main(): Promise<void> {
  const [mode, dataDir, packDir, extra = 'a red apple'] = process.argv.slice(2);
  if (!dataDir || !packDir) throw new Error('usage: child.js <cold-start|cold-start-split|memory> <dataDir> <packDir> [text|dims]');
  if (mode === 'cold-start') await coldStart(dataDir, packDir, extra);
  else if (mode === 'cold-start-split') await coldStartSplit(dataDir, packDir, extra);
  else if (mode === 'memory') {
    const [semantic, style] = extra.split(',').map(Number);
    await memory(dataDir, packDir, { semantic, style });
  }
  else throw new Error(`unknown mode ${mode}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
