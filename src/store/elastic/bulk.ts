/**
 * Bulk writes through `client.helpers.bulk`: it splits by `flushBytes`, runs `concurrency` requests
 * at once (backpressure) and retries items the cluster answered 429 `retries` times, `wait` ms
 * apart. Every other per-item failure is collected and returned, so a caller can compensate.
 */
import type { Client, estypes } from '@elastic/elasticsearch';
import { esCall } from './client.js';

export interface BulkSettings {
  /** Flush a request once its body reaches this many bytes. */
  flushBytes: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Retries of items the cluster refused with 429. */
  retries: number;
  /** Milliseconds between those retries. */
  wait: number;
}

export const DEFAULT_BULK: BulkSettings = { flushBytes: 5_000_000, concurrency: 4, retries: 3, wait: 1000 };

export type BulkOp =
  | { op: 'create' | 'index'; index: string; id: string; doc: object }
  | { op: 'update'; index: string; id: string; doc: object }
  | { op: 'delete'; index: string; id: string; ifSeqNo?: number; ifPrimaryTerm?: number };

export interface BulkFailure {
  op: BulkOp;
  status: number;
  type: string;
  reason: string;
}

type Refresh = 'wait_for' | false;

type HelperAction =
  | { create: estypes.BulkCreateOperation }
  | [{ create: estypes.BulkCreateOperation }, unknown]
  | [{ index: estypes.BulkIndexOperation }, unknown]
  | [{ update: estypes.BulkUpdateOperation }, estypes.BulkUpdateAction]
  | { delete: estypes.BulkDeleteOperation };

function keyOf(type: string, index: string, id: string): string {
  return `${type}\u0000${index}\u0000${id}`;
}

/** Runs the operations; returns the ones that failed (empty when all succeeded). Each (op, index, id) must be unique. */
export async function runBulk(
  client: Client,
  ops: BulkOp[],
  settings: BulkSettings,
  refresh: Refresh,
  what: string,
): Promise<BulkFailure[]> {
  if (ops.length === 0) return [];
  const byKey = new Map(ops.map((op) => [keyOf(op.op, op.index, op.id), op]));
  const failures: BulkFailure[] = [];
  await esCall(what, () =>
    client.helpers.bulk<BulkOp>({
      datasource: ops,
      flushBytes: settings.flushBytes,
      concurrency: settings.concurrency,
      retries: settings.retries,
      wait: settings.wait,
      refresh,
      onDocument: (op) => toAction(op) as never,
      onDrop: (dropped) => {
        const action = dropped.operation as unknown as Record<string, { _index?: string; _id?: string }>;
        const type = Object.keys(action)[0];
        const meta = action[type];
        const op = byKey.get(keyOf(type, meta._index ?? '', meta._id ?? ''));
        failures.push({
          op: op ?? { op: 'delete', index: meta._index ?? '', id: meta._id ?? '' },
          status: dropped.status,
          type: dropped.error?.type ?? 'unknown',
          reason: dropped.error?.reason ?? '',
        });
      },
    }),
  );
  return failures;
}

function toAction(op: BulkOp): HelperAction {
  switch (op.op) {
    case 'create':
      return [{ create: { _index: op.index, _id: op.id } }, op.doc];
    case 'index':
      return [{ index: { _index: op.index, _id: op.id } }, op.doc];
    case 'update':
      return [{ update: { _index: op.index, _id: op.id } }, { doc: op.doc }];
    case 'delete': {
      const meta: estypes.BulkDeleteOperation = { _index: op.index, _id: op.id };
      if (op.ifSeqNo !== undefined && op.ifPrimaryTerm !== undefined) {
        meta.if_seq_no = op.ifSeqNo;
        meta.if_primary_term = op.ifPrimaryTerm;
      }
      return { delete: meta };
    }
  }
}
