/**
 * `parasol pack import` spawns the Python exporter and turns its refusal into one line;
 * `parasol pack check` loads a pack through src/encoders and prints what it measured.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { packCommand } from '../../src/cli/pack.js';
import { PYTHON, ROOT } from '../export/python.js';

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

function captureStdout(): () => string {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  });
  return () => out;
}

describe('parasol pack import', () => {
  it("passes the exporter's one-line refusal on, and leaves no pack", async () => {
    vi.stubEnv('PARASOL_PYTHON', PYTHON);
    const dir = await mkdtemp(path.join(tmpdir(), 'parasol-pack-cli-'));
    try {
      const error = await packCommand.run(['import', 'hf-clip', path.join(dir, 'no-such-folder'), '--out', path.join(dir, 'pack')]).then(
        () => undefined,
        (e: unknown) => e as Error & { code?: string },
      );
      expect(error?.code).toBe('BAD_REQUEST');
      expect(error?.message).toMatch(/no-such-folder\/config\.json: missing$/);
      expect(error?.message).not.toContain('\n');
      const { readdir } = await import('node:fs/promises');
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('says how to fix a missing Python', async () => {
    vi.stubEnv('PARASOL_PYTHON', path.join(tmpdir(), 'no-such-python'));
    await expect(packCommand.run(['import', 'hf-clip', 'x', '--out', 'y'])).rejects.toThrow(/cannot run .*no-such-python.*set PARASOL_PYTHON/);
  });
});

describe('parasol pack check', () => {
  it('loads every model and prints dimensions, precision and timings', async () => {
    const stdout = captureStdout();
    await packCommand.run(['check', path.join(ROOT, 'test/fixtures/tiny-pack'), '--device', 'cpu', '--runs', '1', '--json']);
    const report = JSON.parse(stdout()) as Record<string, unknown> & {
      semantic: { dim: number; imageMs: number; textMs: number };
      style: { dim: number; imageMs: number; textMs: number | null };
    };
    expect(report).toMatchObject({ precision: 'fp32', provider: 'cpu' });
    expect(report.semantic.dim).toBeGreaterThan(0);
    for (const ms of [report.semantic.imageMs, report.semantic.textMs, report.style.imageMs, report.style.textMs]) {
      expect(ms).toBeGreaterThan(0);
    }
  });

  it('refuses a folder that is not a pack, in one line', async () => {
    await expect(packCommand.run(['check', path.join(ROOT, 'test')])).rejects.toThrow(/pack\.json: cannot be read/);
  });
});

describe('parasol pack fit-text-style', () => {
  it('refuses a pack that has a text-to-style model, and a data directory that does not exist (creating nothing)', async () => {
    const tinyPack = path.join(ROOT, 'test/fixtures/tiny-pack');
    const missing = path.join(tmpdir(), `parasol-no-such-data-${process.pid}`);
    await expect(packCommand.run(['fit-text-style', '--pack', tinyPack, '--data', missing])).rejects.toThrow(
      /already has a text-to-style model \(style\.text: style_text\.onnx\)/,
    );
    const { cp, readFile, writeFile } = await import('node:fs/promises');
    const { existsSync } = await import('node:fs');
    const dir = await mkdtemp(path.join(tmpdir(), 'parasol-fit-'));
    try {
      await cp(tinyPack, dir, { recursive: true });
      const manifest = JSON.parse(await readFile(path.join(dir, 'pack.json'), 'utf8')) as { style: Record<string, unknown> };
      delete manifest.style.text;
      await writeFile(path.join(dir, 'pack.json'), JSON.stringify(manifest));
      await expect(packCommand.run(['fit-text-style', '--pack', dir, '--data', missing])).rejects.toThrow(/no such data directory/);
      expect(existsSync(missing)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
