/**
 * The `parasol` block of a pack.json: the generator's model files (UNet, VAE, style projector),
 * their tensor names, the latent shape and the noise schedule. pack.ts passes the block through
 * unvalidated; this parses it with zod so a malformed block fails at load with MODEL_PACK_INVALID.
 * See models/README.md ("The generator: `parasol`").
 */
import { z } from 'zod';
import type { ParasolError } from '../errors.js';
import { packInvalid, type PackManifest } from './pack.js';

const fileName = z.string().min(1);
const tensorName = z.string().min(1);

export const scheduleSpecSchema = z
  .object({
    /** linear: betas evenly spaced; scaled-linear: their square roots evenly spaced (Stable Diffusion's). */
    kind: z.enum(['linear', 'scaled-linear']),
    betaStart: z.number().positive().lt(1),
    betaEnd: z.number().positive().lt(1),
  })
  .refine((s) => s.betaStart <= s.betaEnd, { message: 'betaStart must not exceed betaEnd' });

export const parasolSpecSchema = z.object({
  unet: z.object({
    file: fileName,
    inputs: z.object({
      latent: tensorName,
      timestep: tensorName,
      content: tensorName,
      style: tensorName,
      contentMask: tensorName,
      styleMask: tensorName,
    }),
    output: tensorName,
  }),
  vae: z.object({
    encoder: z.object({ file: fileName, input: tensorName, output: tensorName }),
    decoder: z.object({ file: fileName, input: tensorName, output: tensorName }),
    /** Square RGB images of this side go in and come out. */
    imageSize: z.number().int().positive(),
    /** latent = encoder(pixels) · scale; the decoder is fed latent / scale. */
    scale: z.number().positive().finite().default(1),
  }),
  projector: z.object({ file: fileName, input: tensorName, output: tensorName }),
  /** [channels, height, width] of one latent. */
  latent: z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]),
  /** T, the number of DDPM steps the UNet was trained with. */
  timesteps: z.number().int().min(2).max(100_000),
  prediction: z.literal('epsilon').default('epsilon'),
  schedule: scheduleSpecSchema,
});

export type ScheduleSpec = z.infer<typeof scheduleSpecSchema>;
export type ParasolSpec = z.infer<typeof parasolSpecSchema>;

/** The validated `parasol` block of a manifest, or MODEL_PACK_INVALID naming what is wrong. */
export function parseParasolSpec(manifest: PackManifest): ParasolSpec {
  if (manifest.parasol === undefined) throw invalid(manifest, 'pack.json has no "parasol" block (no generator)');
  const parsed = parasolSpecSchema.safeParse(manifest.parasol);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `parasol.${issue.path.join('.')}: ${issue.message}`);
    throw invalid(manifest, `pack.json: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** The model files the block names. */
export function parasolFiles(spec: ParasolSpec): string[] {
  return [...new Set([spec.unet.file, spec.vae.encoder.file, spec.vae.decoder.file, spec.projector.file])];
}

function invalid(manifest: PackManifest, problem: string): ParasolError {
  return packInvalid(manifest.name, problem);
}
