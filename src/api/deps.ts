/** What every route factory receives: the opened context plus what the app builds once for all routes. */
import type { ParasolContext } from '../context.js';
import type { ThumbnailService } from './thumbnails.js';

export interface AppDeps {
  context: ParasolContext;
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

export interface RouteDeps extends AppDeps {
  thumbnails: ThumbnailService;
}
