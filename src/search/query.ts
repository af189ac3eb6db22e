/**
 * The search request as the outside world sends it: the zod schemas the HTTP layer and the CLI
 * validate with, and the parse step that turns schema failures into catalogued errors.
 *
 * Uploaded images (contentImage, styleImage) are not JSON: the HTTP layer reads them from the
 * multipart body and passes them beside the validated fields.
 */
import { z } from 'zod';
import { createError } from '../errors.js';
import type { ImageInput } from '../encoders/types.js';
import { FACET_FIELDS, MAX_FACET_VALUES } from '../store/types.js';

export const MAX_QUERY_TEXT = 500;
export const MAX_FEEDBACK_IDS = 50;
export const MAX_K = 100;
export const DEFAULT_K = 24;

/** Accepts numbers, and numeric strings so a GET query string validates with the same schema. */
const numeric = z.preprocess(
  (value) => (typeof value === 'string' && value.trim() !== '' ? Number(value) : value),
  z.number(), // zod 4 rejects NaN and ±Infinity here
);

const itemId = z.string().trim().min(1).max(200);
const queryText = z.string().trim().max(MAX_QUERY_TEXT);
const weight = numeric.pipe(z.number().min(0));
const shortList = z.array(z.string().trim().min(1).max(200)).max(50);

export const feedbackSchema = z.strictObject({
  content: z.array(itemId).max(MAX_FEEDBACK_IDS).optional(),
  style: z.array(itemId).max(MAX_FEEDBACK_IDS).optional(),
});

/** The text (words) weight's default: equal to content's, so a text query weighs its words like its meaning. */
export const DEFAULT_TEXT_WEIGHT = 1;

export const weightsSchema = z
  .strictObject({ content: weight.default(1), style: weight.default(1), text: weight.default(DEFAULT_TEXT_WEIGHT) })
  .refine((w) => w.content > 0 || w.style > 0, { message: 'content and style weights cannot both be 0' });

export const filtersSchema = z.strictObject({
  sources: shortList.optional(),
  licenses: shortList.optional(),
  tags: shortList.optional(),
  keywords: z.string().trim().max(MAX_QUERY_TEXT).optional(),
});

export const fusionSchema = z.enum(['weighted', 'minmax', 'rrf']);

export const DEFAULT_FACET_LIMIT = 10;

/** Facet counts beside a page: which fields, and how many values each (they never change the ranking). */
const facetOptions = {
  facets: z.array(z.enum(FACET_FIELDS)).max(FACET_FIELDS.length).optional(),
  facetLimit: numeric.pipe(z.number().int().min(1).max(MAX_FACET_VALUES)).default(DEFAULT_FACET_LIMIT),
};

export const searchRequestSchema = z.strictObject({
  /** Content text (CLIP text tower). */
  q: queryText.optional(),
  /** Style text (text-to-style encoder). */
  style: queryText.optional(),
  contentItemId: itemId.optional(),
  styleItemId: itemId.optional(),
  /**
   * A finished generation job whose image is the content and style query. Only the HTTP layer
   * reads it (it turns the job's PNG into contentImage/styleImage); the engine ignores it.
   */
  jobId: z
    .string()
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'expected a job id (a UUID)')
    .optional(),
  like: feedbackSchema.optional(),
  unlike: feedbackSchema.optional(),
  weights: weightsSchema.default({ content: 1, style: 1, text: DEFAULT_TEXT_WEIGHT }),
  fusion: fusionSchema.default('weighted'),
  filters: filtersSchema.optional(),
  k: numeric.pipe(z.number().int().min(1).max(MAX_K)).default(DEFAULT_K),
  cursor: z.string().min(1).max(2000).optional(),
  /** Attach a score explanation to every result. */
  explain: z.boolean().default(false),
  ...facetOptions,
});

export type SearchWeights = z.output<typeof weightsSchema>;
export type SearchFilters = z.output<typeof filtersSchema>;
export type Feedback = z.output<typeof feedbackSchema>;

export interface SearchImages {
  contentImage?: ImageInput;
  styleImage?: ImageInput;
}

/** What callers pass (defaults may be omitted). */
export type SearchRequestInput = z.input<typeof searchRequestSchema> & SearchImages;
/** After validation: defaults filled, text trimmed, empty text dropped. */
export type SearchRequest = z.output<typeof searchRequestSchema> & SearchImages;

/** Turns a zod failure into INVALID_QUERY naming the first offending field. */
export function invalidQuery(error: z.ZodError): Error {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return createError('INVALID_QUERY', `${where}${issue?.message ?? 'invalid request'}`);
}

function isImage(value: unknown): value is ImageInput {
  return value instanceof Uint8Array; // Buffer is a Uint8Array
}

function dropEmptyText(request: SearchRequest): SearchRequest {
  const out = { ...request };
  if (out.q === '') delete out.q;
  if (out.style === '') delete out.style;
  return out;
}

/** Whether the request names anything to search towards (unlike items alone are not a query). */
export function hasPositiveSource(request: SearchRequest): boolean {
  return Boolean(
    request.q ||
      request.style ||
      request.contentItemId ||
      request.styleItemId ||
      request.contentImage ||
      request.styleImage ||
      request.like?.content?.length ||
      request.like?.style?.length,
  );
}

