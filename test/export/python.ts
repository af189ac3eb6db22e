/**
 * The Python that runs models/export: PARASOL_PYTHON, else the environment `npm test` creates
 * (.venv-export, scripts/python-env.sh), else `python3`. The export tests need it
 * with models/export/requirements.txt installed; they fail (never skip) when it is not.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const EXPORT_DIR = path.join(ROOT, 'models/export');
const VENV_PYTHON = path.join(ROOT, '.venv-export/bin/python');
export const PYTHON = process.env.PARASOL_PYTHON ?? (existsSync(VENV_PYTHON) ? VENV_PYTHON : 'python3');

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runPython(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, { cwd: options.cwd ?? EXPORT_DIR, env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Builds the tiny imported packs once (see models/export/tests/check_export.py) or throws with why. */
export async function buildTinyPacks(work: string): Promise<void> {
  const result = await runPython([path.join(EXPORT_DIR, 'tests/check_export.py'), work]);
  if (result.code !== 0) {
    const tail = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(
      `models/export/tests/check_export.py failed (exit ${result.code}) with ${PYTHON}; install the exporter's ` +
        `environment: pip install --no-deps -r models/export/requirements.txt (see the README), or set PARASOL_PYTHON.\n${tail}`,
    );
  }
}
