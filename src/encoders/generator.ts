/**
 * loadGenerator(): the `parasol` block of a model pack turned into the four models the sampler
 * drives — the UNet (noise prediction under content/style conditions with per-modality masks),
 * the VAE encoder and decoder, and the style projector M (style space -> semantic space).
 *
 * Like loadEncoders, loading proves the files match the manifest (input/output names, and one
 * probe per model for the output shape), so a running GeneratorModels only returns tensors of
 * the declared shapes. onnxruntime stays inside src/encoders/: callers see Float32Arrays.
 */
import path from 'node:path';
import { access } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { createError } from '../errors.js';
import type { Logger } from '../log.js';
import { parasolFiles, parseParasolSpec, type ParasolSpec } from './generator-pack.js';
import { packInvalid, readPack, type PackManifest } from './pack.js';
import { openPackModel, openWithFactory, type Device, type PackModel, type Provider, type SessionFactory } from './runtime.js';

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
  unet: PackModel;
  encoder: PackModel;
  decoder: PackModel;
  projector: PackModel;
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
  const { factory: runtime, opened: sessions } = await openWithFactory(
    { device: options.device, threads: options.threads, logger: options.logger },
    (factory) => openSessions(manifest, pack.dir, spec, dims, factory),
  );
  const provider = runtime.provider as Provider;
  const latentShape = (n: number) => [n, c, h, w];
  const pixelShape = (n: number) => [n, 3, size, size];
  let disposed = false;

  function ensureOpen(): void {
    if (disposed) throw createError('NOT_READY', 'the generator has been disposed');
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
      const { input } = spec.vae.encoder;
      const latent = await sessions.encoder.run({ [input]: tensor(pixels, pixelShape(n)) }, latentShape(n));
      if (spec.vae.scale !== 1) for (let i = 0; i < latent.length; i++) latent[i] *= spec.vae.scale;
      return latent;
    },

    async decode(latents, n) {
      ensureOpen();
      expectLength('latents', latents, n * dims.latentSize);
      const { input } = spec.vae.decoder;
      let fed = latents;
      if (spec.vae.scale !== 1) {
        fed = new Float32Array(latents.length);
        for (let i = 0; i < latents.length; i++) fed[i] = latents[i] / spec.vae.scale;
      }
      return sessions.decoder.run({ [input]: tensor(fed, latentShape(n)) }, pixelShape(n));
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
      const { input } = spec.projector;
      const out = await sessions.projector.run({ [input]: tensor(stacked, [n, dims.style]) }, [n, dims.semantic]);
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
      return sessions.unet.run(unetFeeds(spec, dims, input), latentShape(b));
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
  factory: SessionFactory,
): Promise<Sessions> {
  const open = (file: string, inputs: string[], output: string) =>
    openPackModel(factory, { pack: manifest.name, dir, file, inputs, output });

  const latent = [1, ...dims.latent];
  const pixels = [1, 3, dims.imageSize, dims.imageSize];
  const latentWhat = `parasol.latent = [${dims.latent.join(', ')}]`;
  const zeros = (shape: number[]) => tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);

  const u = spec.unet;
  const unet = await open(u.file, Object.values(u.inputs), u.output);
  await unet.probe(
    unetFeeds(spec, dims, {
      latent: new Float32Array(dims.latentSize),
      timestep: new Float32Array(1),
      content: new Float32Array(dims.semantic),
      style: new Float32Array(dims.semantic),
      contentMask: new Float32Array(1),
      styleMask: new Float32Array(1),
      batch: 1,
    }),
    latent,
    `${latentWhat} (and content/style of semantic.dim = ${dims.semantic})`,
  );

  const e = spec.vae.encoder;
  const encoder = await open(e.file, [e.input], e.output);
  await encoder.probe({ [e.input]: zeros(pixels) }, latent, `${latentWhat} from ${dims.imageSize}px images`);

  const d = spec.vae.decoder;
  const decoder = await open(d.file, [d.input], d.output);
  await decoder.probe({ [d.input]: zeros(latent) }, pixels, `parasol.vae.imageSize = ${dims.imageSize}`);

  const p = spec.projector;
  const projector = await open(p.file, [p.input], p.output);
  await projector.probe(
    { [p.input]: zeros([1, dims.style]) },
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
