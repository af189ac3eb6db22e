/**
 * The HTTP API v1 as an express app over the services. No listening, no signals: server.ts
 * does that, and tests drive this app directly.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Config } from '../config.js';
import { createError } from '../errors.js';
import { authMiddleware, matchRoute, type RequestAuth } from './auth.js';
import { cors } from './cors.js';
import type { AppDeps } from './deps.js';
import { errorHandler, routeNotFound } from './error-handler.js';
import { ApiMetrics, routeLabel } from './metrics.js';
import { adminRoutes } from './routes/admin.js';
import { docsRoutes } from './routes/docs.js';
import { generateRoutes } from './routes/generate.js';
import { itemRoutes } from './routes/items.js';
import { keyRoutes } from './routes/keys.js';
import { searchRoutes } from './routes/search.js';
import { sessionRoutes } from './routes/sessions.js';
import { JOB_IMAGE_READER, type JobImageReader } from './search-request.js';

export type { AppDeps } from './deps.js';

export function createApp(deps: AppDeps): Express {
  const { config, logger, services } = deps;

  const app = express();
  app.disable('x-powered-by');
  // The default "extended" parser builds nested objects from `a[b]=1`; no route takes those.
  app.set('query parser', 'simple');
  const metrics = new ApiMetrics(services);
  app.use(securityHeaders);
  app.use(requestId);
  app.use(metrics.middleware());
  app.use(requestLog(deps));
  app.use(cors(config.cors));
  // Before the body parsers: a request without a valid key is refused before its body is read.
  app.use(authMiddleware({ config, keys: services.keys, now: deps.now }));
  app.use(express.json({ limit: config.limits.jsonBytes }));
  app.use(searchDeadline(config));

  // Every router is mounted at the root and names full paths, so the route table is one walk.
  app.use(adminRoutes({ admin: services.admin, ready: deps.ready, indexing: deps.indexing }));
  app.use(docsRoutes({ webDir: deps.webDir }));
  app.use(searchRoutes({ config, search: services.search }));
  app.use(itemRoutes({ config, items: services.items, search: services.search }));
  app.use(sessionRoutes({ config, sessions: services.sessions }));
  app.use(generateRoutes({ config, generation: services.generation }));
  app.use(keyRoutes({ keys: services.keys, now: deps.now }));
  app.use(metrics.routes());
  // POST /v1/search and /v1/sessions accept a finished job's image as the query (`jobId`).
  app.locals[JOB_IMAGE_READER] = ((id) => services.generation.image(id)) satisfies JobImageReader;
  if (deps.webDir) app.use(webApp(deps.webDir));

  app.use(routeNotFound);
  app.use(afterDeadline);
  app.use(errorHandler(config, logger));
  return app;
}

/**
 * Searches (every route that counts against the daily search quota) must be answered within
 * `server.requestTimeoutMs`: past it the client gets 503 TIMEOUT with Retry-After and whatever the
 * handler sends later is dropped. The handler itself is not interrupted.
 */
function searchDeadline(config: Config): RequestHandler {
  const ms = config.server.requestTimeoutMs;
  return (req, res, next) => {
    if (matchRoute(req.method, req.path)?.quota !== 'searches') return next();
    const timer = setTimeout(() => {
      if (res.headersSent) return;
      const error = createError('TIMEOUT', ms);
      res.locals.timedOut = true;
      res.status(error.status).set('Retry-After', '1').json({ error: { code: error.code, message: error.message } });
      // The late answer goes nowhere.
      res.json = () => res;
      res.send = () => res;
      res.end = () => res;
    }, ms);
    timer.unref();
    res.on('finish', () => clearTimeout(timer));
    res.on('close', () => clearTimeout(timer));
    next();
  };
}

/** A handler that failed after its request timed out has nothing left to answer. */
const afterDeadline: ErrorRequestHandler = (error, _req, res, next) => {
  if (res.locals.timedOut) return;
  next(error);
};

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.set('X-Content-Type-Options', 'nosniff');
  next();
};

/** A client's X-Request-Id when it is sane (1–128 of A-Z a-z 0-9 . _ : -), else a new UUID. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const requestId: RequestHandler = (req, res, next) => {
  const given = req.get('x-request-id');
  const id = given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
  res.locals.requestId = id;
  res.set('X-Request-Id', id);
  next();
};

function requestLog(deps: AppDeps): RequestHandler {
  const { logger } = deps;
  return (req, res, next) => {
    const started = performance.now();
    res.on('finish', () => {
      const auth = res.locals.auth as RequestAuth | undefined;
      logger.info('request', {
        requestId: res.locals.requestId as string,
        method: req.method,
        route: routeLabel(req),
        path: req.path,
        status: res.statusCode,
        ms: Math.round((performance.now() - started) * 10) / 10,
        ...(auth?.key ? { keyId: auth.key.id } : {}),
      });
    });
    next();
  };
}

/** The built web app: its files, and index.html for any other page a browser asks for (client-side routes). */
function webApp(dir: string): express.Router {
  const router = express.Router();
  router.use(express.static(dir, { index: 'index.html', maxAge: '1h' }));
  router.get(/^\/(?!v1\/|v1$|healthz$|readyz$).*/, (req, res, next) => {
    if (!req.accepts('html')) return next();
    res.sendFile(path.join(dir, 'index.html'), (error?: Error) => {
      if (error) next();
    });
  });
  return router;
}
