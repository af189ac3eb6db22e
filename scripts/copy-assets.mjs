// Copies the non-TypeScript files the compiled server reads beside its modules into dist/.
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const assets = ['src/api/openapi.yaml'];

for (const asset of assets) {
  const target = path.join(root, 'dist', asset);
  mkdirSync(path.dirname(target), { recursive: true });
  copyFileSync(path.join(root, asset), target);
}
