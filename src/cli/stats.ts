/** `parasol stats`: the pack, the backend, the catalog's counts and the indices' sizes. */
import { parse } from './args.js';
import { configFor, withContext, type CliCommand } from './command.js';

export const statsCommand: CliCommand = {
  name: 'stats',
  usage: '  stats [--data DIR] [--json]',
  async run(args) {
    const { values } = parse(args, {});
    const config = configFor(values.data);
    const stats = await withContext(config, async ({ services }) => {
      const { pack, provider, backend, catalog, indices } = await services.admin.stats();
      return { pack, provider, backend, ...catalog, indexed: indices };
    });
    process.stdout.write(`${JSON.stringify(stats, null, values.json ? 0 : 2)}\n`);
  },
};
