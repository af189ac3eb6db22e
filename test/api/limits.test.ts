/** Request limits, with a context configured small enough to hit them cheaply. */
import request from 'supertest';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { expectError, openTestApi, testImage, type TestApi } from './helpers.js';

let api: TestApi;
beforeAll(async () => {
  api = await openTestApi({ jsonBytes: 1024, uploadBytes: 4096, uploadFiles: 2, maxPixels: 128 * 128 });
});
afterAll(() => api?.close());

describe('limits', () => {
  it('refuses a JSON body over the limit with 413', async () => {
    const res = await request(api.app).post('/v1/search').send({ q: 'cat', filters: { keywords: 'x'.repeat(2000) } });
    await expectError(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('refuses an upload over the byte limit with 413', async () => {
    const big = Buffer.alloc(8192, 1);
    await expectError(await request(api.app).post('/v1/search').attach('contentImage', big, 'big.png'), 413, 'PAYLOAD_TOO_LARGE');
    await expectError(await request(api.app).post('/v1/items').attach('images', big, 'big.png'), 413, 'PAYLOAD_TOO_LARGE');
  });

  it('refuses more files than the limit with 413', async () => {
    const image = await testImage('#abcdef', 16);
    const res = await request(api.app)
      .post('/v1/items')
      .attach('images', image, 'a.png')
      .attach('images', image, 'b.png')
      .attach('images', image, 'c.png');
    await expectError(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('refuses a multipart query field over the JSON limit with 413', async () => {
    const res = await request(api.app).post('/v1/search').field('query', JSON.stringify({ q: 'x'.repeat(2000) }));
    await expectError(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('refuses an image over the pixel limit with 413', async () => {
    const res = await request(api.app).post('/v1/search').attach('contentImage', await testImage('#123456', 200), 'big.png');
    await expectError(res, 413, 'IMAGE_TOO_LARGE');
  });
});
