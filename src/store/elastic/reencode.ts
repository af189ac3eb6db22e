/**
 * `parasol reindex` with another model pack on Elasticsearch: a new `<alias>-v<N+1>` made for the
 * target pack's dimensions (its mapping names the pack) is filled with every item re-encoded from
 * its stored thumbnail, then the alias moves to it in one call, so searches never see a half
 * re-encoded index nor two packs' vectors. Deleted items are copied without vectors (they carry
 * history, nothing searches them).
 *
 * Interrupted (Ctrl-C, a crash), the new index stays beside the live one with its progress in it:
 * the next run with the same pack continues after the last copied seq; a run with another pack
 * drops it and starts over. Docs changed while the copy ran (by updatedAt, from the first run's
 * start, recorded in the new index's mapping) are re-encoded again at the switch-over, with the old
 * index write-blocked.
 */
import type { Client, estypes } from '@elastic/elasticsearch';
import { createError } from '../../errors.js';
import type { ReencodeOptions, ReencodeResult, StoreRecord } from '../types.js';
import { runBulk } from './bulk.js';
import { ElasticCatalog } from './catalog.js';
import { createElasticClient, esCall, statusOf } from './client.js';
import { aliasTarget, createIndex, keepsVectorsOutOfSource, serverVersionOf } from './layout.js';
import { concreteName, generationOf, itemsIndexBody, parasolMetaOf, toItem, type ItemDoc } from './mapping.js';
import { scanHits } from './scan.js';
import { resolveElasticOptions, type ElasticStoreOptions } from './store.js';

/** Writers' clocks may disagree by this much; re-encoding a doc twice is harmless. */
const CLOCK_SKEW_MS = 60_000;

export type ElasticConnection = Omit<ElasticStoreOptions, 'dims' | 'pack'>;

async function withClient<T>(options: ElasticConnection, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = options.client ?? createElasticClient(options);
  try {
    return await fn(client);
  } finally {
    if (!options.client) await client.close();
  }
}

export function readElasticRecord(options: ElasticConnection): Promise<StoreRecord> {
  return withClient(options, async (client) => {
    const alias = options.index ?? 'parasol-items';
    const current = await aliasTarget(client, alias);
    if (!current) return {};
    const meta = parasolMetaOf(current.mapping);
    const items = (await esCall(`counting ${alias}`, () => client.count({ index: alias, query: { term: { deleted: false } } }))).count;
    const generation = generationOf(alias, current.concrete);
    let reencoding: StoreRecord['reencoding'];
    if (generation !== undefined) {
      // A leftover of an interrupted re-encode (a plain rebuild's leftover has no start time).
      const next = await nextIndexState(client, concreteName(alias, generation + 1));
      reencoding = next?.startedAt !== undefined ? next.pack : undefined;
    }
    return { pack: meta?.pack, dims: meta?.dims, reencoding, items };
  });
}

