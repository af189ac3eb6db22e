/** Compiles the project to dist/ when the given compiled modules (the store's by default) are missing or older than their sources. */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

const SOURCES = [
  'src/store/embedded.ts',
  'src/store/hnsw-index.ts',
  'src/store/lexical.ts',
  'src/store/sqlite-catalog.ts',
  'src/store/types.ts',
  'src/errors.ts',
  'src/vectors.ts',
];

export function ensureStoreBuilt(root: string, sources: readonly string[] = SOURCES): void {
  const outputs = sources.map((source) => ({
    source: join(root, source),
    output: join(root, 'dist', source.replace(/\.ts$/, '.js')),
  }));
  const stale = outputs.some(
    ({ source, output }) => !existsSync(output) || statSync(output).mtimeMs < statSync(source).mtimeMs,
  );
  if (!stale) return;
  let log = '';
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'pipe', encoding: 'utf8' });
  } catch (error) {
    // Type errors elsewhere in the project still emit JavaScript; only a missing output is fatal.
    log = String((error as { stdout?: string }).stdout ?? error);
  }
  const missing = outputs.filter(({ output }) => !existsSync(output)).map(({ output }) => output);
  if (missing.length > 0) throw new Error(`tsc did not produce ${missing.join(', ')}\n${log}`);
}
