/**
 * Prometheus metrics at `/metrics` (prom-client, one registry per app): request counts and
 * latencies by route pattern and status, index sizes, the generation queue and the text cache
 * (read on scrape), generation job outcomes and run times, and the process defaults.
 *
 * Job outcomes: the routes answer 202 with `Location: /v1/jobs/<id>`; those ids are remembered
 * (bounded) and looked up on scrape, and each finished one is counted once by its final state.
 */
import type { Request, RequestHandler, Response } from 'express';
import { Router } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { inferenceTimings } from '../encoders/timings.js';
import type { ParasolContext } from '../context.js';
import { FINISHED_STATES } from '../jobs/queue.js';
import { matchRoute } from './auth.js';

/** Finished-job lookups kept between scrapes at most (oldest dropped first). */
const MAX_TRACKED_JOBS = 10_000;
const JOB_LOCATION = /^\/v1\/jobs\/([0-9a-f-]{36})$/;

/** Process metrics (CPU, memory, event loop, GC): one collector per process, shared by every app. */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'parasol_' });
  }
  return processRegistry;
}

/** The route pattern a request matched (never the raw path, which would explode the label set). */
export function routeLabel(req: Request): string {
  const route = (req as { route?: { path?: unknown } }).route;
  if (route && typeof route.path === 'string') return route.path;
  if (route) return 'web';
  return matchRoute(req.method, req.path)?.pattern ?? 'unmatched';
}

export class ApiMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly duration: Histogram<'method' | 'route' | 'status'>;
  private readonly jobOutcomes: Counter<'kind' | 'state'>;
  private readonly jobSeconds: Histogram<'kind'>;
  private readonly tracked = new Set<string>();

  constructor(private readonly context: ParasolContext) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'parasol_http_requests_total',
      help: 'HTTP requests by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.duration = new Histogram({
      name: 'parasol_http_request_duration_seconds',
      help: 'HTTP request latency by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.jobOutcomes = new Counter({
      name: 'parasol_generation_jobs_total',
      help: 'Generation jobs submitted over HTTP that finished, by kind and final state (counted on scrape).',
      labelNames: ['kind', 'state'],
      registers,
    });
    this.jobSeconds = new Histogram({
      name: 'parasol_generation_job_run_seconds',
      help: 'Run time of succeeded generation jobs (sampler: encoders, UNet steps, decoder).',
      labelNames: ['kind'],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    });
    const { store, jobs, encoders } = context;
    new Gauge({
      name: 'parasol_catalog_items',
      help: 'Live items in the catalog.',
      registers,
      async collect() {
        this.set((await store.catalog.stats()).items);
      },
    });
    new Gauge({
      name: 'parasol_index_vectors',
      help: 'Vectors in each HNSW index.',
      labelNames: ['index'],
      registers,
      async collect() {
        const [semantic, style] = await Promise.all([store.indices.semantic.size(), store.indices.style.size()]);
        this.set({ index: 'semantic' }, semantic);
        this.set({ index: 'style' }, style);
      },
    });
    new Gauge({
      name: 'parasol_generation_queue_jobs',
      help: 'Generation jobs waiting for a worker (queued) and being sampled (running).',
      labelNames: ['state'],
      registers,
      async collect() {
        const stats = await jobs.stats();
        this.set({ state: 'queued' }, stats.queued);
        this.set({ state: 'running' }, stats.running);
      },
    });
    new Gauge({
      name: 'parasol_generation_queue_capacity',
      help: 'Generation workers and waiting places.',
      labelNames: ['kind'],
      registers,
      async collect() {
        const stats = await jobs.stats();
        this.set({ kind: 'workers' }, stats.workers);
        this.set({ kind: 'queue' }, stats.queueLength);
      },
    });
    new Gauge({
      name: 'parasol_model_inference_seconds',
      help: 'Seconds spent inside onnxruntime since start, per model file (encoders, UNet, VAE, projector).',
      labelNames: ['model'],
      registers,
      collect() {
        for (const [model, timing] of inferenceTimings()) this.set({ model }, timing.seconds);
      },
    });
    new Gauge({
      name: 'parasol_model_inference_calls',
      help: 'onnxruntime runs since start, per model file.',
      labelNames: ['model'],
      registers,
      collect() {
        for (const [model, timing] of inferenceTimings()) this.set({ model }, timing.calls);
      },
    });
    new Gauge({
      name: 'parasol_text_cache',
      help: 'The text-embedding cache: hits and misses since start, entries and capacity.',
      labelNames: ['kind'],
      registers,
      collect() {
        const stats = encoders.textCacheStats();
        for (const kind of ['hits', 'misses', 'size', 'capacity'] as const) this.set({ kind }, stats[kind]);
      },
    });
  }

  /** Times every request; records it on finish under its route pattern. */
  middleware(): RequestHandler {
    return (req, res, next) => {
      const end = this.duration.startTimer();
      res.on('finish', () => {
        const labels = { method: req.method, route: routeLabel(req), status: String(res.statusCode) };
        end(labels);
        this.requests.inc(labels);
        if (res.statusCode === 202) this.trackJob(res);
      });
      next();
    };
  }

  private trackJob(res: Response): void {
    const match = JOB_LOCATION.exec(String(res.get('location') ?? ''));
    if (!match) return;
    if (this.tracked.size >= MAX_TRACKED_JOBS) {
      const oldest = this.tracked.values().next().value;
      if (oldest !== undefined) this.tracked.delete(oldest);
    }
    this.tracked.add(match[1]);
  }

  /** Counts the tracked jobs that have finished since the last scrape. */
  private async collectJobs(): Promise<void> {
    for (const id of [...this.tracked]) {
      const view = await this.context.jobs.get(id);
      if (!view) {
        this.tracked.delete(id); // expired or removed before a scrape saw it finish
        continue;
      }
      if (!FINISHED_STATES.has(view.state)) continue;
      this.tracked.delete(id);
      this.jobOutcomes.inc({ kind: view.kind, state: view.state });
      if (view.state === 'succeeded') this.jobSeconds.observe({ kind: view.kind }, view.timing.runMs / 1000);
    }
  }

  /** The Prometheus text exposition. */
  async render(): Promise<{ contentType: string; body: string }> {
    await this.collectJobs();
    const [own, process] = await Promise.all([this.registry.metrics(), processMetrics().metrics()]);
    return { contentType: this.registry.contentType, body: `${own}\n${process}` };
  }

  routes(): Router {
    const router = Router();
    router.get('/metrics', async (_req, res) => {
      const { contentType, body } = await this.render();
      res.set('Cache-Control', 'no-store').type(contentType).send(body);
    });
    return router;
  }
}
