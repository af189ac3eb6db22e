/**
 * One typed configuration: defaults < JSON file (PARASOL_CONFIG) < environment (PARASOL_*) <
 * explicit overrides (CLI flags), validated with zod so a bad value fails at start, not later.
 */
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { createError } from './errors.js';

/** The package root (where models/ and web/ live), whether running from src/ or dist/src/. */
export const PACKAGE_ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
})();

const positiveInt = z.coerce.number().int().positive();

/** A boolean from JSON or from an environment string ("true"/"false"/"1"/"0"/"yes"/"no"). */
const flag = z.preprocess((value) => {
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return value;
}, z.boolean());

/** A list from JSON or from a comma-separated environment string; blanks dropped. */
const stringList = z.preprocess(
  (value) => (typeof value === 'string' ? value.split(',').map((part) => part.trim()).filter(Boolean) : value),
  z.array(z.string().min(1).max(500)).max(100),
);

export const configSchema = z.object({
  dataDir: z.string().min(1).default('./data'),
  packDir: z.string().min(1).default(path.join(PACKAGE_ROOT, 'models', 'mini')),
  device: z.enum(['auto', 'cpu', 'cuda']).default('auto'),
  threads: z.coerce.number().int().min(0).default(0),
  backend: z.enum(['sqlite', 'elastic']).default('sqlite'),
  server: z
    .object({
      host: z.string().default('127.0.0.1'),
      port: z.coerce.number().int().min(0).max(65535).default(8080),
      /** A request (headers and body) must arrive, and a search must be answered, within this many milliseconds. */
      requestTimeoutMs: positiveInt.max(3_600_000).default(30_000),
    })
    .prefault({}),
  hnsw: z
    .object({
      M: positiveInt.default(16),
      efConstruction: positiveInt.default(200),
      efSearch: positiveInt.default(128),
      /** Keep the joint [content, style] index (embedded backend): fused queries cost one search, for ~80% more index memory. */
      joint: flag.default(true),
      /** The joint index's graph degree (its flatter 384-d space needs more links than a modality's for the same recall). */
      jointM: positiveInt.default(32),
      /** The joint index's efConstruction (default: the store's, src/store/embedded.ts): its inserts are most of an ingested image's graph time. */
      jointEfConstruction: positiveInt.optional(),
      /** The joint index's efSearch: at 100k, M 32, 96 keeps fused recall@10 ≥ 0.99 at every weight ratio for 0.63× the cost of 128. */
      jointEfSearch: positiveInt.default(96),
    })
    .prefault({}),
  search: z
    .object({
      defaultK: positiveInt.default(24),
      maxK: positiveInt.default(100),
      oversample: positiveInt.default(4),
      maxCandidates: positiveInt.default(1000),
      maxDeepening: z.coerce.number().int().min(0).max(10).default(2),
      rrfWindow: positiveInt.default(400),
      cacheSize: z.coerce.number().int().min(0).default(1024),
      /**
       * Items whose result fields a query reads from memory (SQLite catalog only; 0 turns it off): warmed
       * at start and again after writes pause, cleared by any write. Measured at 100k items: +74 MiB
       * of JS heap, +146 MiB of vector buffers, +273 MiB RSS in all (README Sizing).
       */
      itemCacheSize: z.coerce.number().int().min(0).default(100_000),
      /** Whether the item cache also holds both vectors of each item (a fused page rescored without reading SQLite; ~1.6 KB an item at 256 + 128-d). */
      itemCacheVectors: flag.default(true),
    })
    .prefault({}),
  sessions: z
    .object({
      ttlSeconds: positiveInt.default(1800),
      max: positiveInt.default(10_000),
      /** memory: this process only; redis: shared by every API server (needed behind a load balancer without sticky sessions). */
      store: z.enum(['memory', 'redis']).default('memory'),
    })
    .prefault({}),
  limits: z
    .object({
      jsonBytes: positiveInt.default(256 * 1024),
      uploadBytes: positiveInt.default(10 * 1024 * 1024),
      uploadFiles: positiveInt.default(64),
      maxPixels: positiveInt.default(40_000_000),
      queryChars: positiveInt.default(500),
      feedbackItems: positiveInt.default(50),
    })
    .prefault({}),
  ingest: z
    .object({
      batchSize: positiveInt.default(64),
      /** Model worker threads sharing each batch of images (src/encoders/index.ts, DEFAULT_IMAGE_WORKERS). */
      imageWorkers: positiveInt.max(64).default(2),
      thumbnailSize: positiveInt.default(256),
      /** On a first start, serve once this many demo items are indexed; the rest follow in the background. */
      demoServeAfter: z.coerce.number().int().min(0).default(3000),
    })
    .prefault({}),
  /** API keys (src/api/auth.ts). */
  auth: z
    .object({
      /** Require a valid key on every scoped route; unset: required once any key exists or on a non-loopback host. */
      required: flag.optional(),
      /** Allow listening on a non-loopback address with no keys (`parasol serve --open`): an explicit choice. */
      allowOpen: flag.default(false),
    })
    .prefault({}),
  /** Where API keys, their usage and their rate-limit buckets live (src/store/keys/). */
  keys: z
    .object({
      /** sqlite: <dataDir>/keys.sqlite, one API server; redis: shared by every API server (behind a load balancer). */
      store: z.enum(['sqlite', 'redis']).default('sqlite'),
      /** With the Redis store: how long a request waits for Redis before 503 KEY_STORE_UNAVAILABLE. */
      redisTimeoutMs: positiveInt.max(60_000).default(2000),
    })
    .prefault({}),
  /** Browser origins allowed to call the API (exact `scheme://host[:port]`, or `*` for any, never with credentials). */
  cors: z
    .object({
      origins: stringList.default([]),
      maxAgeSeconds: z.coerce.number().int().min(0).max(86_400).default(600),
    })
    .prefault({}),
  /** Image generation (the PARASOL sampler behind the job queue, src/jobs/). */
  generate: z
    .object({
      /** Jobs sampled at once (each runs the UNet; more than one only helps with spare cores or GPUs). */
      workers: positiveInt.max(64).default(1),
      /** Jobs that may wait for a worker; past this, POST /v1/generate answers 429 QUEUE_FULL. */
      queueLength: positiveInt.max(10_000).default(8),
      /** Queued + running jobs one API key may have at once (requests without a key share one allowance); past it 429 QUEUE_FULL. */
      perKeyQueue: positiveInt.max(10_000).default(4),
      /** The most reverse steps a request may ask for (also never more than the pack's T). */
      maxSteps: positiveInt.max(10_000).default(100),
      defaultSteps: positiveInt.default(25),
      /** Finished jobs (their record and image, in memory and under <dataDir>/generated) live this long. */
      resultTtlSeconds: positiveInt.default(3600),
      /** Finished images kept in memory, least recently used out first (the disk copy stays). */
      resultCacheBytes: positiveInt.default(64 * 1024 * 1024),
      /**
       * Where finished images are written and served from (default <dataDir>/generated). With the
       * Redis queue every API server and worker must see the same folder (a shared volume or mount).
       */
      sharedDir: z.string().min(1).optional(),
    })
    .refine((g) => g.defaultSteps <= g.maxSteps, { message: 'defaultSteps must not exceed maxSteps', path: ['defaultSteps'] })
    .prefault({}),

  /** The Elasticsearch backend (PARASOL_BACKEND=elastic; src/store/elastic.ts). */
  elastic: z
    .object({
      url: z.string().url().optional(),
      apiKey: z.string().min(1).optional(),
      username: z.string().min(1).optional(),
      password: z.string().min(1).optional(),
      /** A PEM file with the CA that signed the cluster's certificate (security on, self-signed). */
      caFile: z.string().min(1).optional(),
      /** The alias searches go through; concrete indices are <index>-v<N>. */
      index: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,200}$/, 'lower-case letters, digits, ".", "_" and "-"').default('parasol-items'),
      shards: positiveInt.max(1024).default(1),
      replicas: z.coerce.number().int().min(0).max(16).default(0),
      /** int8_hnsw keeps a quarter of the float vectors' memory in the HNSW graph (scores become approximate). */
      quantization: z.enum(['none', 'int8']).default('none'),
      m: positiveInt.max(512).default(16),
      efConstruction: positiveInt.max(3200).default(100),
      /** kNN num_candidates per shard = k × this (capped at 10 000). */
      numCandidatesFactor: z.coerce.number().min(1).max(100).default(2),
      /** wait_for: a write returns once searches can see it; false: faster bulk loads, visible within a second. */
      refresh: z.enum(['wait_for', 'false']).default('wait_for'),
      requestTimeoutMs: positiveInt.max(600_000).default(30_000),
      bulkFlushBytes: positiveInt.default(5 * 1024 * 1024),
      bulkConcurrency: positiveInt.max(64).default(2),
      bulkRetries: z.coerce.number().int().min(0).max(20).default(3),
    })
    .prefault({}),
  /** The Redis server shared by API servers and workers (the job queue, refinement sessions and API keys, when chosen). */
  redis: z
    .object({
      url: z.string().url().default('redis://127.0.0.1:6379'),
      /** Key prefix: API servers and workers of one deployment must agree on it. */
      prefix: z.string().regex(/^[A-Za-z0-9:_-]{1,64}$/).default('parasol'),
    })
    .prefault({}),
  /** Where generation jobs queue: in this process (memory) or in Redis for separate sampler workers (`parasol worker`). */
  queue: z
    .object({
      backend: z.enum(['memory', 'redis']).default('memory'),
      /** Jobs one worker process samples at once (one per GPU is the rule). */
      workerConcurrency: positiveInt.max(64).default(1),
      /** A worker holds a job's lock this long between renewals; a worker that dies loses it after this. */
      lockMs: positiveInt.max(3_600_000).default(30_000),
      /** How often workers look for jobs whose lock expired (a dead worker's), to retry them. */
      stalledIntervalMs: positiveInt.max(3_600_000).default(30_000),
      /** Times a job may lose its worker before it fails (instead of being retried). */
      maxStalled: z.coerce.number().int().min(0).max(100).default(1),
      /** A running worker touches this file while Redis answers it; `parasol worker --check` reads its age (container health checks). */
      heartbeatFile: z.string().min(1).default(path.join(tmpdir(), 'parasol-worker.heartbeat')),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
type ConfigInput = z.input<typeof configSchema>;

/** PARASOL_* variables and the config path each one sets. */
const ENV_PATHS: Record<string, string[]> = {
  PARASOL_DATA: ['dataDir'],
  PARASOL_PACK: ['packDir'],
  PARASOL_DEVICE: ['device'],
  PARASOL_THREADS: ['threads'],
  PARASOL_IMAGE_WORKERS: ['ingest', 'imageWorkers'],
  PARASOL_BACKEND: ['backend'],
  PARASOL_HOST: ['server', 'host'],
  PARASOL_PORT: ['server', 'port'],
  PARASOL_REQUEST_TIMEOUT_MS: ['server', 'requestTimeoutMs'],
  PARASOL_HNSW_M: ['hnsw', 'M'],
  PARASOL_HNSW_EF_CONSTRUCTION: ['hnsw', 'efConstruction'],
  PARASOL_HNSW_EF_SEARCH: ['hnsw', 'efSearch'],
  PARASOL_HNSW_JOINT: ['hnsw', 'joint'],
  PARASOL_HNSW_JOINT_M: ['hnsw', 'jointM'],
  PARASOL_HNSW_JOINT_EF_CONSTRUCTION: ['hnsw', 'jointEfConstruction'],
  PARASOL_HNSW_JOINT_EF_SEARCH: ['hnsw', 'jointEfSearch'],
  PARASOL_SESSION_TTL: ['sessions', 'ttlSeconds'],
  PARASOL_MAX_UPLOAD_BYTES: ['limits', 'uploadBytes'],
  PARASOL_MAX_PIXELS: ['limits', 'maxPixels'],
  PARASOL_GENERATE_WORKERS: ['generate', 'workers'],
  PARASOL_GENERATE_QUEUE: ['generate', 'queueLength'],
  PARASOL_GENERATE_MAX_STEPS: ['generate', 'maxSteps'],
  PARASOL_GENERATE_PER_KEY_QUEUE: ['generate', 'perKeyQueue'],
  PARASOL_AUTH_REQUIRED: ['auth', 'required'],
  PARASOL_ALLOW_OPEN: ['auth', 'allowOpen'],
  PARASOL_CORS_ORIGINS: ['cors', 'origins'],
  PARASOL_GENERATED_DIR: ['generate', 'sharedDir'],
  ES_URL: ['elastic', 'url'],
  ES_API_KEY: ['elastic', 'apiKey'],
  ES_USERNAME: ['elastic', 'username'],
  ES_PASSWORD: ['elastic', 'password'],
  ES_CA_FILE: ['elastic', 'caFile'],
  PARASOL_ES_INDEX: ['elastic', 'index'],
  PARASOL_ES_SHARDS: ['elastic', 'shards'],
  PARASOL_ES_REPLICAS: ['elastic', 'replicas'],
  PARASOL_ES_QUANTIZATION: ['elastic', 'quantization'],
  PARASOL_ES_REFRESH: ['elastic', 'refresh'],
  PARASOL_QUEUE: ['queue', 'backend'],
  REDIS_URL: ['redis', 'url'],
  PARASOL_REDIS_PREFIX: ['redis', 'prefix'],
  PARASOL_SESSION_STORE: ['sessions', 'store'],
  PARASOL_KEY_STORE: ['keys', 'store'],
  PARASOL_WORKER_CONCURRENCY: ['queue', 'workerConcurrency'],
  PARASOL_WORKER_HEARTBEAT: ['queue', 'heartbeatFile'],
};

/** Every environment variable the configuration reads. */
export const ENVIRONMENT_VARIABLES: readonly string[] = Object.freeze(['PARASOL_CONFIG', ...Object.keys(ENV_PATHS)]);

type Json = Record<string, unknown>;

function setPath(target: Json, keys: string[], value: unknown): void {
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Json;
  }
  node[keys[keys.length - 1]] = value;
}

function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] =
      typeof value === 'object' && value !== null && !Array.isArray(value) && typeof current === 'object' && current !== null
        ? deepMerge(current as Json, value as Json)
        : value;
  }
  return out;
}

