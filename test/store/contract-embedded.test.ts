/** The storage contract against the embedded backend (SQLite + HNSW in a temp directory). */
import { rm } from 'node:fs/promises';
import { openEmbeddedStore } from '../../src/store/embedded.js';
import { describeStoreContract } from './contract.js';
import { DIMS, tempDir } from './helpers.js';

describeStoreContract('embedded (SQLite + HNSW)', async (dims = DIMS) => {
  const { dir } = tempDir('parasol-contract-');
  // Generous graph parameters: at these sizes HNSW is exact, as the contract's oracles assume.
  const store = await openEmbeddedStore({ dataDir: dir, dims, hnsw: { M: 16, efConstruction: 200, efSearch: 200 } });
  return {
    store,
    cleanup: async () => {
      await store.close({ save: false });
      await rm(dir, { recursive: true, force: true });
    },
  };
});
