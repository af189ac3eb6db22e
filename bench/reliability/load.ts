/**
 * The load run: N clients in closed loops for a fixed time, mixing searches, item reads and
 * refinement sessions against a demo index, plus one burst of generation requests larger than the
 * queue. Every answer must be a success, except the burst's intended 429 QUEUE_FULL.
 */
import http from 'node:http';
import { Rng } from '../rng.js';
import { round, summarize, type LatencySummary } from '../stats.js';
import { send, type Exchange } from './client.js';
import { startServerUnderTest } from './server.js';

export interface LoadOptions {
  clients: number;
  durationS: number;
  items: number;
  dataDir?: string;
  pack?: string;
  /** Requests in all, as a bound besides the time. */
  maxRequests?: number;
  seed?: number;
  log?: (message: string) => void;
}

export interface LoadReport {
  clients: number;
  durationS: number;
  items: number;
  buildSeconds: number;
  seconds: number;
  requests: number;
  rps: number;
  byStatus: Record<string, number>;
  byAction: Record<string, { n: number; p50Ms: number; p99Ms: number; errors: number }>;
  latency: LatencySummary;
  burst: { sent: number; byStatus: Record<string, number>; queueLength: number; workers: number; retryAfter: boolean } | null;
  errors: Array<{ action: string; method: string; target: string; status: number; error?: string; response: string }>;
  failures: string[];
  ok: boolean;
}

