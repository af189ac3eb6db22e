/**
 * Refinement sessions in Redis, so that every API server behind a load balancer can continue any
 * session (`sessions.store = redis`). One key per session, `<prefix>:session:<id>`, holding the
 * session as JSON with its descriptors as base64 float32 (lossless); the key's TTL is the idle
 * timeout, refreshed on every read (GETEX), as the in-memory store refreshes recency. The number
 * of sessions is bounded by Redis's own memory policy rather than a count.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { RefineSession } from './session.js';
import type { SessionStore } from './session-store.js';

export interface RedisSessionStoreOptions {
  redis: Redis;
  /** Key prefix shared by the deployment (config.redis.prefix). */
  prefix: string;
  /** Idle time after which a session expires. */
  ttlMs: number;
}

const VECTOR_TAG = '$f32';

/** What a stored session must look like before it is trusted (another server version may have written it). */
const storedSessionSchema = z.looseObject({
  id: z.string().min(1),
  createdAt: z.string(),
  fusion: z.string(),
  trail: z
    .array(
      z.looseObject({
        step: z.number().int().min(0),
        descriptors: z.looseObject({ content: z.unknown(), style: z.unknown() }),
        weights: z.looseObject({}),
        excludeSeqs: z.array(z.number().int()),
      }),
    )
    .min(1),
});

export class RedisSessionStore implements SessionStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly ttlMs: number;

  constructor(options: RedisSessionStoreOptions) {
    if (!(options.ttlMs > 0)) throw new RangeError('ttlMs must be positive');
    this.redis = options.redis;
    this.prefix = options.prefix;
    this.ttlMs = Math.ceil(options.ttlMs);
  }

  async get(id: string): Promise<RefineSession | undefined> {
    const text = await this.redis.getex(this.key(id), 'PX', this.ttlMs);
    if (text === null) return undefined;
    return decodeSession(text);
  }

  async set(session: RefineSession): Promise<void> {
    await this.redis.set(this.key(session.id), encodeSession(session), 'PX', this.ttlMs);
  }

  async delete(id: string): Promise<boolean> {
    return (await this.redis.del(this.key(id))) > 0;
  }

  private key(id: string): string {
    return `${this.prefix}:session:${id}`;
  }
}

export function encodeSession(session: RefineSession): string {
  return JSON.stringify(session, (_key, value: unknown) =>
    value instanceof Float32Array ? { [VECTOR_TAG]: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') } : value,
  );
}

/** The session, or undefined for anything that does not decode to one (it then reads as expired). */
export function decodeSession(text: string): RefineSession | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text, (_key, raw: unknown) => {
      if (raw !== null && typeof raw === 'object' && VECTOR_TAG in raw) {
        const encoded = (raw as Record<string, unknown>)[VECTOR_TAG];
        if (typeof encoded !== 'string') throw new TypeError('bad vector');
        const bytes = Buffer.from(encoded, 'base64');
        if (bytes.byteLength % 4 !== 0) throw new TypeError('bad vector length');
        // Copy into a fresh, aligned buffer: the decoded bytes may sit at any offset of a pool.
        return new Float32Array(new Uint8Array(bytes).buffer);
      }
      return raw;
    });
  } catch {
    return undefined;
  }
  if (!storedSessionSchema.safeParse(value).success) return undefined;
  const session = value as RefineSession;
  for (const snapshot of session.trail) {
    for (const vector of [snapshot.descriptors.content, snapshot.descriptors.style]) {
      if (vector !== null && !(vector instanceof Float32Array)) return undefined;
    }
  }
  return session;
}