/** Validates a request; throws INVALID_QUERY for a malformed one and EMPTY_QUERY for one with nothing to search for. */
export function parseSearchRequest(input: SearchRequestInput): SearchRequest {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw createError('INVALID_QUERY', 'expected a JSON object');
  }
  const { contentImage, styleImage, ...fields } = input;
  for (const [name, image] of [['contentImage', contentImage], ['styleImage', styleImage]] as const) {
    if (image !== undefined && (!isImage(image) || image.byteLength === 0)) {
      throw createError('INVALID_QUERY', `${name}: expected non-empty image bytes`);
    }
  }
  const parsed = searchRequestSchema.safeParse(fields);
  if (!parsed.success) throw invalidQuery(parsed.error);
  const request = dropEmptyText({ ...parsed.data, contentImage, styleImage });
  if (request.contentImage === undefined) delete request.contentImage;
  if (request.styleImage === undefined) delete request.styleImage;
  if (!hasPositiveSource(request)) throw createError('EMPTY_QUERY');
  return request;
}

/** Options for a search from ready descriptors (moreLike, sessions, interpolation). */
export const searchOptionsSchema = z.strictObject({
  weights: weightsSchema.optional(),
  fusion: fusionSchema.default('weighted'),
  filters: filtersSchema.optional(),
  k: numeric.pipe(z.number().int().min(1).max(MAX_K)).default(DEFAULT_K),
  cursor: z.string().min(1).max(2000).optional(),
  explain: z.boolean().default(false),
  ...facetOptions,
});
export type SearchOptionsInput = z.input<typeof searchOptionsSchema>;
export type SearchOptions = z.output<typeof searchOptionsSchema>;

export function parseSearchOptions(input: SearchOptionsInput): SearchOptions {
  const parsed = searchOptionsSchema.safeParse(input);
  if (!parsed.success) throw invalidQuery(parsed.error);
  return parsed.data;
}

/**
 * Where an interpolation endpoint's descriptor comes from: a stored item, a text (encoded by the
 * modality's text tower), or a raw vector of the modality's dimension. Images come only through
 * the TypeScript API (the HTTP layer passes uploads), not through the JSON schema.
 */
export const descriptorSourceSchema = z.union([
  z.strictObject({ itemId }),
  z.strictObject({ text: queryText.min(1) }),
  z.strictObject({ vector: z.array(z.number()).min(1).max(4096) }),
]);
export type DescriptorSource =
  | { itemId: string }
  | { text: string }
  | { vector: number[] | Float32Array }
  | { image: ImageInput };

const endpointsSchema = z.strictObject({ a: descriptorSourceSchema, b: descriptorSourceSchema });

export const interpolateRequestSchema = searchOptionsSchema.extend({
  content: endpointsSchema.optional(),
  style: endpointsSchema.optional(),
  t: numeric.pipe(z.number().min(0).max(1)),
  method: z.enum(['lerp', 'slerp']).default('slerp'),
});
export type InterpolationMethod = 'lerp' | 'slerp';

export interface InterpolateRequest extends SearchOptionsInput {
  content?: { a: DescriptorSource; b: DescriptorSource };
  style?: { a: DescriptorSource; b: DescriptorSource };
  /** 0 gives a's descriptor, 1 gives b's. */
  t: number;
  method?: InterpolationMethod;
}

export interface ParsedInterpolateRequest extends SearchOptions {
  content?: { a: DescriptorSource; b: DescriptorSource };
  style?: { a: DescriptorSource; b: DescriptorSource };
  t: number;
  method: InterpolationMethod;
}

/** Validates an interpolation request; image sources (not JSON) are checked here and passed through. */
export function parseInterpolateRequest(input: InterpolateRequest): ParsedInterpolateRequest {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw createError('INVALID_QUERY', 'expected a JSON object');
  }
  // Anything that is not an {a, b} pair of objects goes to the schema as-is, to be rejected there.
  const forSchema = (pair: unknown) =>
    isEndpointPair(pair) ? { a: sourceForSchema(pair.a), b: sourceForSchema(pair.b) } : pair;
  const parsed = interpolateRequestSchema.safeParse({ ...input, content: forSchema(input.content), style: forSchema(input.style) });
  if (!parsed.success) throw invalidQuery(parsed.error);
  if (!input.content && !input.style) throw createError('EMPTY_QUERY');
  return { ...parsed.data, content: input.content, style: input.style };
}

function isEndpointPair(pair: unknown): pair is { a: DescriptorSource; b: DescriptorSource } {
  if (typeof pair !== 'object' || pair === null) return false;
  const { a, b } = pair as { a?: unknown; b?: unknown };
  return typeof a === 'object' && a !== null && typeof b === 'object' && b !== null;
}

/** The JSON-schema view of a source: a Float32Array becomes an array, an image is checked and stood in for. */
function sourceForSchema(source: DescriptorSource): unknown {
  if ('image' in source) {
    if (!isImage(source.image) || source.image.byteLength === 0) throw createError('INVALID_QUERY', 'image source: expected non-empty image bytes');
    return { itemId: 'uploaded-image' };
  }
  if ('vector' in source && source.vector instanceof Float32Array) return { vector: Array.from(source.vector) };
  return source;
}
