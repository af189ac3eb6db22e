/**
 * DESIGN.md §5: killing the process at any moment must lose no committed item and leave no
 * half-item. A child ingests through the compiled embedded store; we SIGKILL it at random moments,
 * reopen, and check the catalog and both indices after every kill.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import { ensureStoreBuilt } from './build-dist.js';
import { seededRandom, tempDir } from './helpers.js';
import { jointVector } from '../../src/vectors.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const CHILD = join(HERE, 'fixtures/ingest-until-killed.mjs');
const DIMS = { semantic: 32, style: 16 }; // as in the child
const HNSW = { M: 8, efConstruction: 32, efSearch: 32 };
// Stress knobs for local runs, e.g. PARASOL_KILL_ROUNDS=200 PARASOL_KILL_SAVE_P=1 (save after every batch).
const ROUNDS = Number(process.env.PARASOL_KILL_ROUNDS ?? 12);
const SAVE_PROBABILITY = process.env.PARASOL_KILL_SAVE_P ?? '0.2';

type IdState = 'live' | 'deleted' | 'uncertain';

/** When to kill: `afterMs` counted from the spawn (lands in startup, replay or rebuild) or from READY. */
interface KillPlan {
  from: 'spawn' | 'ready';
  afterMs: number;
}

/** Runs the child, SIGKILLs it as planned and returns the complete lines it printed. */
function runUntilKilled(dataDir: string, seed: number, plan: KillPlan): Promise<string[]> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CHILD, dataDir, String(seed), SAVE_PROBABILITY], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const kill = () => child.kill('SIGKILL');
    const timers = [setTimeout(kill, 30_000)]; // a child that never gets ready must not hang the suite
    if (plan.from === 'spawn') timers.push(setTimeout(kill, plan.afterMs));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (plan.from === 'ready' && !stdout.includes('READY\n') && (stdout + chunk).includes('READY\n')) {
        timers.push(setTimeout(kill, plan.afterMs));
      }
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      timers.forEach(clearTimeout);
      if (signal !== 'SIGKILL') {
        reject(new Error(`the child exited on its own (code ${code}, signal ${signal}):\n${stderr}`));
        return;
      }
      // A line without its newline was cut by the kill: it acknowledges nothing.
      const lines = stdout.split('\n');
      lines.pop();
      resolvePromise(lines);
    });
  });
}

/** Folds the child's acknowledgements, in order, into what must be true of each id. */
function applyEvents(states: Map<string, IdState>, lines: string[]): { added: number; readied: boolean } {
  let added = 0;
  let readied = false;
  for (const line of lines) {
    const space = line.indexOf(' ');
    const event = space < 0 ? line : line.slice(0, space);
    const payload = space < 0 ? '' : line.slice(space + 1);
    if (event === 'READY') readied = true;
    else if (event === 'ADDED') {
      for (const id of JSON.parse(payload) as string[]) states.set(id, 'live');
      added += 1;
    } else if (event === 'DELETING') states.set(payload, 'uncertain');
    else if (event === 'DELETED') states.set(payload, 'deleted');
    else throw new Error(`unexpected line from the child: ${line}`);
  }
  return { added, readied };
}

interface Check {
  liveItems: number;
  /** What the reopen found for the semantic snapshot: loaded, missing or unusable. */
  snapshot: string;
  reason?: string;
  /** Files a save interrupted by the kill left behind (evidence that kills do land mid-save). */
  interruptedSaves: number;
}

function countInterruptedSaves(dataDir: string): number {
  const names = readdirSync(dataDir);
  const referenced = new Set(
    names
      .filter((name) => /^(semantic|style)\.json$/.test(name))
      .map((name) => (JSON.parse(readFileSync(join(dataDir, name), 'utf8')) as { file: string }).file),
  );
  return names.filter((name) => (name.endsWith('.hnsw') && !referenced.has(name)) || name.includes('.json.tmp-')).length;
}

