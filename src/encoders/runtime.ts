/**
 * The session factory: the one place that decides where onnxruntime runs, and the one way a
 * pack's model is opened, checked against its manifest, run and timed (openPackModel).
 *
 * onnxruntime-node 1.30 throws when asked for CUDA on a machine without it instead of falling back,
 * so the provider is chosen here, once, by trying CUDA first and remembering the outcome.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { createError, isParasolError, type ParasolError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { ModelWorker } from './model-worker.js';
import { modelName, timed } from './timings.js';

export type Device = 'auto' | 'cpu' | 'cuda';
export type Provider = 'cpu' | 'cuda';

/** The providers each device may run on, in the order they are tried. */
const PROVIDERS_BY_DEVICE: Readonly<Record<Device, readonly Provider[]>> = Object.freeze({
  auto: Object.freeze(['cuda', 'cpu'] as const),
  cpu: Object.freeze(['cpu'] as const),
  cuda: Object.freeze(['cuda'] as const),
});

export const DEVICES = Object.freeze(Object.keys(PROVIDERS_BY_DEVICE) as Device[]);

export function parseDevice(value: string): Device {
  if (Object.hasOwn(PROVIDERS_BY_DEVICE, value)) return value as Device;
  throw createError(
    'CONFIG_INVALID',
    `Unsupported device: "${value}". Should be one of: ${DEVICES.join(', ')}`,
  );
}

export interface SessionFactoryOptions {
  device?: Device | string;
  /** Threads per operator; onnxruntime's default (all cores) when absent. */
  threads?: number;
  logger?: Logger;
}

export interface SessionFactory {
  readonly device: Device;
  /** The provider sessions run on; undefined until the first session is created. */
  readonly provider: Provider | undefined;
  /** The session for a model file: created on first request, then shared. */
  /** `threads` overrides the factory's intra-op threads for this model (e.g. 1 for small query models). */
  session(modelPath: string, options?: { threads?: number }): Promise<ort.InferenceSession>;
  /** Releases every session; the factory cannot be used afterwards. */
  dispose(): Promise<void>;
}

/**
 * onnxruntime-node ships its CUDA provider only when installed with ONNXRUNTIME_NODE_INSTALL=cuda12;
 * without that library CUDA cannot work, whatever the hardware.
 */
export function missingCudaLibrary(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
    const marker = `${path.sep}onnxruntime-node${path.sep}`;
    const root = entry.slice(0, entry.lastIndexOf(marker) + marker.length);
    const library = path.join(root, 'bin', 'napi-v6', 'linux', process.arch, 'libonnxruntime_providers_cuda.so');
    return existsSync(library) ? undefined : 'the CUDA provider library is not installed (install with ONNXRUNTIME_NODE_INSTALL=cuda12)';
  } catch {
    return undefined;
  }
}

export function createSessionFactory(options: SessionFactoryOptions = {}): SessionFactory {
  const device = parseDevice(options.device ?? 'auto');
  const logger = options.logger ?? silentLogger;
  const threads = options.threads;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 0)) {
    throw createError('CONFIG_INVALID', `threads must be a non-negative integer, got ${threads}`);
  }
  const sessions = new Map<string, Promise<ort.InferenceSession>>();
  let provider: Provider | undefined;
  let disposed = false;

  function sessionOptions(chosen: Provider, sessionThreads = threads): ort.InferenceSession.SessionOptions {
    return {
      executionProviders: [chosen],
      graphOptimizationLevel: 'all',
      ...(sessionThreads ? { intraOpNumThreads: sessionThreads } : {}),
    };
  }

  function chooseProvider(chosen: Provider, reason?: string): void {
    provider = chosen;
    if (reason) logger.warn(`onnxruntime: CUDA unavailable, running on cpu`, { device, reason });
    else logger.info(`onnxruntime: running on ${chosen}`, { device, threads: threads || 'default' });
  }

  async function createOnCpu(modelPath: string, sessionThreads?: number): Promise<ort.InferenceSession> {
    return ort.InferenceSession.create(modelPath, sessionOptions('cpu', sessionThreads));
  }

  /** The first creation decides the provider; concurrent ones wait for it rather than try CUDA too. */
  let deciding: Promise<unknown> | undefined;

  async function create(modelPath: string, sessionThreads?: number): Promise<ort.InferenceSession> {
    if (deciding) await deciding.catch(() => undefined);
    if (provider !== undefined) return ort.InferenceSession.create(modelPath, sessionOptions(provider, sessionThreads));
    const decision = createAndDecide(modelPath, sessionThreads);
    deciding = decision;
    return decision;
  }

  async function createAndDecide(modelPath: string, sessionThreads?: number): Promise<ort.InferenceSession> {
    if (!PROVIDERS_BY_DEVICE[device].includes('cuda')) {
      const session = await createOnCpu(modelPath, sessionThreads);
      chooseProvider('cpu');
      return session;
    }
    const missing = device === 'auto' ? missingCudaLibrary() : undefined;
    if (missing) {
      // Trying would only make onnxruntime print a native error on every start of a CPU machine.
      const session = await createOnCpu(modelPath, sessionThreads);
      chooseProvider('cpu', missing);
      return session;
    }
    try {
      const session = await ort.InferenceSession.create(modelPath, sessionOptions('cuda', sessionThreads));
      chooseProvider('cuda');
      return session;
    } catch (cudaError) {
      const reason = reasonOf(cudaError);
      // Tell a broken model from a missing GPU: if the CPU cannot open it either, the model is at fault.
      const session = await createOnCpu(modelPath, sessionThreads);
      if (device === 'auto') {
        chooseProvider('cpu', reason);
        return session;
      }
      await session.release();
      throw createError(
        'DEVICE_UNAVAILABLE',
        `PARASOL_DEVICE=cuda but the CUDA execution provider cannot be used (${reason}); ` +
          `use PARASOL_DEVICE=auto or cpu to run on the CPU`,
      );
    }
  }

  return {
    device,
    get provider() {
      return provider;
    },
    session(modelPath, options = {}) {
      if (disposed) return Promise.reject(createError('NOT_READY', 'the encoders have been disposed'));
      const key = `${modelPath}\u0000${options.threads ?? ''}`;
      let pending = sessions.get(key);
      if (!pending) {
        pending = create(modelPath, options.threads);
        sessions.set(key, pending);
        // A failed creation must not poison the cache: the next request tries again.
        pending.catch(() => sessions.delete(key));
      }
      return pending;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      const pending = [...sessions.values()];
      sessions.clear();
      const settled = await Promise.allSettled(pending);
      await Promise.all(
        settled.map((s) => (s.status === 'fulfilled' ? s.value.release() : undefined)),
      );
    },
  };
}

