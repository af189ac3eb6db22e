/**
 * The `<alias>-meta` index: what a SQL database would keep in a sequence and two unique indexes.
 *
 * - `counter` {nextSeq, version}: read with a realtime GET and written back with
 *   if_seq_no/if_primary_term, retried on 409, so several API servers never hand out the same seq
 *   or version.
 * - `hash:<contentHash>` and `id:<id>` claims {seq, at}: created with op_type create, so at most
 *   one live item holds a content hash or an id across every server (409 = taken). A claim is
 *   removed when its item is deleted; one whose item never appeared (a crashed writer) is taken
 *   over once older than `staleClaimMs`.
 *
 * Every read here is a realtime GET by id: nothing depends on a refresh.
 */
import type { Client } from '@elastic/elasticsearch';
import { createError } from '../../errors.js';
import { parseSearchTuning, searchTuningSchema, type SearchTuning } from '../tuning.js';
import { esCall, isConflict, isDocMissing, toParasolError } from './client.js';

export interface CounterDoc {
  kind: 'counter';
  nextSeq: number;
  version: number;
}

export interface ClaimDoc {
  kind: 'hash' | 'id';
  seq: number;
  /** ISO time of the claim: how a claim without its item is told from one still being written. */
  at: string;
}

export interface Claim extends ClaimDoc {
  key: string;
  seqNo: number;
  primaryTerm: number;
}

const COUNTER_ID = 'counter';
const TUNING_ID = 'search-tuning';
const MAX_COUNTER_ATTEMPTS = 100;

export const claimKey = (kind: 'hash' | 'id', value: string): string => `${kind}:${value}`;

export class Registry {
  constructor(
    private readonly client: Client,
    readonly index: string,
  ) {}

  /** Creates the counter doc when missing (a no-op when another server got there first). */
  async ensureCounter(): Promise<void> {
    // Read first, so that opening an existing catalog writes nothing.
    const exists = await esCall('looking for the catalog counter', () => this.client.exists({ index: this.index, id: COUNTER_ID }));
    if (exists) return;
    try {
      await this.client.create({ index: this.index, id: COUNTER_ID, document: { kind: 'counter', nextSeq: 1, version: 0 } });
    } catch (error) {
      if (!isConflict(error)) throw toParasolError(error, 'creating the catalog counter');
    }
  }

  async counter(): Promise<CounterDoc> {
    return (await this.readCounter()).doc;
  }

  /**
   * Applies `change` to the counter atomically (optimistic concurrency, retried on conflict) and
   * returns the counter as it was before and after.
   */
  async bumpCounter(change: (current: CounterDoc) => CounterDoc): Promise<{ before: CounterDoc; after: CounterDoc }> {
    for (let attempt = 0; attempt < MAX_COUNTER_ATTEMPTS; attempt++) {
      const { doc, seqNo, primaryTerm } = await this.readCounter();
      const next = change(doc);
      try {
        await this.client.index({
          index: this.index,
          id: COUNTER_ID,
          document: next,
          if_seq_no: seqNo,
          if_primary_term: primaryTerm,
        });
        return { before: doc, after: next };
      } catch (error) {
        if (!isConflict(error)) throw toParasolError(error, 'updating the catalog counter');
        // Another writer won this round: back off a little (jittered) and read again.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 2 ** attempt)));
      }
    }
    throw createError('NOT_READY', 'the catalog counter is too contended; retry later');
  }

  /** The claims that exist among the keys (realtime). */
  async claims(keys: string[]): Promise<Map<string, Claim>> {
    const found = new Map<string, Claim>();
    if (keys.length === 0) return found;
    const response = await esCall('reading the uniqueness registry', () => this.client.mget<ClaimDoc>({ index: this.index, ids: [...new Set(keys)] }));
    for (const doc of response.docs) {
      if (!('found' in doc) || !doc.found || !doc._source) continue;
      found.set(doc._id, { ...doc._source, key: doc._id, seqNo: doc._seq_no ?? 0, primaryTerm: doc._primary_term ?? 0 });
    }
    return found;
  }

  /** `parasol tune`'s record (see ../tuning.ts), or null when none is stored. */
  async searchTuning(): Promise<SearchTuning | null> {
    try {
      const response = await this.client.get<{ kind: 'tuning'; tuning: unknown }>({ index: this.index, id: TUNING_ID });
      return parseSearchTuning(JSON.stringify(response._source?.tuning ?? null), this.index);
    } catch (error) {
      if (isDocMissing(error)) return null;
      throw toParasolError(error, 'reading the search tuning');
    }
  }

  /** Replaces the record (the doc keeps it in _source only: the meta mapping indexes nothing but `kind`). */
  async setSearchTuning(tuning: SearchTuning | null): Promise<void> {
    if (tuning === null) {
      try {
        await this.client.delete({ index: this.index, id: TUNING_ID, refresh: 'wait_for' });
      } catch (error) {
        if (!isDocMissing(error)) throw toParasolError(error, 'removing the search tuning');
      }
      return;
    }
    const checked = searchTuningSchema.parse(tuning);
    await esCall('writing the search tuning', () =>
      this.client.index({ index: this.index, id: TUNING_ID, document: { kind: 'tuning', tuning: checked }, refresh: 'wait_for' }),
    );
  }

  private async readCounter(): Promise<{ doc: CounterDoc; seqNo: number; primaryTerm: number }> {
    try {
      const response = await this.client.get<CounterDoc>({ index: this.index, id: COUNTER_ID });
      if (!response._source || response._seq_no === undefined || response._primary_term === undefined) {
        throw createError('STORE_CORRUPT', `the catalog counter in ${this.index} is unreadable`);
      }
      return { doc: response._source, seqNo: response._seq_no, primaryTerm: response._primary_term };
    } catch (error) {
      if (isDocMissing(error)) throw createError('STORE_CORRUPT', `the catalog counter is missing from ${this.index}`);
      throw toParasolError(error, 'reading the catalog counter');
    }
  }
}