async function checkDataDir(dataDir: string, states: Map<string, IdState>, context: string): Promise<Check> {
  const interruptedSaves = countInterruptedSaves(dataDir);
  const catalogPath = join(dataDir, 'catalog.sqlite');
  if (existsSync(catalogPath)) {
    const db = new Database(catalogPath, { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true }), `${context}: SQLite integrity`).toBe('ok');
      // The full-text rows are exactly the live items' words: written in the item's own transaction.
      const ftsRows = db.prepare('SELECT rowid AS seq, title, tags, keywords, description FROM items_fts ORDER BY rowid').all();
      const liveWords = db
        .prepare(
          `SELECT seq, title,
             (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(items.tags)) AS tags,
             (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(items.keywords)) AS keywords,
             description
           FROM items WHERE deleted = 0 ORDER BY seq`,
        )
        .all();
      expect(ftsRows, `${context}: full-text rows = live items`).toEqual(liveWords);
    } finally {
      db.close();
    }
  }

  const store = await openEmbeddedStore({ dataDir, dims: DIMS, hnsw: HNSW });
  try {
    const { catalog, indices } = store;
    for (const [id, state] of states) {
      const item = await catalog.get(id);
      if (state === 'live') expect(item, `${context}: acknowledged id ${id} is missing`).toBeDefined();
      if (state === 'deleted') expect(item, `${context}: deleted id ${id} is back`).toBeUndefined();
    }

    const liveSeqs: number[] = [];
    const samples: Array<{ seq: number; semantic: Float32Array; style: Float32Array }> = [];
    for await (const page of catalog.scan(500)) {
      for (const item of page) {
        liveSeqs.push(item.seq);
        expect(item.semantic.length, `${context}: item ${item.id} semantic vector`).toBe(DIMS.semantic);
        expect(item.style.length, `${context}: item ${item.id} style vector`).toBe(DIMS.style);
        expect([...item.semantic, ...item.style].every(Number.isFinite), `${context}: finite vectors`).toBe(true);
        if (item.seq % 17 === 0) samples.push(item);
      }
    }
    // Every live item carries one of the two tags, so the lexical signal finds exactly the live items.
    const lexical = await catalog.lexicalSearch('even odd', { limit: liveSeqs.length + 10 });
    expect(lexical.map((hit) => hit.seq).sort((a, b) => a - b), `${context}: lexical search finds the live items`).toEqual(liveSeqs);
    const catalogVersion = await catalog.version();
    for (const name of ['semantic', 'style', 'joint'] as const) {
      const index = indices[name];
      expect(index, `${context}: the ${name} index is open`).toBeDefined();
      expect(index!.liveSeqs(), `${context}: ${name} index labels`).toEqual(liveSeqs);
      expect(index!.version(), `${context}: ${name} index version`).toBe(catalogVersion);
    }
    // The index holds each item's own vector, not just its label.
    for (const sample of samples.slice(0, 20)) {
      const [hit] = await indices.semantic.search(sample.semantic, 1);
      expect(hit.score, `${context}: seq ${sample.seq} finds itself`).toBeCloseTo(1, 4);
      const [joint] = await indices.joint!.search(jointVector(sample.semantic, sample.style), 1);
      expect(joint, `${context}: seq ${sample.seq} finds itself in the joint index`).toMatchObject({ seq: sample.seq, score: expect.closeTo(1, 4) });
    }
    const startup = store.startup.semantic;
    const reason = 'reason' in startup ? startup.reason : undefined;
    return { liveItems: liveSeqs.length, snapshot: startup.status, reason, interruptedSaves };
  } finally {
    // Leave the directory exactly as the killed child left it (plus any rebuild on open).
    await store.close({ save: false });
  }
}

describe('embedded store under SIGKILL', () => {
  let dataDir: string;
  let cleanup: () => void;

  beforeAll(() => {
    ensureStoreBuilt(ROOT);
    ({ dir: dataDir, cleanup } = tempDir('parasol-kill-'));
  });
  afterAll(() => cleanup?.());

  it(`loses no acknowledged item and keeps indices exact over ${ROUNDS} random kills`, async () => {
    const seed = Number(process.env.PARASOL_KILL_SEED ?? Date.now() % 2 ** 31);
    const random = seededRandom(seed);
    const states = new Map<string, IdState>();
    let batches = 0;
    let readyRounds = 0;
    let items = 0;
    const snapshots: Record<string, number> = {};
    let interruptedSaves = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // Most kills land during ingestion; some during startup, replay or rebuild. Counting from READY
      // keeps the test meaningful on a loaded machine where starting Node alone can take 500 ms.
      const plan: KillPlan = { from: random() < 0.75 ? 'ready' : 'spawn', afterMs: 50 + Math.floor(random() * 551) };
      const lines = await runUntilKilled(dataDir, seed + round, plan);
      const { added, readied } = applyEvents(states, lines);
      batches += added;
      if (readied) readyRounds += 1;
      const check = await checkDataDir(dataDir, states, `seed ${seed}, round ${round} (killed ${plan.afterMs} ms after ${plan.from})`);
      items = check.liveItems;
      snapshots[check.snapshot] = (snapshots[check.snapshot] ?? 0) + 1;
      if (check.interruptedSaves > 0) interruptedSaves += 1;
      if (check.reason) console.info(`round ${round}: semantic snapshot rebuilt: ${check.reason}`);
    }
    console.info(
      `kill test (seed ${seed}): ${ROUNDS} kills, ${readyRounds} after open, ${batches} acknowledged batches, ` +
        `${states.size} ids tracked, ${items} live items at the end; ${interruptedSaves} kills interrupted a save; ` +
        `snapshots on reopen: ${JSON.stringify(snapshots)}`,
    );
    // Guard against a vacuous pass: the child must have got far enough to commit work.
    expect(batches).toBeGreaterThan(ROUNDS);
  }, ROUNDS * 5_000);
});