const WORDS = ['cat', 'dog', 'red', 'blue', 'flower', 'tree', 'face', 'smile', 'car', 'house', 'sun', 'moon', 'star', 'heart', 'fish', 'bird', 'food', 'flag', 'hand', 'music'];
const STYLES = ['flat', 'outline', 'watercolour', 'glossy 3d', 'monochrome', 'pixel art', 'sketch'];
const JSON_HEADERS = { 'content-type': 'application/json' };

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const log = options.log ?? (() => {});
  const buildStarted = performance.now();
  log(options.dataDir ? `opening ${options.dataDir}` : `building a demo index of ${options.items} items (this takes a while)`);
  const queueLength = 4;
  const workers = 1;
  const sut = await startServerUnderTest({
    pack: options.pack,
    dataDir: options.dataDir,
    items: options.items,
    generate: { workers, queueLength, maxSteps: 4, defaultSteps: 4 },
  });
  const buildSeconds = (performance.now() - buildStarted) / 1000;
  const stats = await sut.context.store.catalog.stats();
  log(`serving ${stats.items} items at ${sut.url} (ready after ${buildSeconds.toFixed(0)} s); ${options.clients} clients for ${options.durationS} s`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.clients + 64 });
  const base = new URL(sut.url);
  const ids = sut.itemIds;
  const byStatus: Record<string, number> = {};
  const samples = new Map<string, number[]>();
  const actionErrors = new Map<string, number>();
  const errors: LoadReport['errors'] = [];
  const all: number[] = [];
  let requests = 0;
  const maxRequests = options.maxRequests ?? 2_000_000;
  const deadline = performance.now() + options.durationS * 1000;
  const running = () => performance.now() < deadline && requests < maxRequests;

  const call = async (action: string, method: string, target: string, body?: unknown, ok: number[] = [200]): Promise<Exchange> => {
    const x = await send(agent, base, method, target, body === undefined ? {} : JSON_HEADERS, body === undefined ? undefined : Buffer.from(JSON.stringify(body)));
    requests++;
    const status = x.status === 0 ? `error:${x.error}` : String(x.status);
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    if (x.status !== 0) {
      all.push(x.ms);
      let list = samples.get(action);
      if (!list) samples.set(action, (list = []));
      list.push(x.ms);
    }
    if (!ok.includes(x.status)) {
      actionErrors.set(action, (actionErrors.get(action) ?? 0) + 1);
      if (errors.length < 50) errors.push({ action, method, target, status: x.status, ...(x.error ? { error: x.error } : {}), response: x.body.slice(0, 300) });
    }
    return x;
  };

  const client = async (index: number) => {
    const rng = new Rng((options.seed ?? 7) * 1000 + index);
    const word = () => rng.pick(WORDS);
    while (running()) {
      const r = rng.next();
      if (r < 0.4) {
        const params = new URLSearchParams({ q: `${word()} ${word()}`, k: String(rng.pick([10, 24, 50])) });
        if (rng.next() < 0.3) params.set('style', rng.pick(STYLES));
        await call('search', 'GET', `/v1/search?${params.toString()}`);
      } else if (r < 0.5) {
        await call('search:item', 'GET', `/v1/search?itemId=${encodeURIComponent(rng.pick(ids))}&k=24`);
      } else if (r < 0.65) {
        const id = encodeURIComponent(rng.pick(ids));
        await call('item', 'GET', `/v1/items/${id}`);
        if (rng.next() < 0.5) await call('thumbnail', 'GET', `/v1/items/${id}/thumbnail`);
      } else if (r < 0.72) {
        await call('similar', 'GET', `/v1/items/${encodeURIComponent(rng.pick(ids))}/similar?mode=${rng.pick(['style', 'content', 'both'])}&k=24`);
      } else {
        await session(rng, word);
      }
    }
  };

  const session = async (rng: Rng, word: () => string) => {
    const created = await call('session:create', 'POST', '/v1/sessions', { q: `${word()} ${word()}`, k: 10 }, [201]);
    if (created.status !== 201) return;
    const page = safeJson(created.body) as { session?: { id: string }; results?: Array<{ id: string }> };
    const sessionId = page.session?.id ?? /"session":\{"id":"([^"]+)"/.exec(created.body)?.[1] ?? /"id":"([0-9a-f-]{36})"/.exec(created.body)?.[1];
    if (!sessionId) return;
    const sid = encodeURIComponent(sessionId);
    const liked = page.results?.[0]?.id ?? rng.pick(ids);
    await call('session:step', 'POST', `/v1/sessions/${sid}/steps?k=10`, { like: { [rng.pick(['content', 'style'])]: [liked] } });
    if (rng.next() < 0.5) await call('session:step', 'POST', `/v1/sessions/${sid}/steps?k=10`, { weights: { content: 1, style: rng.pick([0.5, 1, 2]) } });
    await call('session:results', 'GET', `/v1/sessions/${sid}/results?k=10`);
    if (rng.next() < 0.3) await call('session:undo', 'DELETE', `/v1/sessions/${sid}/steps/last?k=10`);
    await call('session:delete', 'DELETE', `/v1/sessions/${sid}`, undefined, [204]);
  };

  /** More generation requests at once than workers + queue: the rest must be 429 QUEUE_FULL. */
  const burst = async (): Promise<LoadReport['burst']> => {
    const probe = await send(agent, base, 'POST', '/v1/generate', JSON_HEADERS, Buffer.from('{}'));
    if (probe.status === 503) return null; // the pack has no generator
    const sent = (workers + queueLength) * 4;
    const statuses: Record<string, number> = {};
    let retryAfter = true;
    await Promise.all(
      Array.from({ length: sent }, async (_, i) => {
        const body = { content: { text: WORDS[i % WORDS.length] }, style: { text: STYLES[i % STYLES.length] }, steps: 4, seed: i };
        const x = await call('generate', 'POST', '/v1/generate', body, [202, 429]);
        statuses[x.status || 'error'] = (statuses[x.status || 'error'] ?? 0) + 1;
        if (x.status === 429 && !/QUEUE_FULL|RATE_LIMITED/.test(x.body)) retryAfter = false;
      }),
    );
    return { sent, byStatus: statuses, queueLength, workers, retryAfter };
  };

  const started = performance.now();
  let burstResult: LoadReport['burst'] = null;
  const burstDone = new Promise<void>((resolve) => {
    setTimeout(() => {
      burst()
        .then((result) => (burstResult = result))
        .catch((error: unknown) => errors.push({ action: 'generate', method: 'POST', target: '/v1/generate', status: 0, error: String(error), response: '' }))
        .finally(resolve);
    }, Math.min(10_000, (options.durationS * 1000) / 3));
  });
  await Promise.all([...Array.from({ length: options.clients }, (_, i) => client(i)), burstDone]);
  const seconds = (performance.now() - started) / 1000;
  const healthz = await send(agent, base, 'GET', '/healthz', {}, undefined);
  agent.destroy();
  // Cancel what the burst queued, so that closing does not wait for it.
  await sut.close();

  const byAction: LoadReport['byAction'] = {};
  for (const [action, list] of samples) {
    const s = summarize(list);
    byAction[action] = { n: s.n, p50Ms: s.p50Ms, p99Ms: s.p99Ms, errors: actionErrors.get(action) ?? 0 };
  }
  const unintended = [...actionErrors.values()].reduce((a, b) => a + b, 0);
  const failures: string[] = [];
  if (unintended) failures.push(`${unintended} unintended errors`);
  if (healthz.status !== 200) failures.push(`/healthz answered ${healthz.status || healthz.error} after the run`);
  const burstReport = burstResult as LoadReport['burst'];
  if (burstReport && !burstReport.byStatus['429']) failures.push('the generation burst never overflowed the queue (no 429)');
  return {
    clients: options.clients,
    durationS: options.durationS,
    items: stats.items,
    buildSeconds: round(buildSeconds, 1),
    seconds: round(seconds, 2),
    requests,
    rps: round(requests / seconds, 1),
    byStatus,
    byAction,
    latency: summarize(all),
    burst: burstReport,
    errors,
    failures,
    ok: failures.length === 0,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}
