/**
 * `parasol eval retrieval`: the model pack's held-out retrieval metrics, measured through the
 * engine's own path — the real ingest pipeline, the SQLite catalog and the HNSW indices — on a
 * temporary data directory, beside colour-histogram and raw-pixel baselines.
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { z } from 'zod';
import { PACKAGE_ROOT } from '../config.js';
import type { Config } from '../config.js';
import { openContext } from '../context.js';
import type { ParasolContext } from '../context.js';
import { silentLogger } from '../log.js';
import { Progress, forEachConcurrent } from '../progress.js';
import { isEmbeddedStore } from '../store/embedded.js';
import { HnswIndex } from '../store/hnsw-index.js';
import { normalize } from '../vectors.js';
import { createError, isParasolError } from '../errors.js';
import { buildCorpus, iconOf } from '../../corpus/corpus.js';
import type { CorpusItem } from '../../corpus/corpus.js';
import { renderIcon } from '../../corpus/render.js';
import { HELD_OUT_SETS } from '../../corpus/sets.js';
import { fnv1a } from '../../corpus/split.js';
import { ingest } from '../../indexer/ingest.js';
import { memorySource } from '../../indexer/sources/memory.js';
import type { IngestSource, SourceItem } from '../../indexer/sources/types.js';
import { averagePrecisionAt, colourHistogram, hitAt, mean, precisionAt, rawPixels, recallAt } from './metrics.js';

const K = 10;

export interface PrecisionReport {
  p10: number;
  map10: number;
}

export interface RetrievalReport {
  pack: string;
  sample: number;
  style: PrecisionReport & { queries: number; baselines: { histogram: PrecisionReport; pixels: PrecisionReport } };
  content: { r10: number; queries: number };
  text: { r10: number; queries: number };
  /**
   * The same queries through the engine with the catalogue's words fused in (each item is titled
   * with its emoji's name, so a name query finds its drawings by words alone: this shows the words
   * signal works, not how well the models read text).
   */
  textHybrid: { r10: number; queries: number };
  styleText: { r10: number; queries: number };
  seconds: number;
}

const descriptionsSchema = z.object({
  sets: z.record(z.string(), z.object({ train: z.array(z.string()), heldout: z.array(z.string()) })),
});

export async function loadHeldOutParaphrases(): Promise<Array<{ set: string; text: string }>> {
  const file = path.join(PACKAGE_ROOT, 'models', 'train', 'style_descriptions.json');
  const parsed = descriptionsSchema.parse(JSON.parse(await readFile(file, 'utf8')));
  return Object.entries(parsed.sets).flatMap(([set, { heldout }]) => heldout.map((text) => ({ set, text })));
}

interface Rendered {
  item: CorpusItem;
  png: Buffer;
}

function heldOutSource(rendered: Rendered[]): IngestSource {
  return memorySource(
    'held-out corpus',
    rendered.map(({ item, png }): SourceItem => ({
      key: item.id,
      meta: { id: item.id, title: item.name, source: item.set, extra: { codepoint: item.codepoint } },
      bytes: async () => png,
      storeThumbnail: false,
    })),
  );
}

/** Ranks the database for one query and marks each of the top K as relevant or not. */
async function rankedRelevance(
  index: HnswIndex,
  query: Float32Array,
  accept: (seq: number) => boolean,
  isRelevant: (seq: number) => boolean,
): Promise<boolean[]> {
  const hits = await index.searchAccepting(query, K, accept);
  return hits.map((hit) => isRelevant(hit.seq));
}

async function baselineIndex(dim: number, dir: string, vectors: Map<number, Float32Array>, config: Config): Promise<HnswIndex> {
  const index = HnswIndex.create({ modality: 'style', dim, dir, ...config.hnsw, capacity: vectors.size + 1 });
  await index.add([...vectors].map(([seq, vector]) => ({ seq, vector: normalize(vector) })));
  return index;
}

function styleRetrieval(
  seqs: number[],
  itemOf: Map<number, CorpusItem>,
  vectorOf: (seq: number) => Float32Array,
  index: HnswIndex,
): Promise<PrecisionReport> {
  const database = new Set(seqs);
  const relevantCount = new Map<number, number>();
  for (const seq of seqs) {
    const item = itemOf.get(seq)!;
    relevantCount.set(
      seq,
      seqs.filter((other) => {
        const o = itemOf.get(other)!;
        return other !== seq && o.set === item.set && (item.codepoint === null || o.codepoint !== item.codepoint);
      }).length,
    );
  }
  return (async () => {
    const p: number[] = [];
    const ap: number[] = [];
    for (const seq of seqs) {
      const item = itemOf.get(seq)!;
      const ranked = await rankedRelevance(
        index,
        vectorOf(seq),
        (other) => {
          if (other === seq || !database.has(other)) return false;
          const codepoint = itemOf.get(other)!.codepoint;
          return item.codepoint === null || codepoint !== item.codepoint;
        },
        (other) => itemOf.get(other)!.set === item.set,
      );
      p.push(precisionAt(ranked, K));
      ap.push(averagePrecisionAt(ranked, K, relevantCount.get(seq)!));
    }
    return { p10: mean(p), map10: mean(ap) };
  })();
}

