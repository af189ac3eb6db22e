/** The JSON report (the contract between runs: compare.ts reads two of these) and its human summary. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ColdStartChildResult, MemoryChildResult } from './child.js';
import type { FusionResult } from './fusion.js';
import type { HttpResult } from './http.js';
import { describeSettings, type IngestResult } from './ingest-bench.js';
import type { InProcessResult } from './latency.js';
import type { GitFacts, MachineFacts } from './machine.js';
import type { RecallResult } from './recall.js';
import type { GeneratorParams } from './synthetic.js';

export const REPORT_SCHEMA = 1;

export interface ScaleResult {
  items: number;
  /** Seconds to grow the store from the previous size to this one (catalog commit + HNSW insert). */
  growSeconds: number;
  growItemsPerSecond: number;
  recall: RecallResult[];
  inProcess: InProcessResult[];
  http: HttpResult[];
  /** Fused vs one-modality vs raw hnswlib-node, one interleaved loop (see fusion.ts). */
  fusion?: FusionResult;
}

export interface MemoryResult {
  items: number;
  /** RSS a fresh process gains by opening the store (catalog + every HNSW snapshot), scaled to 100k items. */
  rssPer100kBytes: number | null;
  child?: MemoryChildResult;
  /** The bench's own process: RSS after filling minus before, less the synthetic vectors it holds for the recall check. */
  inProcess: { rssBeforeBytes: number; rssAfterBytes: number; heldSyntheticBytes: number; deltaPer100kBytes: number; gc: boolean };
}

export interface DiskResult {
  items: number;
  files: Record<string, number>;
  catalogBytes: number;
  snapshotBytes: number;
  totalBytes: number;
  bytesPer100k: number;
}

export interface ColdStartResult {
  items: number;
  query: string;
  /** Median over runs of spawn → the first answer in the parent's hands. */
  spawnToAnswerMs: number;
  runs: Array<ColdStartChildResult & { spawnToAnswerMs: number }>;
  /** One run with models and indices loaded one after the other, timed apart. */
  split?: ColdStartChildResult & { spawnToAnswerMs: number };
}

export interface TargetCheck {
  name: string;
  target: string;
  measured: number | null;
  unit: string;
  /** null when it could not be measured in this run (e.g. --quick has no 100k size). */
  met: boolean | null;
  note?: string;
}

import type { SamplerResult } from './sampler-bench.js';

export interface BenchReport {
  schema: number;
  createdAt: string;
  mode: 'full' | 'quick';
  seconds: number;
  machine: MachineFacts;
  git: GitFacts;
  pack: { name: string; dir: string; fallback: boolean; semanticDim: number; styleDim: number; provider: string };
  config: {
    hnsw: { M: number; efConstruction: number; efSearch: number; joint?: boolean; jointM?: number; jointEfConstruction?: number; jointEfSearch?: number };
    search: { k: number; oversample: number; maxCandidates: number; cacheSize: number };
    /** Items per commit; model workers, intra-op threads each, images per model run. */
    ingest: { batchSize: number; workers?: number; threads?: number; runSize?: number };
    device: string;
    threads: number;
  };
  data: { generator: GeneratorParams; fillBatchSize: number };
  budgets: Record<string, unknown>;
  ingest?: IngestResult;
  /** The PARASOL sampler, when the pack has a generator. */
  sampler?: SamplerResult;
  scale: ScaleResult[];
  memory?: MemoryResult;
  disk?: DiskResult;
  coldStart?: ColdStartResult;
  targets: TargetCheck[];
  /** Sections that failed, with the error; the rest of the report is still valid. */
  errors: Array<{ section: string; message: string }>;
}

export async function writeReport(report: BenchReport, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const day = report.createdAt.slice(0, 10);
  const suffix = report.mode === 'quick' ? '-quick' : '';
  const text = `${JSON.stringify(report, null, 2)}\n`;
  const paths = [join(dir, `${day}${suffix}.json`), join(dir, `latest${suffix}.json`)];
  for (const path of paths) await writeFile(path, text);
  return paths;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(value < 10 ? 2 : 1) : '—');
const pad = (value: string, width: number) => value.padEnd(width);
const lpad = (value: string, width: number) => value.padStart(width);

