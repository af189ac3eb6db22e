/**
 * Killing the server during API ingestion loses no acknowledged item: a child serves the API
 * (compiled, from dist/), the parent posts small distinct images with POST /v1/items and records
 * every id a 201 acknowledged, SIGKILLs the child at a random moment, and after each kill checks
 * the data dir directly: every acknowledged id is in the catalog and both indices hold exactly
 * the catalog's items.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import { ensureStoreBuilt } from '../store/build-dist.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const CHILD = join(HERE, 'fixtures/serve-until-killed.mjs');
const TINY_PACK = join(ROOT, 'test/fixtures/tiny-pack');
const DIMS = { semantic: 32, style: 16 }; // the tiny pack's
const ROUNDS = Number(process.env.PARASOL_API_KILL_ROUNDS ?? 5);

/** Every compiled module the child needs, rebuilt when older than its source. */
const SOURCES = [
  'src/api/server.ts',
  'src/api/app.ts',
  'src/api/routes/items.ts',
  'src/api/routes/generate.ts',
  'src/services/items.ts',
  'src/config.ts',
  'src/context.ts',
  'src/errors.ts',
  'src/store/embedded.ts',
  'src/store/sqlite-catalog.ts',
  'src/store/hnsw-index.ts',
];

interface Child {
  process: ChildProcess;
  url: Promise<string>;
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function startChild(dataDir: string): Child {
  const child = spawn(process.execPath, [CHILD, dataDir, TINY_PACK], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const url = new Promise<string>((resolveUrl, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /^URL (\S+)$/m.exec(stdout);
      if (match) resolveUrl(match[1]);
    });
    child.on('close', () => reject(new Error(`the server exited before it listened:\n${stderr}`)));
  });
  url.catch(() => undefined);
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((done) =>
    child.on('close', (code, signal) => done({ code, signal, stderr })),
  );
  return { process: child, url, closed };
}

let colourSeq = 0;
/** A small PNG of a colour no other call gives (so no upload is a duplicate of another). */
async function distinctPng(): Promise<Buffer> {
  const n = colourSeq++;
  const background = { r: n % 256, g: Math.floor(n / 256) % 256, b: (n * 37) % 256 };
  // A corner in the inverse colour so that the image is not one flat colour (ingest refuses those as blank).
  const corner = { r: 255 - background.r, g: 255 - background.g, b: 255 - background.b };
  return sharp({ create: { width: 24, height: 24, channels: 3, background } })
    .composite([{ input: { create: { width: 3, height: 3, channels: 3, background: corner } }, top: 0, left: 0 }])
    .png()
    .toBuffer();
}

/** Posts until the server goes away; returns the ids its 201s acknowledged. */
async function ingestUntilGone(url: string, acknowledged: Set<string>): Promise<number> {
  let posts = 0;
  for (;;) {
    const form = new FormData();
    const count = 1 + (posts % 3);
    for (let i = 0; i < count; i++) form.append('images', new Blob([new Uint8Array(await distinctPng())], { type: 'image/png' }), `i${i}.png`);
    let res: Response;
    try {
      res = await fetch(`${url}/v1/items`, { method: 'POST', body: form });
    } catch {
      return posts; // connection refused or reset: the child is gone
    }
    let body: { results?: Array<{ id?: string; status: string }> };
    try {
      body = (await res.json()) as typeof body;
    } catch {
      return posts; // the kill cut the response: it acknowledged nothing
    }
    expect(res.status, JSON.stringify(body)).toBe(201);
    for (const result of body.results ?? []) if (result.status === 'added' && result.id) acknowledged.add(result.id);
    posts += 1;
  }
}

describe('API ingestion under SIGKILL', () => {
  let dataDir: string;

  beforeAll(() => {
    ensureStoreBuilt(ROOT, SOURCES);
    dataDir = mkdtempSync(join(tmpdir(), 'parasol-api-kill-'));
  });
  afterAll(() => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it(`keeps every acknowledged item over ${ROUNDS} kills`, async () => {
    const acknowledged = new Set<string>();
    let posts = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const child = startChild(dataDir);
      const url = await child.url;
      const killAfter = 150 + Math.floor(Math.random() * 850);
      const timer = setTimeout(() => child.process.kill('SIGKILL'), killAfter);
      const ingesting = ingestUntilGone(url, acknowledged);
      const { signal, stderr } = await child.closed;
      clearTimeout(timer);
      expect(signal, `round ${round}: the server exited on its own:\n${stderr}`).toBe('SIGKILL');
      posts += await ingesting;

      const store = await openEmbeddedStore({ dataDir, dims: DIMS, hnsw: { M: 16, efConstruction: 200, efSearch: 128 } });
      try {
        for (const id of acknowledged) expect(await store.catalog.get(id), `round ${round}: acknowledged id ${id} is missing`).toBeDefined();
        const { items } = await store.catalog.stats();
        expect(items).toBeGreaterThanOrEqual(acknowledged.size);
        const catalogVersion = await store.catalog.version();
        for (const modality of ['semantic', 'style'] as const) {
          expect(store.indices[modality].liveSeqs().length, `round ${round}: ${modality} index size`).toBe(items);
          expect(store.indices[modality].version(), `round ${round}: ${modality} index version`).toBe(catalogVersion);
        }
      } finally {
        await store.close({ save: false });
      }
    }
    console.info(`API kill test: ${ROUNDS} kills, ${posts} acknowledged posts, ${acknowledged.size} ids`);
    // Not vacuous: the server acknowledged work before the kills.
    expect(acknowledged.size).toBeGreaterThan(ROUNDS);
  }, 90_000);
});
