/** Items: metadata, thumbnails, "more like this", uploads and deletes. */
import { Router } from 'express';
import { z } from 'zod';
import type { Config } from '../../config.js';
import { createError } from '../../errors.js';
import type { ItemService, UploadMeta } from '../../services/items.js';
import type { SearchService } from '../../services/search.js';
import { presentItem, presentPage } from '../present.js';
import type { ApiSources } from '../public-types.js';
import { filesOf, multipart } from '../uploads.js';
import { assertK, idParam, idSchema, jsonField, jsonObject, parseQuery, queryValue, requireBodyType } from '../validate.js';

const text = (max: number) => z.string().trim().max(max);

const uploadMetaSchema = z.strictObject({
  id: idSchema.optional(),
  title: text(300).optional(),
  tags: z.array(text(100).min(1)).max(50).optional(),
  source: text(100).min(1).optional(),
  license: text(200).optional(),
  attribution: text(500).optional(),
  // Shown as a link by clients: only web URLs, never javascript: or data:.
  url: z.url({ protocol: /^https?$/ }).max(2000).optional(),
}) satisfies z.ZodType<UploadMeta>;

const uploadMetaListSchema = z.array(uploadMetaSchema.nullable()).max(1000);

const similarQuerySchema = z.strictObject({
  mode: z.enum(['style', 'content', 'both']).default('both'),
  k: queryValue.optional(),
  cursor: queryValue.optional(),
  explain: z.enum(['true', 'false']).optional(),
});

export function itemRoutes(deps: { config: Config; items: ItemService; search: SearchService }): Router {
  const { config, items, search } = deps;
  const router = Router();

  router.get('/v1/sources', async (_req, res) => {
    const body: ApiSources = { sources: await items.sources() };
    res.json(body);
  });

  router.get('/v1/items/:id', async (req, res) => {
    const id = idParam(req, 'ITEM_NOT_FOUND');
    res.json(presentItem(await items.get(id)));
  });

  router.get('/v1/items/:id/thumbnail', async (req, res) => {
    const id = idParam(req, 'ITEM_NOT_FOUND');
    const bytes = await items.thumbnail(id);
    if (bytes === null) throw createError('ITEM_NOT_FOUND', id);
    if (bytes === undefined) throw createError('NOT_FOUND', `Item "${id}" has no thumbnail`);
    res.type('image/webp').set('Cache-Control', 'public, max-age=3600').send(bytes);
  });

  router.get('/v1/items/:id/similar', async (req, res) => {
    const id = idParam(req, 'ITEM_NOT_FOUND');
    const query = parseQuery(req, similarQuerySchema);
    assertK(query.k, config.search.maxK);
    const response = await search.moreLike(id, query.mode, { k: query.k, cursor: query.cursor, explain: query.explain === 'true' });
    res.json(presentPage(response));
  });

  router.post('/v1/items', multipart(config, [{ name: 'images', maxCount: config.limits.uploadFiles }]), async (req, res) => {
    requireBodyType(req, ['multipart']);
    const form = jsonObject(req.body, 'form');
    const unexpected = Object.keys(form).find((name) => name !== 'items');
    if (unexpected) throw createError('BAD_REQUEST', `Unexpected form field "${unexpected.slice(0, 100)}" (expected "items")`);
    const files = filesOf(req, 'images');
    if (files.length === 0) throw createError('BAD_REQUEST', 'Upload at least one file in the "images" field');
    const metas = uploadMetaListSchema.parse(jsonField(form.items, 'items') ?? []);
    const outcomes = await items.add(files.map((file) => file.buffer), metas);
    const added = outcomes.filter((outcome) => outcome.status === 'added').length;
    // 201 only when something was created; a batch of duplicates and rejects created nothing.
    res.status(added > 0 ? 201 : 200).json({
      results: outcomes,
      added,
      duplicates: outcomes.filter((outcome) => outcome.status === 'duplicate').length,
      // Each duplicate file as {id, existingId}: its id (kept as an alias when new) and the stored image's id.
      duplicateIds: outcomes.flatMap((outcome) =>
        outcome.status === 'duplicate' && outcome.id !== undefined ? [{ id: outcome.id, existingId: outcome.existingId ?? outcome.id }] : [],
      ),
      skipped: outcomes.filter((outcome) => outcome.status === 'skipped').length,
    });
  });

  router.delete('/v1/items/:id', async (req, res) => {
    const id = idParam(req, 'ITEM_NOT_FOUND');
    await items.delete(id);
    res.status(204).end();
  });

  return router;
}
