/**
 * Models run in a worker thread. onnxruntime-node 1.30 runs a session synchronously on the
 * thread that calls it, so on the JS thread a batch of images blocks everything else: the
 * catalog commits and the dispatch of sharp's decoding. Ingestion runs the image towers here
 * instead, on their own thread, while the JS thread keeps the rest of the pipeline moving.
 *
 * The worker's code is a plain CommonJS string (evaluated with `eval: true`), so the same code
 * runs from the TypeScript sources under vitest and from dist/; it only opens sessions and runs
 * them. Every check on names and shapes stays on the main side (runtime.ts).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Provider } from './runtime.js';

/** Runs in the worker: `open` a session per model file, then `run` float32 feeds on it. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.onnxruntime);
const sessions = new Map();
parentPort.on('message', async (message) => {
  try {
    if (message.kind === 'open') {
      const session = await ort.InferenceSession.create(message.file, message.options);
      sessions.set(message.file, session);
      parentPort.postMessage({ id: message.id });
      return;
    }
    const session = sessions.get(message.file);
    const feeds = {};
    for (const [name, input] of Object.entries(message.feeds)) feeds[name] = new ort.Tensor('float32', input.data, input.dims);
    const result = (await session.run(feeds, [message.output]))[message.output];
    const data = result.data;
    parentPort.postMessage({ id: message.id, output: { type: result.type, dims: [...result.dims], data } }, data.buffer ? [data.buffer] : []);
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: error instanceof Error ? error.message : String(error) });
  }
});
`;

export interface WorkerTensor {
  type: string;
  dims: readonly number[];
  data: Float32Array;
}

export interface ModelWorker {
  /** False once the worker has exited or failed: every request is then refused. */
  readonly alive: boolean;
  /** Opens `file` in the worker with `threads` intra-op threads (0: onnxruntime's default). */
  open(file: string, threads: number): Promise<void>;
  /** Runs an opened model; the feeds' arrays are moved to the worker (callers must not reuse them). */
  run(file: string, feeds: Record<string, { data: Float32Array; dims: readonly number[] }>, output: string): Promise<WorkerTensor>;
  terminate(): Promise<void>;
}

interface Reply {
  id: number;
  error?: string;
  output?: WorkerTensor;
}

export function startModelWorker(provider: Provider): ModelWorker {
  const onnxruntime = createRequire(import.meta.url).resolve('onnxruntime-node');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { onnxruntime } });
  // An idle worker must not keep a finished CLI command alive.
  worker.unref();
  const pending = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let failure: Error | undefined;

  const failAll = (error: Error): void => {
    failure = error;
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };
  worker.on('message', (reply: Reply) => {
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if (pending.size === 0) worker.unref();
    waiter?.resolve(reply);
  });
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`the model worker exited (code ${code})`)));

  function request(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    return new Promise<Reply>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...message, id }, transfer);
    }).then((reply) => {
      if (reply.error !== undefined) throw new Error(reply.error);
      return reply;
    });
  }

  return {
    get alive() {
      return failure === undefined;
    },
    async open(file, threads) {
      await request({
        kind: 'open',
        file,
        options: { executionProviders: [provider], graphOptimizationLevel: 'all', ...(threads ? { intraOpNumThreads: threads } : {}) },
      });
    },
    async run(file, feeds, output) {
      const transfer = Object.values(feeds).map((feed) => feed.data.buffer as ArrayBuffer);
      const reply = await request({ kind: 'run', file, feeds, output }, transfer);
      if (!reply.output) throw new Error(`the model worker returned no "${output}"`);
      return reply.output;
    },
    async terminate() {
      worker.removeAllListeners('exit');
      failAll(new Error('the model worker was stopped'));
      await worker.terminate();
    },
  };
}
