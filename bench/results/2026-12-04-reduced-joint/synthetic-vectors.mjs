// The bench's synthetic joint vectors ([content, style]/√2, bench/synthetic.ts with its default generator), written
// as raw float32 rows for prepare.py --spectrum. Run from the repository root after `npm run build`:
//   node bench/results/2026-12-04-reduced-joint/synthetic-vectors.mjs 20000 /tmp/synthetic.f32
import { writeFileSync } from 'node:fs';
import { SyntheticCorpus } from '../../../dist/bench/synthetic.js';

const n = Number(process.argv[2] ?? 20000);
const out = process.argv[3] ?? '/tmp/synthetic.f32';
const corpus = new SyntheticCorpus({ semantic: 256, style: 128 }, n);
corpus.generateTo(n);
const rows = new Float32Array(n * 384);
for (let r = 0; r < n; r++) {
  rows.set(corpus.row('semantic', r).map((x) => x / Math.SQRT2), r * 384);
  rows.set(corpus.row('style', r).map((x) => x / Math.SQRT2), r * 384 + 256);
}
writeFileSync(out, Buffer.from(rows.buffer));
console.log(`${n} synthetic joint vectors -> ${out}`);
