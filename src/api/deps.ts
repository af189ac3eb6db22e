/** What createApp receives: the services, plus what only the HTTP side needs. Each route factory takes the part it uses. */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { ParasolServices } from '../services/index.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  services: ParasolServices;
  /** False while the process is still starting or already stopping; /readyz reports it. */
  ready?: () => boolean;
  /** The built web app to serve at `/` (absent: `/` points at the API description). */
  webDir?: string;
  /** A demo index being built while the server answers (null: none); /v1/stats reports it. */
  indexing?: () => DemoIndexing | null;
  /** The clock for rate limits, daily quotas and key timestamps (tests inject one; default Date.now). */
  now?: () => number;
}

export interface DemoIndexing {
  done: number;
  total: number;
  finished: boolean;
}
