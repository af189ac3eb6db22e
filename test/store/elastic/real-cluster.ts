/**
 * Where the Elasticsearch tests run: a real cluster when ES_URL is set (each store under a unique
 * index name, removed afterwards), otherwise the in-memory fake.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '@elastic/elasticsearch';
import { createElasticClient } from '../../../src/store/elastic.js';
import { FakeElasticsearch } from './fake-elasticsearch.js';

export const REAL_ES_URL = process.env.ES_URL;

export function uniqueIndexName(prefix = 'parasol-test'): string {
  return `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** A client for the real cluster (ES_URL, optional ES_API_KEY) or for a fresh fake. */
export function testClient(): { client: Client; fake?: FakeElasticsearch } {
  if (REAL_ES_URL) {
    const apiKey = process.env.ES_API_KEY;
    return { client: createElasticClient({ node: REAL_ES_URL, auth: apiKey ? { apiKey } : undefined, tls: { rejectUnauthorized: false } }) };
  }
  const fake = new FakeElasticsearch();
  return { client: fake.client(), fake };
}

/** Deletes everything a store under `alias` made (concrete items indices, meta, thumbnails). */
export async function dropStoreIndices(client: Client, alias: string): Promise<void> {
  const targets: string[] = [];
  try {
    targets.push(...Object.keys(await client.indices.get({ index: alias })));
  } catch {
    // no alias: nothing behind it
  }
  for (const index of [...targets, `${alias}-meta`, `${alias}-thumbnails`]) {
    await client.indices.delete({ index }).catch(() => undefined);
  }
}
