/**
 * Malformed and hostile requests generated from the contract (spec.ts), deterministically from a
 * seed. Never a valid ingest, never a delete of a stored item, never a valid new API key: whatever
 * these requests do, the catalog and the server's access control must come out unchanged.
 */
import { Rng } from '../rng.js';
import { HOSTILE_NUMBERS, HOSTILE_NUMERIC_STRINGS, HOSTILE_STRINGS, RAW_ENCODED, RAW_JSON_BODIES } from './hostile.js';
import { multipart, type BadFile, type Part } from './images.js';
import type { Operation, Schema } from './spec.js';

export interface FuzzCase {
  n: number;
  /** What kind of abuse (query, json, raw-json, content-type, oversized, multipart, path, method, headers). */
  kind: string;
  /** The contract operation it targets ("-" when none). */
  operation: string;
  method: string;
  /** Raw request target: path + query, already encoded (malformed escapes on purpose). */
  target: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface CaseContext {
  operations: Operation[];
  /** Stored item ids, used only where reading them is harmless. */
  itemIds: string[];
  /** Refinement sessions created before the run. */
  sessionIds: string[];
  badFiles: BadFile[];
  /** The server's JSON body limit; oversized bodies exceed it. */
  jsonBytes: number;
}

/** Percent-encodes a string as UTF-8, but lone surrogates as their (invalid) 3-byte forms; keeps `/` when asked. */
export function encodeHostile(value: string, keepSlash = false): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    const isHigh = unit >= 0xd800 && unit <= 0xdbff;
    const next = value.charCodeAt(i + 1);
    if (isHigh && next >= 0xdc00 && next <= 0xdfff) {
      out += encodeURIComponent(value.slice(i, i + 2));
      i++;
    } else if (unit >= 0xd800 && unit <= 0xdfff) {
      out += [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else if (keepSlash && value[i] === '/') {
      out += '/';
    } else {
      out += encodeURIComponent(value[i]).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    }
  }
  return out;
}

const JSON_TYPE = 'application/json';

export class CaseGenerator {
  private readonly rng: Rng;
  private n = 0;
  private readonly jsonOps: Operation[];
  private readonly multipartOps: Operation[];

  constructor(
    private readonly ctx: CaseContext,
    seed: number,
  ) {
    this.rng = new Rng(seed);
    this.jsonOps = ctx.operations.filter((op) => op.body[JSON_TYPE]);
    this.multipartOps = ctx.operations.filter((op) => op.body['multipart/form-data']);
  }

  next(): FuzzCase {
    const r = this.rng.next();
    const n = this.n++;
    if (r < 0.3) return this.queryCase(n);
    if (r < 0.55 && this.jsonOps.length) return this.jsonCase(n);
    if (r < 0.63 && this.jsonOps.length) return this.rawJsonCase(n);
    if (r < 0.69 && this.jsonOps.length) return this.contentTypeCase(n);
    if (r < 0.71 && this.jsonOps.length) return this.oversizedCase(n);
    if (r < 0.85 && this.multipartOps.length) return this.multipartCase(n);
    if (r < 0.93) return this.pathCase(n);
    return this.headerCase(n);
  }

  // ---- values ---------------------------------------------------------------------------

  private hostileString(): string {
    return this.rng.pick(HOSTILE_STRINGS);
  }

  private hostileJson(): unknown {
    const r = this.rng.int(8);
    if (r === 0) return this.rng.pick(HOSTILE_NUMBERS);
    if (r === 1) return this.rng.pick([null, true, false, [], {}, [null], { a: { b: { c: [] } } }]);
    if (r === 2) return Array.from({ length: this.rng.pick([0, 1, 51, 200, 5000]) }, () => this.hostileString());
    if (r === 3) return this.rng.pick(HOSTILE_NUMERIC_STRINGS);
    return this.hostileString();
  }

  private safeItemId(): string {
    return this.ctx.itemIds.length && this.rng.next() < 0.7 ? this.rng.pick(this.ctx.itemIds) : this.hostileString();
  }

