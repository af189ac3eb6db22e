/**
 * In-process query latency: the engine called directly, one query at a time (so latency is the
 * engine's own, with no HTTP, and QPS is what one event loop sustains sequentially).
 */
import type { SearchEngine, SearchResponse, SearchTiming } from '../src/search/engine.js';
import { round, summarize, type LatencySummary } from './stats.js';
import type { QueryTexts } from './queries.js';
import type { SyntheticCorpus } from './synthetic.js';

export interface PhaseMeans {
  encodeMs: number;
  retrieveMs: number;
  fuseMs: number;
  hydrateMs: number;
}

export interface InProcessResult {
  scenario: string;
  description: string;
  latency: LatencySummary;
  /** Completed queries per second, one at a time. */
  qps: number;
  /** Mean of the engine's own timing breakdown. */
  phases: PhaseMeans;
  /** Mean results per query (a sanity check: should be k). */
  meanResults: number;
}

export interface RunBudget {
  warmup: number;
  durationMs: number;
  maxQueries: number;
}

interface Scenario {
  name: string;
  description: string;
  /** Called before measuring, untimed (e.g. to fill the text cache for warm scenarios). */
  prepare?: () => Promise<void>;
  query: (i: number) => Promise<SearchResponse>;
}

const WARM_TEXTS = 50;

export function inProcessScenarios(engine: SearchEngine, corpus: SyntheticCorpus, texts: QueryTexts, k: number, budget: RunBudget): Scenario[] {
  const needed = budget.warmup + budget.maxQueries;
  const vectorQueries = (count: number) =>
    Array.from({ length: count }, () => ({ content: corpus.query('semantic'), style: corpus.query('style') }));
  const contentVectors = vectorQueries(Math.min(needed, 2000));
  const bothVectors = vectorQueries(Math.min(needed, 2000));
  const coldContent = texts.content(needed);
  const coldBoth = { q: texts.content(needed), style: texts.style(needed) };
  const warmContent = texts.content(WARM_TEXTS);
  const warmBoth = { q: texts.content(WARM_TEXTS), style: texts.style(WARM_TEXTS) };
  const at = <T>(list: T[], i: number): T => list[i % list.length];

  return [
    {
      name: 'vector:content',
      description: 'searchFromDescriptors with a content vector (no encoder): retrieval + exact rescoring + hydration',
      query: (i) => engine.searchFromDescriptors({ content: at(contentVectors, i).content }, { k }),
    },
    {
      name: 'vector:content+style',
      description: 'searchFromDescriptors with both vectors: two kNN searches, fused',
      query: (i) => engine.searchFromDescriptors(at(bothVectors, i), { k }),
    },
    {
      name: 'text:cold',
      description: 'engine.search({q}) with a distinct text each time (text tower runs every query)',
      query: (i) => engine.search({ q: coldContent[i], k }),
    },
    {
      name: 'text:warm',
      description: `engine.search({q}) cycling ${WARM_TEXTS} texts already in the LRU cache`,
      prepare: async () => {
        for (const q of warmContent) await engine.search({ q, k });
      },
      query: (i) => engine.search({ q: at(warmContent, i), k }),
    },
    {
      name: 'text:warm:no-words',
      description: `text:warm with the catalogue's words left out (weights.text 0): the vector-only peer of the hybrid query`,
      prepare: async () => {
        for (const q of warmContent) await engine.search({ q, k, weights: { text: 0 } });
      },
      query: (i) => engine.search({ q: at(warmContent, i), k, weights: { text: 0 } }),
    },
    {
      name: 'text+style:cold',
      description: 'engine.search({q, style}) with distinct texts (both text towers run every query)',
      query: (i) => engine.search({ q: coldBoth.q[i], style: coldBoth.style[i], k }),
    },
    {
      name: 'text+style:warm',
      description: `engine.search({q, style}) cycling ${WARM_TEXTS} cached pairs`,
      prepare: async () => {
        for (let i = 0; i < WARM_TEXTS; i++) await engine.search({ q: warmBoth.q[i], style: warmBoth.style[i], k });
      },
      query: (i) => engine.search({ q: at(warmBoth.q, i), style: at(warmBoth.style, i), k }),
    },
  ];
}

export async function runInProcess(scenario: Scenario, budget: RunBudget): Promise<InProcessResult> {
  await scenario.prepare?.();
  let i = 0;
  for (; i < budget.warmup; i++) await scenario.query(i);
  const samples: number[] = [];
  const phases: PhaseMeans = { encodeMs: 0, retrieveMs: 0, fuseMs: 0, hydrateMs: 0 };
  let results = 0;
  const started = performance.now();
  const deadline = started + budget.durationMs;
  while (samples.length < budget.maxQueries && performance.now() < deadline) {
    const t = performance.now();
    const response = await scenario.query(i++);
    samples.push(performance.now() - t);
    addPhases(phases, response.timing);
    results += response.results.length;
  }
  const seconds = (performance.now() - started) / 1000;
  const n = Math.max(1, samples.length);
  return {
    scenario: scenario.name,
    description: scenario.description,
    latency: summarize(samples),
    qps: round(samples.length / seconds, 1),
    phases: {
      encodeMs: round(phases.encodeMs / n),
      retrieveMs: round(phases.retrieveMs / n),
      fuseMs: round(phases.fuseMs / n),
      hydrateMs: round(phases.hydrateMs / n),
    },
    meanResults: round(results / n, 1),
  };
}

function addPhases(into: PhaseMeans, timing: SearchTiming): void {
  into.encodeMs += timing.encodeMs;
  into.retrieveMs += timing.retrieveMs;
  into.fuseMs += timing.fuseMs;
  into.hydrateMs += timing.hydrateMs;
}
