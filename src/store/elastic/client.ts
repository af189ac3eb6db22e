/**
 * The one place that builds an Elasticsearch client and turns its failures into Parasol errors:
 * an unreachable or overloaded cluster is NOT_READY (503, worth retrying); anything else the
 * cluster refuses is INTERNAL with ES's own reason, so a log line says what went wrong.
 */
import { readFileSync } from 'node:fs';
import { Client, errors } from '@elastic/elasticsearch';
import { createError, isParasolError, ParasolError } from '../../errors.js';

export interface ElasticConnectionOptions {
  /** e.g. https://es.example.org:9200 */
  node?: string;
  auth?: { apiKey: string } | { username: string; password: string };
  tls?: { caFile?: string; rejectUnauthorized?: boolean };
  /** Per request, in milliseconds (default 30 s). */
  requestTimeoutMs?: number;
  /** Transport-level retries of a failed request on another node (default 3). */
  maxRetries?: number;
}

export function createElasticClient(options: ElasticConnectionOptions): Client {
  if (!options.node) throw createError('CONFIG_INVALID', 'the elastic backend needs a node URL (e.g. http://localhost:9200)');
  let ca: Buffer | undefined;
  if (options.tls?.caFile) {
    try {
      ca = readFileSync(options.tls.caFile);
    } catch (error) {
      throw createError('CONFIG_INVALID', `cannot read the Elasticsearch CA file ${options.tls.caFile}: ${(error as Error).message}`);
    }
  }
  return new Client({
    node: options.node,
    auth: options.auth,
    tls: options.tls ? { ca, rejectUnauthorized: options.tls.rejectUnauthorized ?? true } : undefined,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    maxRetries: options.maxRetries ?? 3,
  });
}

interface EsErrorBody {
  error?: { type?: string; reason?: string; caused_by?: { type?: string; reason?: string } } | string;
  found?: boolean;
}

/** The HTTP status of a failed request, when the cluster answered. */
export function statusOf(error: unknown): number | undefined {
  return error instanceof errors.ResponseError ? error.statusCode : undefined;
}

/** ES's error type (e.g. `version_conflict_engine_exception`), when there is one. */
export function errorTypeOf(error: unknown): string | undefined {
  if (!(error instanceof errors.ResponseError)) return undefined;
  const body = error.body as EsErrorBody | undefined;
  return typeof body?.error === 'object' ? body.error.type : undefined;
}

/** A GET of a document that does not exist (as opposed to a missing index, which is an error). */
export function isDocMissing(error: unknown): boolean {
  return statusOf(error) === 404 && (error as errors.ResponseError).body !== undefined &&
    ((error as errors.ResponseError).body as EsErrorBody).found === false;
}

export function isConflict(error: unknown): boolean {
  return statusOf(error) === 409;
}

export function toParasolError(error: unknown, what: string): ParasolError {
  if (isParasolError(error)) return error;
  if (error instanceof errors.ResponseError) {
    const status = error.statusCode ?? 0;
    const body = error.body as EsErrorBody | undefined;
    const detail =
      typeof body?.error === 'object'
        ? `${body.error.type ?? 'error'}: ${body.error.reason ?? ''}${body.error.caused_by ? ` (${body.error.caused_by.type}: ${body.error.caused_by.reason})` : ''}`
        : String(body?.error ?? error.message);
    if (typeof body?.error === 'object' && body.error.type === 'cluster_block_exception') {
      return createError('NOT_READY', `Elasticsearch refused ${what}: the index is read-only for now (a reindex is switching indices, or the disk is full); retry shortly`);
    }
    if (status === 401 || status === 403) {
      return createError('NOT_READY', `Elasticsearch refused ${what} (${status} ${detail}); check the credentials and their privileges`);
    }
    if (status === 429 || status === 502 || status === 503 || status === 504) {
      return createError('NOT_READY', `Elasticsearch is overloaded or unavailable while ${what} (${status} ${detail})`);
    }
    return new ParasolError('INTERNAL', `Elasticsearch failed ${what}: ${status} ${detail}`);
  }
  if (
    error instanceof errors.ConnectionError ||
    error instanceof errors.NoLivingConnectionsError ||
    error instanceof errors.TimeoutError ||
    error instanceof errors.RequestAbortedError
  ) {
    return createError('NOT_READY', `Elasticsearch is unreachable while ${what}: ${error.message}`);
  }
  return new ParasolError('INTERNAL', `Elasticsearch client failed ${what}: ${(error as Error)?.message ?? String(error)}`);
}

/** Runs one cluster call; any failure comes out as a ParasolError naming what was being done. */
export async function esCall<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toParasolError(error, what);
  }
}

/** "9.2.1" → [9, 2, 1]; unknown parts are 0. */
export function parseVersion(version: string): [number, number, number] {
  const parts = version.split(/[.-]/).map((part) => Number.parseInt(part, 10));
  return [parts[0] || 0, parts[1] || 0, parts[2] || 0];
}

export function versionAtLeast(version: string, major: number, minor: number): boolean {
  const [a, b] = parseVersion(version);
  return a > major || (a === major && b >= minor);
}
