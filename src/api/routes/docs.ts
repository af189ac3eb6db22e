/** The API description, and a pointer to it at `/` when no web app is built. */
import { Router } from 'express';
import type { AppDeps } from '../deps.js';
import { openApiDocument } from '../openapi.js';

export function docsRoutes(deps: Pick<AppDeps, 'webDir'>): Router {
  const router = Router();

  router.get('/v1/openapi.yaml', async (_req, res) => {
    res.type('application/yaml').send(await openApiDocument());
  });

  if (!deps.webDir) {
    router.get('/', (_req, res) => {
      res.json({ name: 'parasol', api: '/v1', openapi: '/v1/openapi.yaml', health: '/healthz' });
    });
  }

  return router;
}
