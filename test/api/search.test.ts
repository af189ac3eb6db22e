import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiResult as Result } from '../../src/api/public-types.js';
import { expectError, openTestApi, pngBomb, testImage, type TestApi } from './helpers.js';

let api: TestApi;
beforeAll(async () => {
  api = await openTestApi();
});
afterAll(() => api?.close());

const idsOf = (body: { results: Result[] }): string[] => body.results.map((r) => r.id);

function expectResultShape(result: Result): void {
  expect(typeof result.id).toBe('string');
  expect(typeof result.title).toBe('string');
  expect(typeof result.source).toBe('string');
  expect(typeof result.license).toBe('string');
  expect(typeof result.attribution).toBe('string');
  expect(Array.isArray(result.tags)).toBe(true);
  expect(Number.isFinite(result.score)).toBe(true);
  expect(Object.keys(result.scores).sort()).toEqual(['content', 'style', 'text']);
  expect(result.thumbnail).toBe(`/v1/items/${result.id}/thumbnail`);
  expect(result).not.toHaveProperty('seq');
}

describe('GET /v1/search', () => {
  it('searches by content text with every result field present', async () => {
    const res = await request(api.app).get('/v1/search').query({ q: 'smiling face', k: 7 });
    expect(res.status).toBe(200);
    expect(res.body.results.length).toBe(7);
    for (const result of res.body.results) {
      expectResultShape(result);
      expect(result.scores.content).not.toBeNull();
      expect(result.scores.style).toBeNull();
    }
    expect(res.body).toHaveProperty('nextCursor');
    expect(res.body).toHaveProperty('timing');
  });

  it('searches by style text, and by an item for both descriptors (leaving the item out)', async () => {
    const style = await request(api.app).get('/v1/search').query({ style: 'flat cartoon', k: 5 });
    expect(style.status).toBe(200);
    expect(style.body.results[0].scores.style).not.toBeNull();

    const [itemId] = api.ids;
    const both = await request(api.app).get('/v1/search').query({ itemId, k: 10 });
    expect(both.status).toBe(200);
    expect(idsOf(both.body)).not.toContain(itemId);
    for (const result of both.body.results) {
      expect(result.scores.content).not.toBeNull();
      expect(result.scores.style).not.toBeNull();
    }

    const styleOnly = await request(api.app).get('/v1/search').query({ itemId, wContent: 0, k: 3 });
    expect(styleOnly.status).toBe(200);
    expect(styleOnly.body.results[0].scores.content).toBeNull();
  });

  it('filters by source, license and tags, and explains scores on request', async () => {
    const res = await request(api.app).get('/v1/search').query({ q: 'face', source: 'noto,twemoji', license: 'Apache-2.0', k: 20, explain: 'true' });
    expect(res.status).toBe(200);
    expect(res.body.results.length).toBeGreaterThan(0);
    for (const result of res.body.results) {
      expect(['noto', 'twemoji']).toContain(result.source);
      expect(result.explanation).toBeDefined();
    }
    const none = await request(api.app).get('/v1/search').query({ q: 'face', source: 'no-such-source' });
    expect(none.status).toBe(200);
    expect(none.body.results).toEqual([]);
    const tagged = await request(api.app).get('/v1/search').query({ q: 'face', tags: 'Smileys & Emotion', k: 100 });
    for (const result of tagged.body.results) expect(result.tags).toContain('Smileys & Emotion');
  });

  it('treats FTS syntax in keywords as plain words: no 5xx, never more results than the plain words', async () => {
    const plain = await request(api.app).get('/v1/search').query({ q: 'face', keywords: 'face', k: 100 });
    expect(plain.status).toBe(200);
    expect(plain.body.results.length).toBeGreaterThan(0);
    const allowed = new Set(idsOf(plain.body));
    for (const keywords of ['face OR smile', 'face*', '"face', 'face NOT cat', 'title:face', 'face) OR (1', 'NEAR(face cat)', '^face', 'face -cat', "face' OR 1=1 --"]) {
      const res = await request(api.app).get('/v1/search').query({ q: 'face', keywords, k: 100 });
      expect(res.status, keywords).toBe(200);
      for (const id of idsOf(res.body)) expect(allowed.has(id), `${keywords} widened to ${id}`).toBe(true);
    }
    // Nothing but syntax holds no word: it matches nothing rather than dropping the filter.
    const syntaxOnly = await request(api.app).get('/v1/search').query({ q: 'face', keywords: '* OR "" ()', k: 100 });
    expect(syntaxOnly.status).toBe(200);
    expect(syntaxOnly.body.results).toEqual([]);
  });

  it('pages with cursors: pages are disjoint and continue the first ranking', async () => {
    const all = await request(api.app).get('/v1/search').query({ q: 'face', k: 30 });
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 3; page++) {
      const res = await request(api.app).get('/v1/search').query({ q: 'face', k: 10, ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      expect(res.body.results.length).toBe(10);
      seen.push(...idsOf(res.body));
      cursor = res.body.nextCursor;
      expect(typeof cursor).toBe('string');
    }
    expect(new Set(seen).size).toBe(30);
    expect(seen).toEqual(idsOf(all.body));

    const otherQuery = await request(api.app).get('/v1/search').query({ q: 'cat', k: 10, cursor });
    await expectError(otherQuery, 400, 'INVALID_CURSOR');
    const garbage = await request(api.app).get('/v1/search').query({ q: 'face', cursor: 'not-a-cursor' });
    await expectError(garbage, 400, 'INVALID_CURSOR');
  });

  it('rejects bad parameters with 400 and never answers 5xx', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ q: '' }, 'EMPTY_QUERY'],
      [{ q: '   ' }, 'EMPTY_QUERY'],
      [{}, 'EMPTY_QUERY'],
      [{ q: 'cat', k: '1000' }, 'INVALID_QUERY'],
      [{ q: 'cat', k: '0' }, 'INVALID_QUERY'],
      [{ q: 'cat', k: 'NaN' }, 'INVALID_QUERY'],
      [{ q: 'cat', k: 'Infinity' }, 'INVALID_QUERY'],
      [{ q: 'cat', k: '2.5' }, 'INVALID_QUERY'],
      [{ q: 'cat', k: 'ten' }, 'INVALID_QUERY'],
      [{ q: 'cat', wContent: 'NaN' }, 'INVALID_QUERY'],
      [{ q: 'cat', wContent: '-1' }, 'INVALID_QUERY'],
      [{ q: 'cat', wContent: '0', wStyle: '0' }, 'INVALID_QUERY'],
      [{ q: 'cat', fusion: 'best' }, 'INVALID_QUERY'],
      [{ q: 'cat', explain: 'yes' }, 'INVALID_QUERY'],
      [{ q: 'cat', bogus: '1' }, 'INVALID_QUERY'],
      [{ q: 'x'.repeat(501) }, 'INVALID_QUERY'],
    ];
    for (const [query, code] of cases) {
      const res = await request(api.app).get('/v1/search').query(query);
      await expectError(res, 400, code);
    }
    await expectError(await request(api.app).get('/v1/search?q=a&q=b'), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).get('/v1/search?q[$gt]=a'), 400, 'INVALID_QUERY');
    // A broken percent-escape is decoded leniently by the query parser: any answer but a 5xx.
    expect((await request(api.app).get('/v1/search?q=%E0%A4%A')).status).toBeLessThan(500);
  });

  it('answers 404 for an unknown item id', async () => {
    await expectError(await request(api.app).get('/v1/search').query({ itemId: 'noto:nope' }), 404, 'ITEM_NOT_FOUND');
    await expectError(await request(api.app).get('/v1/search').query({ styleItemId: 'nope' }), 404, 'ITEM_NOT_FOUND');
  });
});