export function formatSummary(report: BenchReport): string {
  const lines: string[] = [];
  const m = report.machine;
  lines.push(`Parasol bench (${report.mode}) ${report.createdAt} — ${Math.round(report.seconds)} s`);
  lines.push(
    `machine: ${m.cpus}× ${m.cpuModel}, ${mb(m.totalMemoryBytes)}, node ${m.node}, load ${m.loadAverageStart.join('/')}` +
      `${m.loadAverageEnd ? ` → ${m.loadAverageEnd.join('/')}` : ''}`,
  );
  lines.push(
    `commit ${report.git.commit?.slice(0, 12) ?? '?'}${report.git.dirty ? ` (+${report.git.uncommittedFiles} uncommitted files)` : ''}; ` +
      `pack ${report.pack.name} (${report.pack.semanticDim}/${report.pack.styleDim}-d, ${report.pack.provider})${report.pack.fallback ? ' [FALLBACK: models/mini missing]' : ''}; ` +
      `HNSW M=${report.config.hnsw.M} efC=${report.config.hnsw.efConstruction} ef=${report.config.hnsw.efSearch}; k=${report.config.search.k}`,
  );
  if (report.ingest) {
    const i = report.ingest;
    lines.push('', `Ingest (demo corpus, first ${i.limit}): ${i.imagesPerSecond} img/s over ${i.seen} items in ${i.seconds} s; ` +
      `models ${(i.encoderShare * 100).toFixed(0)}% of the time, wall ÷ encoder ${i.wallPerEncoder} ` +
      `(${i.encoderImagesPerSecond} img/s of encoder time; load average ${i.loadAverage.before} → ${i.loadAverage.after})`);
    for (const c of i.comparison ?? []) {
      lines.push(`  ${pad(describeSettings(c.settings), 50)} ${lpad(String(c.imagesPerSecond), 6)} img/s (×${c.relativeToConfigured}), ` +
        `wall ÷ encoder ${c.wallPerEncoder}, ${c.cpuMsPerImage} CPU ms/img, median of ${c.runs}`);
    }
    const peak = Math.max(0, ...(i.runs ?? []).map((r) => r.peakRssBytes));
    if (peak > 0) lines.push(`  peak RSS ${mb(peak)}`);
  }
  if (report.sampler) {
    const g = report.sampler;
    lines.push('', `Sampler (${g.pack}, ${g.provider}, ${g.imageSize} px): one batch-of-3 UNet call ${g.unetCallMs} ms`);
    for (const r of g.runs) {
      lines.push(`  ${lpad(String(r.steps), 3)} steps × batch ${r.batch}: ${r.secondsPerImage} s/image (${r.seconds} s in all; ` +
        `${r.unetCalls} UNet calls, ${r.unetSeconds} s; wall/UNet ${r.wallOverUnet})`);
    }
  }
  for (const scale of report.scale) {
    lines.push('', `── ${scale.items.toLocaleString('en-US')} items (grown in ${scale.growSeconds} s, ${scale.growItemsPerSecond} items/s)`);
    for (const r of scale.recall) {
      lines.push(`  recall@10 ${pad(r.modality, 8)} ${pad(r.queryKind === 'data' ? 'data-like' : 'off-dist', 9)} ${r.recallAt10.toFixed(4)} (min ${r.minRecallAt10.toFixed(2)}; at depth ${r.engineDepth}: ${r.recallAt10EngineDepth.toFixed(4)})`);
    }
    const header = `  ${pad('', 36)}${lpad('p50', 8)}${lpad('p95', 8)}${lpad('p99', 8)}${lpad('QPS', 8)}`;
    lines.push(header);
    for (const r of scale.inProcess) {
      lines.push(`  ${pad(`in-process ${r.scenario}`, 36)}${lpad(ms(r.latency.p50Ms), 8)}${lpad(ms(r.latency.p95Ms), 8)}${lpad(ms(r.latency.p99Ms), 8)}${lpad(r.qps.toFixed(0), 8)}`);
    }
    for (const r of scale.http) {
      const flags = [r.errors ? `${r.errors} errors` : '', r.non2xx ? `${r.non2xx} non-2xx` : '', r.wrapped ? 'texts reused' : ''].filter(Boolean);
      lines.push(
        `  ${pad(`http ${r.scenario} ×${r.connections}`, 36)}${lpad(ms(r.latency.p50Ms), 8)}${lpad(ms(r.latency.p95Ms), 8)}${lpad(ms(r.latency.p99Ms), 8)}${lpad(r.qps.toFixed(0), 8)}` +
          `${flags.length ? `  (${flags.join(', ')})` : ''}`,
      );
    }
  }
  if (report.memory) {
    const mem = report.memory;
    lines.push('', `Memory: ${mem.rssPer100kBytes === null ? '—' : mb(mem.rssPer100kBytes)} RSS per 100k items (fresh process opening the ${mem.items.toLocaleString('en-US')}-item store); ` +
      `in the bench process ${mb(mem.inProcess.deltaPer100kBytes)} per 100k`);
  }
  if (report.disk) {
    const d = report.disk;
    lines.push(`Disk: ${mb(d.totalBytes)} for ${d.items.toLocaleString('en-US')} items (catalog ${mb(d.catalogBytes)}, snapshots ${mb(d.snapshotBytes)}); ${mb(d.bytesPer100k)} per 100k`);
  }
  if (report.coldStart) {
    const c = report.coldStart;
    lines.push(`Cold start (${c.items.toLocaleString('en-US')} items): spawn → first answer ${ms(c.spawnToAnswerMs)} ms (median of ${c.runs.length})`);
    if (c.split) {
      const s = c.split;
      lines.push(`  node boot + imports ${ms(s.bootMs)} ms, models ${ms(s.modelsMs ?? Number.NaN)} ms, indices ${ms(s.indicesMs ?? Number.NaN)} ms, first query ${ms(s.queryMs)} ms`);
    }
  }
  lines.push('', 'Targets (reported, never asserted):');
  for (const t of report.targets) {
    const verdict = t.met === null ? 'n/a ' : t.met ? 'met ' : 'MISS';
    lines.push(`  [${verdict}] ${pad(t.name, 58)} ${pad(t.target, 12)} measured ${t.measured === null ? '—' : `${t.measured} ${t.unit}`}${t.note ? `  (${t.note})` : ''}`);
  }
  if (report.errors.length) {
    lines.push('', 'Errors:');
    for (const e of report.errors) lines.push(`  ${e.section}: ${e.message}`);
  }
  return lines.join('\n');
}
