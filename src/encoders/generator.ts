/**
 * loadGenerator(): the `parasol` block of a model pack turned into the four models the sampler
 * drives — the UNet (noise prediction under content/style conditions with per-modality masks),
 * the VAE encoder and decoder, and the style projector M (style space -> semantic space).
 *
 * Like loadEncoders, loading proves the files match the manifest (input/output names, and one
 * probe per model for the output shape), so a running GeneratorModels only returns tensors of
 * the declared shapes. onnxruntime stays inside src/encoders/: callers see Float32Arrays.
 */
import { modelName, timed } from './timings.js';
import path from 'node:path';
import { access } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { createError, isParasolError } from '../errors.js';
import { parasolFiles, parseParasolSpec, type ParasolSpec } from './generator-pack.js';
import { packInvalid, readPack, type PackManifest } from './pack.js';
import { createSessionFactory, reasonOf, type Device, type Logger, type Provider } from './runtime.js';

export type { ParasolSpec, ScheduleSpec } from './generator-pack.js';

export interface LoadGeneratorOptions {
  /** The pack's folder (holding pack.json with a `parasol` block). */
  packDir: string;
  /** 'auto' (default) tries CUDA and falls back to the CPU; 'cuda' fails when CUDA is unavailable. */
  device?: Device | string;
  /** onnxruntime threads per operator; its default when absent. */
  threads?: number;
  logger?: Logger;
}

export interface GeneratorDims {
  /** [channels, height, width] of one latent. */
  readonly latent: readonly [number, number, number];
  /** channels · height · width. */
  readonly latentSize: number;
  /** Side of the square images the VAE reads and writes. */
  readonly imageSize: number;
  /** 3 · imageSize², one image's NCHW pixels. */
  readonly pixelSize: number;
  /** Dsem: content vectors and projected styles. */
  readonly semantic: number;
  /** Dstyle: style vectors before projection. */
  readonly style: number;
  /** T, the DDPM steps the UNet was trained with. */
  readonly timesteps: number;
}

/** One batched UNet call: every array holds `batch` rows back to back. */
export interface NoiseInput {
  /** [B, C, H, W] noisy latents. */
  latent: Float32Array;
  /** [B] the integer DDPM step of each row, as a float. */
  timestep: Float32Array;
  /** [B, Dsem] content vectors c_y (ignored where contentMask is 0). */
  content: Float32Array;
  /** [B, Dsem] projected styles m_s (ignored where styleMask is 0). */
  style: Float32Array;
  /** [B] 1 = use the content row, 0 = the model's null content token. */
  contentMask: Float32Array;
  /** [B] 1 = use the style row, 0 = the model's null style token. */
  styleMask: Float32Array;
  batch: number;
}

export interface GeneratorModels {
  readonly packName: string;
  readonly packVersion: number;
  /** The pack's absolute folder. */
  readonly packDir: string;
  readonly manifest: PackManifest;
  readonly spec: ParasolSpec;
  readonly dims: GeneratorDims;
  readonly provider: Provider;
  /** NCHW RGB pixels in [-1, 1] ([n, 3, S, S]) -> latents [n, C, H, W] (the encoder's mean · scale). */
  encode(pixels: Float32Array, n: number): Promise<Float32Array>;
  /** Latents [n, C, H, W] -> NCHW RGB pixels, nominally in [-1, 1]. */
  decode(latents: Float32Array, n: number): Promise<Float32Array>;
  /** Style vectors a (Dstyle each) -> m = M(a) (Dsem each), as the model produced them (not normalised). */
  project(styles: Float32Array[]): Promise<Float32Array[]>;
  /** The UNet's ε prediction, [batch, C, H, W]. */
  predictNoise(input: NoiseInput): Promise<Float32Array>;
  dispose(): Promise<void>;
}

interface Sessions {
  unet: ort.InferenceSession;
  encoder: ort.InferenceSession;
  decoder: ort.InferenceSession;
  projector: ort.InferenceSession;
}

