/**
 * Refinement sessions: start from a search, then step (like/unlike/weights/set), undo, go back,
 * and page through the current results. Each state-changing call answers with the session's
 * summary and the first page of its new results, so a client needs one round trip per step.
 */
import { Router } from 'express';
import { z } from 'zod';
import { createError } from '../../errors.js';
import { refineStepSchema, summarizeSession, type RefineSession } from '../../search/refine.js';
import type { RouteDeps } from '../deps.js';
import { presentPage, type ApiPage } from '../present.js';
import { readSearchRequest, searchMultipart } from '../search-request.js';
import { assertK, idParam, jsonObject, parseQuery, queryValue, requireBodyType } from '../validate.js';

const pageQuerySchema = z.strictObject({
  k: queryValue.optional(),
  cursor: queryValue.optional(),
  explain: z.enum(['true', 'false']).optional(),
});

/** State-changing calls take only `k` (a cursor from before the change would not fit the new state). */
const firstPageQuerySchema = pageQuerySchema.pick({ k: true, explain: true });

const backSchema = z.strictObject({ step: z.number().int().min(0) });

export function sessionRoutes(deps: RouteDeps): Router {
  const { sessions, config } = deps.context;
  const router = Router();

  const withFirstPage = async (session: RefineSession, query: { k?: unknown; explain?: string }) => {
    assertK(query.k, config.search.maxK);
    const page: ApiPage = presentPage(await sessions.search(session.id, { k: query.k, explain: query.explain === 'true' }));
    return { session: summarizeSession(session), ...page };
  };

  router.post('/v1/sessions', searchMultipart(config), async (req, res) => {
    const request = await readSearchRequest(req, config);
    const session = await sessions.create(request);
    res.status(201).json(await withFirstPage(session, { k: request.k }));
  });

  router.get('/v1/sessions/:id', async (req, res) => {
    const session = await sessions.get(idParam(req, 'SESSION_NOT_FOUND'));
    res.json({ session: summarizeSession(session) });
  });

  router.post('/v1/sessions/:id/steps', async (req, res) => {
    const id = idParam(req, 'SESSION_NOT_FOUND');
    requireBodyType(req, ['json']);
    const step = refineStepSchema.parse(jsonObject(req.body));
    const query = parseQuery(req, firstPageQuerySchema);
    res.json(await withFirstPage(await sessions.step(id, step), query));
  });

  router.delete('/v1/sessions/:id/steps/last', async (req, res) => {
    const id = idParam(req, 'SESSION_NOT_FOUND');
    const query = parseQuery(req, firstPageQuerySchema);
    res.json(await withFirstPage(await sessions.undo(id), query));
  });

  router.post('/v1/sessions/:id/back', async (req, res) => {
    const id = idParam(req, 'SESSION_NOT_FOUND');
    requireBodyType(req, ['json']);
    const { step } = backSchema.parse(jsonObject(req.body));
    const query = parseQuery(req, firstPageQuerySchema);
    res.json(await withFirstPage(await sessions.back(id, step), query));
  });

  router.get('/v1/sessions/:id/results', async (req, res) => {
    const id = idParam(req, 'SESSION_NOT_FOUND');
    const query = parseQuery(req, pageQuerySchema);
    assertK(query.k, config.search.maxK);
    res.json(presentPage(await sessions.search(id, { k: query.k, cursor: query.cursor, explain: query.explain === 'true' })));
  });

  router.delete('/v1/sessions/:id', async (req, res) => {
    const id = idParam(req, 'SESSION_NOT_FOUND');
    if (!(await sessions.delete(id))) throw createError('SESSION_NOT_FOUND', id);
    res.status(204).end();
  });

  return router;
}
