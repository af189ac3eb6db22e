import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadEncoders } from '../../src/encoders/index.js';
import { readPack } from '../../src/encoders/pack.js';
import { copyOfTinyPack, rejectionOf, TINY_PACK } from './helpers.js';

type Json = Record<string, any>; // test-only: free-form edits of pack.json

describe('pack validation', () => {
  let pack: { dir: string; cleanup(): Promise<void> };

  beforeEach(async () => {
    pack = await copyOfTinyPack();
  });

  afterEach(async () => {
    await pack.cleanup();
  });

  async function editManifest(edit: (manifest: Json) => void): Promise<void> {
    const file = path.join(pack.dir, 'pack.json');
    const manifest = JSON.parse(await readFile(file, 'utf8')) as Json;
    edit(manifest);
    await writeFile(file, JSON.stringify(manifest));
  }

  async function expectInvalid(...fragments: string[]): Promise<void> {
    const error = await rejectionOf(loadEncoders({ packDir: pack.dir, device: 'cpu' }), 'MODEL_PACK_INVALID');
    for (const fragment of fragments) expect(error.message).toContain(fragment);
  }

  it('loads the untouched copy', async () => {
    const encoders = await loadEncoders({ packDir: pack.dir, device: 'cpu' });
    expect(encoders.packName).toBe('tiny');
    await encoders.dispose();
  });

  it('names a missing model file', async () => {
    await rm(path.join(pack.dir, 'style_text.onnx'));
    await expectInvalid('style_text.onnx', 'missing');
  });

  it('names a missing tokenizer', async () => {
    await rm(path.join(pack.dir, 'tokenizer.json'));
    await expectInvalid('tokenizer.json', 'missing');
  });

  it('refuses a missing pack.json', async () => {
    await rm(path.join(pack.dir, 'pack.json'));
    await expectInvalid('pack.json', 'cannot be read');
  });

  it('refuses pack.json that is not JSON', async () => {
    await writeFile(path.join(pack.dir, 'pack.json'), '{ "name": "tiny", ');
    await expectInvalid('pack.json', 'not valid JSON');
  });

  it('refuses an unknown resize mode', async () => {
    await editManifest((m) => {
      m.semantic.image.preprocess.resize = 'stretch';
    });
    await expectInvalid('pack.json', 'semantic.image.preprocess.resize');
  });

  it('refuses a manifest missing a field', async () => {
    await editManifest((m) => {
      delete m.style.text.maxTokens;
    });
    await expectInvalid('style.text.maxTokens');
  });

  it('names the model whose declared input does not exist', async () => {
    await editManifest((m) => {
      m.semantic.image.input = 'pixel_values';
    });
    await expectInvalid('semantic_image.onnx', '"pixel_values"', 'pixels');
  });

  it('names the model whose declared text input does not exist', async () => {
    await editManifest((m) => {
      m.style.text.inputs.mask = 'attention_mask';
    });
    await expectInvalid('style_text.onnx', '"attention_mask"');
  });

  it('names the model whose declared output does not exist', async () => {
    await editManifest((m) => {
      m.style.image.output = 'embedding';
    });
    await expectInvalid('style_image.onnx', 'no output "embedding"');
  });

  it('names the model whose output dimension disagrees with the declared dim', async () => {
    await editManifest((m) => {
      m.style.dim = 17;
    });
    await expectInvalid('style_image.onnx', 'style.dim = 17', '[1, 16]');
  });

  it('refuses a file onnxruntime cannot load', async () => {
    await writeFile(path.join(pack.dir, 'semantic_text.onnx'), 'garbage');
    await expectInvalid('semantic_text.onnx', 'onnxruntime cannot load it');
  });

  it('refuses a declared image size the model cannot take', async () => {
    await editManifest((m) => {
      m.semantic.image.preprocess.size = 40;
    });
    await expectInvalid('semantic_image.onnx', 'probe failed', 'pixels');
  });

  it('names a tokenizer that is not JSON', async () => {
    await writeFile(path.join(pack.dir, 'tokenizer.json'), 'nope');
    await expectInvalid('tokenizer.json');
  });

  it('keeps the parasol block for the generator', async () => {
    const parasol = { unet: 'unet.onnx', latent: [4, 16, 16] };
    await editManifest((m) => {
      m.parasol = parasol;
    });
    const { manifest } = await readPack(pack.dir);
    expect(manifest.parasol).toEqual(parasol);
    const plain = await readPack(TINY_PACK);
    expect(plain.manifest.parasol).toBeUndefined();
  });
});
