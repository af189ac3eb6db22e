// A reduced joint space on real vectors (issue 12): the joint graph over all its dimensions (384 with mini v2's 128-d
// style, 480 with mini v2.2's 224-d) against one over the
// 64 or 128 leading axes (prepare.py) whose top k are rescored exactly in the full space; recall@10 against the exact
// fused top 10 and CPU per query (5 passes of 400 queries). Run from the repository root:
//   node bench/results/2026-12-04-reduced-joint/run.mjs <dir prepare.py wrote>
import hnswlib from 'hnswlib-node';
import { readFileSync, writeFileSync } from 'node:fs';
const dir = process.argv[2];
const load = (f, d) => { const a = new Float32Array(readFileSync(dir + '/' + f).buffer.slice(0)); return { d, n: a.length / d, a }; };
const prepared = JSON.parse(readFileSync(dir + '/prepared.json', 'utf8'));
const { joint: D, semantic: DC } = prepared.dims ?? { joint: 384, semantic: 256 };
const X = load('x.f32', D), Q = load('q.f32', D);
const exact = new Int32Array(readFileSync(dir + '/exact.i32').buffer.slice(0));
const nq = Q.n;
const row = (m, i) => m.a.subarray(i * m.d, (i + 1) * m.d);
function build(m, space, M) {
  const idx = new hnswlib.HierarchicalNSW(space, m.d); idx.initIndex(m.n, M, 200, 100);
  for (let i = 0; i < m.n; i++) idx.addPoint(Array.from(row(m, i)), i);
  return idx;
}
function dot(a, b) { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * b[i]; return s; }
const full = build(X, 'cosine', 32);
const report = [];
function measure(name, idx, qm, ef, k, rescore) {
  idx.setEf(ef);
  const qs = Array.from({ length: nq }, (_, i) => Array.from(row(qm, i)));
  let hit = 0; const t0 = process.cpuUsage();
  for (let rep = 0; rep < 5; rep++) for (let i = 0; i < nq; i++) {
    const r = idx.searchKnn(qs[i], k);
    let top = r.neighbors;
    if (rescore) { const q = row(Q, i); top = top.map((s) => [s, dot(q, row(X, s))]).sort((a, b) => b[1] - a[1]).slice(0, 10).map((p) => p[0]); }
    else top = top.slice(0, 10);
    if (rep === 0) { const ex = new Set(exact.subarray(i * 10, i * 10 + 10)); hit += top.filter((s) => ex.has(s)).length; }
  }
  const c = process.cpuUsage(t0);
  report.push({ name, ef, k, recallAt10: +(hit / nq / 10).toFixed(3), cpuUs: +((c.user + c.system) / nq / 5).toFixed(1) });
}
for (const ef of [32, 64, 96]) measure(`full${D} M32`, full, Q, ef, 10, false);
// The one-modality reference: the content index as the engine builds it (M 16, efSearch 128, the page + 1).
{
  const C = { d: DC, n: X.n, a: new Float32Array(X.n * DC) };
  for (let i = 0; i < X.n; i++) C.a.set(row(X, i).subarray(0, DC), i * DC);
  const CQ = { d: DC, n: nq, a: new Float32Array(nq * DC) };
  for (let i = 0; i < nq; i++) CQ.a.set(row(Q, i).subarray(0, DC), i * DC);
  const content = build(C, 'cosine', 16);
  content.setEf(128);
  const qs = Array.from({ length: nq }, (_, i) => Array.from(row(CQ, i)));
  const t0 = process.cpuUsage();
  for (let rep = 0; rep < 5; rep++) for (const q of qs) content.searchKnn(q, 25);
  const c = process.cpuUsage(t0);
  report.push({ name: `content${DC} M16 (one modality)`, ef: 128, k: 25, recallAt10: null, cpuUs: +((c.user + c.system) / nq / 5).toFixed(1) });
}
for (const d of [64, 128]) {
  const P = load(`x${d}.f32`, d), PQ = load(`q${d}.f32`, d);
  const red = build(P, 'ip', 32);
  for (const [ef, k] of [[32, 20], [48, 32], [64, 32], [64, 48]]) measure(`reduced${d} M32 +rescore`, red, PQ, ef, k, true);
}
const result = { kind: 'reduced-joint', createdAt: new Date().toISOString(), ...prepared, queries: nq, M: 32, efConstruction: 200, runs: report };
writeFileSync(dir + '/result.json', JSON.stringify(result, null, 1));
console.log(JSON.stringify(report, null, 0).replace(/},/g, '},\n'));
