import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer, textFeeds, type TextTokenizer } from '../../src/encoders/text.js';
import type { TextModelSpec } from '../../src/encoders/pack.js';
import { readReference, TINY_PACK, type Reference } from './helpers.js';

describe('text tokenisation (tiny pack)', () => {
  let tokenizer: TextTokenizer;
  let reference: Reference;

  beforeAll(async () => {
    tokenizer = await loadTokenizer(TINY_PACK, 'tokenizer.json', 'tiny');
    reference = await readReference(TINY_PACK);
  });

  it('reproduces the ids the Python side computed, truncated and padded per tower', () => {
    for (const entry of reference.texts) {
      expect(tokenizer.tokenize(entry.text, 8).ids, entry.text).toEqual(entry.ids);
      expect(tokenizer.tokenize(entry.text, 6).ids, entry.text).toEqual(entry.styleIds);
    }
  });

  it('adds no special tokens, pads with [PAD] and masks the padding', () => {
    expect(tokenizer.padId).toBe(0);
    const { ids, mask, length } = tokenizer.tokenize('A red cat', 5);
    expect(ids).toEqual([4, 11, 16, 0, 0]); // no [CLS]=2 / [SEP]=3 although the tokenizer has a BertProcessing post-processor
    expect(mask).toEqual([1, 1, 1, 0, 0]);
    expect(length).toBe(3);
  });

  it('truncates to maxTokens with a full mask', () => {
    const { ids, mask, length } = tokenizer.tokenize('red red red red red red', 4);
    expect(ids).toEqual([11, 11, 11, 11]);
    expect(mask).toEqual([1, 1, 1, 1]);
    expect(length).toBe(4);
  });

  it('builds int64 feeds named by the manifest', () => {
    const spec: TextModelSpec = {
      file: 'x.onnx',
      inputs: { ids: 'ids', mask: 'mask' },
      output: 'style',
      tokenizer: 'tokenizer.json',
      maxTokens: 3,
    };
    const feeds = textFeeds([tokenizer.tokenize('a cat', 3), tokenizer.tokenize('dog', 3)], spec);
    expect(Object.keys(feeds).sort()).toEqual(['ids', 'mask']);
    expect(feeds.ids.type).toBe('int64');
    expect(feeds.ids.dims).toEqual([2, 3]);
    expect(Array.from(feeds.ids.data as BigInt64Array)).toEqual([4n, 16n, 0n, 17n, 0n, 0n]);
    expect(Array.from(feeds.mask.data as BigInt64Array)).toEqual([1n, 1n, 0n, 1n, 0n, 0n]);
  });

  it('pads a batch only to its longest text when the pack allows it (trimPadding)', () => {
    const spec: TextModelSpec = {
      file: 'x.onnx',
      inputs: { ids: 'ids', mask: 'mask' },
      output: 'style',
      tokenizer: 'tokenizer.json',
      maxTokens: 8,
      trimPadding: true,
    };
    const feeds = textFeeds([tokenizer.tokenize('a cat', 8), tokenizer.tokenize('dog', 8)], spec);
    expect(feeds.ids.dims).toEqual([2, 2]);
    expect(Array.from(feeds.ids.data as BigInt64Array)).toEqual([4n, 16n, 17n, 0n]);
    expect(Array.from(feeds.mask.data as BigInt64Array)).toEqual([1n, 1n, 1n, 0n]);
    // An empty text still feeds one (masked) token: a zero-length axis is no valid model input.
    expect(textFeeds([tokenizer.tokenize('', 8)], spec).ids.dims).toEqual([1, 1]);
  });

  it('names the tokenizer file when it cannot be read', async () => {
    await expect(loadTokenizer(path.dirname(TINY_PACK), 'nope.json', 'tiny')).rejects.toMatchObject({
      code: 'MODEL_PACK_INVALID',
      message: expect.stringContaining('nope.json'),
    });
  });
});
