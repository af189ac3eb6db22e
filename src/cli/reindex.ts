/** `parasol reindex`: rebuild the vector indices from the catalog. */
import { parse } from './args.js';
import { configFor, withContext, type CliCommand } from './command.js';

export const reindexCommand: CliCommand = {
  name: 'reindex',
  usage: '  reindex [--data DIR]                                    rebuild the vector indices from the catalog',
  async run(args) {
    const { values } = parse(args, {});
    const config = configFor(values.data);
    await withContext(config, async ({ services }) => {
      const started = Date.now();
      await services.admin.reindex(({ done, total }) => {
        if (done === total || done % 5000 < 512) process.stderr.write(`reindex ${done}/${total}\n`);
      });
      process.stderr.write(`reindexed in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    });
  },
};
