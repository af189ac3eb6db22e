/**
 * `node dist/bench/render-sheets.js [--size 64] [--limit N] [--out FILE]`: the proof and the price
 * of drawing demo icons several to a sheet (corpus/render.ts). Every sheet-safe icon of the demo
 * corpus (in ingestion's order, the first N if given) is rendered alone (renderIconPixels) and in
 * sheets (renderSheetPixels), interleaved a batch at a time; the report counts the icons whose
 * pixels differ (a content hash would change: must be 0) and each way's CPU ms per icon.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildCorpus, iconOf } from '../corpus/corpus.js';
import { ICONS_PER_SHEET, renderIconPixels, renderSheetPixels, sheetSafe } from '../corpus/render.js';
import type { IconifyIcon, IconifySet } from '../corpus/sets.js';
import { demoOrder } from '../indexer/sources/demo.js';
import { machineFacts } from './machine.js';
import { round } from './stats.js';

const BATCH = 64;

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { size: { type: 'string' }, limit: { type: 'string' }, out: { type: 'string' } } });
  const size = Number(values.size ?? 64);
  const corpus = buildCorpus();
  const ordered = demoOrder(corpus.items);
  const items = values.limit ? ordered.slice(0, Number(values.limit)) : ordered;
  const icons: Array<{ id: string; set: IconifySet; icon: IconifyIcon }> = [];
  for (const item of items) {
    const { set, icon } = iconOf(corpus, item);
    if (sheetSafe(icon)) icons.push({ id: item.id, set, icon });
  }
  const loadStart = os.loadavg();
  let aloneMs = 0;
  let sheetMs = 0;
  const differing: string[] = [];
  for (let at = 0; at < icons.length; at += BATCH) {
    const batch = icons.slice(at, at + BATCH);
    let t = cpuMs();
    const alone = await Promise.all(batch.map(({ set, icon }) => renderIconPixels(set, icon, size)));
    aloneMs += cpuMs() - t;
    t = cpuMs();
    const sheets: Array<typeof batch> = [];
    for (let i = 0; i < batch.length; i += ICONS_PER_SHEET) sheets.push(batch.slice(i, i + ICONS_PER_SHEET));
    const sliced = (await Promise.all(sheets.map((sheet) => renderSheetPixels(sheet, size)))).flat();
    sheetMs += cpuMs() - t;
    batch.forEach((icon, i) => {
      if (!alone[i].pixels.equals(sliced[i].pixels)) differing.push(icon.id);
    });
    if ((at / BATCH) % 50 === 0) process.stderr.write(`  ${at + batch.length}/${icons.length} icons, ${differing.length} differ\n`);
  }
  const report = {
    createdAt: new Date().toISOString(),
    command: `node dist/bench/render-sheets.js ${process.argv.slice(2).join(' ')}`.trim(),
    machine: { ...machineFacts(), loadAverageStart: loadStart, loadAverageEnd: os.loadavg() },
    size,
    iconsPerSheet: ICONS_PER_SHEET,
    corpusItems: items.length,
    sheetSafeIcons: icons.length,
    differingIcons: differing.length,
    differing: differing.slice(0, 100),
    aloneCpuMsPerIcon: round(aloneMs / icons.length, 3),
    sheetCpuMsPerIcon: round(sheetMs / icons.length, 3),
  };
  const text = `${JSON.stringify(report, null, 2)}\n`;
  if (values.out) await writeFile(resolve(values.out), text);
  process.stdout.write(text);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
