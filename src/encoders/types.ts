/**
 * What the rest of Parasol sees of the models. Only src/encoders/ imports onnxruntime.
 *
 * Every encoder returns L2-normalised Float32Arrays of its declared dimension.
 * An image input is anything sharp can read: encoded bytes (JPEG, PNG, WebP, GIF, AVIF, TIFF, SVG).
 */

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
