/**
 * The import rule (README "Development"): layers point down only. The HTTP and CLI edges reach
 * storage through the services, never directly, and no domain folder reaches up into the edges or
 * the services. Every import counts: static, `import type`, `export … from` and dynamic `import()`.
 * `src/context.ts`, the composition root, is the one file allowed to wire anything to anything.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The folders the rule reads (those that exist: the corpus moves out of indexer/). */
const SCANNED = ['src', 'indexer', 'corpus'];

/** The composition root: it opens stores and builds services, so it may import anything. */
const EXEMPT = new Set(['src/context.ts']);

/** The edges: what a user calls (HTTP routes, CLI commands). */
const EDGES: Record<string, readonly string[]> = {
  api: ['src/api/'],
  cli: ['src/cli/', 'src/cli.ts'],
};

/** Storage, which the edges reach only through the services. */
const STORE = ['src/store/'];

/** What sits above the domain folders. */
const ABOVE_DOMAIN: Record<string, readonly string[]> = {
  api: EDGES.api,
  cli: EDGES.cli,
  services: ['src/services/'],
};

/** The domain folders: they may use each other and the shared modules, never what is above them. */
const DOMAIN: Record<string, readonly string[]> = {
  search: ['src/search/'],
  parasol: ['src/parasol/'],
  jobs: ['src/jobs/'],
  store: ['src/store/'],
  encoders: ['src/encoders/'],
  indexer: ['indexer/'],
  eval: ['src/eval/'],
  corpus: ['corpus/', 'src/corpus/'],
};

export interface ImportRef {
  specifier: string;
  line: number;
}

export interface Violation {
  file: string;
  specifier: string;
  line: number;
  rule: string;
}

