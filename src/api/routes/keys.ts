/** API key administration (scope `admin`): create (the secret is shown once), list, revoke. */
import { Router } from 'express';
import { z } from 'zod';
import { createError } from '../../errors.js';
import { SCOPES, type KeyService } from '../../services/keys.js';
import type { AppDeps } from '../deps.js';
import { jsonObject, parseQuery, queryValue, requireBodyType } from '../validate.js';

const limit = z.number().int().min(0).max(1_000_000_000);

export const newKeySchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length),
    ratePerMinute: z.number().int().min(1).max(1_000_000).optional(),
    dailySearches: limit.nullable().optional(),
    dailyGenerations: limit.nullable().optional(),
  })
  .strict();

const listQuery = z
  .object({ limit: queryValue.transform(Number).pipe(z.number().int().min(1).max(1000)).optional() })
  .strict();

const KEY_ID = /^[0-9a-f]{16}$/;

export function keyRoutes(deps: Pick<AppDeps, 'now'> & { keys: KeyService }): Router {
  const { keys } = deps;
  const now = deps.now ?? Date.now;
  const router = Router();

  router.post('/v1/admin/keys', async (req, res) => {
    requireBodyType(req, ['json']);
    const body = newKeySchema.parse(jsonObject(req.body));
    const { key, secret } = await keys.create(body, now());
    res.status(201).set('Cache-Control', 'no-store').json({ key: await keys.present(key, now()), secret });
  });

  router.get('/v1/admin/keys', async (req, res) => {
    const query = parseQuery(req, listQuery);
    const t = now();
    const listed = await keys.list(query.limit ?? 1000);
    res.set('Cache-Control', 'no-store').json({ keys: await Promise.all(listed.map((key) => keys.present(key, t))) });
  });

  router.delete('/v1/admin/keys/:id', async (req, res) => {
    const id = String(req.params.id);
    const key = KEY_ID.test(id) ? await keys.revoke(id, now()) : undefined;
    if (!key) throw createError('NOT_FOUND', `No API key with id "${id.slice(0, 64)}"`);
    res.json({ key: await keys.present(key, now()) });
  });

  return router;
}