export async function loadGenerator(options: LoadGeneratorOptions): Promise<GeneratorModels> {
  const pack = await readPack(options.packDir);
  const { manifest } = pack;
  const spec = parseParasolSpec(manifest);
  for (const file of parasolFiles(spec)) {
    try {
      await access(path.join(pack.dir, file));
    } catch {
      throw packInvalid(manifest.name, `${file}: named in pack.json but missing from ${pack.dir}`);
    }
  }
  const [c, h, w] = spec.latent;
  const size = spec.vae.imageSize;
  const dims: GeneratorDims = Object.freeze({
    latent: Object.freeze([c, h, w] as const),
    latentSize: c * h * w,
    imageSize: size,
    pixelSize: 3 * size * size,
    semantic: manifest.semantic.dim,
    style: manifest.style.dim,
    timesteps: spec.timesteps,
  });
  const runtime = createSessionFactory({ device: options.device, threads: options.threads, logger: options.logger });
  let sessions: Sessions;
  try {
    sessions = await openSessions(manifest, pack.dir, spec, dims, runtime);
  } catch (error) {
    await runtime.dispose();
    throw error;
  }
  const provider = runtime.provider as Provider;
  const latentShape = (n: number) => [n, c, h, w];
  const pixelShape = (n: number) => [n, 3, size, size];
  let disposed = false;

  function ensureOpen(): void {
    if (disposed) throw createError('NOT_READY', 'the generator has been disposed');
  }

  async function run(
    session: ort.InferenceSession,
    file: string,
    feeds: Record<string, ort.Tensor>,
    output: string,
    shape: number[],
  ): Promise<Float32Array> {
    const result = (await timed(modelName(file), () => session.run(feeds, [output])))[output];
    const problem = shapeProblem(result, shape);
    if (problem) throw packInvalid(manifest.name, `${file}: ${problem}`);
    return result.data as Float32Array;
  }

  return {
    packName: manifest.name,
    packVersion: manifest.version,
    packDir: pack.dir,
    manifest,
    spec,
    dims,
    provider,

    async encode(pixels, n) {
      ensureOpen();
      expectLength('pixels', pixels, n * dims.pixelSize);
      const { file, input, output } = spec.vae.encoder;
      const latent = await run(sessions.encoder, file, { [input]: tensor(pixels, pixelShape(n)) }, output, latentShape(n));
      if (spec.vae.scale !== 1) for (let i = 0; i < latent.length; i++) latent[i] *= spec.vae.scale;
      return latent;
    },

    async decode(latents, n) {
      ensureOpen();
      expectLength('latents', latents, n * dims.latentSize);
      const { file, input, output } = spec.vae.decoder;
      let fed = latents;
      if (spec.vae.scale !== 1) {
        fed = new Float32Array(latents.length);
        for (let i = 0; i < latents.length; i++) fed[i] = latents[i] / spec.vae.scale;
      }
      return run(sessions.decoder, file, { [input]: tensor(fed, latentShape(n)) }, output, pixelShape(n));
    },

    async project(styles) {
      ensureOpen();
      const n = styles.length;
      if (n === 0) return [];
      const stacked = new Float32Array(n * dims.style);
      styles.forEach((style, i) => {
        expectLength('style vector', style, dims.style);
        stacked.set(style, i * dims.style);
      });
      const { file, input, output } = spec.projector;
      const out = await run(sessions.projector, file, { [input]: tensor(stacked, [n, dims.style]) }, output, [n, dims.semantic]);
      return Array.from({ length: n }, (_, i) => out.slice(i * dims.semantic, (i + 1) * dims.semantic));
    },

    async predictNoise(input) {
      ensureOpen();
      const b = input.batch;
      if (!Number.isInteger(b) || b < 1) throw new RangeError(`batch must be a positive integer, got ${b}`);
      expectLength('latent', input.latent, b * dims.latentSize);
      expectLength('timestep', input.timestep, b);
      expectLength('content', input.content, b * dims.semantic);
      expectLength('style', input.style, b * dims.semantic);
      expectLength('contentMask', input.contentMask, b);
      expectLength('styleMask', input.styleMask, b);
      return run(sessions.unet, spec.unet.file, unetFeeds(spec, dims, input), spec.unet.output, latentShape(b));
    },

    async dispose() {
      disposed = true;
      await runtime.dispose();
    },
  };
}

function unetFeeds(spec: ParasolSpec, dims: GeneratorDims, input: NoiseInput): Record<string, ort.Tensor> {
  const names = spec.unet.inputs;
  const b = input.batch;
  return {
    [names.latent]: tensor(input.latent, [b, ...dims.latent]),
    [names.timestep]: tensor(input.timestep, [b]),
    [names.content]: tensor(input.content, [b, dims.semantic]),
    [names.style]: tensor(input.style, [b, dims.semantic]),
    [names.contentMask]: tensor(input.contentMask, [b]),
    [names.styleMask]: tensor(input.styleMask, [b]),
  };
}

