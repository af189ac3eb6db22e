/**
 * The weights-free style descriptor measured on the mini pack against its trained style tower
 * (README "Use a real model"): renders the images the projection is fitted on — the demo corpus's
 * TRAINING sets only, so nothing of the three held-out sets is seen — into a folder.
 *
 *   node dist/bench/style-statistics.js <folder> [count]
 *
 * bench/style-statistics.sh runs the whole measurement with one command.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildCorpus, iconOf } from '../corpus/corpus.js';
import { renderIcon } from '../corpus/render.js';
import { HELD_OUT_SETS } from '../corpus/sets.js';

async function main(): Promise<void> {
  const [folder, countArg] = process.argv.slice(2);
  if (!folder) throw new Error('usage: node dist/bench/style-statistics.js <folder> [count]');
  const count = Number(countArg ?? 5000);
  const corpus = buildCorpus();
  const training = corpus.items.filter((item) => !HELD_OUT_SETS.has(item.set)).sort((a, b) => a.id.localeCompare(b.id));
  // Evenly spread over the sorted training items: every set and every kind of content.
  const chosen = Array.from({ length: Math.min(count, training.length) }, (_, i) => training[Math.floor((i * training.length) / Math.min(count, training.length))]);
  await mkdir(folder, { recursive: true });
  for (const item of chosen) {
    const { set, icon } = iconOf(corpus, item);
    await writeFile(path.join(folder, `${item.id.replace(/[^a-z0-9_-]/gi, '_')}.png`), await renderIcon(set, icon, 64));
  }
  process.stderr.write(`rendered ${chosen.length} training-set images (of ${training.length}) into ${folder}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
