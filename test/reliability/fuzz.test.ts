/**
 * A short fuzz run (bench/reliability): 600 malformed and hostile requests generated from
 * openapi.yaml against a real server on the tiny generator pack with 60 demo items. No 5xx, no
 * dropped connection, no uncaught error, the catalog and key store unchanged, /healthz alive.
 */
import { describe, expect, it } from 'vitest';
import { runFuzz } from '../../bench/reliability/fuzz.js';

describe('reliability fuzz', () => {
  it('survives 600 hostile requests without a 5xx or a change to the catalog', async () => {
    const report = await runFuzz({ requests: 600, seed: 20261129, concurrency: 8, server: { items: 60 } });
    const detail = JSON.stringify(
      { failures: report.failures, serverErrors: report.serverErrors.slice(0, 3), transport: report.transportErrors.slice(0, 3), unexpected: report.unexpectedSuccesses.slice(0, 3), uncaught: report.uncaught, logged: report.loggedErrors.slice(0, 3) },
      null,
      2,
    );
    expect(report.requests).toBe(600);
    expect(report.failures, detail).toEqual([]);
    expect(report.catalogUnchanged).toBe(true);
    expect(report.aliveAfter).toBe(true);
    // The run reached the routes: real 2xx answers and many refusals, not just 404s.
    expect(report.byStatus['400'] ?? 0).toBeGreaterThan(100);
    expect(report.byStatus['200'] ?? 0).toBeGreaterThan(20);
    expect(report.operations).toBeGreaterThan(25);
  }, 90_000);
});