  /** A plausible value for a schema (valid where that is easy), which mutations then break. */
  example(schema: Schema, depth = 0): unknown {
    if (depth > 6) return null;
    if (Array.isArray(schema.enum)) return this.rng.pick(schema.enum as unknown[]);
    if ('const' in schema) return schema.const;
    if (Array.isArray(schema.allOf)) {
      const merged: Record<string, unknown> = {};
      for (const part of schema.allOf as Schema[]) Object.assign(merged, this.example(part, depth + 1));
      return merged;
    }
    if (Array.isArray(schema.oneOf)) return this.example(this.rng.pick(schema.oneOf as Schema[]), depth + 1);
    const type = Array.isArray(schema.type) ? (schema.type as string[])[0] : (schema.type as string | undefined);
    switch (type) {
      case 'string':
        if (schema.format === 'uuid') return this.uuid();
        if (typeof schema.pattern === 'string' && schema.pattern.includes('A-Za-z0-9._:~-')) return this.safeItemId();
        return this.rng.pick(['cat', 'a red bird', 'watercolour', 'line art', 'x']);
      case 'integer':
        return typeof schema.minimum === 'number' ? Math.max(schema.minimum, Math.min(4, (schema.maximum as number) ?? 4)) : 2;
      case 'number':
        return typeof schema.minimum === 'number' ? schema.minimum : 0.5;
      case 'boolean':
        return this.rng.next() < 0.5;
      case 'array': {
        const items = (schema.items as Schema) ?? {};
        const min = (schema.minItems as number) ?? 1;
        return Array.from({ length: Math.max(1, min) }, () => this.example(items, depth + 1));
      }
      case 'object':
      default: {
        const props = (schema.properties as Record<string, Schema>) ?? {};
        const required = new Set((schema.required as string[]) ?? []);
        const out: Record<string, unknown> = {};
        for (const [key, sub] of Object.entries(props)) {
          if (required.has(key) || this.rng.next() < 0.4) out[key] = this.example(sub, depth + 1);
        }
        return out;
      }
    }
  }

  /** Breaks a JSON value in one or two places: a field's type or value, a missing or extra field. */
  mutate(value: unknown, schema: Schema): unknown {
    const rounds = 1 + this.rng.int(2);
    let current = value;
    for (let i = 0; i < rounds; i++) current = this.mutateOnce(current, schema);
    return current;
  }

  private mutateOnce(value: unknown, schema: Schema): unknown {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || this.rng.next() < 0.08) return this.hostileJson();
    const object = { ...(value as Record<string, unknown>) };
    const known = new Set<string>([...Object.keys(object), ...propertyNames(schema)]);
    const keys = [...known];
    const r = this.rng.int(6);
    if (r === 0 && Object.keys(object).length) {
      delete object[this.rng.pick(Object.keys(object))];
    } else if (r === 1) {
      object[this.rng.pick(['extra', '__proto__', 'constructor', 'k ', 'K', '', '\u0000', 'q\u200b'])] = this.hostileJson();
    } else if (r === 2 && keys.length) {
      const key = this.rng.pick(keys);
      const inner = object[key];
      object[key] = inner && typeof inner === 'object' && !Array.isArray(inner) ? this.mutateOnce(inner, {}) : this.hostileJson();
    } else {
      object[keys.length ? this.rng.pick(keys) : 'x'] = this.hostileJson();
    }
    return object;
  }

  // ---- requests -------------------------------------------------------------------------

