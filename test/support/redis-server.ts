/**
 * A throwaway redis-server per test file: its own free 127.0.0.1 port, no persistence, a temp dir.
 *
 *   const REDIS = redisServerBinary('redis-jobs.test.ts');   // undefined (with a message) → skip
 *   describe.skipIf(!REDIS)('…', () => { let server: RedisServer;
 *     beforeAll(async () => { server = await startRedisServer(REDIS!); });
 *     afterAll(() => server?.stop()); … });
 *
 * Without redis-server the tests skip with a console message, unless PARASOL_REQUIRE_REDIS=1
 * (CI), where a missing server is an error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface RedisServer {
  url: string;
  port: number;
  /** Kills the server (SIGTERM, then SIGKILL) and deletes its folder. */
  stop(): Promise<void>;
}

/** The redis-server binary, or undefined (after saying so) when absent and not required. */
export function redisServerBinary(testFile: string): string | undefined {
  // PARASOL_REDIS_SERVER, when set, is the only candidate (also a way to see the skip happen).
  const explicit = process.env.PARASOL_REDIS_SERVER;
  const candidates = explicit
    ? [explicit]
    : [...(process.env.PATH ?? '').split(path.delimiter).map((dir) => dir && path.join(dir, 'redis-server')), '/usr/bin/redis-server', '/usr/local/bin/redis-server'];
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not this one.
    }
  }
  const message = explicit
    ? `${testFile}: PARASOL_REDIS_SERVER=${explicit} is not an executable`
    : `${testFile}: redis-server was not found (PATH, /usr/bin, /usr/local/bin; or set PARASOL_REDIS_SERVER)`;
  if (process.env.PARASOL_REQUIRE_REDIS === '1') throw new Error(`${message}, and PARASOL_REQUIRE_REDIS=1 requires it`);
  console.warn(`${message}: SKIPPING its Redis-backed tests (set PARASOL_REQUIRE_REDIS=1 to make this an error)`);
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One PING over a raw socket: true on +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Starts a server on a free port, or on `options.port` (to restart one that was stopped). */
export async function startRedisServer(binary: string, options: { port?: number } = {}): Promise<RedisServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'parasol-redis-'));
  let lastError = '';
  // Another process may take the free port before redis binds it: try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = options.port ?? (await freePort());
    const child = spawn(
      binary,
      ['--save', '', '--appendonly', 'no', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--loglevel', 'warning'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output = (output + chunk).slice(-4000)));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output = (output + chunk).slice(-4000)));
    // A crashed test process must not leave servers behind.
    const onExit = () => child.kill('SIGKILL');
    process.once('exit', onExit);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && child.exitCode === null) {
      if (await ping(port)) {
        return {
          url: `redis://127.0.0.1:${port}`,
          port,
          async stop() {
            process.off('exit', onExit);
            await stopChild(child);
            await rm(dir, { recursive: true, force: true });
          },
        };
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    process.off('exit', onExit);
    await stopChild(child);
    lastError = output;
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error(`redis-server did not answer PING:\n${lastError}`);
}