/** The useful part of an onnxruntime error message. */
export function reasonOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // onnxruntime glues an ANSI-coloured native log onto its message; what precedes it says what went wrong.
  return text.split('\u001b')[0].replace(/\s+/g, ' ').trim();
}

/**
 * Creates a session factory, opens what `open` needs with it, and releases every session when
 * opening fails, so a pack that fails its checks leaves nothing loaded behind.
 */
export async function openWithFactory<T>(
  options: SessionFactoryOptions,
  open: (factory: SessionFactory) => Promise<T>,
): Promise<{ factory: SessionFactory; opened: T }> {
  const factory = createSessionFactory(options);
  try {
    return { factory, opened: await open(factory) };
  } catch (error) {
    await factory.dispose();
    throw error;
  }
}

export function packInvalid(pack: string, problem: string): ParasolError {
  return createError('MODEL_PACK_INVALID', pack, problem);
}

/** Why a tensor is not float32 of the given shape, or undefined when it is. */
export function shapeProblem(tensor: { type: string; dims: readonly number[] }, shape: readonly number[]): string | undefined {
  if (tensor.type !== 'float32') return `output is ${tensor.type}, not float32`;
  const got = tensor.dims;
  if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
    return `output has shape [${got.join(', ')}], expected [${shape.join(', ')}]`;
  }
  return undefined;
}

/** One model file of a pack, as its manifest declares it. */
export interface PackModelSpec {
  /** The pack's name, for error messages. */
  pack: string;
  /** The pack's folder. */
  dir: string;
  /** The model file, relative to `dir`. */
  file: string;
  inputs: readonly string[];
  output: string;
  /** Intra-op threads for this model; the factory's when absent. */
  threads?: number;
}

/** A pack's model, opened with its declared input and output names checked. */
export interface PackModel {
  readonly file: string;
  /** The model file's absolute path. */
  readonly path: string;
  /**
   * Runs the model once on `feeds` and fails with MODEL_PACK_INVALID unless it returns float32
   * of `shape`; `declares` says which part of pack.json fixes that shape.
   */
  probe(feeds: Record<string, ort.Tensor>, shape: readonly number[], declares: string): Promise<void>;
  /** The declared output of one run, timed under the model's name (timings.ts) and checked to be float32 of `shape`. */
  run(feeds: Record<string, ort.Tensor>, shape: readonly number[]): Promise<Float32Array>;
  /**
   * The same run on a model worker's copy of the model (opened there with `worker.open(path)`):
   * the calling thread stays free meanwhile. The feeds' arrays move to the worker.
   */
  runOn(worker: ModelWorker, feeds: Record<string, { data: Float32Array; dims: readonly number[] }>, shape: readonly number[]): Promise<Float32Array>;
}

export async function openPackModel(factory: SessionFactory, spec: PackModelSpec): Promise<PackModel> {
  const { pack, file, output } = spec;
  const modelPath = path.join(spec.dir, file);
  let session: ort.InferenceSession;
  try {
    session = await factory.session(modelPath, { threads: spec.threads });
  } catch (error) {
    if (isParasolError(error)) throw error;
    throw packInvalid(pack, `${file}: onnxruntime cannot load it (${reasonOf(error)})`);
  }
  for (const input of spec.inputs) {
    if (!session.inputNames.includes(input)) {
      throw packInvalid(pack, `${file}: has no input "${input}" (its inputs: ${session.inputNames.join(', ')})`);
    }
  }
  if (!session.outputNames.includes(output)) {
    throw packInvalid(pack, `${file}: has no output "${output}" (its outputs: ${session.outputNames.join(', ')})`);
  }
  const name = modelName(file);
  const checked = (result: { type: string; dims: readonly number[]; data: unknown }, shape: readonly number[]): Float32Array => {
    const problem = shapeProblem(result, shape);
    if (problem) throw packInvalid(pack, `${file}: ${problem}`);
    return result.data as Float32Array;
  };
  return {
    file,
    path: modelPath,
    async probe(feeds, shape, declares) {
      let result: ort.Tensor;
      try {
        result = (await session.run(feeds, [output]))[output];
      } catch (error) {
        throw packInvalid(pack, `${file}: a one-item probe failed (${reasonOf(error)}); pack.json declares ${declares}`);
      }
      const problem = shapeProblem(result, shape);
      if (problem) throw packInvalid(pack, `${file}: ${problem}, but pack.json declares ${declares}`);
    },
    async run(feeds, shape) {
      return checked((await timed(name, () => session.run(feeds, [output])))[output], shape);
    },
    async runOn(worker, feeds, shape) {
      return checked(await timed(name, () => worker.run(modelPath, feeds, output)), shape);
    },
  };
}
