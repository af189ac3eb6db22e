/**
 * Moving a catalog between backends (`parasol migrate --to elastic|sqlite`): both stores are
 * opened by the caller's opener (the composition root knows how), the items copied, both closed.
 */
import { migrateCatalog, type MigrateOptions, type MigrateSummary } from '../store/migrate.js';
import type { Store } from '../store/types.js';

export type { MigrateSummary } from '../store/migrate.js';

export type Backend = Store['backend'];

/** Opens the configured store of one backend. */
export type StoreOpener = (backend: Backend) => Promise<Store>;

export async function migrateBackend(open: StoreOpener, from: Backend, to: Backend, options: MigrateOptions = {}): Promise<MigrateSummary> {
  const source = await open(from);
  try {
    const target = await open(to);
    try {
      return await migrateCatalog(source.catalog, target, options);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}
