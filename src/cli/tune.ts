/** `parasol tune`: choose the search breadth per modality and query kind from real queries, and store it. */
import { readFile } from 'node:fs/promises';
import { Progress } from '../progress.js';
import type { Modality, QueryKind, SearchTuning, TuneProgress, TuneReport } from '../services/tune.js';
import { integer, noPositionals, number, parse, UsageError } from './args.js';
import { configFor, stoppableBatches, withContext, type CliCommand } from './command.js';

const MODALITY_NAMES: Record<string, Modality[]> = { content: ['semantic'], style: ['style'], both: ['semantic', 'style'] };
const KIND_NAMES: Record<string, QueryKind[]> = { image: ['image'], text: ['text'], both: ['image', 'text'] };

export const tuneCommand: CliCommand = {
  name: 'tune',
  usage:
    '  tune [--data DIR] [--target 0.98] [--queries 200] [--ladder 16,32,…,2048] [--modality content|style|both]\n' +
    '       [--kind image|text|both] [--texts FILE] [--seed N] [--dry-run] [--json]   choose efSearch per modality and query kind\n' +
    '  tune --show | --reset [--data DIR] [--json]             print or remove the stored tuning',
  async run(args) {
    const { values, positionals } = parse(args, {
      target: { type: 'string' },
      queries: { type: 'string' },
      ladder: { type: 'string' },
      modality: { type: 'string' },
      kind: { type: 'string' },
      texts: { type: 'string' },
      seed: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      show: { type: 'boolean', default: false },
      reset: { type: 'boolean', default: false },
    });
    noPositionals(positionals);
    const target = number(values.target, 'target');
    if (target !== undefined && !(target > 0 && target <= 1)) throw new UsageError(`--target must be in (0, 1], got "${values.target}"`);
    const queries = integer(values.queries, 'queries');
    if (queries !== undefined && !(queries >= 1 && queries <= 100_000)) throw new UsageError(`--queries must be from 1 to 100000, got "${values.queries}"`);
    const ladder = values.ladder === undefined ? undefined : parseLadder(values.ladder);
    const modalities = choice(values.modality, 'modality', MODALITY_NAMES);
    const kinds = choice(values.kind, 'kind', KIND_NAMES);
    const seed = integer(values.seed, 'seed');
    const measuring = [values.target, values.queries, values.ladder, values.modality, values.kind, values.texts, values.seed].some((v) => v !== undefined) || values['dry-run'];
    if (values.show && values.reset) throw new UsageError('--show and --reset do not go together');
    if ((values.show || values.reset) && measuring) throw new UsageError(`--${values.show ? 'show' : 'reset'} takes no tuning options`);
    if (values.texts !== undefined && kinds?.length === 1 && kinds[0] === 'image') throw new UsageError('--texts is a text-like sample: it needs --kind text or both');
    const texts = values.texts === undefined ? undefined : await readTexts(values.texts);

    const config = configFor(values.data);
    await withContext(config, async ({ services }) => {
      if (values.show) return printTuning(await services.tune.current(), values.json);
      if (values.reset) {
        await services.tune.reset();
        process.stderr.write('search tuning removed: every search uses the configured efSearch again\n');
        return;
      }
      const report = await stoppableBatches((shouldStop) =>
        services.tune.tune({ target, queries, ladder, modalities, kinds, texts, seed, dryRun: values['dry-run'], progress: progressLines(), shouldStop }),
      );
      printReport(report, values.json);
    });
  },
};

function parseLadder(text: string): number[] {
  const rungs = text.split(',').map((part) => part.trim());
  const ladder = rungs.map(Number);
  if (rungs.some((part) => part === '') || !ladder.every((ef) => Number.isInteger(ef) && ef >= 1 && ef <= 10_000)) {
    throw new UsageError(`--ladder takes comma-separated integers from 1 to 10000, got "${text}"`);
  }
  return ladder;
}

function choice<T>(value: string | undefined, name: string, table: Record<string, T>): T | undefined {
  if (value === undefined) return undefined;
  const chosen = table[value];
  if (chosen === undefined) throw new UsageError(`--${name} must be one of ${Object.keys(table).join(', ')}, got "${value}"`);
  return chosen;
}

async function readTexts(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new UsageError(`cannot read --texts ${file}`);
  }
  const lines = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line.length > 0);
  if (lines.length === 0) throw new UsageError(`--texts ${file} has no non-empty line`);
  return lines;
}

/** One progress line per phase on stderr: count, rate and ETA. */
function progressLines(): TuneProgress {
  let current: Progress | undefined;
  const finish = () => {
    if (current) process.stderr.write(`  ${current.finish()}\n`);
  };
  return {
    begin(_phase, label, total) {
      finish();
      current = new Progress(`  ${label}`, total, undefined, 2000);
    },
    tick(units) {
      current?.tick(units);
    },
  };
}

const MODALITY_LABEL: Record<Modality, string> = { semantic: 'content', style: 'style' };

function printReport(report: TuneReport, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
  for (const entry of json ? [] : report.measured) {
    process.stdout.write(`${MODALITY_LABEL[entry.modality]} / ${entry.kind}-like (${entry.queries} queries: ${entry.source})\n`);
    for (const point of entry.curve) {
      const mark = point.ef === entry.ef ? (entry.reached ? '  <- chosen' : '  <- chosen (target not reached)') : '';
      process.stdout.write(
        `  ef ${String(point.ef).padStart(5)}  recall@10 ${point.recallAt10.toFixed(3)}  min ${point.minRecallAt10.toFixed(2)}  p50 ${point.p50Ms.toFixed(3)} ms  p95 ${point.p95Ms.toFixed(3)} ms${mark}\n`,
      );
    }
  }
  const chosen = report.measured.map((e) => `${MODALITY_LABEL[e.modality]}/${e.kind} ${e.ef}${e.reached ? '' : ' (short of target)'}`).join(', ');
  const state = report.written ? 'stored' : report.measured.length === 0 ? 'nothing measured, nothing stored' : 'dry run: not stored';
  process.stderr.write(
    `${report.stopped ? 'interrupted; ' : ''}${report.tuning.knob} for recall@10 ≥ ${report.tuning.target}: ${chosen || 'none'} (${state})\n`,
  );
}

function printTuning(tuning: SearchTuning | null, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(tuning)}\n`);
    return;
  }
  if (!tuning) {
    process.stdout.write('untuned: every search uses the configured efSearch\n');
    return;
  }
  process.stdout.write(`tuned ${tuning.tunedAt} at ${tuning.items} items for recall@10 ≥ ${tuning.target} (${tuning.knob})\n`);
  for (const entry of tuning.entries) {
    const point = entry.curve.find((p) => p.ef === entry.ef);
    process.stdout.write(
      `  ${MODALITY_LABEL[entry.modality].padEnd(7)} ${entry.kind.padEnd(5)} ${String(entry.ef).padStart(5)}  recall@10 ${point?.recallAt10.toFixed(3) ?? '?'}  p50 ${point?.p50Ms.toFixed(3) ?? '?'} ms${entry.reached ? '' : '  (target not reached)'}\n`,
    );
  }
}
