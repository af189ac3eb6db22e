/** Operations: liveness, readiness and the numbers an operator looks at first. */
import { Router } from 'express';
import { createError } from '../../errors.js';
import type { AdminService } from '../../services/admin.js';
import type { AppDeps } from '../deps.js';

export interface AdminRouteDeps extends Pick<AppDeps, 'ready' | 'indexing'> {
  admin: AdminService;
}

export function adminRoutes(deps: AdminRouteDeps): Router {
  const { admin } = deps;
  const router = Router();

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    if (deps.ready && !deps.ready()) throw createError('NOT_READY', 'starting or stopping');
    if (!(await admin.storeOpen())) throw createError('NOT_READY', 'the store is closed');
    res.json({ status: 'ready' });
  });

  router.get('/v1/stats', async (_req, res) => {
    res.json({ ...(await admin.stats()), indexing: deps.indexing?.() ?? null });
  });

  return router;
}
