import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isParasolError } from '../../src/errors.js';
import { SearchEngine, type SearchResponse } from '../../src/search/engine.js';
import { currentSnapshot, RefineSessions, summarizeSession } from '../../src/search/refine.js';
import { InMemorySessionStore } from '../../src/search/session-store.js';
import { dot } from '../../src/vectors.js';
import { corpusItems, FakeEncoders, labelsOf, openCorpusStore, textVector, type TestStore } from './helpers.js';

let t: TestStore;
let engine: SearchEngine;

beforeAll(async () => {
  t = await openCorpusStore();
  engine = new SearchEngine({ catalog: t.store.catalog, indices: t.store.indices, encoders: new FakeEncoders() });
});
afterAll(async () => {
  await t.cleanup();
});

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return isParasolError(error) ? error.code : `not a ParasolError: ${String(error)}`;
  }
  return undefined;
}

const ids = (response: SearchResponse) => response.results.map((r) => r.id);
const vectorOf = (id: string, modality: 'semantic' | 'style') => corpusItems().find((i) => i.id === id)?.[modality] as Float32Array;

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('refinement sessions', () => {
  it('start from a query and search like the engine would', async () => {
    const sessions = new RefineSessions(engine);
    const session = await sessions.create({ q: 'cat', style: 'ink', filters: { licenses: ['cc0'] } });
    expect(session.trail).toHaveLength(1);
    const fromSession = await sessions.search(session.id, { k: 10 });
    const direct = await engine.search({ q: 'cat', style: 'ink', filters: { licenses: ['cc0'] }, k: 10 });
    expect(ids(fromSession)).toEqual(ids(direct));
    expect(fromSession.results.every((r) => r.license === 'cc0')).toBe(true);
  });

  it('a like step moves a descriptor towards the liked item, an unlike step excludes it', async () => {
    const sessions = new RefineSessions(engine);
    const session = await sessions.create({ q: 'cat', style: 'ink' });
    const before = currentSnapshot(session).descriptors.style as Float32Array;
    const liked = 'dog-watercolor-1';
    const stepped = await sessions.step(session.id, { like: { style: [liked] } });
    const after = currentSnapshot(stepped).descriptors.style as Float32Array;
    expect(dot(after, vectorOf(liked, 'style'))).toBeGreaterThan(dot(before, vectorOf(liked, 'style')));
    // content untouched by style feedback
    expect(currentSnapshot(stepped).descriptors.content).toEqual(currentSnapshot(session).descriptors.content);

    const top = ids(await sessions.search(session.id, { k: 5 }));
    expect(top).not.toContain(liked);
    const unliked = await sessions.step(session.id, { unlike: { content: [top[0]] } });
    expect(unliked.trail.map((s) => s.step)).toEqual([0, 1, 2]);
    expect(ids(await sessions.search(session.id, { k: 20 }))).not.toContain(top[0]);
  });

  it('set replaces a base, weights replace the sliders', async () => {
    const sessions = new RefineSessions(engine);
    const session = await sessions.create({ q: 'cat' });
    expect(currentSnapshot(session).descriptors.style).toBeNull();
    await sessions.step(session.id, { set: { style: 'pixel' }, weights: { content: 0.1, style: 1, text: 0 } });
    const response = await sessions.search(session.id, { k: 6 });
    expect(response.results.map((r) => labelsOf(r.id).style)).toEqual(Array(6).fill('pixel'));
    const current = currentSnapshot(await sessions.get(session.id));
    expect(dot(current.descriptors.style as Float32Array, textVector('style', 'pixel'))).toBeCloseTo(1, 6);
    expect(current.weights).toEqual({ content: 0.1, style: 1, text: 0 });
  });

  it('hands the lead to style on a style-only step: style weighs as much as content and words together', async () => {
    const sessions = new RefineSessions(engine);
    const session = await sessions.create({ q: 'cat', weights: { content: 1, style: 1, text: 0.5 } });
    const liked = await sessions.step(session.id, { like: { style: ['dog-watercolor-1'] } });
    expect(currentSnapshot(liked).weights).toEqual({ content: 1, style: 1.5, text: 0.5 });
    // Again: the lead is kept, never raised further.
    const again = await sessions.step(session.id, { set: { styleItemId: 'dog-watercolor-2' } });
    expect(currentSnapshot(again).weights.style).toBe(1.5);
    // The page moves to the liked style, further than with the weights left as they were.
    const watercolours = async (id: string) => (await sessions.search(id, { k: 12 })).results.filter((r) => labelsOf(r.id).style === 'watercolor').length;
    const unchanged = await sessions.create({ q: 'cat', weights: { content: 1, style: 1, text: 0.5 } });
    await sessions.step(unchanged.id, { like: { style: ['dog-watercolor-1'] }, weights: { content: 1, style: 1, text: 0.5 } });
    await sessions.step(unchanged.id, { set: { styleItemId: 'dog-watercolor-2' }, weights: { content: 1, style: 1, text: 0.5 } });
    expect(await watercolours(session.id)).toBeGreaterThan(await watercolours(unchanged.id));
    // Weights set in the step itself win; content steps leave the weights alone; undo restores.
    const explicit = await sessions.step(session.id, { like: { style: ['cat-ink-0'] }, weights: { content: 2, style: 1, text: 1 } });
    expect(currentSnapshot(explicit).weights).toEqual({ content: 2, style: 1, text: 1 });
    const content = await sessions.step(session.id, { like: { content: ['cat-ink-0'], style: ['cat-ink-0'] } });
    expect(currentSnapshot(content).weights).toEqual({ content: 2, style: 1, text: 1 });
    for (let i = 0; i < 4; i++) await sessions.undo(session.id);
    expect(currentSnapshot(await sessions.get(session.id)).weights).toEqual({ content: 1, style: 1, text: 0.5 });
    // Without words (content from an item) the words' weight does not count.
    const byItem = await sessions.create({ contentItemId: 'cat-ink-0' });
    expect(currentSnapshot(await sessions.step(byItem.id, { like: { style: ['dog-watercolor-1'] } })).weights.style).toBe(1);
  });

  it('keeps descriptors for a modality weighted 0 at the start, so the slider can be raised later', async () => {
    const sessions = new RefineSessions(engine);
    const session = await sessions.create({ q: 'cat', style: 'oil', weights: { content: 1, style: 0 } });
    expect(currentSnapshot(session).descriptors.style).not.toBeNull();
    await sessions.step(session.id, { weights: { content: 0, style: 1 } });
    const response = await sessions.search(session.id, { k: 6 });
    expect(response.results.map((r) => labelsOf(r.id).style)).toEqual(Array(6).fill('oil'));
  });

  it('undo and back restore earlier states', async () => {
    const sessions = new RefineSessions(engine);
    const session = await sessions.create({ q: 'tree' });
    const initial = currentSnapshot(session).descriptors.content;
    await sessions.step(session.id, { like: { content: ['bird-ink-0'] } });
    const afterOne = currentSnapshot(await sessions.get(session.id)).descriptors.content;
    await sessions.step(session.id, { like: { content: ['house-ink-0'] } });
    await sessions.step(session.id, { unlike: { content: ['tree-oil-1'] } });
    expect((await sessions.get(session.id)).trail).toHaveLength(4);

    const undone = await sessions.undo(session.id);
    expect(undone.trail).toHaveLength(3);
    const back = await sessions.back(session.id, 1);
    expect(currentSnapshot(back).descriptors.content).toEqual(afterOne);
    await sessions.undo(session.id);
    expect(currentSnapshot(await sessions.get(session.id)).descriptors.content).toEqual(initial);
    expect(await codeOf(sessions.undo(session.id))).toBe('NOTHING_TO_UNDO');
    expect(await codeOf(sessions.back(session.id, 7))).toBe('UNPROCESSABLE');
    // after undoing, the excluded items are back too
    expect(currentSnapshot(await sessions.get(session.id)).excludeSeqs).toEqual([]);
  });

  it('bounds the trail', async () => {
    const sessions = new RefineSessions(engine, { maxSteps: 2 });
    const session = await sessions.create({ q: 'tree' });
    for (const id of ['bird-ink-0', 'bird-ink-1', 'bird-ink-2']) await sessions.step(session.id, { like: { content: [id] } });
    const trail = (await sessions.get(session.id)).trail;
    expect(trail.map((s) => s.step)).toEqual([1, 2, 3]);
  });

  it('validates steps and ids', async () => {
    const sessions = new RefineSessions(engine);
    const session = await sessions.create({ q: 'tree' });
    expect(await codeOf(sessions.step(session.id, {}))).toBe('INVALID_QUERY');
    expect(await codeOf(sessions.step(session.id, { like: { content: ['ghost'] } }))).toBe('ITEM_NOT_FOUND');
    expect(await codeOf(sessions.step(session.id, { weights: { content: 0, style: 1 } }))).toBe('EMPTY_QUERY');
    expect(await codeOf(sessions.step('no-such-session', { like: { content: ['bird-ink-0'] } }))).toBe('SESSION_NOT_FOUND');
    expect(await codeOf(sessions.create({}))).toBe('EMPTY_QUERY');
    expect((await sessions.get(session.id)).trail).toHaveLength(1);
  });

  it('summarises without vectors', async () => {
    const sessions = new RefineSessions(engine);
    const session = await sessions.create({ q: 'tree', fusion: 'rrf' });
    await sessions.step(session.id, { like: { style: ['bird-ink-0'] } });
    const summary = summarizeSession(await sessions.get(session.id));
    expect(summary).toMatchObject({ id: session.id, step: 1, fusion: 'rrf', descriptors: { content: true, style: true } });
    expect(summary.trail[1].change).toMatchObject({ like: { style: ['bird-ink-0'] } });
    expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
  });

  it('a cursor from before a step is refused after it', async () => {
    const sessions = new RefineSessions(engine);
    const session = await sessions.create({ q: 'cat' });
    const first = await sessions.search(session.id, { k: 5 });
    const second = await sessions.search(session.id, { k: 5, cursor: first.nextCursor ?? undefined });
    expect(ids(second).some((id) => ids(first).includes(id))).toBe(false);
    await sessions.step(session.id, { like: { content: ['dog-ink-0'] } });
    expect(await codeOf(sessions.search(session.id, { k: 5, cursor: first.nextCursor ?? undefined }))).toBe('INVALID_CURSOR');
  });
});

