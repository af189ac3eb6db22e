/**
 * Refinement sessions: start from a search, then step (like/unlike/weights/set), undo, go back,
 * and page through the current results. Each state-changing call answers with the session's
 * summary and the first page of its new results, so a client needs one round trip per step.
 */
import { Router } from 'express';
import { z } from 'zod';
import type { Config } from '../../config.js';
import { refineStepSchema, type FirstPageOptions, type SessionPage, type SessionService } from '../../services/sessions.js';
import { presentPage } from '../present.js';
import type { ApiSession, ApiSessionPage } from '../public-types.js';
import { readSearchRequest, searchMultipart } from '../search-request.js';
import { assertK, idParam, jsonObject, parseQuery, queryList, queryValue, requireBodyType } from '../validate.js';
import { facetParams } from './search.js';

const pageQuerySchema = z.strictObject({
  k: queryValue.optional(),
  cursor: queryValue.optional(),
  explain: z.enum(['true', 'false']).optional(),
  facets: queryList.optional(),
  facetLimit: queryValue.optional(),
});

/** State-changing calls take no cursor (a cursor from before the change would not fit the new state). */
const firstPageQuerySchema = pageQuerySchema.omit({ cursor: true });

const backSchema = z.strictObject({ step: z.number().int().min(0) });

/** The first-page options of a state-changing call, checked against the deployment's k bound. */
function firstPage(query: { k?: unknown; explain?: string; facets?: string[]; facetLimit?: string }, maxK: number): FirstPageOptions {
  assertK(query.k, maxK);
  return { k: query.k as FirstPageOptions['k'], explain: query.explain === 'true', ...facetParams(query) };
}

function presentSessionPage({ session, page }: SessionPage): ApiSessionPage {
  return { session, ...presentPage(page) };
}

export function sessionRoutes(deps: { config: Config; sessions: SessionService }): Router {
  const { sessions, config } = deps;
  const maxK = config.search.maxK;
  const router = Router();

  router.post('/v1/sessions', searchMultipart(config), async (req, res) => {
    const request = await readSearchRequest(req, config);
    const first: FirstPageOptions = { ...firstPage({ k: request.k }, maxK), explain: request.explain ?? false };
    if (request.facets) first.facets = request.facets;
    if (request.facetLimit !== undefined) first.facetLimit = request.facetLimit;
    res.status(201).json(presentSessionPage(await sessions.create(request, first)));
  });

  router.get('/v1/sessions/:id', async (req, res) => {
    const session: ApiSession = await sessions.get(idParam(req, 'SESSION_NOT_FOUND'));
    res.json({ session });
  });

  router.post('/v1/sessions/:id/steps', async (req, res) => {
    const id = idParam(req, 'SESSION_NOT_FOUND');
    requireBodyType(req, ['json']);
    const step = refineStepSchema.parse(jsonObject(req.body));
    const query = parseQuery(req, firstPageQuerySchema);
    res.json(presentSessionPage(await sessions.step(id, step, firstPage(query, maxK))));
  });

  router.delete('/v1/sessions/:id/steps/last', async (req, res) => {
    const id = idParam(req, 'SESSION_NOT_FOUND');
    const query = parseQuery(req, firstPageQuerySchema);
    res.json(presentSessionPage(await sessions.undo(id, firstPage(query, maxK))));
  });

  router.post('/v1/sessions/:id/back', async (req, res) => {
    const id = idParam(req, 'SESSION_NOT_FOUND');
    requireBodyType(req, ['json']);
    const { step } = backSchema.parse(jsonObject(req.body));
    const query = parseQuery(req, firstPageQuerySchema);
    res.json(presentSessionPage(await sessions.back(id, step, firstPage(query, maxK))));
  });

  router.get('/v1/sessions/:id/results', async (req, res) => {
    const id = idParam(req, 'SESSION_NOT_FOUND');
    const query = parseQuery(req, pageQuerySchema);
    assertK(query.k, maxK);
    res.json(presentPage(await sessions.results(id, { k: query.k, cursor: query.cursor, explain: query.explain === 'true', ...facetParams(query) })));
  });

  router.delete('/v1/sessions/:id', async (req, res) => {
    const id = idParam(req, 'SESSION_NOT_FOUND');
    await sessions.delete(id);
    res.status(204).end();
  });

  return router;
}