/**
 * Opens the four models and proves each matches the manifest: the declared names exist and a
 * one-item probe of zeros returns float32 of the declared shape.
 */
async function openSessions(
  manifest: PackManifest,
  dir: string,
  spec: ParasolSpec,
  dims: GeneratorDims,
  runtime: ReturnType<typeof createSessionFactory>,
): Promise<Sessions> {
  const open = async (file: string, inputs: string[], output: string) => {
    let session: ort.InferenceSession;
    try {
      session = await runtime.session(path.join(dir, file));
    } catch (error) {
      if (isParasolError(error)) throw error;
      throw packInvalid(manifest.name, `${file}: onnxruntime cannot load it (${reasonOf(error)})`);
    }
    for (const input of inputs) {
      if (!session.inputNames.includes(input)) {
        throw packInvalid(manifest.name, `${file}: has no input "${input}" (its inputs: ${session.inputNames.join(', ')})`);
      }
    }
    if (!session.outputNames.includes(output)) {
      throw packInvalid(manifest.name, `${file}: has no output "${output}" (its outputs: ${session.outputNames.join(', ')})`);
    }
    return session;
  };
  const probe = async (
    session: ort.InferenceSession,
    file: string,
    feeds: Record<string, ort.Tensor>,
    output: string,
    shape: number[],
    what: string,
  ) => {
    let result: ort.Tensor;
    try {
      result = (await session.run(feeds, [output]))[output];
    } catch (error) {
      throw packInvalid(manifest.name, `${file}: a one-item probe failed (${reasonOf(error)}); pack.json declares ${what}`);
    }
    const problem = shapeProblem(result, shape);
    if (problem) throw packInvalid(manifest.name, `${file}: ${problem}, but pack.json declares ${what}`);
  };

  const latent = [1, ...dims.latent];
  const pixels = [1, 3, dims.imageSize, dims.imageSize];
  const latentWhat = `parasol.latent = [${dims.latent.join(', ')}]`;
  const zeros = (shape: number[]) => tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);

  const u = spec.unet;
  const unetInputs = Object.values(u.inputs);
  const unet = await open(u.file, unetInputs, u.output);
  await probe(
    unet,
    u.file,
    unetFeeds(spec, dims, {
      latent: new Float32Array(dims.latentSize),
      timestep: new Float32Array(1),
      content: new Float32Array(dims.semantic),
      style: new Float32Array(dims.semantic),
      contentMask: new Float32Array(1),
      styleMask: new Float32Array(1),
      batch: 1,
    }),
    u.output,
    latent,
    `${latentWhat} (and content/style of semantic.dim = ${dims.semantic})`,
  );

  const e = spec.vae.encoder;
  const encoder = await open(e.file, [e.input], e.output);
  await probe(encoder, e.file, { [e.input]: zeros(pixels) }, e.output, latent, `${latentWhat} from ${dims.imageSize}px images`);

  const d = spec.vae.decoder;
  const decoder = await open(d.file, [d.input], d.output);
  await probe(decoder, d.file, { [d.input]: zeros(latent) }, d.output, pixels, `parasol.vae.imageSize = ${dims.imageSize}`);

  const p = spec.projector;
  const projector = await open(p.file, [p.input], p.output);
  await probe(
    projector,
    p.file,
    { [p.input]: zeros([1, dims.style]) },
    p.output,
    [1, dims.semantic],
    `style.dim = ${dims.style} -> semantic.dim = ${dims.semantic}`,
  );
  return { unet, encoder, decoder, projector };
}

function tensor(data: Float32Array, shape: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, shape);
}

function expectLength(name: string, data: Float32Array, expected: number): void {
  if (!(data instanceof Float32Array)) throw new TypeError(`${name} must be a Float32Array`);
  if (data.length !== expected) throw new RangeError(`${name} has ${data.length} values, expected ${expected}`);
}

/** Why a tensor is not float32 of the given shape, or undefined when it is. */
function shapeProblem(result: ort.Tensor, shape: number[]): string | undefined {
  if (result.type !== 'float32') return `output is ${result.type}, not float32`;
  const got = result.dims;
  if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
    return `output has shape [${got.join(', ')}], expected [${shape.join(', ')}]`;
  }
  return undefined;
}
