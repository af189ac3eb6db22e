/**
 * Where refinement sessions live. The interface is async and small so that a shared store
 * (e.g. Redis with key TTLs) can replace the in-memory one when several API processes serve the
 * same users; expiry and eviction are the store's business.
 */
import type { RefineSession } from './session.js';

export interface SessionStore {
  /** The session, or undefined if unknown or expired. Reading counts as use (refreshes TTL and recency). */
  get(id: string): Promise<RefineSession | undefined>;
  set(session: RefineSession): Promise<void>;
  delete(id: string): Promise<boolean>;
}

export interface InMemorySessionStoreOptions {
  /** Idle time after which a session expires. Default 30 minutes. */
  ttlMs?: number;
  /** Beyond this many sessions the least recently used is evicted. Default 1000. */
  maxSessions?: number;
  /** Injectable clock for tests. */
  now?: () => number;
}

export const DEFAULT_SESSION_TTL_MS = 30 * 60 * 1000;
export const DEFAULT_MAX_SESSIONS = 1000;

interface Entry {
  session: RefineSession;
  expiresAt: number;
}

/**
 * A Map kept in least-recently-used-first order (every use re-inserts the entry at the end). With
 * one TTL for all, that is also earliest-expiry-first order, so the lazy sweep only ever looks at
 * the head of the map and stops at the first live entry.
 */
export class InMemorySessionStore implements SessionStore {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly maxSessions: number;
  private readonly now: () => number;

  constructor(options: InMemorySessionStoreOptions = {}) {
    this.ttlMs = options.ttlMs ?? DEFAULT_SESSION_TTL_MS;
    this.maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.now = options.now ?? Date.now;
    if (!(this.ttlMs > 0) || !(this.maxSessions >= 1)) throw new RangeError('ttlMs and maxSessions must be positive');
  }

  async get(id: string): Promise<RefineSession | undefined> {
    this.sweep();
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    this.touch(id, entry.session);
    return entry.session;
  }

  async set(session: RefineSession): Promise<void> {
    this.sweep();
    this.touch(session.id, session);
    while (this.entries.size > this.maxSessions) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  async delete(id: string): Promise<boolean> {
    return this.entries.delete(id);
  }

  /** Live sessions (after sweeping the expired ones). */
  size(): number {
    this.sweep();
    return this.entries.size;
  }

  private touch(id: string, session: RefineSession): void {
    this.entries.delete(id);
    this.entries.set(id, { session, expiresAt: this.now() + this.ttlMs });
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, entry] of this.entries) {
      if (entry.expiresAt > now) break;
      this.entries.delete(id);
    }
  }
}