describe('POST /v1/search', () => {
  it('takes the engine request as JSON', async () => {
    const res = await request(api.app)
      .post('/v1/search')
      .send({ q: 'face', style: 'flat', weights: { content: 1, style: 0.5 }, fusion: 'rrf', filters: { sources: ['noto'] }, k: 5 });
    expect(res.status).toBe(200);
    expect(res.body.results.length).toBe(5);
    res.body.results.forEach(expectResultShape);
  });

  it('takes multipart with a query field and uploaded images', async () => {
    const image = await testImage('#ffcc00');
    const res = await request(api.app)
      .post('/v1/search')
      .field('query', JSON.stringify({ k: 4, weights: { content: 1, style: 1 } }))
      .attach('contentImage', image, { filename: 'whatever.txt', contentType: 'text/plain' })
      .attach('styleImage', await testImage('#3366ff'), 'b.png');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.results.length).toBe(4);
    expect(res.body.results[0].scores.content).not.toBeNull();
    expect(res.body.results[0].scores.style).not.toBeNull();

    const imageOnly = await request(api.app).post('/v1/search').attach('styleImage', image, 'a.png');
    expect(imageOnly.status).toBe(200);
    expect(imageOnly.body.results[0].scores.content).toBeNull();
  });

  it('rejects malformed JSON, wrong types and wrong content types', async () => {
    const malformed = await request(api.app).post('/v1/search').set('Content-Type', 'application/json').send('{"q": "cat",');
    await expectError(malformed, 400, 'BAD_REQUEST');
    await expectError(await request(api.app).post('/v1/search').send({ q: 5 }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post('/v1/search').send({ q: 'cat', k: 'many' }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post('/v1/search').send({ q: 'cat', k: 101 }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post('/v1/search').send({ q: 'cat', filters: { sources: 'noto' } }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post('/v1/search').send({ q: 'cat', contentImage: 'aGVsbG8=' }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post('/v1/search').send([{ q: 'cat' }]), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post('/v1/search').send({ q: '' }), 400, 'EMPTY_QUERY');
    await expectError(await request(api.app).post('/v1/search').send({ contentItemId: 'nope' }), 404, 'ITEM_NOT_FOUND');
    const text = await request(api.app).post('/v1/search').set('Content-Type', 'text/plain').send('q=cat');
    await expectError(text, 415, 'UNSUPPORTED_MEDIA_TYPE');
    await expectError(await request(api.app).post('/v1/search'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    const charset = await request(api.app).post('/v1/search').set('Content-Type', 'application/json; charset=koi8-r').send('{"q":"cat"}');
    await expectError(charset, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses an oversized JSON body with 413', async () => {
    const res = await request(api.app)
      .post('/v1/search')
      .send({ q: 'cat', filters: { keywords: 'x'.repeat(api.context.config.limits.jsonBytes + 10) } });
    await expectError(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('sniffs uploads by content: a non-image is 415, a decompression bomb 413', async () => {
    const notImage = await request(api.app)
      .post('/v1/search')
      .attach('contentImage', Buffer.from('GIF89a but not really an image at all'), { filename: 'cat.png', contentType: 'image/png' });
    await expectError(notImage, 415, 'UNSUPPORTED_IMAGE');
    const bomb = await request(api.app).post('/v1/search').attach('contentImage', await pngBomb(), 'bomb.png');
    await expectError(bomb, 413, 'IMAGE_TOO_LARGE');
    const empty = await request(api.app).post('/v1/search').attach('contentImage', Buffer.alloc(0), 'empty.png');
    expect([400, 415]).toContain(empty.status);
    await expectError(empty, empty.status);
  });

  it('rejects malformed multipart requests with 400', async () => {
    const image = await testImage('#00ff00');
    await expectError(await request(api.app).post('/v1/search').field('query', '{"q":').attach('contentImage', image, 'a.png'), 400, 'BAD_REQUEST');
    await expectError(await request(api.app).post('/v1/search').field('query', '["cat"]'), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post('/v1/search').field('q', 'cat'), 400, 'BAD_REQUEST');
    await expectError(await request(api.app).post('/v1/search').field('query', '{"q":"cat"}').attach('other', image, 'a.png'), 400, 'BAD_REQUEST');
    const twoImages = await request(api.app).post('/v1/search').attach('contentImage', image, 'a.png').attach('contentImage', image, 'b.png');
    await expectError(twoImages, 400, 'BAD_REQUEST');
    const truncated = await request(api.app)
      .post('/v1/search')
      .set('Content-Type', 'multipart/form-data; boundary=XYZ')
      .send('--XYZ\r\nContent-Disposition: form-data; name="query"\r\n\r\n{"q":"cat"}');
    await expectError(truncated, 400, 'BAD_REQUEST');
  });
});

describe('POST /v1/interpolate', () => {
  it('searches between two items', async () => {
    const [a, b] = api.ids;
    const res = await request(api.app)
      .post('/v1/interpolate')
      .send({ style: { a: { itemId: a }, b: { itemId: b } }, content: { a: { text: 'cat' }, b: { itemId: b } }, t: 0.5, k: 6 });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.results.length).toBe(6);
    expect(res.body.descriptors).toEqual({ content: true, style: true });
    expect(idsOf(res.body)).not.toContain(a);
    res.body.results.forEach(expectResultShape);
  });

  it('rejects bad requests', async () => {
    const [a, b] = api.ids;
    await expectError(await request(api.app).post('/v1/interpolate').send({ t: 0.5 }), 400, 'EMPTY_QUERY');
    await expectError(await request(api.app).post('/v1/interpolate').send({ style: { a: { itemId: a }, b: { itemId: b } }, t: 2 }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post('/v1/interpolate').send({ style: { a: { itemId: a }, b: { itemId: b } } }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post('/v1/interpolate').send({ style: 'x', t: 0.5 }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post('/v1/interpolate').send({ style: { a: { itemId: a } }, t: 0.5 }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post('/v1/interpolate').send({ style: { a: { itemId: a }, b: { vector: [1, 2] } }, t: 0.5 }), 400);
    await expectError(await request(api.app).post('/v1/interpolate').send({ style: { a: { itemId: a }, b: { itemId: 'nope' } }, t: 0.5 }), 404, 'ITEM_NOT_FOUND');
    await expectError(await request(api.app).post('/v1/interpolate').set('Content-Type', 'application/json').send('{'), 400, 'BAD_REQUEST');
    await expectError(await request(api.app).post('/v1/interpolate').field('t', '0.5'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });
});

/** Counts values over results directly, in the store's order (count desc, then value). */
function directCounts(values: string[][]): Array<{ value: string; count: number }> {
  const counts = new Map<string, number>();
  for (const list of values) for (const value of new Set(list)) if (value !== '') counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts]
    .map(([value, count]) => ({ value, count }))
    .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
}

describe('the words as a signal, and facets', () => {
  it('GET /v1/search?q=<a title word> puts an item with that word first, with scores.text and matched terms', async () => {
    const item = await request(api.app).get(`/v1/items/${encodeURIComponent(api.ids[3])}`);
    const word = (item.body.title as string).toLowerCase().split(/[^a-z]+/).find((w) => w.length >= 4) as string;
    expect(word).toBeDefined();
    const res = await request(api.app).get('/v1/search').query({ q: word, k: 5, explain: 'true' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const [top] = res.body.results as Result[];
    expect(top.scores.text).toBeGreaterThan(0);
    expect(top.explanation?.terms?.length).toBeGreaterThan(0);
    expect(top.explanation?.parts.map((p) => p.modality)).toContain('text');
    for (const result of res.body.results as Result[]) expectResultShape(result);

    const off = await request(api.app).get('/v1/search').query({ q: word, k: 5, wText: 0 });
    expect(off.status).toBe(200);
    for (const result of off.body.results as Result[]) expect(result.scores.text).toBeNull();
    const post = await request(api.app).post('/v1/search').send({ q: word, k: 5, weights: { text: 0 } });
    expect(idsOf(post.body)).toEqual(idsOf(off.body));
  });

  it('never errors on hostile text', async () => {
    for (const q of ['"(*', 'NEAR(a b) OR x', "'; DROP TABLE items; --", '^title:*']) {
      const res = await request(api.app).get('/v1/search').query({ q, k: 3 });
      expect(res.status, q).toBe(200);
    }
  });

  it('answers facets over the candidate pool that equal a direct count over the same set', async () => {
    // RRF ranks one fixed window, which here holds the whole catalogue: the pool is far larger than the page.
    const query = { q: 'face', style: 'flat', fusion: 'rrf', facets: 'source,license,tags', facetLimit: 100, k: 5 };
    const res = await request(api.app).get('/v1/search').query(query);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.facetScope).toBe('candidates');
    expect(Object.keys(res.body.facets).sort()).toEqual(['license', 'source', 'tags']);
    // A pool that holds every item has a total: all of it fits one page of the same query.
    expect(res.body.total).toBeDefined();
    const all = await request(api.app).get('/v1/search').query({ q: 'face', style: 'flat', fusion: 'rrf', k: 100 });
    expect(all.body.results).toHaveLength(res.body.total);
    const results = all.body.results as Result[];
    expect(res.body.facets.source).toEqual(directCounts(results.map((r) => [r.source])));
    expect(res.body.facets.license).toEqual(directCounts(results.map((r) => [r.license])));
    expect(res.body.facets.tags).toEqual(directCounts(results.map((r) => r.tags)).slice(0, 100));

    const post = await request(api.app).post('/v1/search').send({ q: 'face', style: 'flat', fusion: 'rrf', facets: ['tags'], facetLimit: 3, k: 5 });
    expect(post.status).toBe(200);
    expect(post.body.facets.tags).toEqual(res.body.facets.tags.slice(0, 3));
    expect(post.body.facets.source).toBeUndefined();
    expect(idsOf(post.body)).toEqual(idsOf(res.body));
  });

  it('rejects unknown facet fields and limits out of range', async () => {
    await expectError(await request(api.app).get('/v1/search').query({ q: 'face', facets: 'colour' }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).get('/v1/search').query({ q: 'face', facets: 'tags', facetLimit: 101 }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post('/v1/search').send({ q: 'face', facets: 'tags' }), 400, 'INVALID_QUERY');
  });
});
