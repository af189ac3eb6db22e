/** Operations: liveness, readiness and the numbers an operator looks at first. */
import { Router } from 'express';
import { createError } from '../../errors.js';
import type { RouteDeps } from '../deps.js';

export function adminRoutes(deps: RouteDeps): Router {
  const { context } = deps;
  const router = Router();

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    if (deps.ready && !deps.ready()) throw createError('NOT_READY', 'starting or stopping');
    try {
      // Both answer only while the catalog and the indices are open.
      await context.store.catalog.version();
      await Promise.all([context.store.indices.semantic.size(), context.store.indices.style.size()]);
    } catch {
      throw createError('NOT_READY', 'the store is closed');
    }
    res.json({ status: 'ready' });
  });

  router.get('/v1/stats', async (_req, res) => {
    const { store, encoders } = context;
    const [catalog, semantic, style] = await Promise.all([
      store.catalog.stats(),
      store.indices.semantic.size(),
      store.indices.style.size(),
    ]);
    res.json({
      pack: encoders.packName,
      provider: encoders.provider,
      backend: store.backend,
      dims: { semantic: encoders.semanticDim, style: encoders.styleDim },
      catalog,
      indices: { semantic, style },
      textCache: encoders.textCacheStats(),
      indexing: deps.indexing?.() ?? null,
    });
  });

  return router;
}
