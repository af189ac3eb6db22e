/** Everything a user can do, once: the HTTP routes and the CLI commands both call these. */
import type { AdminService } from './admin.js';
import type { GenerationService } from './generation.js';
import type { ItemService } from './items.js';
import type { KeyService } from './keys.js';
import type { SearchService } from './search.js';
import type { SessionService } from './sessions.js';
import type { TuneService } from './tune.js';

export interface ParasolServices {
  items: ItemService;
  search: SearchService;
  sessions: SessionService;
  generation: GenerationService;
  keys: KeyService;
  admin: AdminService;
  tune: TuneService;
}
