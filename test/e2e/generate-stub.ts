/**
 * Switches in front of the real app for the generation routes, to show the Generate panel the
 * answers it must handle that a healthy test server never gives: `absent` answers 404
 * ROUTE_NOT_FOUND as a server without the generate routes does; `busy` answers POST /v1/generate
 * with 429 QUEUE_FULL and a Retry-After, as a full queue does. `real` passes everything through.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type GenerateMode = 'real' | 'absent' | 'busy';

function isGenerateRoute(url: string): boolean {
  const path = url.split('?')[0];
  return path === '/v1/generate' || path.startsWith('/v1/generate/') || path.startsWith('/v1/jobs/');
}

/** Answers the request when the mode says so; false when the real app should. */
export function answerGenerateSwitch(mode: GenerateMode, req: IncomingMessage, res: ServerResponse): boolean {
  const url = req.url ?? '';
  if (mode === 'real' || !isGenerateRoute(url)) return false;
  if (mode === 'busy' && !(req.method === 'POST' && url.split('?')[0] === '/v1/generate')) return false;
  const [status, code, message, headers] =
    mode === 'absent'
      ? [404, 'ROUTE_NOT_FOUND', `No route ${req.method} ${url.split('?')[0]}`, {}]
      : [429, 'QUEUE_FULL', 'The generation queue is full; retry after 5 s', { 'retry-after': '5' }];
  req.resume();
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify({ error: { code, message } }));
  return true;
}
