import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { buildCorpus, iconOf } from '../../corpus/corpus.js';
import {
  createIconPixelRenderer,
  flattenOnWhite,
  iconToSvg,
  renderIcon,
  renderIconPixels,
  renderSheetPixels,
  sheetSafe,
} from '../../corpus/render.js';
import type { IconifySet } from '../../corpus/sets.js';
import { STYLE_SET_IDS } from '../../corpus/sets.js';
import { decodeImage } from '../../src/encoders/image.js';

describe('renderIconPixels', () => {
  const corpus = buildCorpus();

  it("gives the pixels decoding renderIcon's PNG gives, byte for byte, in every set", async () => {
    const sample = STYLE_SET_IDS.flatMap((set) => corpus.items.filter((item) => item.set === set).slice(0, 4));
    expect(sample.length).toBe(4 * STYLE_SET_IDS.length);
    let edgePixels = 0;
    for (const size of [32, 64]) {
      for (const item of sample) {
        const { set, icon } = iconOf(corpus, item);
        const pixels = await renderIconPixels(set, icon, size);
        // Search results and `parasol reindex` (which re-encodes the PNG) see the same image as before.
        const decoded = await decodeImage(await renderIcon(set, icon, size));
        expect({ width: pixels.width, height: pixels.height }).toEqual({ width: size, height: size });
        expect(pixels.pixels.equals(decoded.pixels), `${item.id} pixels at ${size}`).toBe(true);
        const { data } = await sharp(Buffer.from(iconToSvg(set, icon, size))).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
        for (let at = 3; at < data.length; at += 4) if (data[at] > 0 && data[at] < 255) edgePixels++;
      }
    }
    // The sample exercises the flattening: anti-aliased edges are partly transparent.
    expect(edgePixels).toBeGreaterThan(1000);
  });
});

describe('icons drawn in sheets', () => {
  const corpus = buildCorpus();

  it('gives each sheet-safe icon the pixels it has drawn alone, byte for byte, in every set', async () => {
    const sample = STYLE_SET_IDS.flatMap((set) =>
      corpus.items.filter((item) => item.set === set && sheetSafe(iconOf(corpus, item).icon)).slice(0, 10),
    );
    // Every set has some (fluent-emoji, whose icons nearly all carry gradients and filters, one).
    expect(new Set(sample.map((item) => item.set)).size).toBe(STYLE_SET_IDS.length);
    expect(sample.length).toBeGreaterThan(100);
    for (const size of [32, 64]) {
      const icons = sample.map((item) => iconOf(corpus, item));
      const sheets = (await Promise.all(Array.from({ length: Math.ceil(sample.length / 8) }, (_, i) => renderSheetPixels(icons.slice(i * 8, i * 8 + 8), size)))).flat();
      for (const [i, item] of sample.entries()) {
        const alone = await renderIconPixels(icons[i].set, icons[i].icon, size);
        expect(sheets[i].pixels.equals(alone.pixels), `${item.id} at ${size}`).toBe(true);
      }
    }
  });

  it('keeps out of sheets what would draw differently there: references by id, stylesheets, text, images', () => {
    expect(sheetSafe({ body: '<path fill="#f00" d="M0 0h8v8z"/>' })).toBe(true);
    expect(sheetSafe({ body: '<defs><linearGradient id="a"/></defs><path fill="url(#a)" d="M0 0h8v8z"/>' })).toBe(false);
    expect(sheetSafe({ body: '<style>path{fill:red}</style><path d="M0 0h8v8z"/>' })).toBe(false);
    expect(sheetSafe({ body: '<use href="#x"/>' })).toBe(false);
    expect(sheetSafe({ body: '<text>a</text>' })).toBe(false);
    // Gradients are in the demo corpus, drawn alone.
    expect(corpus.items.some((item) => !sheetSafe(iconOf(corpus, item).icon))).toBe(true);
  });

  it('renders what is asked for in one turn in sheets, and a bad icon fails alone', async () => {
    const set: IconifySet = { prefix: 'test', icons: {}, width: 16, height: 16 };
    const good = (colour: string) => ({ body: `<path fill="${colour}" d="M2 2h12v12z"/>` });
    const bad = { body: '<path d="M2 2h12v12z"' };
    const gradient = corpus.items.map((item) => iconOf(corpus, item)).find(({ icon }) => !sheetSafe(icon))!;
    const render = createIconPixelRenderer(24);
    const asked = [good('#f00'), good('#0f0'), bad, good('#00f')].map((icon) => render(set, icon));
    const outcomes = await Promise.allSettled([...asked, render(gradient.set, gradient.icon)]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    for (const [i, colour] of ['#f00', '#0f0', undefined, '#00f'].entries()) {
      if (!colour) continue;
      const alone = await renderIconPixels(set, good(colour), 24);
      expect((outcomes[i] as PromiseFulfilledResult<{ pixels: Buffer }>).value.pixels.equals(alone.pixels)).toBe(true);
    }
    const alone = await renderIconPixels(gradient.set, gradient.icon, 24);
    expect((outcomes[4] as PromiseFulfilledResult<{ pixels: Buffer }>).value.pixels.equals(alone.pixels)).toBe(true);
  });
});

describe('flattenOnWhite', () => {
  it("rounds every value at every alpha as sharp's flatten onto white does", async () => {
    // One pixel per (value, alpha) pair: 256 × 256, the value in all three channels (mirrored in green).
    const rgba = Buffer.alloc(256 * 256 * 4);
    for (let alpha = 0; alpha < 256; alpha++) {
      for (let value = 0; value < 256; value++) {
        const at = (alpha * 256 + value) * 4;
        rgba.set([value, 255 - value, value, alpha], at);
      }
    }
    const expected = await sharp(rgba, { raw: { width: 256, height: 256, channels: 4 } })
      .flatten({ background: '#ffffff' })
      .ensureAlpha()
      .raw()
      .toBuffer();
    const flattened = flattenOnWhite(Buffer.from(rgba));
    expect(flattened.length).toBe(expected.length);
    let differing = 0;
    for (let i = 0; i < expected.length; i++) if (flattened[i] !== expected[i]) differing++;
    expect(differing).toBe(0);
  });
});
