import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, openTestApi, testImage, type TestApi } from './helpers.js';

let api: TestApi;
beforeAll(async () => {
  api = await openTestApi();
});
afterAll(() => api?.close());

const idsOf = (body: { results: Array<{ id: string }> }): string[] => body.results.map((r) => r.id);

async function createSession(body: object = { q: 'face', k: 6 }): Promise<{ id: string; first: string[] }> {
  const res = await request(api.app).post('/v1/sessions').send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.session.id, first: idsOf(res.body) };
}

describe('refinement sessions', () => {
  it('creates a session from a search request with its first page', async () => {
    const res = await request(api.app).post('/v1/sessions').send({ q: 'face', style: 'flat', k: 6 });
    expect(res.status).toBe(201);
    expect(res.body.session).toMatchObject({ step: 0, fusion: 'weighted', descriptors: { content: true, style: true } });
    expect(res.body.session.trail).toHaveLength(1);
    expect(res.body.results).toHaveLength(6);
    expect(res.body.results[0].thumbnail).toBe(`/v1/items/${res.body.results[0].id}/thumbnail`);

    const got = await request(api.app).get(`/v1/sessions/${res.body.session.id}`);
    expect(got.status).toBe(200);
    expect(got.body.session.id).toBe(res.body.session.id);
  });

  it('creates a session from an uploaded image', async () => {
    const res = await request(api.app)
      .post('/v1/sessions')
      .field('query', JSON.stringify({ k: 3 }))
      .attach('styleImage', await testImage('#ff00ff'), 'style.png');
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.session.descriptors).toEqual({ content: false, style: true });
    expect(res.body.results).toHaveLength(3);
  });

  it('steps, undoes and goes back; liked items leave the results', async () => {
    const { id, first } = await createSession();
    const liked = first[0];
    const step = await request(api.app).post(`/v1/sessions/${id}/steps`).query({ k: 10 }).send({ like: { style: [liked] }, weights: { style: 2 } });
    expect(step.status, JSON.stringify(step.body)).toBe(200);
    expect(step.body.session.step).toBe(1);
    expect(step.body.session.weights).toEqual({ content: 1, style: 2, text: 1 });
    expect(step.body.results).toHaveLength(10);
    expect(idsOf(step.body)).not.toContain(liked);

    const second = await request(api.app).post(`/v1/sessions/${id}/steps`).send({ set: { q: 'cat' } });
    expect(second.body.session.step).toBe(2);

    const undo = await request(api.app).delete(`/v1/sessions/${id}/steps/last`);
    expect(undo.status).toBe(200);
    expect(undo.body.session.step).toBe(1);

    const back = await request(api.app).post(`/v1/sessions/${id}/back`).query({ k: 6 }).send({ step: 0 });
    expect(back.status).toBe(200);
    expect(back.body.session.step).toBe(0);
    expect(back.body.session.trail).toHaveLength(1);
    expect(idsOf(back.body)).toEqual(first);

    await expectError(await request(api.app).delete(`/v1/sessions/${id}/steps/last`), 422, 'NOTHING_TO_UNDO');
    await expectError(await request(api.app).post(`/v1/sessions/${id}/back`).send({ step: 7 }), 422, 'UNPROCESSABLE');
  });

  it('pages the current results with disjoint cursors; a cursor from before a step is refused', async () => {
    const { id } = await createSession();
    const page1 = await request(api.app).get(`/v1/sessions/${id}/results`).query({ k: 10 });
    const page2 = await request(api.app).get(`/v1/sessions/${id}/results`).query({ k: 10, cursor: page1.body.nextCursor });
    expect(page2.status).toBe(200);
    const a = idsOf(page1.body);
    const b = idsOf(page2.body);
    expect(b).toHaveLength(10);
    expect(a.filter((x) => b.includes(x))).toEqual([]);

    await request(api.app).post(`/v1/sessions/${id}/steps`).send({ unlike: { content: [a[0]] } });
    const stale = await request(api.app).get(`/v1/sessions/${id}/results`).query({ k: 10, cursor: page1.body.nextCursor });
    await expectError(stale, 400, 'INVALID_CURSOR');
  });

  it('rejects bad steps', async () => {
    const { id } = await createSession();
    await expectError(await request(api.app).post(`/v1/sessions/${id}/steps`).send({}), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post(`/v1/sessions/${id}/steps`).send({ like: { style: 'x' } }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post(`/v1/sessions/${id}/steps`).send({ weights: { content: 0, style: 0 } }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post(`/v1/sessions/${id}/steps`).send({ like: { style: ['noto:nope'] } }), 404, 'ITEM_NOT_FOUND');
    await expectError(await request(api.app).post(`/v1/sessions/${id}/steps`).set('Content-Type', 'application/json').send('{"like":'), 400, 'BAD_REQUEST');
    await expectError(await request(api.app).post(`/v1/sessions/${id}/steps`).set('Content-Type', 'text/plain').send('like'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    await expectError(await request(api.app).post(`/v1/sessions/${id}/steps`).query({ k: 1000 }).send({ weights: { style: 2 } }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post(`/v1/sessions/${id}/back`).send({ step: -1 }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post(`/v1/sessions/${id}/back`).send({ step: 'first' }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post(`/v1/sessions/${id}/back`).send({ step: 0.5 }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).get(`/v1/sessions/${id}/results`).query({ k: 'NaN' }), 400, 'INVALID_QUERY');
    await expectError(await request(api.app).post('/v1/sessions').send({ q: '' }), 400, 'EMPTY_QUERY');
    await expectError(await request(api.app).post('/v1/sessions').send({ q: 'cat', k: 101 }), 400, 'INVALID_QUERY');
  });

  it('answers 404 for unknown and deleted sessions', async () => {
    const { id } = await createSession();
    expect((await request(api.app).delete(`/v1/sessions/${id}`)).status).toBe(204);
    const unknown = ['00000000-0000-4000-8000-000000000000', id, 'not a valid id!'];
    for (const sid of unknown) {
      const path = `/v1/sessions/${encodeURIComponent(sid)}`;
      await expectError(await request(api.app).get(path), 404, 'SESSION_NOT_FOUND');
      await expectError(await request(api.app).get(`${path}/results`), 404, 'SESSION_NOT_FOUND');
      await expectError(await request(api.app).post(`${path}/steps`).send({ weights: { style: 2 } }), 404, 'SESSION_NOT_FOUND');
      await expectError(await request(api.app).delete(`${path}/steps/last`), 404, 'SESSION_NOT_FOUND');
      await expectError(await request(api.app).post(`${path}/back`).send({ step: 0 }), 404, 'SESSION_NOT_FOUND');
      await expectError(await request(api.app).delete(path), 404, 'SESSION_NOT_FOUND');
    }
  });
});

describe('session results with facets', () => {
  it('counts the same pool as the equivalent search', async () => {
    const created = await request(api.app).post('/v1/sessions').send({ q: 'face', k: 5, facets: ['source', 'tags'] });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.facetScope).toBe('candidates');
    const search = await request(api.app).get('/v1/search').query({ q: 'face', k: 5, facets: 'source,tags' });
    expect(created.body.facets).toEqual(search.body.facets);
    const page = await request(api.app).get(`/v1/sessions/${created.body.session.id}/results`).query({ k: 5, facets: 'source', facetLimit: 2 });
    expect(page.status).toBe(200);
    expect(page.body.facets.source).toEqual(search.body.facets.source.slice(0, 2));
    const step = await request(api.app).post(`/v1/sessions/${created.body.session.id}/steps`).query({ facets: 'license' }).send({ weights: { text: 0 } });
    expect(step.status, JSON.stringify(step.body)).toBe(200);
    expect(Object.keys(step.body.facets)).toEqual(['license']);
    expect(step.body.results.every((r: { scores: { text: number | null } }) => r.scores.text === null)).toBe(true);
  });
});
