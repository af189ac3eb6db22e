/**
 * Compares two bench reports: `node dist/bench/compare.js OLD.json NEW.json`.
 * Prints every metric both reports have, side by side, with the change in percent, and warns
 * when the two were measured under different conditions (machine, pack, HNSW parameters, mode).
 * It never fails on a regression: deciding what is one is a person's job.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { BenchReport } from './report.js';

interface Metric {
  name: string;
  value: number;
  /** Whether a larger value is better (for the arrow). */
  higherIsBetter: boolean;
}

export function metricsOf(report: BenchReport): Metric[] {
  const out: Metric[] = [];
  const add = (name: string, value: number | null | undefined, higherIsBetter: boolean) => {
    if (typeof value === 'number' && Number.isFinite(value)) out.push({ name, value, higherIsBetter });
  };
  if (report.ingest) {
    add('ingest img/s', report.ingest.imagesPerSecond, true);
    add('ingest wall ÷ encoder', report.ingest.wallPerEncoder, false);
    add('ingest CPU ms / image', report.ingest.cpuMsPerImage, false);
  }
  for (const scale of report.scale) {
    const at = `@${scale.items}`;
    add(`grow items/s ${at}`, scale.growItemsPerSecond, true);
    for (const r of scale.recall) {
      const kind = r.queryKind ?? 'data';
      add(`recall@10 ${r.modality} ${kind} ${at}`, r.recallAt10, true);
      add(`recall@10 ${r.modality} ${kind} depth ${r.engineDepth} ${at}`, r.recallAt10EngineDepth, true);
    }
    for (const r of scale.inProcess) {
      add(`in-process ${r.scenario} p50 ms ${at}`, r.latency.p50Ms, false);
      add(`in-process ${r.scenario} p99 ms ${at}`, r.latency.p99Ms, false);
      add(`in-process ${r.scenario} QPS ${at}`, r.qps, true);
    }
    if (scale.fusion) {
      const f = scale.fusion;
      add(`fusion raw hnswlib p50 ms ${at}`, f.raw.p50Ms, false);
      add(`fusion single p50 ms ${at}`, f.single.p50Ms, false);
      add(`fusion single p99 ms ${at}`, f.single.p99Ms, false);
      add(`fusion engine ÷ raw ${at}`, f.engineOverRaw, false);
      add(`fusion raw joint p50 ms ${at}`, f.rawJoint?.p50Ms, false);
      add(`fusion fused p50 ms ${at}`, f.fused.p50Ms, false);
      add(`fusion fused p99 ms ${at}`, f.fused.p99Ms, false);
      add(`fusion fused ÷ single ${at}`, f.fusedOverSingle, false);
      add(`fusion fused recall@10 ${at}`, f.fusedRecallAt10, true);
      for (const [weights, recall] of Object.entries(f.fusedRecallAt10ByWeights ?? {})) add(`fusion fused recall@10 ${weights} ${at}`, recall, true);
    }
    for (const r of scale.http) {
      const name = `http ${r.scenario} ×${r.connections}`;
      add(`${name} p50 ms ${at}`, r.latency.p50Ms, false);
      add(`${name} p99 ms ${at}`, r.latency.p99Ms, false);
      add(`${name} QPS ${at}`, r.qps, true);
    }
  }
  add('RSS MiB per 100k', report.memory?.rssPer100kBytes != null ? report.memory.rssPer100kBytes / 2 ** 20 : undefined, false);
  add('disk MiB per 100k', report.disk ? report.disk.bytesPer100k / 2 ** 20 : undefined, false);
  add('cold start ms', report.coldStart?.spawnToAnswerMs, false);
  add('cold start: models ms', report.coldStart?.split?.modelsMs, false);
  add('cold start: indices ms', report.coldStart?.split?.indicesMs, false);
  return out;
}

export function compareReports(before: BenchReport, after: BenchReport): string {
  const lines: string[] = [];
  const label = (r: BenchReport) => `${r.createdAt.slice(0, 16)} ${r.git.commit?.slice(0, 10) ?? '?'}${r.git.dirty ? '+' : ''}`;
  lines.push(`old: ${label(before)}    new: ${label(after)}`);
  const differences: string[] = [];
  const same = (name: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) differences.push(`${name}: ${JSON.stringify(a)} → ${JSON.stringify(b)}`);
  };
  same('mode', before.mode, after.mode);
  same('cpu', `${before.machine.cpus}× ${before.machine.cpuModel}`, `${after.machine.cpus}× ${after.machine.cpuModel}`);
  same('node', before.machine.node, after.machine.node);
  same('pack', before.pack.name, after.pack.name);
  same('hnsw', before.config.hnsw, after.config.hnsw);
  same('search', before.config.search, after.config.search);
  same('generator', before.data.generator, after.data.generator);
  if (differences.length) {
    lines.push('NOT LIKE FOR LIKE:');
    for (const d of differences) lines.push(`  ${d}`);
  }
  lines.push(`load average at start: ${before.machine.loadAverageStart.join('/')} → ${after.machine.loadAverageStart.join('/')}`);
  lines.push('');
  const old = new Map(metricsOf(before).map((m) => [m.name, m]));
  const width = Math.max(...metricsOf(after).map((m) => m.name.length), 10);
  for (const metric of metricsOf(after)) {
    const prior = old.get(metric.name);
    if (!prior) {
      lines.push(`  ${metric.name.padEnd(width)} ${'—'.padStart(10)} ${fmt(metric.value).padStart(10)}`);
      continue;
    }
    const change = prior.value === 0 ? 0 : ((metric.value - prior.value) / Math.abs(prior.value)) * 100;
    const better = metric.value === prior.value ? ' ' : (metric.value > prior.value) === metric.higherIsBetter ? '+' : '-';
    lines.push(
      `  ${metric.name.padEnd(width)} ${fmt(prior.value).padStart(10)} ${fmt(metric.value).padStart(10)} ${`${change >= 0 ? '+' : ''}${change.toFixed(1)}%`.padStart(9)} ${better}`,
    );
  }
  lines.push('', '(+ better, - worse; timings on a shared machine vary by 10–30% between runs: compare medians of several runs before concluding)');
  return lines.join('\n');
}

function fmt(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 1 ? value.toFixed(2) : value.toFixed(4);
}

function main(): void {
  const [a, b] = process.argv.slice(2);
  if (!a || !b) {
    process.stderr.write('usage: node dist/bench/compare.js OLD.json NEW.json\n');
    process.exit(2);
  }
  const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as BenchReport;
  process.stdout.write(`${compareReports(read(a), read(b))}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
