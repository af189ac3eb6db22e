/**
 * The API contract as the fuzzer sees it: every path + method of src/api/openapi.yaml with its
 * parameters and request body schemas, `$ref`s resolved.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';

export type Schema = Record<string, unknown>;

export interface Parameter {
  name: string;
  in: 'query' | 'path' | 'header';
  required: boolean;
  schema: Schema;
}

export interface Operation {
  method: string;
  /** The OpenAPI path, with `{name}` parameters. */
  path: string;
  operationId: string;
  parameters: Parameter[];
  /** Request body schemas by media type (application/json, multipart/form-data). */
  body: Record<string, Schema>;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Follows `#/…` references in `doc` until `node` is not one (depth-limited against cycles). */
export function deref(doc: unknown, node: unknown, depth = 0): Schema {
  let current = node as Schema;
  for (let i = 0; i < 20 && current && typeof current.$ref === 'string'; i++) {
    const parts = (current.$ref as string).replace(/^#\//, '').split('/');
    let target: unknown = doc;
    for (const part of parts) target = (target as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    const { $ref: _ref, ...rest } = current;
    current = { ...(target as Schema), ...rest };
  }
  if (depth > 12 || !current || typeof current !== 'object') return current ?? {};
  const out: Schema = Array.isArray(current) ? (current as unknown as Schema) : { ...current };
  for (const key of ['allOf', 'oneOf', 'anyOf'] as const) {
    if (Array.isArray(out[key])) out[key] = (out[key] as unknown[]).map((s) => deref(doc, s, depth + 1));
  }
  if (out.items && typeof out.items === 'object') out.items = deref(doc, out.items, depth + 1);
  if (out.contentSchema && typeof out.contentSchema === 'object') out.contentSchema = deref(doc, out.contentSchema, depth + 1);
  if (out.properties && typeof out.properties === 'object') {
    out.properties = Object.fromEntries(Object.entries(out.properties as Schema).map(([k, v]) => [k, deref(doc, v, depth + 1)]));
  }
  return out;
}

export function operationsOf(doc: Record<string, any>): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries<Record<string, any>>(doc.paths ?? {})) {
    const shared: unknown[] = item.parameters ?? [];
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const byName = new Map<string, Parameter>();
      for (const raw of [...shared, ...(op.parameters ?? [])]) {
        const p = deref(doc, raw) as unknown as { name: string; in: Parameter['in']; required?: boolean; schema?: unknown };
        byName.set(`${p.in}:${p.name}`, { name: p.name, in: p.in, required: p.required === true, schema: deref(doc, p.schema ?? {}) });
      }
      const body: Record<string, Schema> = {};
      const content = (deref(doc, op.requestBody ?? {}) as { content?: Record<string, { schema?: unknown }> }).content ?? {};
      for (const [media, entry] of Object.entries(content)) body[media] = deref(doc, entry.schema ?? {});
      operations.push({ method: method.toUpperCase(), path, operationId: op.operationId ?? `${method} ${path}`, parameters: [...byName.values()], body });
    }
  }
  return operations;
}

export async function loadOperations(file: string): Promise<Operation[]> {
  return operationsOf(parse(await readFile(file, 'utf8')) as Record<string, any>);
}