  private pathFor(op: Operation): string {
    return op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
      const param = op.parameters.find((p) => p.in === 'path' && p.name === name);
      return this.pathValue(op, param?.schema ?? {});
    });
  }

  private pathValue(op: Operation, schema: Schema): string {
    const destructive = op.method === 'DELETE' && (op.path.startsWith('/v1/items/') || op.path.startsWith('/v1/sessions/{id}'));
    const r = this.rng.int(10);
    if (schema.type === 'integer') return encodeHostile(this.rng.pick([...HOSTILE_NUMERIC_STRINGS, '0', '3', '24', '25']));
    if (r < 3) return this.rng.pick(RAW_ENCODED);
    if (r < 4) return encodeHostile(this.hostileString(), true);
    if (schema.format === 'uuid') return r < 7 ? this.uuid() : encodeHostile(this.randomToken());
    if (op.path.startsWith('/v1/sessions/') && !destructive && r < 7 && this.ctx.sessionIds.length) return this.rng.pick(this.ctx.sessionIds);
    if (!destructive && r < 7 && this.ctx.itemIds.length) return encodeHostile(this.rng.pick(this.ctx.itemIds));
    return encodeHostile(r < 8 ? this.randomToken() : this.hostileString());
  }

  /** A v4-shaped UUID from the seeded generator (jobs and sessions that do not exist). */
  private uuid(): string {
    const hex = Array.from({ length: 32 }, () => this.rng.int(16).toString(16));
    hex[12] = '4';
    hex[16] = '89ab'[this.rng.int(4)];
    const h = hex.join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  private randomToken(): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:~=+/';
    return Array.from({ length: 1 + this.rng.int(60) }, () => alphabet[this.rng.int(alphabet.length)]).join('');
  }

  private queryFor(op: Operation, hostile: boolean): string {
    const pairs: string[] = [];
    for (const param of op.parameters.filter((p) => p.in === 'query')) {
      if (this.rng.next() < 0.5) continue;
      let value: string;
      if (!hostile || this.rng.next() < 0.4) {
        const example = this.example(param.schema);
        value = encodeHostile(String(example));
      } else if (param.schema.type === 'integer' || param.schema.type === 'number') {
        value = encodeHostile(this.rng.pick(HOSTILE_NUMERIC_STRINGS));
      } else if (param.name === 'cursor') {
        value = this.rng.next() < 0.5 ? encodeHostile(this.randomToken()) : encodeHostile(Buffer.from(JSON.stringify(this.hostileJson())).toString('base64url'));
      } else {
        value = this.rng.next() < 0.2 ? this.rng.pick(RAW_ENCODED) : encodeHostile(this.hostileString());
      }
      pairs.push(`${encodeURIComponent(param.name)}=${value}`);
      if (hostile && this.rng.next() < 0.1) pairs.push(`${encodeURIComponent(param.name)}=${value}`); // duplicated: an array to a naive parser
    }
    if (hostile && this.rng.next() < 0.2) pairs.push(this.rng.pick(['a[b]=1', 'k[]=1', '__proto__[x]=1', 'unknown=1', '=', '&&', 'k', '%=%', 'q=%ZZ']));
    return pairs.length ? `?${pairs.join('&')}` : '';
  }

  private queryCase(n: number): FuzzCase {
    const op = this.rng.pick(this.ctx.operations);
    const target = this.pathFor(op) + this.queryFor(op, true);
    let body: Buffer | undefined;
    const headers: Record<string, string> = {};
    if (op.body[JSON_TYPE] && !this.isCreateKey(op)) {
      body = Buffer.from(JSON.stringify(this.example(op.body[JSON_TYPE])));
      headers['content-type'] = JSON_TYPE;
    } else if (op.body[JSON_TYPE]) {
      body = Buffer.from(JSON.stringify(this.guard(op, this.example(op.body[JSON_TYPE]))));
      headers['content-type'] = JSON_TYPE;
    }
    return { n, kind: 'query', operation: op.operationId, method: op.method, target, headers, body };
  }

  private isCreateKey(op: Operation): boolean {
    return op.method === 'POST' && op.path === '/v1/admin/keys';
  }

  /** A new API key would switch access control on: keep every key body invalid (an unknown field). */
  private guard(op: Operation, body: unknown): unknown {
    if (!this.isCreateKey(op)) return body;
    if (body && typeof body === 'object' && !Array.isArray(body)) return { ...(body as object), __fuzz: true };
    return body;
  }

  private jsonCase(n: number): FuzzCase {
    const op = this.rng.pick(this.jsonOps);
    const schema = op.body[JSON_TYPE];
    const body = this.guard(op, this.mutate(this.example(schema), schema));
    return {
      n,
      kind: 'json',
      operation: op.operationId,
      method: op.method,
      target: this.pathFor(op) + this.queryFor(op, this.rng.next() < 0.3),
      headers: { 'content-type': JSON_TYPE },
      body: Buffer.from(JSON.stringify(body) ?? 'null'),
    };
  }

  private rawJsonCase(n: number): FuzzCase {
    const op = this.rng.pick(this.jsonOps);
    return {
      n,
      kind: 'raw-json',
      operation: op.operationId,
      method: op.method,
      target: this.pathFor(op),
      headers: { 'content-type': this.rng.pick([JSON_TYPE, 'application/json; charset=utf-8', 'application/json; charset=utf-16', 'application/vnd.api+json']) },
      body: Buffer.from(this.rng.pick(RAW_JSON_BODIES)),
    };
  }

  private contentTypeCase(n: number): FuzzCase {
    const op = this.rng.pick(this.jsonOps);
    const body = Buffer.from(JSON.stringify(this.guard(op, this.example(op.body[JSON_TYPE]))));
    const type = this.rng.pick([
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/xml',
      'multipart/form-data',
      'multipart/form-data; boundary=',
      'multipart/form-data; boundary=nope',
      'application/json; charset=latin-9',
      'application/json; charset=utf-32',
      'image/png',
      '',
      'application/*',
      '*/*',
      'application/json, text/plain',
    ]);
    const headers: Record<string, string> = type ? { 'content-type': type } : {};
    if (this.rng.next() < 0.2) headers['content-encoding'] = this.rng.pick(['gzip', 'br', 'deflate', 'identity, gzip', 'bogus']);
    if (this.rng.next() < 0.3) headers['accept'] = this.rng.pick(['image/png', 'text/html', 'application/xml', '*/*;q=0']);
    return { n, kind: 'content-type', operation: op.operationId, method: op.method, target: this.pathFor(op), headers, body };
  }

  private oversizedCase(n: number): FuzzCase {
    const op = this.rng.pick(this.jsonOps);
    const big = 'x'.repeat(this.ctx.jsonBytes + 1024 + this.rng.int(64 * 1024));
    return {
      n,
      kind: 'oversized',
      operation: op.operationId,
      method: op.method,
      target: this.pathFor(op),
      headers: { 'content-type': JSON_TYPE },
      body: Buffer.from(JSON.stringify(this.guard(op, { q: big, filters: { keywords: big } }))),
    };
  }

  private multipartCase(n: number): FuzzCase {
    const op = this.rng.pick(this.multipartOps);
    const schema = op.body['multipart/form-data'];
    const fields = propertyNames(schema);
    const fileFields = fields.filter((f) => /image/i.test(f));
    const textFields = fields.filter((f) => !/image/i.test(f));
    const parts: Part[] = [];
    const files = this.rng.next() < 0.05 ? 70 : 1 + this.rng.int(3);
    for (let i = 0; i < files; i++) {
      const file = this.rng.pick(this.ctx.badFiles);
      const name = this.rng.next() < 0.85 && fileFields.length ? this.rng.pick(fileFields) : this.rng.pick(['file', 'image', '', 'images[]', '../x']);
      parts.push({
        name,
        filename: this.rng.next() < 0.8 ? this.rng.pick([file.filename, 'cat.png', '../../etc/passwd', 'a\u0000.png', '😀.png', '']) : undefined,
        contentType: this.rng.next() < 0.7 ? this.rng.pick([file.contentType, 'image/png', 'image/jpeg', 'text/plain']) : undefined,
        body: file.bytes,
      });
    }
    for (const field of textFields) {
      if (this.rng.next() < 0.6) continue; // often absent, so that the files themselves are probed
      const sub = (propertySchema(schema, field)?.contentSchema as Schema | undefined) ?? {};
      const value = this.rng.next() < 0.5 ? JSON.stringify(this.mutate(this.example(sub), sub)) : this.rng.pick([...RAW_JSON_BODIES, this.hostileString()]);
      parts.push({ name: field, body: value });
    }
    const boundary = `fuzz${this.rng.int(1e9)}`;
    const r = this.rng.int(10);
    const declared = r === 0 ? 'other-boundary' : boundary;
    const body = multipart(boundary, parts, { truncate: r === 1 });
    return {
      n,
      kind: 'multipart',
      operation: op.operationId,
      method: op.method,
      target: this.pathFor(op),
      headers: { 'content-type': r === 2 ? 'multipart/form-data' : `multipart/form-data; boundary=${declared}` },
      body,
    };
  }

  private pathCase(n: number): FuzzCase {
    const r = this.rng.int(4);
    if (r === 0) {
      const op = this.rng.pick(this.ctx.operations);
      const method = this.rng.pick(['PUT', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'DELETE', 'POST', 'GET']);
      // A DELETE never aims at a stored item or a real session: pathFor with a DELETE-like op keeps ids hostile.
      const asOp: Operation = { ...op, method: method === 'DELETE' ? 'DELETE' : op.method };
      return { n, kind: 'method', operation: op.operationId, method, target: this.pathFor(asOp), headers: {} };
    }
    const prefix = this.rng.pick(['/v1/items/', '/v1/jobs/', '/v1/sessions/', '/v1/', '/', '/web/', '/v1/items/x/thumbnail/']);
    const tail = this.rng.pick([...RAW_ENCODED, encodeHostile(this.hostileString(), true), this.randomToken(), '//', '/./', '%2F%2F']);
    const method = this.rng.pick(['GET', 'GET', 'POST', 'DELETE']);
    const safe = method === 'DELETE' && prefix === '/v1/items/' ? tail.replace(/noto/g, 'xoto') : tail;
    return { n, kind: 'path', operation: '-', method, target: `${prefix}${safe}`, headers: {} };
  }

  private headerCase(n: number): FuzzCase {
    const headers: Record<string, string> = {};
    // The UTF-8 bytes as latin1, less what no HTTP client may send (control characters, DEL).
    const latin1 = (s: string) => Buffer.from(s, 'utf8').toString('latin1').replace(/[^\t\x20-\x7e\x80-\xff]/g, '');
    const r = this.rng.int(6);
    if (r === 0) headers['x-request-id'] = latin1(this.hostileString()).slice(0, 8000) || 'x';
    if (r === 1) headers['authorization'] = this.rng.pick(['Bearer ', 'Bearer psk_0123456789abcdef_' + 'A'.repeat(43), 'Basic Zm9vOmJhcg==', 'Bearer ' + 'x'.repeat(8000), 'bearer\tpsk']);
    if (r === 2) headers['x-api-key'] = this.rng.pick(['', 'psk_', 'psk_zzzzzzzzzzzzzzzz_x', latin1('\u00ff\u00fe')]);
    if (r === 3) headers['origin'] = this.rng.pick(['null', 'http://evil.example', 'http://127.0.0.1:1', latin1('http://ü.example')]);
    if (r === 4) headers['accept'] = this.rng.pick(['', 'image/webp', 'text/html', 'application/json;q=0']);
    if (r === 5) headers['range'] = this.rng.pick(['bytes=0-0', 'bytes=-1', 'bytes=999999999-', 'bytes=a-b']);
    const target = this.rng.pick(['/v1/search?q=cat', '/healthz', '/readyz', '/v1/stats', '/metrics', `/v1/items/${encodeHostile(this.safeItemId())}`, `/v1/items/${encodeHostile(this.safeItemId())}/thumbnail`, '/v1/openapi.yaml', '/']);
    return { n, kind: 'headers', operation: '-', method: 'GET', target, headers };
  }
}

function propertyNames(schema: Schema): string[] {
  const names = new Set<string>(Object.keys((schema.properties as Schema) ?? {}));
  for (const key of ['allOf', 'oneOf', 'anyOf']) {
    for (const part of (schema[key] as Schema[] | undefined) ?? []) for (const name of propertyNames(part)) names.add(name);
  }
  return [...names];
}

function propertySchema(schema: Schema, name: string): Schema | undefined {
  return ((schema.properties as Record<string, Schema>) ?? {})[name];
}
