/**
 * docker-compose.yml and the Dockerfile cannot be run here (no Docker engine): these checks keep
 * them in step with the code — every environment variable they set is one the config accepts,
 * every path they copy exists, the health checks name real routes and commands, and the GPU
 * worker reserves a device and installs the CUDA provider.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ENVIRONMENT_VARIABLES, loadConfig, PACKAGE_ROOT } from '../src/config.js';

interface ComposeService {
  image?: string;
  build?: { context: string; target: string; args?: Record<string, string> };
  environment?: Record<string, string>;
  command?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  ports?: string[];
  deploy?: { resources: { reservations: { devices: Array<{ driver: string; count: number; capabilities: string[] }> } } };
}

const compose = parse(readFileSync(path.join(PACKAGE_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
};
const dockerfile = readFileSync(path.join(PACKAGE_ROOT, 'Dockerfile'), 'utf8');

/** ${VAR:-default} → default, as compose substitutes it when VAR is unset. */
function substituteDefaults(value: string): string {
  return value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
}

function environmentOf(service: ComposeService): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, substituteDefaults(String(v))]));
}

describe('docker-compose.yml', () => {
  it('runs Elasticsearch, Redis, the API server and a sampler worker, each with a health check', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'elasticsearch', 'redis', 'worker']);
    for (const service of Object.values(compose.services)) expect(service.healthcheck?.test.length).toBeGreaterThan(0);
    expect(compose.services.elasticsearch.image).toMatch(/elasticsearch:\$\{ES_VERSION:-9\./);
    expect(compose.services.api.depends_on).toEqual({
      elasticsearch: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
  });

  it('gives the worker a GPU and the CUDA build of onnxruntime', () => {
    const worker = compose.services.worker;
    expect(worker.deploy?.resources.reservations.devices).toEqual([{ driver: 'nvidia', count: 1, capabilities: ['gpu'] }]);
    expect(worker.build).toMatchObject({ target: 'worker-gpu', args: { ONNXRUNTIME_NODE_INSTALL: 'cuda12' } });
    expect(worker.command).toEqual(['worker']);
  });

  it('sets only configuration the engine accepts, and it loads for both services', () => {
    for (const name of ['api', 'worker']) {
      const env = environmentOf(compose.services[name]);
      const config = loadConfig({}, env);
      expect(config.backend).toBe('elastic');
      expect(config.elastic.url).toBe('http://elasticsearch:9200');
      expect(config.queue.backend).toBe('redis');
      expect(config.redis.url).toBe('redis://redis:6379');
      expect(config.generate.sharedDir).toBe('/generated');
      for (const key of Object.keys(env)) expect(ENVIRONMENT_VARIABLES).toContain(key);
    }
    // Every API server shares the keys (and their limits) in Redis.
    expect(loadConfig({}, environmentOf(compose.services.api)).keys.store).toBe('redis');
  });

  it('shares the generated-images volume between the API server and the workers', () => {
    expect(compose.services.api.volumes).toContain('generated:/generated');
    expect(compose.services.worker.volumes).toContain('generated:/generated');
    expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining(['es-data', 'redis-data', 'api-data', 'generated']));
  });

  it('publishes ports on the host loopback only', () => {
    for (const service of Object.values(compose.services)) {
      for (const port of service.ports ?? []) expect(port.startsWith('127.0.0.1:')).toBe(true);
    }
  });
});

describe('Dockerfile', () => {
  it('builds the targets compose names', () => {
    const targets = [...dockerfile.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]);
    for (const service of Object.values(compose.services)) if (service.build) expect(targets).toContain(service.build.target);
  });

  it('copies only paths that exist, and passes ONNXRUNTIME_NODE_INSTALL to the install', () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(/\s+/));
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources) expect(existsSync(path.join(PACKAGE_ROOT, source)), source).toBe(true);
    expect(dockerfile).toMatch(/ARG ONNXRUNTIME_NODE_INSTALL=skip\nENV ONNXRUNTIME_NODE_INSTALL=\$\{ONNXRUNTIME_NODE_INSTALL\}/);
    expect(dockerfile).toMatch(/^RUN npm ci /m);
    expect(dockerfile.indexOf('ENV ONNXRUNTIME_NODE_INSTALL')).toBeLessThan(dockerfile.indexOf('RUN npm ci'));
  });

  it('copies every folder the build compiles (tsconfig.json include)', () => {
    const tsconfig = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] };
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(/\s+/));
    const folders = [...new Set(tsconfig.include.map((pattern) => pattern.split('/')[0]))];
    expect(folders).toContain('corpus');
    for (const folder of folders) expect(copied, folder).toContain(folder);
  });

  it('health-checks a route the server has', () => {
    const openapi = readFileSync(path.join(PACKAGE_ROOT, 'src/api/openapi.yaml'), 'utf8');
    expect(dockerfile).toContain('/readyz');
    expect(openapi).toMatch(/^ {2}\/readyz:/m);
  });
});
