import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';

describe('config: ingest image workers', () => {
  it('defaults to two model workers and reads PARASOL_IMAGE_WORKERS', () => {
    expect(loadConfig({}, {}).ingest.imageWorkers).toBe(2);
    expect(loadConfig({}, { PARASOL_IMAGE_WORKERS: '1' }).ingest.imageWorkers).toBe(1);
  });

  it('refuses a count that makes no sense', () => {
    for (const value of ['0', '-1', '1.5', 'many']) {
      expect(() => loadConfig({}, { PARASOL_IMAGE_WORKERS: value }), value).toThrow(/imageWorkers/);
    }
  });
});
