/**
 * A real Parasol server for browser tests: a temp data dir, the mini pack when it is trained
 * (else the tiny random test pack that has a generator), about two hundred demo items — the same emoji drawn in each
 * of the twelve style sets, so that "more like this style" has a style set to find — the built
 * web app, listening on 127.0.0.1 at a random port.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApp } from '../../src/api/app.js';
import { loadConfig } from '../../src/config.js';
import { openContext, type ParasolContext } from '../../src/context.js';
import { demoRenderSize } from '../../indexer/demo-index.js';
import { ingest } from '../../indexer/ingest.js';
import { demoSource } from '../../indexer/sources/demo.js';
import { memorySource } from '../../indexer/sources/memory.js';
import type { IngestSource, SourceItem } from '../../indexer/sources/types.js';
import { answerGenerateSwitch, type GenerateMode } from './generate-stub.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MINI_PACK = path.join(ROOT, 'models/mini');
/** The tiny random test pack with a (random) generator, so that a generation can run end to end. */
const TINY_GENERATOR_PACK = path.join(ROOT, 'test/fixtures/tiny-generator');
export const USES_MINI_PACK = existsSync(path.join(MINI_PACK, 'pack.json'));
export const PACK_DIR = USES_MINI_PACK ? MINI_PACK : TINY_GENERATOR_PACK;
export const WEB_DIST = path.join(ROOT, 'web', 'dist');

export interface TestServer {
  url: string;
  /** How the generation routes answer (generate-stub.ts): really, as absent, or as busy. */
  setGenerateMode(mode: GenerateMode): void;
  context: ParasolContext;
  itemCount: number;
  close(): Promise<void>;
}

/** Builds web/dist when it is missing (npm test builds it first; a lone vitest run may not have). */
export function ensureWebBuilt(): void {
  if (existsSync(path.join(WEB_DIST, 'index.html')) && existsSync(path.join(WEB_DIST, 'app.js'))) return;
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-web.mjs')], { cwd: ROOT, stdio: 'inherit' });
}

/**
 * The demo corpus cut down to `contents` emoji that most sets draw, every drawing of each: about
 * contents × 12 items, balanced over the style sets.
 */
async function balancedDemo(renderSize: number, contents: number): Promise<IngestSource> {
  const all = demoSource({ renderSize });
  const byCodepoint = new Map<string, SourceItem[]>();
  for await (const item of all.items()) {
    const codepoint = item.meta.extra?.codepoint;
    if (typeof codepoint !== 'string') continue;
    byCodepoint.set(codepoint, [...(byCodepoint.get(codepoint) ?? []), item]);
  }
  const sets = new Set([...byCodepoint.values()].flat().map((item) => item.meta.source)).size;
  const chosen = [...byCodepoint.values()].filter((items) => items.length >= Math.max(2, sets - 2)).slice(0, contents).flat();
  return memorySource('e2e demo', chosen);
}

export async function startTestServer(options: { contents?: number } = {}): Promise<TestServer> {
  ensureWebBuilt();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'parasol-e2e-'));
  const config = loadConfig({ dataDir, packDir: PACK_DIR, device: 'cpu', threads: 2 }, {});
  const context = await openContext(config);
  let server: Server | undefined;
  const close = async () => {
    if (server) await new Promise<void>((resolve) => {
      server!.close(() => resolve());
      server!.closeAllConnections();
    });
    await context.close();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const source = await balancedDemo(demoRenderSize(context.encoders), options.contents ?? 60);
    const summary = await ingest(source, context.encoders, context.store, {
      batchSize: config.ingest.batchSize,
      thumbnailSize: config.ingest.thumbnailSize,
      maxPixels: config.limits.maxPixels,
      progress: null,
    });
    const app = createApp({ config: context.config, logger: context.logger, services: context.services, ready: () => true, webDir: WEB_DIST });
    let mode: GenerateMode = 'real';
    const listening = createServer((req, res) => {
      if (!answerGenerateSwitch(mode, req, res)) app(req, res);
    });
    server = listening;
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = listening.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      context,
      itemCount: summary.added,
      setGenerateMode: (next) => {
        mode = next;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
