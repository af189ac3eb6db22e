/**
 * A model pack's manifest (models/<pack>/pack.json, see models/README.md): parsed with zod, then
 * checked against the model files themselves, so a pack that disagrees with its manifest fails
 * at load with a message naming the file, instead of producing wrong vectors later.
 */
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { openPackModel, packInvalid, reasonOf, type PackModel, type SessionFactory } from './runtime.js';

export { packInvalid } from './runtime.js';

const rgbTriple = z.tuple([z.number(), z.number(), z.number()]);

export const preprocessSchema = z.object({
  size: z.number().int().positive(),
  resize: z.enum(['contain', 'cover', 'shortest']),
  background: z.string().regex(/^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i, 'expected a colour like "#ffffff"'),
  mean: rgbTriple,
  std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
  /** With resize "shortest": the shortest side's length before the centre crop to `size` (default `size`). */
  shortestSide: z.number().int().positive().optional(),
});

const fileName = z.string().min(1);
const tensorName = z.string().min(1);

export const imageModelSchema = z.object({
  file: fileName,
  input: tensorName,
  output: tensorName,
  preprocess: preprocessSchema,
});

export const textModelSchema = z.object({
  file: fileName,
  inputs: z.object({ ids: tensorName, mask: tensorName }),
  output: tensorName,
  tokenizer: fileName,
  maxTokens: z.number().int().positive(),
  /**
   * CLIP-style framing: when present, each text is encoded as [start, ...tokens, end], cut to
   * maxTokens (the end token kept), and padded with `pad`; the mask covers start and end too.
   * Absent (the mini pack): plain tokens padded with the tokenizer's [PAD].
   */
  specialTokens: z
    .object({ start: z.number().int().nonnegative(), end: z.number().int().nonnegative(), pad: z.number().int().nonnegative() })
    .optional(),
  /**
   * The model takes any token count up to maxTokens and ignores what follows a text's real tokens
   * (its importer checked both), so a batch is padded only to its longest text: a query of a few
   * words costs a few tokens, not the whole context (ViT-B/32: 111 ms for 16 tokens against 344 for 77).
   */
  trimPadding: z.boolean().optional(),
});

export const towerSchema = z.object({
  dim: z.number().int().positive(),
  image: imageModelSchema,
  text: textModelSchema,
});

/** `parasol pack fit-text-style`'s map from the semantic space to the style space (see text-style-map.ts). */
export const textMapSchema = z.object({
  file: fileName,
  lambda: z.number().positive(),
  pairs: z.number().int().positive(),
  heldOutCosine: z.number(),
});

/** `parasol pack fit-style`'s projection of the statistics to the style space (see style-projection.ts). */
export const styleProjectionSchema = z.object({
  file: fileName,
  kind: z.literal('pca-whiten'),
  /** 1: full whitening; 0: plain PCA. */
  power: z.number().min(0).max(1),
  images: z.number().int().positive(),
  explained: z.number(),
});

/**
 * The weights-free style descriptor of a CLIP-only pack: `style.image` is the vision tower returning
 * its per-layer mean/std statistics (`dim` numbers, not a unit vector), which `projection` reduces
 * to `style.dim`. Without a projection the pack cannot describe styles yet.
 */
export const styleStatisticsSchema = z.object({
  dim: z.number().int().positive(),
  source: z.string().optional(),
  projection: styleProjectionSchema.optional(),
});

/**
 * An imported style encoder may come without a text-to-style model: style text queries then go
 * through `textMap` (semantic text tower -> map) when it is fitted, else fail clearly.
 */
export const styleTowerSchema = towerSchema.extend({
  text: textModelSchema.optional(),
  textMap: textMapSchema.optional(),
  statistics: styleStatisticsSchema.optional(),
});

export const packManifestSchema = z.object({
  name: z.string().min(1),
  version: z.number().int(),
  semantic: towerSchema,
  style: styleTowerSchema,
  /** The generative model's block, read by whoever runs it; kept as-is here. */
  parasol: z.unknown().optional(),
});

export type Preprocess = z.infer<typeof preprocessSchema>;
export type ResizeMode = Preprocess['resize'];
export type ImageModelSpec = z.infer<typeof imageModelSchema>;
export type TextModelSpec = z.infer<typeof textModelSchema>;
export type TowerSpec = z.infer<typeof towerSchema>;
export type StyleTowerSpec = z.infer<typeof styleTowerSchema>;
export type PackManifest = z.infer<typeof packManifestSchema>;
export type TowerName = 'semantic' | 'style';
export const TOWERS: readonly TowerName[] = Object.freeze(['semantic', 'style']);

