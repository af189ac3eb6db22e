/** `parasol search`: one search through the engine, as lines or JSON. */
import { integer, parse, UsageError } from './args.js';
import { configFor, withContext, type CliCommand } from './command.js';

export const searchCommand: CliCommand = {
  name: 'search',
  usage: '  search [--q TEXT] [--style TEXT] [--item ID] [--k N] [--json]',
  async run(args) {
    const { values } = parse(args, {
      q: { type: 'string' },
      style: { type: 'string' },
      item: { type: 'string' },
      k: { type: 'string' },
      source: { type: 'string' },
    });
    const k = integer(values.k, 'k');
    if (!values.q && !values.style && !values.item) throw new UsageError('search needs --q, --style or --item');
    const config = configFor(values.data);
    const response = await withContext(config, ({ services }) =>
      services.search.search({
        q: values.q,
        style: values.style,
        contentItemId: values.item,
        styleItemId: values.item,
        k,
        filters: values.source ? { sources: values.source.split(',') } : undefined,
      }),
    );
    if (values.json) {
      const results = response.results.map((r) => ({ id: r.id, title: r.title, source: r.source, score: r.score, scores: r.scores }));
      process.stdout.write(`${JSON.stringify({ results })}\n`);
      return;
    }
    for (const r of response.results) {
      const content = r.scores.content === null ? '     -' : r.scores.content.toFixed(3);
      const style = r.scores.style === null ? '     -' : r.scores.style.toFixed(3);
      process.stdout.write(`${r.score.toFixed(3)}  content ${content}  style ${style}  ${r.id}  ${r.title}  [${r.source}]\n`);
    }
  },
};
