/** The corpus exports' file steps: resumable (a non-empty file counts as done) and atomic (written, then renamed). */
import { rename, stat, writeFile } from 'node:fs/promises';

export async function exists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).size > 0;
  } catch {
    return false;
  }
}

export async function writeAtomic(file: string, data: Buffer | string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}
