/**
 * A real API over a real context: a temp data dir, the encoders of a model pack (the bundled mini
 * pack once it is trained, else the tiny random test pack) and the first demo items ingested.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import type { Express } from 'express';
import sharp from 'sharp';
import type { Response } from 'supertest';
import { expect } from 'vitest';
import { createApp, type AppDeps } from '../../src/api/app.js';
import { OPENAPI_PATH } from '../../src/api/openapi.js';
import { loadConfig } from '../../src/config.js';
import { createServices, openContext, type ParasolContext, type ServiceParts } from '../../src/context.js';
import { buildDemoIndex } from '../../indexer/demo-index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MINI_PACK = path.join(ROOT, 'models/mini');
const TINY_PACK = path.join(ROOT, 'test/fixtures/tiny-pack');

export const PACK_DIR = existsSync(path.join(MINI_PACK, 'pack.json')) ? MINI_PACK : TINY_PACK;
export const DEMO_ITEMS = 60;

export interface TestApi {
  app: Express;
  context: ParasolContext;
  /** Ids of the ingested demo items, in ingestion order. */
  ids: string[];
  ready: { value: boolean };
  close(): Promise<void>;
}

export async function openTestApi(limits: Record<string, number> = {}): Promise<TestApi> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'parasol-api-'));
  // An empty environment: the developer's PARASOL_* variables must not change the tests.
  const config = loadConfig({ dataDir, packDir: PACK_DIR, device: 'cpu', threads: 2, limits }, {});
  const context = await openContext(config);
  try {
    const summary = await buildDemoIndex(context, { limit: DEMO_ITEMS, progress: null });
    expect(summary.added).toBe(DEMO_ITEMS);
    const ready = { value: true };
    const app = createApp(appDeps(context, { ready: () => ready.value }));
    return {
      app,
      context,
      ids: summary.addedIds,
      ready,
      async close() {
        await context.close();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await context.close();
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * The app's dependencies over a context: services built afresh over its parts, so that a test
 * which swaps a part (the config, the engine, the queue) gets services over the swapped one.
 */
export function appDeps(context: ServiceParts, extra: Partial<AppDeps> = {}): AppDeps {
  return { config: context.config, logger: context.logger, services: createServices(context), ...extra };
}

let openApiText: string | undefined;

/** Checks the `{error:{code,message}}` shape, the status, and that the code is one openapi.yaml lists. */
export async function expectError(res: Response, status: number, code?: string): Promise<void> {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers['content-type']).toMatch(/application\/json/);
  expect(Object.keys(res.body)).toEqual(['error']);
  expect(typeof res.body.error.code).toBe('string');
  expect(typeof res.body.error.message).toBe('string');
  expect(JSON.stringify(res.body)).not.toMatch(/\bat .+\.(ts|js):\d+/); // no stack traces
  if (code) expect(res.body.error.code).toBe(code);
  openApiText ??= await readFile(OPENAPI_PATH, 'utf8');
  expect(openApiText).toContain(res.body.error.code);
}

/** A small real image (a coloured square with a bar), as PNG bytes. */
export async function testImage(colour: string, size = 48): Promise<Buffer> {
  const bar = await sharp({ create: { width: Math.round(size / 2), height: Math.round(size / 6), channels: 3, background: '#000000' } })
    .png()
    .toBuffer();
  return sharp({ create: { width: size, height: size, channels: 3, background: colour } })
    .composite([{ input: bar, top: Math.round(size / 3), left: Math.round(size / 4) }])
    .png()
    .toBuffer();
}

/**
 * A decompression bomb in 90 bytes: a 1×1 PNG whose header claims 30000×30000 pixels (CRC fixed
 * up so the header is valid). Nothing may decode it; the pixel limit must refuse it from the header.
 */
export async function pngBomb(side = 30_000): Promise<Buffer> {
  const png = Buffer.from(await sharp({ create: { width: 1, height: 1, channels: 3, background: '#ffffff' } }).png().toBuffer());
  // Signature (8) + IHDR length (4) + "IHDR" (4), then width and height; the CRC covers type + data.
  png.writeUInt32BE(side, 16);
  png.writeUInt32BE(side, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)) >>> 0, 29);
  return png;
}

/** Every route registered on the app, as "METHOD /path" with express' `:param` syntax. */
export function registeredRoutes(app: Express): string[] {
  interface Layer {
    route?: { path: string | string[]; methods: Record<string, boolean> };
    handle?: { stack?: Layer[] };
  }
  const routes: string[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const routePath of paths) {
          for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') routes.push(`${method.toUpperCase()} ${routePath}`);
        }
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return routes;
}
