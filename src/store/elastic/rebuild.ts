/**
 * `parasol reindex` on Elasticsearch: a fresh `<alias>-v<N+1>` with the current settings and
 * mapping is filled from the live one, then the alias moves to it in one update_aliases call, so
 * searches never stop and never see a half-filled index.
 *
 * Writes go on during the copy. For the switch-over, this process's writes wait (the catalog's
 * write turn) and the old index is made read-only (index.blocks.write), so another server's
 * write fails loudly (NOT_READY, retry) instead of landing in an index about to be dropped. Docs
 * changed since the copy began (by updatedAt, with a clock-skew margin) are copied again, then the
 * alias moves and the old index is deleted. Everything is copied — deleted items too — because
 * they carry the history changesSince and stats report.
 */
import type { Client, estypes } from '@elastic/elasticsearch';
import { createError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { RebuildProgress } from '../types.js';
import { runBulk, type BulkSettings } from './bulk.js';
import type { Turns } from './catalog.js';
import { esCall, statusOf, toParasolError } from './client.js';
import { aliasTarget, createIndex, keepsVectorsOutOfSource, serverVersionOf } from './layout.js';
import { concreteName, generationOf, itemsIndexBody, type ItemDoc, type ItemsIndexSettings } from './mapping.js';
import { scanHits } from './scan.js';
import { carriesText } from '../lexical.js';

const COPY_PAGE = 1_000;
/** Writers' clocks may disagree by this much; re-copying a doc twice is harmless. */
const CLOCK_SKEW_MS = 60_000;

export interface RebuildContext {
  client: Client;
  alias: string;
  settings: Omit<ItemsIndexSettings, 'keepVectorsInSource'>;
  bulk: BulkSettings;
  writes: Turns;
  logger: Pick<Logger, 'info' | 'warn'>;
}

export async function rebuildItemsIndex(ctx: RebuildContext, onProgress?: (progress: RebuildProgress) => void): Promise<string> {
  const { client, alias } = ctx;
  const current = await aliasTarget(client, alias);
  if (!current) throw createError('NOT_READY', `the alias ${alias} is gone; reopen the store to recreate it`);
  const old = current.concrete;
  const generation = generationOf(alias, old);
  if (generation === undefined) throw createError('CONFIG_INVALID', `the alias ${alias} points to ${old}, not to a ${alias}-v<N> index`);
  const next = concreteName(alias, generation + 1);

  // A leftover of a rebuild that died before its switch-over is not behind the alias: drop it.
  if (await esCall(`checking ${next}`, () => client.indices.exists({ index: next }))) {
    await esCall(`removing the leftover ${next}`, () => client.indices.delete({ index: next }));
  }
  const serverVersion = await serverVersionOf(client);
  await createIndex(client, next, itemsIndexBody({ ...ctx.settings, keepVectorsInSource: keepsVectorsOutOfSource(serverVersion) }));
  ctx.logger.info('reindex: copying', { from: old, to: next });

  let switched = false;
  let blocked = false;
  try {
    const startedAt = Date.now();
    await esCall(`refreshing ${old}`, () => client.indices.refresh({ index: old }));
    const total = (await esCall(`counting ${old}`, () => client.count({ index: old }))).count;
    let done = 0;
    onProgress?.({ done, total });
    done = await copy(ctx, old, next, { match_all: {} }, (copied) => onProgress?.({ done: done + copied, total: Math.max(total, done + copied) }));
    onProgress?.({ done, total: Math.max(total, done) });

    await ctx.writes.run(async () => {
      await setWriteBlock(client, old, true);
      blocked = true;
      await esCall(`refreshing ${old}`, () => client.indices.refresh({ index: old }));
      const since = new Date(startedAt - CLOCK_SKEW_MS).toISOString();
      await copy(ctx, old, next, { range: { updatedAt: { gte: since } } }, () => undefined);
      await esCall(`refreshing ${next}`, () => client.indices.refresh({ index: next }));
      await esCall(`moving the alias ${alias} to ${next}`, () =>
        client.indices.updateAliases({ actions: [{ remove: { index: old, alias } }, { add: { index: next, alias } }] }),
      );
      switched = true;
    });
  } catch (error) {
    if (!switched) {
      // Leave things as they were: the old index writable and behind the alias, the new one gone.
      if (blocked) await setWriteBlock(client, old, false).catch(() => undefined);
      await esCall(`removing ${next}`, () => client.indices.delete({ index: next })).catch(() => undefined);
    }
    throw toParasolError(error, 'rebuilding the items index');
  }
  try {
    await client.indices.delete({ index: old });
  } catch (error) {
    if (statusOf(error) !== 404) ctx.logger.warn('reindex: could not delete the old index', { index: old, error: (error as Error).message });
  }
  ctx.logger.info('reindex: done', { index: next });
  return next;
}

async function copy(ctx: RebuildContext, from: string, to: string, query: estypes.QueryDslQueryContainer, progress: (copied: number) => void): Promise<number> {
  let copied = 0;
  for await (const hits of scanHits<ItemDoc>(ctx.client, { index: from, query, pageSize: COPY_PAGE, source: true, what: `copying ${from} to ${to}` })) {
    const failures = await runBulk(
      ctx.client,
      hits.flatMap((hit) => (hit._source ? [{ op: 'index' as const, index: to, id: hit._id as string, doc: withCurrentFields(hit._source) }] : [])),
      ctx.bulk,
      false,
      `copying ${from} to ${to}`,
    );
    if (failures.length > 0) {
      const first = failures[0];
      throw createError('NOT_READY', `copying ${from} to ${to} failed for ${failures.length} docs, e.g. ${first.op.id}: ${first.status} ${first.type}: ${first.reason}`);
    }
    copied += hits.length;
    progress(copied);
  }
  return copied;
}

async function setWriteBlock(client: Client, index: string, on: boolean): Promise<void> {
  await esCall(`${on ? 'blocking' : 'unblocking'} writes to ${index}`, () =>
    client.indices.putSettings({ index, settings: { 'index.blocks.write': on ? true : null } as estypes.IndicesIndexSettings }),
  );
}

/** A doc written under an older schema, completed with what the current one adds (description, hasText). */
function withCurrentFields(doc: ItemDoc): ItemDoc {
  if (doc.description !== undefined && doc.hasText !== undefined) return doc;
  const description = doc.description ?? '';
  return { ...doc, description, hasText: doc.hasText ?? carriesText({ ...doc, tags: doc.tags ?? [], keywords: doc.keywords ?? [], description }) };
}
