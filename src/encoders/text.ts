/**
 * Text -> model input, as models/README.md specifies: the pack's tokenizer.json encodes without
 * special tokens, ids are truncated to maxTokens and right-padded with the [PAD] id, and the mask
 * is 1 for real tokens. Both go to the model as int64 [batch, maxTokens], or cut to the batch's
 * longest text where the pack says the model allows it (`trimPadding`).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import { packInvalid } from './pack.js';
import type { TextModelSpec } from './pack.js';

export interface TokenizedText {
  /** Exactly maxTokens ids, padding included. */
  ids: number[];
  /** 1 for a real token, 0 for padding. */
  mask: number[];
  /** How many ids are real tokens. */
  length: number;
}

export interface TextTokenizer {
  readonly padId: number;
  tokenize(text: string, maxTokens: number): TokenizedText;
}

export type SpecialTokens = NonNullable<TextModelSpec['specialTokens']>;

/**
 * Loads a tokenizer.json; `packName` and `file` only label errors. With `special` (CLIP packs),
 * texts are framed by the start and end ids and padded with its pad id.
 */
export async function loadTokenizer(
  packDir: string,
  file: string,
  packName: string,
  special?: SpecialTokens,
): Promise<TextTokenizer> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path.join(packDir, file), 'utf8'));
  } catch (error) {
    throw packInvalid(packName, `${file}: not a readable JSON tokenizer (${reason(error)})`);
  }
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json as object, {});
  } catch (error) {
    throw packInvalid(packName, `${file}: not a tokenizer @huggingface/tokenizers can load (${reason(error)})`);
  }
  const padId = special?.pad ?? tokenizer.token_to_id('[PAD]') ?? declaredPadId(json);
  if (padId === undefined) {
    throw packInvalid(packName, `${file}: has no [PAD] token to pad with`);
  }
  return {
    padId,
    tokenize(text, maxTokens) {
      // The package's extensionless type imports do not resolve under NodeNext, hence the annotation.
      const encoded: number[] = tokenizer.encode(text, { add_special_tokens: false }).ids;
      const real = special
        ? [special.start, ...encoded.slice(0, Math.max(0, maxTokens - 2)), special.end].slice(0, maxTokens)
        : encoded.slice(0, maxTokens);
      const ids = new Array<number>(maxTokens).fill(padId);
      const mask = new Array<number>(maxTokens).fill(0);
      real.forEach((id, i) => {
        ids[i] = id;
        mask[i] = 1;
      });
      return { ids, mask, length: real.length };
    },
  };
}

/** CLIP-style tokenizers have no [PAD] token but may declare a padding id. */
function declaredPadId(json: unknown): number | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const padding = (json as { padding?: { pad_id?: unknown } }).padding;
  return typeof padding?.pad_id === 'number' ? padding.pad_id : undefined;
}

/**
 * The named int64 [batch, tokens] tensors a text model takes: tokens = maxTokens, or with
 * `trimPadding` the batch's longest text (at least one token).
 */
export function textFeeds(batch: readonly TokenizedText[], spec: TextModelSpec): Record<string, ort.Tensor> {
  const n = spec.trimPadding ? Math.max(1, ...batch.map((item) => item.length)) : spec.maxTokens;
  const ids = new BigInt64Array(batch.length * n);
  const mask = new BigInt64Array(batch.length * n);
  batch.forEach((item, row) => {
    for (let i = 0; i < n; i++) {
      ids[row * n + i] = BigInt(item.ids[i]);
      mask[row * n + i] = BigInt(item.mask[i]);
    }
  });
  return {
    [spec.inputs.ids]: new ort.Tensor('int64', ids, [batch.length, n]),
    [spec.inputs.mask]: new ort.Tensor('int64', mask, [batch.length, n]),
  };
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
