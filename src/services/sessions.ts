/**
 * Refinement sessions: start from a search, then step (like/unlike/weights/set), undo, go back,
 * and page through the current results. Each state-changing call answers with the session's
 * summary and the first page of its new results, so a client needs one round trip per step.
 */
import { createError } from '../errors.js';
import type { SearchResponse } from '../search/engine.js';
import type { SearchRequestInput } from '../search/query.js';
import { summarizeSession, type RefineSession, type RefineSessions, type RefineSessionSummary, type RefineStepInput, type SessionSearchOptions } from '../search/refine.js';

export { refineStepSchema, type RefineSessionSummary, type RefineStepInput, type SessionSearchOptions } from '../search/refine.js';

/** The first page after a change: no cursor (a cursor from before the change would not fit the new state). */
export type FirstPageOptions = Omit<SessionSearchOptions, 'cursor'>;

export interface SessionPage {
  session: RefineSessionSummary;
  page: SearchResponse;
}

export class SessionService {
  constructor(private readonly sessions: RefineSessions) {}

  async create(request: SearchRequestInput, first: FirstPageOptions = {}): Promise<SessionPage> {
    return this.withFirstPage(await this.sessions.create(request), first);
  }

  async get(id: string): Promise<RefineSessionSummary> {
    return summarizeSession(await this.sessions.get(id));
  }

  async step(id: string, step: RefineStepInput, first: FirstPageOptions = {}): Promise<SessionPage> {
    return this.withFirstPage(await this.sessions.step(id, step), first);
  }

  async undo(id: string, first: FirstPageOptions = {}): Promise<SessionPage> {
    return this.withFirstPage(await this.sessions.undo(id), first);
  }

  async back(id: string, step: number, first: FirstPageOptions = {}): Promise<SessionPage> {
    return this.withFirstPage(await this.sessions.back(id, step), first);
  }

  /** A page of the session's current results. */
  results(id: string, options: SessionSearchOptions = {}): Promise<SearchResponse> {
    return this.sessions.search(id, options);
  }

  /** SESSION_NOT_FOUND when there is no such session. */
  async delete(id: string): Promise<void> {
    if (!(await this.sessions.delete(id))) throw createError('SESSION_NOT_FOUND', id);
  }

  private async withFirstPage(session: RefineSession, first: FirstPageOptions): Promise<SessionPage> {
    const page = await this.sessions.search(session.id, first);
    return { session: summarizeSession(session), page };
  }
}
