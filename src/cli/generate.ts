/** `parasol generate`: one image now, outside the queue, from items, files or texts. */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createError } from '../errors.js';
import type { DirectSource } from '../services/generation.js';
import type { ItemService } from '../services/items.js';
import { integer, noPositionals, number, parse, UsageError } from './args.js';
import { configFor, withContext, type CliCommand } from './command.js';

/** A generate source on the command line: an existing file, else a catalog item id, else a text. */
async function cliSource(value: string, items: ItemService): Promise<DirectSource> {
  const info = await stat(value).catch(() => undefined);
  if (info?.isFile()) return { image: await items.checkImage(await readFile(value)) };
  if (info) throw new UsageError(`${value} is not a file`);
  if (value.length <= 200 && (await items.find(value))) return { itemId: value };
  if (value.trim() === '' || value.length > 500) throw new UsageError('a text source must have 1..500 characters');
  return { text: value };
}

export const generateCommand: CliCommand = {
  name: 'generate',
  usage:
    '  generate --content <itemId|file|text> --style <itemId|file|text> --out FILE\n' +
    '           [--lambda N] [--gs X] [--gy X] [--steps N] [--seed N] [--colour] [--json]\n' +
    '                                                          one image (an existing path is a file, a catalog id an item,\n' +
    '                                                          anything else a text); --colour turns on colour transfer',
  async run(args) {
    const { values, positionals } = parse(args, {
      content: { type: 'string' },
      style: { type: 'string' },
      out: { type: 'string' },
      lambda: { type: 'string' },
      gs: { type: 'string' },
      gy: { type: 'string' },
      steps: { type: 'string' },
      seed: { type: 'string' },
      colour: { type: 'boolean', default: false },
      pack: { type: 'string' },
    });
    noPositionals(positionals);
    const { content, style, out } = values;
    if (!content || !style || !out) throw new UsageError('generate needs --content, --style and --out FILE');
    const params = {
      lambda: integer(values.lambda, 'lambda'),
      gs: number(values.gs, 'gs'),
      gy: number(values.gy, 'gy'),
      steps: integer(values.steps, 'steps'),
      seed: integer(values.seed, 'seed'),
      colour: values.colour,
    };
    const config = configFor(values.data, values.pack ? { packDir: values.pack } : {});
    const started = Date.now();
    const result = await withContext(config, async ({ services: { generation, items } }) => {
      // Ctrl-C stops the sampler within one step.
      const controller = new AbortController();
      const onSignal = () => controller.abort(createError('BAD_REQUEST', 'interrupted'));
      process.once('SIGINT', onSignal);
      try {
        return await generation.generate(
          { params, content: () => cliSource(content, items), style: () => cliSource(style, items) },
          controller.signal,
        );
      } finally {
        process.off('SIGINT', onSignal);
      }
    });
    await writeFile(out, result.png);
    const seconds = (Date.now() - started) / 1000;
    if (values.json) process.stdout.write(`${JSON.stringify({ out, seconds, params: result.params })}\n`);
    else process.stderr.write(`wrote ${out} (seed ${result.params.seed}, ${result.params.steps} steps) in ${seconds.toFixed(1)} s\n`);
  },
};
