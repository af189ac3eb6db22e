/**
 * The Elasticsearch backend (DESIGN.md §6): `openElasticStore` gives a `Store` with the same
 * contracts as the embedded SQLite + HNSW one; the modules under ./elastic/ hold the parts.
 */
export { openElasticStore, resolveElasticOptions, type ElasticStore, type ElasticStoreOptions, type ResolvedElasticOptions } from './elastic/store.js';
export { createElasticClient, type ElasticConnectionOptions } from './elastic/client.js';
export { ElasticCatalog, type RefreshPolicy } from './elastic/catalog.js';
export { ElasticVectorIndex } from './elastic/vector-index.js';
export type { BulkSettings } from './elastic/bulk.js';
export { readElasticRecord, reencodeElastic, type ElasticConnection } from './elastic/reencode.js';
