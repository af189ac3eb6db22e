// Bundles the browser app (web/src) with esbuild into web/dist: index.html, app.js, app.css.
// Type-checking is `tsc -p web/tsconfig.json` (the build:web script runs it first).
import { copyFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const web = path.join(root, 'web');
export const WEB_DIST = path.join(web, 'dist');

export async function buildWeb({ minify = true } = {}) {
  await rm(WEB_DIST, { recursive: true, force: true });
  await mkdir(WEB_DIST, { recursive: true });
  await build({
    entryPoints: { app: path.join(web, 'src/main.ts') },
    bundle: true,
    format: 'esm',
    target: ['es2022'],
    platform: 'browser',
    minify,
    sourcemap: true,
    outdir: WEB_DIST,
    logLevel: 'warning',
  });
  await build({
    entryPoints: { app: path.join(web, 'src/app.css') },
    bundle: true,
    minify,
    outdir: WEB_DIST,
    logLevel: 'warning',
  });
  await copyFile(path.join(web, 'index.html'), path.join(WEB_DIST, 'index.html'));
  return WEB_DIST;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await buildWeb({ minify: !process.argv.includes('--dev') });
}
