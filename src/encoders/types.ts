/**
 * What the rest of Parasol sees of the models. Only src/encoders/ imports onnxruntime.
 *
 * Every encoder returns L2-normalised Float32Arrays of its declared dimension.
 * An image input is anything sharp can read: encoded bytes (JPEG, PNG, WebP, GIF, AVIF, TIFF, SVG).
 */

import type { DecodedImage } from './image.js';

export type ImageInput = Buffer | Uint8Array;

export interface ImageEmbedder {
  readonly dim: number;
  embedImages(images: ImageInput[]): Promise<Float32Array[]>;
}

export interface TextEmbedder {
  readonly dim: number;
  embedTexts(texts: string[]): Promise<Float32Array[]>;
}

/** The pair of descriptors Parasol keeps for every image. */
export interface ImageDescriptors {
  semantic: Float32Array;
  style: Float32Array;
}

/** An image decoded and resized for both image towers (they may share one array). */
export interface PreparedImage {
  readonly semantic: Float32Array;
  readonly style: Float32Array;
}

/**
 * describeImages in two steps, so that the next images are decoded (on sharp's threads) while
 * the models encode these: what ingestion pipelines.
 */
export interface StagedImageDescriber {
  /** Decodes and resizes one image for both towers; UNSUPPORTED_IMAGE or IMAGE_TOO_LARGE when it cannot. */
  prepareImage(image: ImageInput): Promise<PreparedImage>;
  /** The same from pixels decoded already (decodeImage), without decoding again. */
  prepareDecoded(image: DecodedImage): Promise<PreparedImage>;
  /** Both descriptors of prepared images, the models run in batches. */
  describePrepared(images: PreparedImage[]): Promise<ImageDescriptors[]>;
}

export interface Encoders {
  readonly packName: string;
  readonly semanticDim: number;
  readonly styleDim: number;
  /** CLIP-style image tower. */
  semanticImage: ImageEmbedder;
  /** CLIP-style text tower (content queries). */
  semanticText: TextEmbedder;
  /** ALADIN-style image encoder. */
  styleImage: ImageEmbedder;
  /** Text-to-style encoder (style queries). */
  styleText: TextEmbedder;
  /** Both image descriptors, decoding each image once. */
  describeImages(images: ImageInput[]): Promise<ImageDescriptors[]>;
  /** Which execution provider the sessions run on. */
  readonly provider: 'cpu' | 'cuda';
  dispose(): Promise<void>;
}