export interface RetrievalOptions {
  progress?: boolean;
  /** Evaluate a deterministic share of the held-out contents (0 < sample ≤ 1; default all). */
  sample?: number;
}

/** Keeps every drawing of a sampled codepoint together, so relevance sets stay whole. */
function inSample(item: CorpusItem, sample: number): boolean {
  return sample >= 1 || fnv1a(`eval-sample:${item.codepoint ?? item.id}`) % 10_000 < sample * 10_000;
}

export async function evaluateRetrieval(config: Config, options: RetrievalOptions = {}): Promise<RetrievalReport> {
  const sample = options.sample ?? 1;
  if (!(sample > 0 && sample <= 1)) throw createError('BAD_REQUEST', `sample must be in (0, 1], got ${sample}`);
  const started = Date.now();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'parasol-eval-'));
  let context: ParasolContext | undefined;
  try {
    // The evaluation measures the models through the embedded engine (its own temporary store).
    context = await openContext({ ...config, backend: 'sqlite', dataDir }, silentLogger);
    const { encoders } = context;
    const store = context.store;
    if (!isEmbeddedStore(store)) throw new Error('the retrieval evaluation runs on the embedded backend');
    const renderSize = Math.max(encoders.manifest.semantic.image.preprocess.size, encoders.manifest.style.image.preprocess.size);
    const corpus = buildCorpus();
    const sampled = corpus.items.filter((i) => inSample(i, sample));
    const styleItems = sampled.filter((i) => HELD_OUT_SETS.has(i.set));
    const contentItems = sampled.filter((i) => i.codepoint !== null && (i.split === 'unseen-content' || i.split === 'unseen-both'));
    const styleTextItems = sampled.filter((i) => i.codepoint !== null && i.split === 'unseen-content');
    const wanted = [...new Map([...styleItems, ...contentItems].map((i) => [i.id, i])).values()];

    const sink = options.progress ? undefined : null;
    const rendering = new Progress('render held-out items', wanted.length, sink);
    const rendered: Rendered[] = [];
    const histograms = new Map<string, Float32Array>();
    const pixels = new Map<string, Float32Array>();
    const styleIds = new Set(styleItems.map((i) => i.id));
    await forEachConcurrent(wanted, 4, async (item) => {
      const { set, icon } = iconOf(corpus, item);
      const png = await renderIcon(set, icon, renderSize);
      rendered.push({ item, png });
      if (styleIds.has(item.id)) {
        const full = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
        histograms.set(item.id, colourHistogram(full.data, full.info.channels));
        pixels.set(item.id, rawPixels(full.data, full.info.width, full.info.channels));
      }
      rendering.tick();
    });
    rendered.sort((a, b) => a.item.id.localeCompare(b.item.id));

    await ingest(heldOutSource(rendered), encoders, store, {
      batchSize: config.ingest.batchSize,
      thumbnailSize: config.ingest.thumbnailSize,
      maxPixels: config.limits.maxPixels,
      progress: sink,
    });

    const seqOf = new Map<string, number>();
    const itemOf = new Map<number, CorpusItem>();
    for (const item of wanted) {
      const stored = await store.catalog.get(item.id);
      // Identical renders (the same art in two sets) are stored once; evaluate what was stored.
      if (!stored) continue;
      seqOf.set(item.id, stored.seq);
      itemOf.set(stored.seq, item);
    }
    const seqsOf = (items: CorpusItem[]) => items.flatMap((i) => (seqOf.has(i.id) ? [seqOf.get(i.id)!] : []));
    const styleSeqs = seqsOf(styleItems);
    const contentSeqs = seqsOf(contentItems);
    const styleTextSeqs = seqsOf(styleTextItems);
    const styleVectors = await store.catalog.getVectorsBySeq(styleSeqs, 'style');
    const semanticVectors = await store.catalog.getVectorsBySeq(contentSeqs, 'semantic');

    // Style: same set is relevant, the same content in other sets is excluded.
    const style = await styleRetrieval(styleSeqs, itemOf, (seq) => styleVectors.get(seq)!, store.indices.style);
    const baselineFor = async (vectors: Map<string, Float32Array>, dim: number): Promise<PrecisionReport> => {
      const bySeq = new Map<number, Float32Array>();
      for (const [id, vector] of vectors) if (seqOf.has(id)) bySeq.set(seqOf.get(id)!, normalize(vector));
      const index = await baselineIndex(dim, dataDir, bySeq, config);
      try {
        return await styleRetrieval(styleSeqs, itemOf, (seq) => bySeq.get(seq)!, index);
      } finally {
        await index.close();
      }
    };
    const histogram = await baselineFor(histograms, 512);
    const pixelBaseline = await baselineFor(pixels, 768);

    // Content: the same codepoint drawn in other sets is relevant.
    const contentDb = new Set(contentSeqs);
    const bySeqCodepoint = (seq: number) => itemOf.get(seq)!.codepoint;
    const contentRecall: number[] = [];
    for (const seq of contentSeqs) {
      const codepoint = bySeqCodepoint(seq);
      const relevant = contentSeqs.filter((other) => other !== seq && bySeqCodepoint(other) === codepoint).length;
      if (relevant === 0) continue;
      const ranked = await rankedRelevance(
        store.indices.semantic,
        semanticVectors.get(seq)!,
        (other) => other !== seq && contentDb.has(other),
        (other) => bySeqCodepoint(other) === codepoint,
      );
      contentRecall.push(recallAt(ranked, K, relevant));
    }

    // Text → image: one query per unseen codepoint, its name; a hit is any drawing of it.
    const names = new Map<string, string>();
    for (const seq of contentSeqs) names.set(bySeqCodepoint(seq)!, itemOf.get(seq)!.name);
    const nameList = [...names];
    const nameVectors = await encoders.semanticText.embedTexts(nameList.map(([, name]) => name));
    const textHits: number[] = [];
    for (let i = 0; i < nameList.length; i++) {
      const codepoint = nameList[i][0];
      const ranked = await rankedRelevance(store.indices.semantic, nameVectors[i], (other) => contentDb.has(other), (other) => bySeqCodepoint(other) === codepoint);
      textHits.push(hitAt(ranked, K));
    }
    // The same names through the engine, words on (content and words fused; the other items excluded).
    const outsideContentDb = [...itemOf.keys()].filter((seq) => !contentDb.has(seq));
    const hybridHits: number[] = [];
    for (let i = 0; i < nameList.length; i++) {
      const codepoint = nameList[i][0];
      const page = await context.engine.searchFromDescriptors(
        { content: nameVectors[i] },
        { text: nameList[i][1], exclude: { seqs: outsideContentDb }, k: K, weights: { content: 1, style: 1, text: 1 } },
      );
      hybridHits.push(hitAt(page.results.map((r) => bySeqCodepoint(r.seq) === codepoint), K));
    }

    // Text → style: held-out paraphrases of the training sets; the share of the top 10 in the described set.
    const paraphrases = await loadHeldOutParaphrases();
    const styleTextDb = new Set(styleTextSeqs);
    // A pack without a text-to-style model (nor a fitted map) answers no style text: reported as 0 queries.
    const paraphraseVectors = await encoders.styleText.embedTexts(paraphrases.map((p) => p.text)).catch((error: unknown) => {
      if (isParasolError(error) && error.code === 'UNPROCESSABLE') return [];
      throw error;
    });
    const styleTextShares: number[] = [];
    for (let i = 0; i < paraphraseVectors.length; i++) {
      const ranked = await rankedRelevance(store.indices.style, paraphraseVectors[i], (other) => styleTextDb.has(other), (other) => itemOf.get(other)!.set === paraphrases[i].set);
      styleTextShares.push(precisionAt(ranked, K));
    }

    return {
      pack: encoders.packName,
      sample,
      style: { ...style, queries: styleSeqs.length, baselines: { histogram, pixels: pixelBaseline } },
      content: { r10: mean(contentRecall), queries: contentRecall.length },
      text: { r10: mean(textHits), queries: textHits.length },
      textHybrid: { r10: mean(hybridHits), queries: hybridHits.length },
      styleText: { r10: mean(styleTextShares), queries: styleTextShares.length },
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await context?.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export function formatRetrievalReport(report: RetrievalReport): string {
  const f = (x: number) => x.toFixed(3);
  return [
    `pack ${report.pack} — held-out retrieval${report.sample < 1 ? ` (sample ${report.sample})` : ''} (${report.seconds.toFixed(0)} s)`,
    `style (3 unseen sets, ${report.style.queries} queries): P@10 ${f(report.style.p10)}  mAP@10 ${f(report.style.map10)}`,
    `  baseline colour histogram: P@10 ${f(report.style.baselines.histogram.p10)}  mAP@10 ${f(report.style.baselines.histogram.map10)}`,
    `  baseline 16×16 pixels:     P@10 ${f(report.style.baselines.pixels.p10)}  mAP@10 ${f(report.style.baselines.pixels.map10)}`,
    `content across styles (unseen contents, ${report.content.queries} queries): R@10 ${f(report.content.r10)}`,
    `text → image (unseen contents, ${report.text.queries} names): R@10 ${f(report.text.r10)}; with the words (titles are the names): ${f(report.textHybrid.r10)}`,
    `text → style (held-out paraphrases, ${report.styleText.queries}): R@10 ${f(report.styleText.r10)}`,
    '',
  ].join('\n');
}