describe('session store', () => {
  it('expires idle sessions after the TTL, and use keeps them alive', async () => {
    const time = clock();
    const store = new InMemorySessionStore({ ttlMs: 1000, now: time.now });
    const sessions = new RefineSessions(engine, { store, now: time.now });
    const kept = await sessions.create({ q: 'cat' });
    const idle = await sessions.create({ q: 'dog' });
    time.advance(600);
    await sessions.get(kept.id);
    time.advance(600);
    expect(await codeOf(sessions.get(idle.id))).toBe('SESSION_NOT_FOUND');
    expect((await sessions.get(kept.id)).id).toBe(kept.id);
    expect(store.size()).toBe(1);
    time.advance(1001);
    expect(store.size()).toBe(0);
    expect(await codeOf(sessions.search(kept.id))).toBe('SESSION_NOT_FOUND');
  });

  it('evicts the least recently used session beyond the bound', async () => {
    const time = clock();
    const store = new InMemorySessionStore({ maxSessions: 2, now: time.now });
    const sessions = new RefineSessions(engine, { store, now: time.now });
    const a = await sessions.create({ q: 'cat' });
    const b = await sessions.create({ q: 'dog' });
    await sessions.get(a.id); // a is now more recent than b
    const c = await sessions.create({ q: 'tree' });
    expect(store.size()).toBe(2);
    expect(await codeOf(sessions.get(b.id))).toBe('SESSION_NOT_FOUND');
    expect((await sessions.get(a.id)).id).toBe(a.id);
    expect((await sessions.get(c.id)).id).toBe(c.id);
  });

  it('deletes', async () => {
    const sessions = new RefineSessions(engine);
    const session = await sessions.create({ q: 'cat' });
    expect(await sessions.delete(session.id)).toBe(true);
    expect(await sessions.delete(session.id)).toBe(false);
    expect(await codeOf(sessions.get(session.id))).toBe('SESSION_NOT_FOUND');
  });
});
