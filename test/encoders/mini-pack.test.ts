/**
 * The bundled pack (models/mini) against the embeddings its training script computed in torch:
 * proves the TypeScript preprocessing and tokenisation feed the models exactly what training did.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEncoders, type LoadedEncoders } from '../../src/encoders/index.js';
import { loadTokenizer } from '../../src/encoders/text.js';
import { expectClose, expectUnit, MINI_PACK, readReference, type Reference } from './helpers.js';

describe.skipIf(!existsSync(path.join(MINI_PACK, 'pack.json')))('the bundled mini pack', () => {
  let encoders: LoadedEncoders;
  let reference: Reference;

  beforeAll(async () => {
    encoders = await loadEncoders({ packDir: MINI_PACK, device: 'cpu' });
    reference = await readReference(MINI_PACK);
  });

  afterAll(async () => {
    await encoders?.dispose();
  });

  it('has a reference to check against', () => {
    expect(reference.images.length + reference.texts.length).toBeGreaterThan(0);
  });

  it('tokenises exactly as the training side did', async () => {
    const spec = encoders.manifest.semantic.text;
    const tokenizer = await loadTokenizer(encoders.packDir, spec.tokenizer, encoders.packName);
    for (const entry of reference.texts) {
      const { ids, length } = tokenizer.tokenize(entry.text, spec.maxTokens);
      // The reference may store the padded model input or just the real tokens.
      const expected = entry.ids.length === spec.maxTokens ? ids : ids.slice(0, length);
      expect(entry.ids, entry.text).toEqual(expected);
    }
  });

  it('reproduces the reference image embeddings to 1e-4', async () => {
    const images = await Promise.all(reference.images.map((entry) => readFile(path.join(MINI_PACK, entry.file))));
    const described = await encoders.describeImages(images);
    reference.images.forEach((entry, i) => {
      expectUnit(described[i].semantic, encoders.semanticDim);
      expectUnit(described[i].style, encoders.styleDim);
      if (entry.semantic) expectClose(described[i].semantic, entry.semantic);
      if (entry.style) expectClose(described[i].style, entry.style);
    });
  });

  it('reproduces the reference text embeddings to 1e-4', async () => {
    const texts = reference.texts.map((entry) => entry.text);
    const semantic = await encoders.semanticText.embedTexts(texts);
    const style = await encoders.styleText.embedTexts(texts);
    reference.texts.forEach((entry, i) => {
      expectClose(semantic[i], entry.semantic);
      expectClose(style[i], entry.style);
    });
  });
});
