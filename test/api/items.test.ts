import request from 'supertest';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, openTestApi, pngBomb, testImage, type TestApi } from './helpers.js';

let api: TestApi;
beforeAll(async () => {
  api = await openTestApi();
});
afterAll(() => api?.close());

/** supertest's binary parser, for image responses. */
function binary(res: NodeJS.ReadableStream, callback: (error: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => callback(null, Buffer.concat(chunks)));
}

describe('GET /v1/items/:id', () => {
  it('returns the item with its thumbnail URL', async () => {
    const id = api.ids[0];
    const res = await request(api.app).get(`/v1/items/${id}`);
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(id);
    expect(res.body.thumbnail).toBe(`/v1/items/${id}/thumbnail`);
    for (const field of ['title', 'source', 'license', 'attribution', 'url', 'createdAt', 'updatedAt']) expect(typeof res.body[field]).toBe('string');
    expect(res.body.width).toBeGreaterThan(0);
    expect(res.body).not.toHaveProperty('seq');
    expect(res.body).not.toHaveProperty('contentHash');
    // Percent-encoded ids name the same item.
    expect((await request(api.app).get(`/v1/items/${encodeURIComponent(id)}`)).body.id).toBe(id);
  });

  it('answers 404 for unknown and invalid ids', async () => {
    await expectError(await request(api.app).get('/v1/items/noto:nope'), 404, 'ITEM_NOT_FOUND');
    await expectError(await request(api.app).get(`/v1/items/${'a'.repeat(129)}`), 404, 'ITEM_NOT_FOUND');
    await expectError(await request(api.app).get('/v1/items/bad%20id!'), 404, 'ITEM_NOT_FOUND');
    await expectError(await request(api.app).get('/v1/items/%2e%2e%2fetc'), 404);
  });
});

describe('GET /v1/items/:id/thumbnail', () => {
  it('renders demo thumbnails on demand as WebP', async () => {
    const id = api.ids[1];
    const res = await request(api.app).get(`/v1/items/${id}/thumbnail`).buffer(true).parse(binary);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('image/webp');
    const meta = await sharp(res.body as Buffer).metadata();
    expect(meta.format).toBe('webp');
    expect(Math.max(meta.width ?? 0, meta.height ?? 0)).toBeLessThanOrEqual(api.context.config.ingest.thumbnailSize);
    const again = await request(api.app).get(`/v1/items/${id}/thumbnail`).buffer(true).parse(binary);
    expect(Buffer.compare(again.body as Buffer, res.body as Buffer)).toBe(0);
  });

  it('answers 404 for an unknown item', async () => {
    await expectError(await request(api.app).get('/v1/items/noto:nope/thumbnail'), 404, 'ITEM_NOT_FOUND');
  });
});

describe('GET /v1/items/:id/similar', () => {
  it('finds items like one by style, content or both, never the item itself', async () => {
    const id = api.ids[2];
    for (const mode of ['style', 'content', 'both'] as const) {
      const res = await request(api.app).get(`/v1/items/${id}/similar`).query({ mode, k: 8 });
      expect(res.status).toBe(200);
      expect(res.body.results.length).toBe(8);
      expect(res.body.results.map((r: { id: string }) => r.id)).not.toContain(id);
      const first = res.body.results[0];
      expect(first.scores.style === null).toBe(mode === 'content');
      expect(first.scores.content === null).toBe(mode === 'style');
    }
  });

  it('pages with disjoint cursors', async () => {
    const id = api.ids[2];
    const first = await request(api.app).get(`/v1/items/${id}/similar`).query({ mode: 'style', k: 10 });
    const second = await request(api.app).get(`/v1/items/${id}/similar`).query({ mode: 'style', k: 10, cursor: first.body.nextCursor });
    expect(second.status).toBe(200);
    const a = first.body.results.map((r: { id: string }) => r.id);
    const b = second.body.results.map((r: { id: string }) => r.id);
    expect(b.length).toBe(10);
    expect(a.filter((x: string) => b.includes(x))).toEqual([]);
  });

  it('rejects bad parameters and unknown items', async () => {
    const id = api.ids[2];
    await expectError(await request(api.app).get(`/v1/items/${id}/similar`).query({ mode: 'colour' }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).get(`/v1/items/${id}/similar`).query({ k: '500' }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).get(`/v1/items/${id}/similar`).query({ k: 'NaN' }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).get('/v1/items/noto:nope/similar'), 404, 'ITEM_NOT_FOUND');
  });
});