export function loadConfig(overrides: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env): Config {
  let merged: Json = {};
  const file = env.PARASOL_CONFIG;
  if (file) {
    try {
      merged = JSON.parse(readFileSync(file, 'utf8')) as Json;
    } catch (error) {
      throw createError('CONFIG_INVALID', `cannot read ${file}: ${(error as Error).message}`);
    }
  }
  const fromEnv: Json = {};
  for (const [name, keys] of Object.entries(ENV_PATHS)) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(fromEnv, keys, value);
  }
  merged = deepMerge(deepMerge(merged, fromEnv), overrides as Json);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw createError('CONFIG_INVALID', `${issue.path.join('.')}: ${issue.message}`);
  }
  const config = parsed.data;
  if (config.backend === 'elastic' && !config.elastic.url) {
    throw createError('CONFIG_INVALID', 'backend "elastic" needs the cluster address: set ES_URL (or elastic.url)');
  }
  if (config.elastic.apiKey && (config.elastic.username || config.elastic.password)) {
    throw createError('CONFIG_INVALID', 'elastic: give an API key or a username and password, not both');
  }
  if (Boolean(config.elastic.username) !== Boolean(config.elastic.password)) {
    throw createError('CONFIG_INVALID', 'elastic: a username needs a password (ES_USERNAME with ES_PASSWORD)');
  }
  return config;
}
