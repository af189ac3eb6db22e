/** `parasol eval retrieval | generation`: the held-out metrics, as a report or JSON. */
import { integer, parse, UsageError } from './args.js';
import { configFor, withContext, type CliCommand } from './command.js';
import { COLOUR_METHODS, type ColourMethod } from '../parasol/palette.js';

const isColourMethod = (value: string): value is ColourMethod => (COLOUR_METHODS as readonly string[]).includes(value);

async function generation(args: string[]): Promise<void> {
  const { values } = parse(args, {
    pack: { type: 'string' },
    pairs: { type: 'string' },
    steps: { type: 'string' },
    out: { type: 'string' },
    recognise: { type: 'string' },
    baseline: { type: 'string' },
    colour: { type: 'string' },
  });
  const pairs = integer(values.pairs, 'pairs') ?? 16;
  if (pairs < 1 || pairs > 256) throw new UsageError(`--pairs must be between 1 and 256, got ${pairs}`);
  const steps = integer(values.steps, 'steps');
  if (steps !== undefined && steps < 1) throw new UsageError(`--steps must be at least 1, got ${steps}`);
  const recognise = integer(values.recognise, 'recognise') ?? 100;
  if (recognise < 0 || recognise > 1000) throw new UsageError(`--recognise must be between 0 and 1000, got ${recognise}`);
  if (values.baseline !== undefined && recognise === 0) throw new UsageError('--baseline compares recognisability: it needs --recognise above 0');
  const colour = values.colour ?? 'on';
  if (colour !== 'on' && colour !== 'off' && !isColourMethod(colour)) {
    throw new UsageError(`--colour must be on, off, palette or moments, got "${colour}"`);
  }
  const { evaluateGeneration, formatGenerationReport } = await import('../eval/generation.js');
  const { compareGeneration, readBaselineReport } = await import('../eval/generation-compare.js');
  // Read before the long run, so a bad file fails at once.
  const baseline = values.baseline === undefined ? undefined : readBaselineReport(values.baseline);
  const config = configFor(values.data, values.pack ? { packDir: values.pack } : {});
  const options = {
    pairs,
    steps,
    out: values.out,
    progress: !values.json,
    colour: colour !== 'off',
    ...(isColourMethod(colour) ? { colourMethod: colour } : {}),
  };
  // Recognisability is judged through the data dir's index (the demo index, built by `parasol index --demo`).
  const report =
    recognise === 0
      ? await evaluateGeneration(config, options)
      : await withContext(config, async (context) => {
          if ((await context.store.catalog.stats()).items === 0) {
            throw new UsageError(`the index in ${config.dataDir} is empty: build the demo index first (parasol index --demo), or pass --recognise 0`);
          }
          return evaluateGeneration(config, { ...options, index: context.store, recognitionPairs: recognise });
        });
  if (baseline) report.comparison = compareGeneration(report, baseline, values.baseline!);
  process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : formatGenerationReport(report));
}

async function retrieval(args: string[]): Promise<void> {
  const { values } = parse(args, { pack: { type: 'string' }, sample: { type: 'string' } });
  const sample = values.sample === undefined ? 1 : Number(values.sample);
  if (!(sample > 0 && sample <= 1)) throw new UsageError(`--sample must be in (0, 1], got "${values.sample}"`);
  const { evaluateRetrieval, formatRetrievalReport } = await import('../eval/retrieval.js');
  const config = configFor(values.data, values.pack ? { packDir: values.pack } : {});
  const report = await evaluateRetrieval(config, { progress: !values.json, sample });
  process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : formatRetrievalReport(report));
}

export const evalCommand: CliCommand = {
  name: 'eval',
  usage:
    '  eval retrieval [--json] [--sample F] [--pack DIR]       held-out retrieval metrics through the engine\n' +
    '  eval generation [--json] [--pairs N] [--steps N] [--out DIR] [--pack DIR] [--recognise N] [--baseline FILE]\n' +
    '                  [--colour on|off|palette|moments]\n' +
    '                                                          generation sweeps (λ, g_s, g_y) and ablations; plot + examples;\n' +
    '                                                          recognisability of N held-out pairs through the demo index (0: skip);\n' +
    '                                                          --baseline: an earlier --json report beside it (ratios, targets);\n' +
    '                                                          --colour off: the defaults without colour transfer (the UNet alone);\n' +
    '                                                          palette | moments: that method (on: the default, palette)',
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === 'generation') return generation(rest);
    if (sub !== 'retrieval') throw new UsageError('usage: parasol eval retrieval|generation [--json]');
    return retrieval(rest);
  },
};