describe('POST /v1/items', () => {
  it('adds uploaded images with their metadata, then reports duplicates', async () => {
    const red = await testImage('#ff0000');
    const blue = await testImage('#0000ff');
    const res = await request(api.app)
      .post('/v1/items')
      .field('items', JSON.stringify([{ id: 'shop:red-1', title: 'Red square', tags: ['red'], license: 'CC0-1.0', url: 'https://example.com/red' }]))
      .attach('images', red, 'red.png')
      .attach('images', blue, { filename: 'blue.txt', contentType: 'application/octet-stream' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.added).toBe(2);
    expect(res.body.results[0]).toEqual({ index: 0, id: 'shop:red-1', status: 'added' });
    expect(res.body.results[1].status).toBe('added');
    const blueId = res.body.results[1].id as string;

    const item = await request(api.app).get('/v1/items/shop:red-1');
    expect(item.body).toMatchObject({ title: 'Red square', tags: ['red'], license: 'CC0-1.0', source: 'upload', url: 'https://example.com/red' });
    const thumb = await request(api.app).get(`/v1/items/${blueId}/thumbnail`).buffer(true).parse(binary);
    expect(thumb.status).toBe(200);
    expect((await sharp(thumb.body as Buffer).metadata()).format).toBe('webp');

    const found = await request(api.app).get('/v1/search').query({ itemId: 'shop:red-1', k: 100 });
    expect(found.body.results.map((r: { id: string }) => r.id)).toContain(blueId);

    const again = await request(api.app).post('/v1/items').attach('images', red, 'red.png').attach('images', red, 'red-copy.png');
    expect(again.status).toBe(200);
    expect(again.body.results).toEqual([
      { index: 0, id: 'shop:red-1', status: 'duplicate', existingId: 'shop:red-1' },
      { index: 1, id: 'shop:red-1', status: 'duplicate', existingId: 'shop:red-1' },
    ]);
    expect(again.body.duplicateIds).toEqual([
      { id: 'shop:red-1', existingId: 'shop:red-1' },
      { id: 'shop:red-1', existingId: 'shop:red-1' },
    ]);
  });

  it('keeps a second id for the same image as an alias that answers, lists it, and deletes it alone', async () => {
    const image = await testImage('#aa5500');
    const first = await request(api.app)
      .post('/v1/items')
      .field('items', JSON.stringify([{ id: 'shop:brown-1', title: 'Brown', tags: ['brown'] }]))
      .attach('images', image, 'brown.png');
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const second = await request(api.app)
      .post('/v1/items')
      .field('items', JSON.stringify([{ id: 'shop:brown-2', title: 'Brown, other shop', tags: ['umber'], license: 'CC0-1.0' }]))
      .attach('images', image, 'brown-again.png');
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({
      added: 0,
      duplicates: 1,
      results: [{ index: 0, id: 'shop:brown-2', status: 'duplicate', existingId: 'shop:brown-1' }],
      duplicateIds: [{ id: 'shop:brown-2', existingId: 'shop:brown-1' }],
    });
    const alias = await request(api.app).get('/v1/items/shop:brown-2');
    expect(alias.status).toBe(200);
    expect(alias.body).toMatchObject({ id: 'shop:brown-2', aliasOf: 'shop:brown-1', title: 'Brown, other shop', tags: ['umber'], license: 'CC0-1.0' });
    expect((await request(api.app).get('/v1/items/shop:brown-2/thumbnail')).status).toBe(200);
    expect((await request(api.app).get('/v1/items/shop:brown-1')).body.aliases).toEqual(['shop:brown-2']);
    // One result per image: the stored item, not its alias.
    const found = await request(api.app).get('/v1/search').query({ itemId: 'shop:brown-2', k: 100 });
    const ids = found.body.results.map((r: { id: string }) => r.id);
    expect(ids).not.toContain('shop:brown-2');

    expect((await request(api.app).delete('/v1/items/shop:brown-2')).status).toBe(204);
    expect((await request(api.app).get('/v1/items/shop:brown-2')).status).toBe(404);
    expect((await request(api.app).get('/v1/items/shop:brown-1')).body.aliases).toBeUndefined();
  });

  it('skips a blank image with the reason "blank image"', async () => {
    const transparent = await sharp({ create: { width: 32, height: 32, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const res = await request(api.app).post('/v1/items').attach('images', transparent, 'nothing.png');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ added: 0, skipped: 1, results: [{ index: 0, status: 'skipped', reason: 'blank image' }] });
  });

  it('skips files that are not images, bombs and taken ids, and still adds the rest', async () => {
    const green = await testImage('#00aa00');
    const res = await request(api.app)
      .post('/v1/items')
      .field('items', JSON.stringify([null, null, { id: 'shop:red-1' }]))
      .attach('images', Buffer.from('%PDF-1.4 definitely not a picture'), { filename: 'x.png', contentType: 'image/png' })
      .attach('images', await pngBomb(), 'bomb.png')
      .attach('images', await testImage('#123456'), 'taken.png')
      .attach('images', green, 'green.png')
      .attach('images', green, 'green-again.png');
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const [notImage, bomb, taken, added, duplicate] = res.body.results;
    expect(notImage).toMatchObject({ index: 0, status: 'skipped' });
    expect(bomb).toMatchObject({ index: 1, status: 'skipped' });
    expect(bomb.reason).toMatch(/pixel/);
    expect(taken).toMatchObject({ index: 2, status: 'skipped', id: 'shop:red-1' });
    expect(added).toMatchObject({ index: 3, status: 'added' });
    expect(duplicate).toMatchObject({ index: 4, status: 'duplicate', id: added.id });
    expect(res.body).toMatchObject({ added: 1, duplicates: 1, skipped: 3 });
  });

  it('rejects bad requests', async () => {
    const image = await testImage('#777777');
    await expectError(await request(api.app).post('/v1/items').send({ images: [] }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    await expectError(await request(api.app).post('/v1/items').field('items', '[]'), 400, 'BAD_REQUEST');
    await expectError(await request(api.app).post('/v1/items').field('items', '[{').attach('images', image, 'a.png'), 400, 'BAD_REQUEST');
    const badUrl = JSON.stringify([{ url: 'javascript:alert(1)' }]);
    await expectError(await request(api.app).post('/v1/items').field('items', badUrl).attach('images', image, 'a.png'), 400, 'INVALID_QUERY');
    const badId = JSON.stringify([{ id: 'has space' }]);
    await expectError(await request(api.app).post('/v1/items').field('items', badId).attach('images', image, 'a.png'), 400, 'INVALID_QUERY');
    const extraKey = JSON.stringify([{ title: 'x', seq: 5 }]);
    await expectError(await request(api.app).post('/v1/items').field('items', extraKey).attach('images', image, 'a.png'), 400, 'INVALID_QUERY');
    const tooMany = JSON.stringify([{}, {}]);
    await expectError(await request(api.app).post('/v1/items').field('items', tooMany).attach('images', image, 'a.png'), 400, 'INVALID_QUERY');
    const sameId = JSON.stringify([{ id: 'dup' }, { id: 'dup' }]);
    const twice = await request(api.app).post('/v1/items').field('items', sameId).attach('images', image, 'a.png').attach('images', await testImage('#888888'), 'b.png');
    await expectError(twice, 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post('/v1/items').attach('photo', image, 'a.png'), 400, 'BAD_REQUEST');
  });
});

describe('DELETE /v1/items/:id', () => {
  it('deletes an item: it is gone from reads, thumbnails and search', async () => {
    const id = api.ids[5];
    const before = await request(api.app).get('/v1/search').query({ itemId: api.ids[6], k: 100 });
    expect(before.body.results.map((r: { id: string }) => r.id)).toContain(id);

    const res = await request(api.app).delete(`/v1/items/${id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    await expectError(await request(api.app).get(`/v1/items/${id}`), 404, 'ITEM_NOT_FOUND');
    await expectError(await request(api.app).get(`/v1/items/${id}/thumbnail`), 404, 'ITEM_NOT_FOUND');
    await expectError(await request(api.app).get('/v1/search').query({ itemId: id }), 404, 'ITEM_NOT_FOUND');
    const after = await request(api.app).get('/v1/search').query({ itemId: api.ids[6], k: 100 });
    expect(after.body.results.map((r: { id: string }) => r.id)).not.toContain(id);
    await expectError(await request(api.app).delete(`/v1/items/${id}`), 404, 'ITEM_NOT_FOUND');
  });
});

describe('GET /v1/sources', () => {
  it('lists every indexed source with its item count, most first, and each narrows a search to itself', async () => {
    const res = await request(api.app).get('/v1/sources');
    expect(res.status).toBe(200);
    const sources = res.body.sources as Array<{ value: string; count: number }>;
    const stats = await api.context.store.catalog.stats();
    expect(Object.fromEntries(sources.map((s) => [s.value, s.count]))).toEqual(stats.sources);
    for (let i = 1; i < sources.length; i++) expect(sources[i - 1].count).toBeGreaterThanOrEqual(sources[i].count);
    expect(sources.length).toBeGreaterThan(1);
    const only = sources[sources.length - 1].value;
    const narrowed = await request(api.app).get(`/v1/search?q=face&k=10&source=${encodeURIComponent(only)}`);
    expect(narrowed.status).toBe(200);
    expect(narrowed.body.results.length).toBeGreaterThan(0);
    expect(narrowed.body.results.every((r: { source: string }) => r.source === only)).toBe(true);
  });
});
