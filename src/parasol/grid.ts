/**
 * A grid of generated images as one PNG: the cells side by side (row-major) on white, separated by
 * a small gap, with the grid's provenance in its text chunks (image.ts).
 */
import sharp from 'sharp';
import type { GenerateRequest, GenerationParams, GenerationResult } from './generate.js';
import { SAMPLER_NAME } from './generate.js';
import { insertTextChunks, provenanceText } from './image.js';

/** Pixels between grid cells. */
const GRID_GAP = 2;

/** The cells side by side (row-major) on white, with the grid's provenance. */
export async function gridPng(results: GenerationResult[], rows: number, cols: number, requests: GenerateRequest[]): Promise<Buffer> {
  const first: GenerationParams = results[0].params;
  const size = first.width;
  const width = cols * size + (cols - 1) * GRID_GAP;
  const height = rows * size + (rows - 1) * GRID_GAP;
  const png = await sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite(
      results.map((r, i) => ({
        input: r.png,
        left: (i % cols) * (size + GRID_GAP),
        top: Math.floor(i / cols) * (size + GRID_GAP),
      })),
    )
    .png({ compressionLevel: 9 })
    .toBuffer();
  const contentIds = [...new Set(requests.map((r) => r.content.id).filter((id): id is string => id !== undefined))];
  const styleIds = [
    ...new Set(
      requests.flatMap((r) => ('mix' in r.style ? r.style.mix.map((m) => m.id) : [r.style.id])).filter((id): id is string => id !== undefined),
    ),
  ];
  return insertTextChunks(
    png,
    provenanceText({
      software: 'Parasol',
      generator: SAMPLER_NAME,
      pack: first.pack,
      parameters: { grid: { rows, cols }, cells: results.map((r) => r.params) },
      sources: { content: contentIds.join(',') || null, style: styleIds },
    }),
  );
}
