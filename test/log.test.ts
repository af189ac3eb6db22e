import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { jsonLogger } from '../src/log.js';

describe('jsonLogger', () => {
  it('writes one JSON object per line with level, time, message and fields', async () => {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
    const logger = jsonLogger(stream);
    logger.info('request', { requestId: 'r-1', route: '/v1/search', status: 200, ms: 3.2 });
    logger.error('boom');
    await new Promise((resolve) => setImmediate(resolve));
    const lines = chunks.join('').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'request', requestId: 'r-1', route: '/v1/search', status: 200 });
    expect(Number.isNaN(Date.parse(String(lines[0].time)))).toBe(false);
    expect(lines[1]).toMatchObject({ level: 'error', msg: 'boom' });
  });
});
