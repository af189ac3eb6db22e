/**
 * The OpenAPI contract, read from the openapi.yaml beside this module (the build copies it next
 * to the compiled file, so the same relative path works from src/ and dist/).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const OPENAPI_PATH = fileURLToPath(new URL('./openapi.yaml', import.meta.url));

let cached: Promise<string> | undefined;

export function openApiDocument(): Promise<string> {
  cached ??= readFile(OPENAPI_PATH, 'utf8').catch((error: unknown) => {
    cached = undefined; // let a later request retry rather than caching the failure
    throw error;
  });
  return cached;
}
