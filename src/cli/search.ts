/** `parasol search`: one search through the engine, as lines or JSON. */
import { integer, number, parse, UsageError } from './args.js';
import { configFor, withContext, type CliCommand } from './command.js';

export const searchCommand: CliCommand = {
  name: 'search',
  usage: '  search [--q TEXT] [--style TEXT] [--item ID] [--k N] [--source A,B] [--w-content W] [--w-style W] [--w-text W] [--json]',
  async run(args) {
    const { values } = parse(args, {
      q: { type: 'string' },
      style: { type: 'string' },
      item: { type: 'string' },
      k: { type: 'string' },
      source: { type: 'string' },
      'w-content': { type: 'string' },
      'w-style': { type: 'string' },
      'w-text': { type: 'string' },
    });
    const k = integer(values.k, 'k');
    // Each signal's weight (default 1); --w-text 0 leaves the catalogue's words out.
    const given = { content: number(values['w-content'], 'w-content'), style: number(values['w-style'], 'w-style'), text: number(values['w-text'], 'w-text') };
    const weights = Object.fromEntries(Object.entries(given).filter(([, w]) => w !== undefined));
    if (!values.q && !values.style && !values.item) throw new UsageError('search needs --q, --style or --item');
    const config = configFor(values.data);
    const response = await withContext(config, ({ services }) =>
      services.search.search({
        q: values.q,
        style: values.style,
        contentItemId: values.item,
        styleItemId: values.item,
        k,
        ...(Object.keys(weights).length > 0 ? { weights } : {}),
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
      const text = r.scores.text === null ? '     -' : r.scores.text.toFixed(3);
      process.stdout.write(`${r.score.toFixed(3)}  content ${content}  style ${style}  words ${text}  ${r.id}  ${r.title}  [${r.source}]\n`);
    }
  },
};