export function reencodeElastic(options: ElasticConnection, run: ReencodeOptions): Promise<ReencodeResult> {
  const resolved = resolveElasticOptions({ ...options, dims: run.dims, pack: run.target });
  return withClient(options, async (client) => {
    const { alias } = resolved.names;
    const current = await aliasTarget(client, alias);
    if (!current) return { finished: true, encoded: 0, resumedFrom: 0 };
    const old = current.concrete;
    const oldMeta = parasolMetaOf(current.mapping);
    const generation = generationOf(alias, old);
    if (!oldMeta || generation === undefined) throw createError('CONFIG_INVALID', `the alias ${alias} points to ${old}, not to a ${alias}-v<N> index Parasol made`);
    const next = concreteName(alias, generation + 1);

    let after = 0;
    let resumedFrom = 0;
    let startedAt = Date.now();
    const leftover = await nextIndexState(client, next);
    if (leftover && leftover.pack?.fingerprint === run.target.fingerprint && sameDims(leftover.dims, run.dims)) {
      await esCall(`refreshing ${next}`, () => client.indices.refresh({ index: next }));
      after = await maxSeq(client, next);
      resumedFrom = (await esCall(`counting ${next}`, () => client.count({ index: next, query: { term: { deleted: false } } }))).count;
      startedAt = leftover.startedAt ?? startedAt;
    } else {
      if (leftover) await esCall(`removing the leftover ${next}`, () => client.indices.delete({ index: next }));
      const body = itemsIndexBody({ ...resolved.index, keepVectorsInSource: keepsVectorsOutOfSource(await serverVersionOf(client)) });
      const parasol = { ...(body.mappings._meta?.parasol as object), reencodeStartedAt: new Date(startedAt).toISOString() };
      await createIndex(client, next, { ...body, mappings: { ...body.mappings, _meta: { ...body.mappings._meta, parasol } } });
    }

    // Thumbnails are read through a catalog over the old layout (its own dimensions).
    const images = new ElasticCatalog({
      client,
      names: resolved.names,
      dims: oldMeta.dims,
      refresh: resolved.refresh,
      bulk: resolved.bulk,
      staleClaimMs: resolved.staleClaimMs,
      logger: resolved.logger,
    });
    await esCall(`refreshing ${old}`, () => client.indices.refresh({ index: old }));
    const total = (await esCall(`counting ${old}`, () => client.count({ index: old, query: { term: { deleted: false } } }))).count;
    let done = resumedFrom;
    let encoded = 0;
    run.onProgress?.({ done, total });
    const copy = async (query: estypes.QueryDslQueryContainer, stoppable: boolean): Promise<boolean> => {
      for await (const hits of scanHits<ItemDoc>(client, { index: old, query, pageSize: run.batchSize, source: true, what: `re-encoding ${old} into ${next}` })) {
        if (stoppable && run.shouldStop?.()) return false;
        const docs = hits.flatMap((hit) => (hit._source ? [hit._source] : []));
        const live = docs.filter((doc) => !doc.deleted);
        const vectors = await run.encode(live.map(toItem), images);
        const byId = new Map(live.map((doc, i) => [doc.id, vectors[i]]));
        const ops = docs.map((doc) => {
          const { semantic: _semantic, style: _style, ...rest } = doc as ItemDoc & { semantic?: unknown; style?: unknown };
          const fresh = byId.get(doc.id);
          const out = fresh ? { ...rest, semantic: Array.from(fresh.semantic), style: Array.from(fresh.style) } : rest;
          return { op: 'index' as const, index: next, id: doc.id, doc: out as ItemDoc };
        });
        const failures = await runBulk(client, ops, resolved.bulk, false, `re-encoding ${old} into ${next}`);
        if (failures.length > 0) {
          const first = failures[0];
          throw createError('NOT_READY', `re-encoding into ${next} failed for ${failures.length} docs, e.g. ${first.op.id}: ${first.status} ${first.type}: ${first.reason}`);
        }
        done += live.length;
        encoded += live.length;
        if (stoppable) run.onProgress?.({ done, total: Math.max(total, done) });
      }
      return true;
    };
    if (!(await copy(after > 0 ? { range: { seq: { gt: after } } } : { match_all: {} }, true))) {
      return { finished: false, encoded, resumedFrom, previous: oldMeta.pack };
    }

    await setWriteBlock(client, old, true);
    try {
      await esCall(`refreshing ${old}`, () => client.indices.refresh({ index: old }));
      await copy({ range: { updatedAt: { gte: new Date(startedAt - CLOCK_SKEW_MS).toISOString() } } }, false);
      await esCall(`refreshing ${next}`, () => client.indices.refresh({ index: next }));
      await esCall(`moving the alias ${alias} to ${next}`, () =>
        client.indices.updateAliases({ actions: [{ remove: { index: old, alias } }, { add: { index: next, alias } }] }),
      );
    } catch (error) {
      await setWriteBlock(client, old, false).catch(() => undefined);
      throw error;
    }
    try {
      await client.indices.delete({ index: old });
    } catch (error) {
      if (statusOf(error) !== 404) resolved.logger.warn('reindex: could not delete the old index', { index: old, error: (error as Error).message });
    }
    return { finished: true, encoded, resumedFrom, previous: oldMeta.pack };
  });
}

function sameDims(a: { semantic: number; style: number }, b: { semantic: number; style: number }): boolean {
  return a.semantic === b.semantic && a.style === b.style;
}

async function nextIndexState(client: Client, index: string) {
  let response: estypes.IndicesGetResponse;
  try {
    response = await client.indices.get({ index });
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
  const mapping = Object.values(response)[0]?.mappings;
  const meta = parasolMetaOf(mapping);
  const started = (mapping?._meta?.parasol as { reencodeStartedAt?: unknown } | undefined)?.reencodeStartedAt;
  return {
    pack: meta?.pack,
    dims: meta?.dims ?? { semantic: 0, style: 0 },
    startedAt: typeof started === 'string' ? Date.parse(started) : undefined,
  };
}

async function maxSeq(client: Client, index: string): Promise<number> {
  const response = await esCall(`reading how far ${index} got`, () =>
    client.search<ItemDoc>({ index, size: 1, sort: [{ seq: 'desc' }], _source: ['seq'], query: { match_all: {} } }),
  );
  return response.hits.hits[0]?._source?.seq ?? 0;
}

async function setWriteBlock(client: Client, index: string, on: boolean): Promise<void> {
  await esCall(`${on ? 'blocking' : 'unblocking'} writes to ${index}`, () =>
    client.indices.putSettings({ index, settings: { 'index.blocks.write': on ? true : null } as estypes.IndicesIndexSettings }),
  );
}
