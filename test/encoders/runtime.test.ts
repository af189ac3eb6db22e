import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadEncoders } from '../../src/encoders/index.js';
import type { Logger } from '../../src/log.js';
import { createSessionFactory, DEVICES, parseDevice } from '../../src/encoders/runtime.js';
import { rejectionOf, TINY_PACK } from './helpers.js';

function recordingLogger() {
  const lines: Array<{ level: 'info' | 'warn' | 'error'; message: string; details?: Record<string, unknown> }> = [];
  const logger: Logger = {
    info: (message, details) => lines.push({ level: 'info', message, details }),
    warn: (message, details) => lines.push({ level: 'warn', message, details }),
    error: (message, details) => lines.push({ level: 'error', message, details }),
  };
  return { logger, lines };
}

const MODEL = path.join(TINY_PACK, 'semantic_text.onnx');

describe('devices', () => {
  it('knows auto, cpu and cuda and refuses anything else by name', () => {
    expect(DEVICES).toEqual(['auto', 'cpu', 'cuda']);
    for (const device of DEVICES) expect(parseDevice(device)).toBe(device);
    expect(() => parseDevice('tpu')).toThrow('Unsupported device: "tpu". Should be one of: auto, cpu, cuda');
    expect(() => createSessionFactory({ device: 'gpu' })).toThrow(/Unsupported device: "gpu"/);
  });

  it('cpu runs on the CPU and says so once', async () => {
    const { logger, lines } = recordingLogger();
    const encoders = await loadEncoders({ packDir: TINY_PACK, device: 'cpu', logger });
    expect(encoders.provider).toBe('cpu');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', message: expect.stringContaining('cpu') });
    await encoders.dispose();
  });

  it('auto falls back to the CPU when CUDA is missing, and says so once', async () => {
    const { logger, lines } = recordingLogger();
    const encoders = await loadEncoders({ packDir: TINY_PACK, device: 'auto', logger });
    try {
      const [v] = await encoders.semanticText.embedTexts(['a cat']);
      expect(v.length).toBe(32);
      expect(lines).toHaveLength(1);
      if (encoders.provider === 'cpu') {
        expect(lines[0]).toMatchObject({ level: 'warn', message: expect.stringContaining('running on cpu') });
        expect(String(lines[0].details?.reason)).not.toHaveLength(0);
      } else {
        expect(lines[0]).toMatchObject({ level: 'info', message: expect.stringContaining('cuda') });
      }
    } finally {
      await encoders.dispose();
    }
  });

  it('cuda fails clearly when CUDA is unavailable', async () => {
    const auto = await loadEncoders({ packDir: TINY_PACK, device: 'auto' });
    const hasCuda = auto.provider === 'cuda';
    await auto.dispose();
    if (hasCuda) {
      const encoders = await loadEncoders({ packDir: TINY_PACK, device: 'cuda' });
      expect(encoders.provider).toBe('cuda');
      await encoders.dispose();
      return;
    }
    const error = await rejectionOf(loadEncoders({ packDir: TINY_PACK, device: 'cuda' }), 'DEVICE_UNAVAILABLE');
    expect(error.message).toMatch(/CUDA/);
    expect(error.message).toMatch(/PARASOL_DEVICE=auto or cpu/);
    expect(error.message).not.toContain('\u001b'); // no native log noise
  });
});

describe('session factory', () => {
  it('creates each session lazily, once, and shares it', async () => {
    const factory = createSessionFactory({ device: 'cpu', threads: 1 });
    expect(factory.provider).toBeUndefined();
    const [a, b] = await Promise.all([factory.session(MODEL), factory.session(MODEL)]);
    expect(a).toBe(b);
    expect(await factory.session(MODEL)).toBe(a);
    expect(factory.provider).toBe('cpu');
    expect(a.inputNames).toEqual(['input_ids', 'attention_mask']);
    await factory.dispose();
  });

  it('dispose releases every session and refuses new ones', async () => {
    const factory = createSessionFactory({ device: 'cpu' });
    const text = await factory.session(MODEL);
    const image = await factory.session(path.join(TINY_PACK, 'style_image.onnx'));
    const releases = [vi.spyOn(text, 'release'), vi.spyOn(image, 'release')];
    await factory.dispose();
    for (const release of releases) expect(release).toHaveBeenCalledTimes(1);
    await rejectionOf(factory.session(MODEL), 'NOT_READY');
    await factory.dispose(); // idempotent
    for (const release of releases) expect(release).toHaveBeenCalledTimes(1);
  });

  it('does not cache a failed creation', async () => {
    const factory = createSessionFactory({ device: 'cpu' });
    const missing = path.join(TINY_PACK, 'nope.onnx');
    await expect(factory.session(missing)).rejects.toThrow();
    await expect(factory.session(missing)).rejects.toThrow();
    await factory.dispose();
  });

  it('refuses a nonsensical thread count', () => {
    expect(() => createSessionFactory({ threads: -2 })).toThrow(/threads/);
  });
});

describe('loading a pack that fails', () => {
  it('releases the sessions it had opened', async () => {
    await rejectionOf(loadEncoders({ packDir: path.join(TINY_PACK, 'images') }), 'MODEL_PACK_INVALID');
  });
});

describe('provider decision', () => {
  it('is made once even when sessions are requested concurrently', async () => {
    const { logger, lines } = recordingLogger();
    const factory = createSessionFactory({ device: 'auto', logger });
    await Promise.all(
      ['semantic_text.onnx', 'style_text.onnx', 'semantic_image.onnx', 'style_image.onnx'].map((file) =>
        factory.session(path.join(TINY_PACK, file)),
      ),
    );
    expect(lines).toHaveLength(1);
    await factory.dispose();
  });
});