/** Comments that open a line (JSDoc, `//` lines) blanked out, newlines kept so line numbers stay right. */
function withoutComments(source: string): string {
  const blank = (text: string) => text.replace(/[^\n]/g, ' ');
  return source.replace(/^[ \t]*\/\*[\s\S]*?\*\//gm, blank).replace(/^[ \t]*\/\/.*$/gm, blank);
}

const STATIC_IMPORT = /^[ \t]*(?:import|export)\b[^;'"`]*?\bfrom\s*(['"])([^'"\n]+)\1/gm;
const SIDE_EFFECT_IMPORT = /^[ \t]*import\s*(['"])([^'"\n]+)\1/gm;
const DYNAMIC_IMPORT = /\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g;

/** Every module specifier a TypeScript source names: imports, type imports, re-exports, dynamic import(), in source order. */
export function importsOf(source: string): ImportRef[] {
  const code = withoutComments(source);
  const lineOf = (pos: number) => code.slice(0, pos).split('\n').length;
  const refs: Array<ImportRef & { pos: number }> = [];
  for (const pattern of [STATIC_IMPORT, SIDE_EFFECT_IMPORT, DYNAMIC_IMPORT]) {
    for (const match of code.matchAll(pattern)) {
      // The line of the specifier itself (a multi-line import names its module on its last line).
      const pos = match.index + match[0].lastIndexOf(match[2]);
      refs.push({ specifier: match[2], line: lineOf(pos), pos });
    }
  }
  return refs.sort((a, b) => a.pos - b.pos).map(({ specifier, line }) => ({ specifier, line }));
}

function folderOf(file: string, table: Record<string, readonly string[]>): string | undefined {
  return Object.keys(table).find((name) => table[name].some((prefix) => (prefix.endsWith('/') ? file.startsWith(prefix) : file === prefix)));
}

/** The repository path an import points at, without its extension (undefined: a package). */
function target(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  return path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
}

const matches = (resolved: string, prefixes: readonly string[]) =>
  prefixes.some((prefix) => (prefix.endsWith('/') ? resolved.startsWith(prefix) : resolved.replace(/\.js$/, '.ts') === prefix));

/** The broken rules in a set of files (repository path → source). */
export function violations(files: ReadonlyMap<string, string>): Violation[] {
  const found: Violation[] = [];
  for (const [file, source] of files) {
    if (EXEMPT.has(file)) continue;
    const edge = folderOf(file, EDGES);
    const domain = folderOf(file, DOMAIN);
    for (const { specifier, line } of importsOf(source)) {
      const resolved = target(file, specifier);
      if (resolved === undefined) continue;
      if (edge && matches(resolved, STORE)) {
        found.push({ file, specifier, line, rule: `src/${edge} must reach the store through src/services, not import src/store directly` });
      }
      const above = Object.keys(ABOVE_DOMAIN).find((name) => matches(resolved, ABOVE_DOMAIN[name]));
      if (domain && above) {
        found.push({ file, specifier, line, rule: `the ${domain} folder must not import ${above}/ (layers point down)` });
      }
    }
  }
  return found;
}

function tsFiles(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'));
}

const describeViolation = (v: Violation) => `${v.file}:${v.line} imports "${v.specifier}": ${v.rule}`;

describe('the import rule', () => {
  it('holds for every module under src/, indexer/ and corpus/', () => {
    const files = new Map(SCANNED.flatMap(tsFiles).map((file) => [file, readFileSync(path.join(ROOT, file), 'utf8')] as const));
    expect(files.size).toBeGreaterThan(50);
    expect(files.has('src/api/app.ts') && files.has('src/services/items.ts') && files.has('src/cli.ts')).toBe(true);
    expect(importsOf(files.get('src/api/app.ts')!).map((ref) => ref.specifier)).toContain('./routes/items.js');
    expect(violations(files).map(describeViolation)).toEqual([]);
  });

  it('finds every kind of import, type-only and dynamic ones included', () => {
    const source = [
      "import { a } from './a.js';",
      "import type { B } from './b.js';",
      "import './side-effect.js';",
      "export { c } from './c.js';",
      "export type { D } from './d.js';",
      'const e = await import(\'./e.js\');',
      "import {",
      '  f,',
      "} from './f.js';",
      "// import { g } from './commented-out.js';",
      '/** import { h } from \'./documented.js\'; */',
      "const i = await import(",
      "  './i.js'",
      ');',
    ].join('\n');
    expect(importsOf(source)).toEqual([
      { specifier: './a.js', line: 1 },
      { specifier: './b.js', line: 2 },
      { specifier: './side-effect.js', line: 3 },
      { specifier: './c.js', line: 4 },
      { specifier: './d.js', line: 5 },
      { specifier: './e.js', line: 6 },
      { specifier: './f.js', line: 9 },
      { specifier: './i.js', line: 13 },
    ]);
  });

  it('names the file and the import of each broken rule, and exempts the composition root', () => {
    const files = new Map([
      ['src/api/routes/items.ts', "import type { Catalog } from '../../store/types.js';"],
      ['src/cli/stats.ts', "const { KeyStore } = await import('../store/keys.js');"],
      ['src/cli.ts', "import { openEmbeddedStore } from './store/embedded.js';"],
      ['src/search/engine.ts', "import type { AppDeps } from '../api/deps.js';"],
      ['src/store/migrate.ts', "import { ItemService } from '../services/items.js';"],
      ['indexer/ingest.ts', "import { main } from '../src/cli.js';"],
      ['src/jobs/worker.ts', "import { parse } from '../cli/args.js';"],
      ['corpus/sets.ts', "import type { ApiItem } from '../src/api/public-types.js';"],
      // Allowed: services over the store, the edges over services, domains over each other, the root over all.
      ['src/services/items.ts', "import type { Store } from '../store/types.js';"],
      ['src/api/routes/search.ts', "import type { SearchService } from '../../services/search.js';"],
      ['src/search/engine2.ts', "import type { Catalog } from '../store/types.js';"],
      ['src/context.ts', "import { createApp } from './api/app.js';\nimport { KeyStore } from './store/keys.js';"],
      ['src/api/server.ts', "import express from 'express';"],
    ]);
    expect(violations(files).map(({ file, specifier, line }) => `${file}:${line} ${specifier}`)).toEqual([
      'src/api/routes/items.ts:1 ../../store/types.js',
      'src/cli/stats.ts:1 ../store/keys.js',
      'src/cli.ts:1 ./store/embedded.js',
      'src/search/engine.ts:1 ../api/deps.js',
      'src/store/migrate.ts:1 ../services/items.js',
      'indexer/ingest.ts:1 ../src/cli.js',
      'src/jobs/worker.ts:1 ../cli/args.js',
      'corpus/sets.ts:1 ../src/api/public-types.js',
    ]);
  });
});
