/** `parasol serve`: the HTTP API and the web app (the demo index is built on a first start). */
import { integer, parse } from './args.js';
import { configFor, type CliCommand } from './command.js';

export const serveCommand: CliCommand = {
  name: 'serve',
  usage:
    '  serve [--data DIR] [--port N] [--host H] [--no-demo] [--open]\n' +
    '                                                          start the HTTP API and web app (--open: allow a\n' +
    '                                                          non-loopback --host with no API keys)',
  async run(args) {
    const { values } = parse(args, {
      port: { type: 'string' },
      host: { type: 'string' },
      'no-demo': { type: 'boolean', default: false },
      open: { type: 'boolean', default: false },
    });
    const port = integer(values.port, 'port');
    const config = configFor(values.data, {
      server: { ...(port !== undefined ? { port } : {}), ...(values.host ? { host: values.host } : {}) },
      ...(values.open ? { auth: { allowOpen: true } } : {}),
    });
    const { startServer } = await import('../api/server.js');
    await startServer(config, { demo: !values['no-demo'] });
  },
};