export interface LoadedPack {
  /** Absolute path of the pack's folder. */
  dir: string;
  manifest: PackManifest;
}

/** Reads and validates pack.json and checks that every file it names exists. */
export async function readPack(packDir: string): Promise<LoadedPack> {
  const dir = path.resolve(packDir);
  const manifestPath = path.join(dir, 'pack.json');
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch (error) {
    throw packInvalid(packDir, `pack.json: cannot be read (${reasonOf(error)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw packInvalid(packDir, `pack.json: not valid JSON (${reasonOf(error)})`);
  }
  if (typeof json === 'object' && json !== null && !('style' in json)) {
    throw packInvalid(
      packDir,
      'pack.json: has no style tower ("style") and no style statistics from its vision tower; add a style encoder with ' +
        '`parasol pack import style --arch <timm ViT> --checkpoint <file> --into <pack>` (or --kind csd), or re-import the CLIP ' +
        'checkpoint with this version (`parasol pack import hf-clip|open-clip`) for the weights-free style descriptor',
    );
  }
  const parsed = packManifestSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw packInvalid(packDir, `pack.json: ${problems.join('; ')}`);
  }
  const manifest = parsed.data;
  for (const file of filesNamedBy(manifest)) {
    try {
      await access(path.join(dir, file));
    } catch {
      throw packInvalid(manifest.name, `${file}: named in pack.json but missing from ${dir}`);
    }
  }
  return { dir, manifest };
}

function filesNamedBy(manifest: PackManifest): string[] {
  const files = TOWERS.flatMap((tower) => {
    const text = manifest[tower].text;
    return [manifest[tower].image.file, ...(text ? [text.file, text.tokenizer] : [])];
  });
  if (manifest.style.textMap) files.push(manifest.style.textMap.file);
  if (manifest.style.statistics?.projection) files.push(manifest.style.statistics.projection.file);
  return [...new Set(files)];
}

export interface TowerSessions {
  image: PackModel;
  /** Absent when the pack has no text model for this tower (style.text is optional). */
  text?: PackModel;
}

export type PackSessions = Record<TowerName, TowerSessions>;

/**
 * Opens the pack's four models and proves each matches the manifest: the declared input and
 * output names exist, and a one-item probe returns [1, dim] float32.
 *
 * `textThreads`: intra-op threads for the text towers. They run one short query at a time, where
 * a thread pool's hand-offs cost more than they save (measured: 0.75 ms a query on one thread,
 * 2.4 ms with onnxruntime's default, on this 2-core machine under load). `imageThreads`: the
 * same for the image towers (see DEFAULT_IMAGE_THREADS in index.ts).
 */
export async function openPackSessions(
  pack: LoadedPack,
  sessions: SessionFactory,
  options: { textThreads?: number; imageThreads?: number } = {},
): Promise<PackSessions> {
  const opened = {} as PackSessions;
  const { name } = pack.manifest;
  for (const tower of TOWERS) {
    const spec = pack.manifest[tower];
    const declares = `${tower}.dim = ${spec.dim}`;
    const image = await openPackModel(sessions, {
      pack: name,
      dir: pack.dir,
      file: spec.image.file,
      inputs: [spec.image.input],
      output: spec.image.output,
      threads: options.imageThreads,
    });
    const size = spec.image.preprocess.size;
    // The weights-free style tower outputs raw statistics, projected to style.dim afterwards.
    const statistics = tower === 'style' ? pack.manifest.style.statistics : undefined;
    await image.probe(
      { [spec.image.input]: new ort.Tensor('float32', new Float32Array(3 * size * size), [1, 3, size, size]) },
      [1, statistics ? statistics.dim : spec.dim],
      statistics ? `style.statistics.dim = ${statistics.dim}` : declares,
    );

    const textSpec = spec.text;
    if (!textSpec) {
      opened[tower] = { image };
      continue;
    }
    const text = await openPackModel(sessions, {
      pack: name,
      dir: pack.dir,
      file: textSpec.file,
      inputs: [textSpec.inputs.ids, textSpec.inputs.mask],
      output: textSpec.output,
      threads: options.textThreads,
    });
    const n = textSpec.maxTokens;
    const mask = new BigInt64Array(n);
    mask[0] = 1n;
    await text.probe(
      {
        // Token id 0 exists in every vocabulary; the probe only checks shapes.
        [textSpec.inputs.ids]: new ort.Tensor('int64', new BigInt64Array(n), [1, n]),
        [textSpec.inputs.mask]: new ort.Tensor('int64', mask, [1, n]),
      },
      [1, spec.dim],
      declares,
    );
    opened[tower] = { image, text };
  }
  return opened;
}
