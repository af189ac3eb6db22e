/**
 * Creating and checking the indices of one Parasol catalog on a cluster. Idempotent: a second open
 * with the same settings changes nothing, and two servers opening at once both succeed (a create
 * that loses the race reads what the winner made). An existing items index built for other vector
 * dimensions, or by a newer schema, is refused with a message that says what to do.
 */
import type { Client, estypes } from '@elastic/elasticsearch';
import { createError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { packMismatchMessage, sameStamp, type PackStamp } from '../pack-stamp.js';
import { errorTypeOf, esCall, statusOf, toParasolError, versionAtLeast } from './client.js';
import {
  concreteName,
  generationOf,
  itemsIndexBody,
  metaIndexBody,
  parasolMetaOf,
  SCHEMA_ADDITIONS,
  SCHEMA_VERSION,
  thumbnailsIndexBody,
  type IndexNames,
  type ItemsIndexSettings,
} from './mapping.js';

export interface Layout {
  /** The concrete items index the alias points to. */
  concrete: string;
  generation: number;
  serverVersion: string;
}

/** Whether the server knows (and defaults to true) `index.mapping.exclude_source_vectors`: 9.2 and later. */
export function keepsVectorsOutOfSource(serverVersion: string): boolean {
  return versionAtLeast(serverVersion, 9, 2);
}

export async function serverVersionOf(client: Client): Promise<string> {
  const info = await esCall('connecting', () => client.info());
  return info.version.number;
}

export async function ensureLayout(
  client: Client,
  names: IndexNames,
  settings: Omit<ItemsIndexSettings, 'keepVectorsInSource'>,
  logger: Pick<Logger, 'info' | 'warn'>,
): Promise<Layout> {
  const serverVersion = await serverVersionOf(client);
  const full: ItemsIndexSettings = { ...settings, keepVectorsInSource: keepsVectorsOutOfSource(serverVersion) };

  let found = await aliasTarget(client, names.alias);
  if (!found) {
    const concrete = concreteName(names.alias, 1);
    await createIndex(client, concrete, { ...itemsIndexBody(full), aliases: { [names.alias]: {} } });
    logger.info('created the Elasticsearch items index', { index: concrete, alias: names.alias });
    found = await aliasTarget(client, names.alias);
    if (!found) throw createError('NOT_READY', `the alias ${names.alias} did not appear after creating ${concrete}`);
  }
  checkItemsIndex(found.concrete, found.mapping, settings.dims, settings.pack, names.alias);
  await upgradeItemsIndex(client, found.concrete, found.mapping, logger);
  await recordPack(client, found.concrete, found.mapping, settings.pack);
  const generation = generationOf(names.alias, found.concrete);
  if (generation === undefined) {
    throw createError('CONFIG_INVALID', `the alias ${names.alias} points to ${found.concrete}, not to a ${names.alias}-v<N> index Parasol made`);
  }
  await createIndex(client, names.meta, metaIndexBody());
  await createIndex(client, names.thumbnails, thumbnailsIndexBody(settings.shards, settings.replicas));
  await applyReplicas(client, [found.concrete, names.thumbnails], found.replicas, settings.replicas, logger);
  return { concrete: found.concrete, generation, serverVersion };
}

/**
 * Replicas are a dynamic setting: a changed `elastic.replicas` takes effect on the next open, no
 * reindex needed (shards are fixed at creation; `parasol reindex` builds a new index with the new
 * count). Only a difference is written, so an unchanged open stays read-only.
 */
async function applyReplicas(
  client: Client,
  indices: string[],
  current: number | undefined,
  wanted: number,
  logger: Pick<Logger, 'info' | 'warn'>,
): Promise<void> {
  if (current === undefined || current === wanted) return;
  await esCall(`setting ${wanted} replicas`, () =>
    client.indices.putSettings({ index: indices, settings: { index: { number_of_replicas: wanted } } }),
  );
  logger.info('changed the number of replicas', { indices, from: current, to: wanted });
}

/** The concrete index behind an alias and its mapping; undefined when nothing has that name. */
export async function aliasTarget(
  client: Client,
  alias: string,
): Promise<{ concrete: string; mapping: estypes.MappingTypeMapping | undefined; replicas: number | undefined } | undefined> {
  let response: estypes.IndicesGetResponse;
  try {
    response = await client.indices.get({ index: alias });
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw toParasolError(error, `looking up ${alias}`);
  }
  const entries = Object.entries(response);
  if (entries.length !== 1) throw createError('CONFIG_INVALID', `${alias} names ${entries.length} indices; Parasol expects an alias to exactly one`);
  const [concrete, state] = entries[0];
  if (concrete === alias) {
    throw createError('CONFIG_INVALID', `${alias} is an index, not an alias; choose another index name or remove it`);
  }
  const replicas = Number(state.settings?.index?.number_of_replicas ?? Number.NaN);
  return { concrete, mapping: state.mappings, replicas: Number.isInteger(replicas) ? replicas : undefined };
}

export function checkItemsIndex(
  concrete: string,
  mapping: estypes.MappingTypeMapping | undefined,
  dims: ItemsIndexSettings['dims'],
  pack?: PackStamp,
  alias?: string,
): void {
  const meta = parasolMetaOf(mapping);
  if (!meta) throw createError('CONFIG_INVALID', `${concrete} was not made by Parasol (its mapping has no _meta.parasol)`);
  if (pack && meta.pack && !sameStamp(meta.pack, pack)) {
    throw createError('CONFIG_INVALID', packMismatchMessage(`the Elasticsearch index ${alias ?? concrete}`, meta.pack, pack));
  }
  if (meta.schema > SCHEMA_VERSION) {
    throw createError('STORE_CORRUPT', `${concrete} has schema version ${meta.schema}, newer than this Parasol understands (${SCHEMA_VERSION}); upgrade Parasol`);
  }
  if (meta.dims.semantic !== dims.semantic || meta.dims.style !== dims.style) {
    throw createError(
      'CONFIG_INVALID',
      `the Elasticsearch index ${concrete} holds ${meta.dims.semantic}-d semantic and ${meta.dims.style}-d style vectors, but the model pack ` +
        `produces ${dims.semantic}-d and ${dims.style}-d; run \`parasol reindex\` to re-encode it with this pack, or use the pack it was built with`,
    );
  }
}

/**
 * Brings an older items index up to SCHEMA_VERSION in place. Schemas 2 and 3 only added fields, which a
 * live index accepts (a put-mapping); documents written before keep working (their description
 * reads as empty). Idempotent, so two servers opening at once both succeed.
 */
export async function upgradeItemsIndex(
  client: Client,
  concrete: string,
  mapping: estypes.MappingTypeMapping | undefined,
  logger: Pick<Logger, 'info' | 'warn'>,
): Promise<void> {
  const meta = parasolMetaOf(mapping);
  if (!meta || meta.schema >= SCHEMA_VERSION) return;
  await esCall(`upgrading ${concrete} to schema ${SCHEMA_VERSION}`, () =>
    client.indices.putMapping({
      index: concrete,
      properties: SCHEMA_ADDITIONS,
      _meta: { ...(mapping?._meta ?? {}), parasol: { ...(mapping?._meta?.parasol as object), schema: SCHEMA_VERSION } },
    }),
  );
  logger.info('upgraded the Elasticsearch items index', { index: concrete, from: meta.schema, to: SCHEMA_VERSION });
}

/** An index made before packs were recorded adopts the pack that opens it (its dimensions already matched). */
async function recordPack(client: Client, concrete: string, mapping: estypes.MappingTypeMapping | undefined, pack: PackStamp | undefined): Promise<void> {
  const meta = parasolMetaOf(mapping);
  if (!pack || !meta || meta.pack) return;
  await esCall(`recording the model pack on ${concrete}`, () =>
    client.indices.putMapping({
      index: concrete,
      _meta: { ...(mapping?._meta ?? {}), parasol: { ...(mapping?._meta?.parasol as object), schema: Math.max(meta.schema, SCHEMA_VERSION), pack: { ...pack } } },
    }),
  );
}

/** Creates an index unless it exists (another server may be creating it right now). */
export async function createIndex(
  client: Client,
  index: string,
  body: { settings?: estypes.IndicesIndexSettings; mappings?: estypes.MappingTypeMapping; aliases?: Record<string, estypes.IndicesAlias> },
): Promise<boolean> {
  const exists = await esCall(`checking whether ${index} exists`, () => client.indices.exists({ index }));
  if (exists) return false;
  try {
    await client.indices.create({ index, ...body });
    return true;
  } catch (error) {
    if (errorTypeOf(error) === 'resource_already_exists_exception') return false;
    throw toParasolError(error, `creating ${index}`);
  }
}
