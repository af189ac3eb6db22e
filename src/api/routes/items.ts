/** Items: metadata, thumbnails, "more like this", uploads and deletes. */
import { Router } from 'express';
import { z } from 'zod';
import { createError } from '../../errors.js';
import type { RouteDeps } from '../deps.js';
import { addUploadedItems, uploadMetaListSchema } from '../item-upload.js';
import { presentItem, presentPage } from '../present.js';
import { filesOf, multipart } from '../uploads.js';
import { assertK, idParam, jsonField, jsonObject, parseQuery, queryValue, requireBodyType } from '../validate.js';

const similarQuerySchema = z.strictObject({
  mode: z.enum(['style', 'content', 'both']).default('both'),
  k: queryValue.optional(),
  cursor: queryValue.optional(),
  explain: z.enum(['true', 'false']).optional(),
});

export function itemRoutes(deps: RouteDeps): Router {
  const { context, thumbnails } = deps;
  const { config, store, engine } = context;
  const router = Router();

  router.get('/v1/items/:id', async (req, res) => {
    const id = idParam(req, 'ITEM_NOT_FOUND');
    const item = await store.catalog.get(id);
    if (!item) throw createError('ITEM_NOT_FOUND', id);
    res.json(presentItem(item));
  });

  router.get('/v1/items/:id/thumbnail', async (req, res) => {
    const id = idParam(req, 'ITEM_NOT_FOUND');
    const bytes = await thumbnails.get(id);
    if (bytes === null) throw createError('ITEM_NOT_FOUND', id);
    if (bytes === undefined) throw createError('NOT_FOUND', `Item "${id}" has no thumbnail`);
    res.type('image/webp').set('Cache-Control', 'public, max-age=3600').send(bytes);
  });

  router.get('/v1/items/:id/similar', async (req, res) => {
    const id = idParam(req, 'ITEM_NOT_FOUND');
    const query = parseQuery(req, similarQuerySchema);
    assertK(query.k, config.search.maxK);
    const response = await engine.moreLike(id, query.mode, { k: query.k, cursor: query.cursor, explain: query.explain === 'true' });
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
    const outcomes = await addUploadedItems(context, files.map((file) => file.buffer), metas);
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
    if (!(await store.catalog.delete(id))) throw createError('ITEM_NOT_FOUND', id);
    await store.sync();
    res.status(204).end();
  });

  return router;
}
