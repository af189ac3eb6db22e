/** One raw HTTP exchange over node:http (no URL normalisation, so `../` and bad escapes go out as written). */
import http from 'node:http';

export interface Exchange {
  status: number;
  /** Transport failure (reset, timeout) instead of a response; `status` is 0 then. */
  error?: string;
  ms: number;
  body: string;
}

export function send(
  agent: http.Agent,
  base: URL,
  method: string,
  target: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  timeoutMs = 30_000,
): Promise<Exchange> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: Omit<Exchange, 'ms'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...result, ms: performance.now() - started });
    };
    let req: http.ClientRequest;
    try {
      req = http.request({
        agent,
        host: base.hostname,
        port: base.port,
        method,
        path: target,
        headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        timeout: timeoutMs,
      });
    } catch (error) {
      done({ status: 0, error: `client refused: ${(error as Error).message}`, body: '' });
      return;
    }
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < 65_536) chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, 65_536) }));
      res.on('error', (error) => done({ status: res.statusCode ?? 0, error: error.message, body: '' }));
    });
    req.on('timeout', () => {
      req.destroy(new Error('timeout'));
    });
    req.on('error', (error: NodeJS.ErrnoException) => done({ status: 0, error: error.code ?? error.message, body: '' }));
    req.end(body);
  });
}
