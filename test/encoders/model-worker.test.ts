import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it } from 'vitest';
import { startModelWorker, type ModelWorker } from '../../src/encoders/model-worker.js';
import { TINY_PACK } from './helpers.js';

const MODEL = path.join(TINY_PACK, 'semantic_image.onnx');
const DIMS = [2, 3, 32, 32];

function pixels(): Float32Array {
  return Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.sin(i));
}

describe('model worker', () => {
  let worker: ModelWorker | undefined;
  afterEach(async () => {
    await worker?.terminate();
    worker = undefined;
  });

  it('returns what the same model returns on the calling thread', async () => {
    worker = startModelWorker('cpu');
    await worker.open(MODEL, 1);
    const local = await ort.InferenceSession.create(MODEL, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
    const expected = (await local.run({ pixels: new ort.Tensor('float32', pixels(), DIMS) }, ['embedding'])).embedding;
    await local.release();
    const got = await worker.run(MODEL, { pixels: { data: pixels(), dims: DIMS } }, 'embedding');
    expect(got.type).toBe('float32');
    expect(got.dims).toEqual([2, 32]);
    expect(Array.from(got.data)).toEqual(Array.from(expected.data as Float32Array));
  });

  it('reports a failed run as an error and keeps serving', async () => {
    worker = startModelWorker('cpu');
    await worker.open(MODEL, 1);
    await expect(worker.run(MODEL, { pixels: { data: new Float32Array(3), dims: [1, 3] } }, 'embedding')).rejects.toThrow();
    expect(worker.alive).toBe(true);
    const got = await worker.run(MODEL, { pixels: { data: pixels(), dims: DIMS } }, 'embedding');
    expect(got.dims).toEqual([2, 32]);
  });

  it('refuses every request once stopped', async () => {
    const stopped = startModelWorker('cpu');
    await stopped.open(MODEL, 1);
    await stopped.terminate();
    expect(stopped.alive).toBe(false);
    await expect(stopped.run(MODEL, { pixels: { data: pixels(), dims: DIMS } }, 'embedding')).rejects.toThrow(/stopped/);
  });
});
