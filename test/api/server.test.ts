import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/api/server.js';

const TINY_PACK = path.resolve('test/fixtures/tiny-pack');

describe('parasol serve on an empty data dir', () => {
  const dirs: string[] = [];
  let running: RunningServer | undefined;
  afterAll(async () => {
    await running?.stop();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('answers once the first slice of the demo is indexed, indexes the rest in the background, and stops cleanly', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'parasol-serve-'));
    dirs.push(dataDir);
    const config = loadConfig({ dataDir, packDir: TINY_PACK, device: 'cpu', server: { port: 0 }, ingest: { demoServeAfter: 64 } }, {});
    running = await startServer(config, { demo: true });
    expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const first = (await (await fetch(`${running.url}/v1/stats`)).json()) as { catalog: { items: number }; indexing: { done: number; total: number; finished: boolean } };
    expect(first.catalog.items).toBeGreaterThanOrEqual(60);
    expect(first.indexing.total).toBeGreaterThan(28_000);
    expect(first.indexing.finished).toBe(false);
    const search = await fetch(`${running.url}/v1/search?q=cat&k=5`);
    expect(search.status).toBe(200);
    expect(((await search.json()) as { results: unknown[] }).results.length).toBe(5);

    // A stop in the middle of the background build waits for its batch, then saves and closes.
    await running.stop();
    running = undefined;
    expect(existsSync(path.join(dataDir, 'demo-index.incomplete'))).toBe(true);
    expect(existsSync(path.join(dataDir, 'semantic.json'))).toBe(true);
  });
});
