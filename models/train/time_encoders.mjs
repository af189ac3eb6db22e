// Per-image time of a pack's image encoders with onnxruntime-node (the engine's runtime), and the same for a
// second pack measured in the same run (ratios survive a loaded machine better than absolutes).
// usage: node models/train/time_encoders.mjs <pack dir> [<peer pack dir>] [--batch 32] [--rounds 20]
import { cpus, loadavg } from "node:os";
import * as ort from "onnxruntime-node";

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args.splice(i, 2)[1]) : fallback;
};
const batch = flag("--batch", 32);
const rounds = flag("--rounds", 20);
const packs = args;
if (packs.length === 0) throw new Error("usage: node time_encoders.mjs <pack dir> [<peer pack dir>] [--batch N] [--rounds N]");

const pixels = new Float32Array(batch * 3 * 64 * 64).map(() => Math.random() * 2 - 1);
const result = { batch, rounds, loadavgBefore: loadavg(), cpus: cpus().length, packs: {} };
for (const pack of packs) {
  result.packs[pack] = {};
  for (const file of ["semantic_image.onnx", "style_image.onnx"]) {
    const session = await ort.InferenceSession.create(`${pack}/${file}`, { intraOpNumThreads: 1 });
    const feeds = { pixels: new ort.Tensor("float32", pixels, [batch, 3, 64, 64]) };
    await session.run(feeds); // warm-up
    const times = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6 / batch);
    }
    times.sort((a, b) => a - b);
    result.packs[pack][file] = { msPerImageMedian: times[Math.floor(times.length / 2)], msPerImageMin: times[0] };
  }
}
result.loadavgAfter = loadavg();
console.log(JSON.stringify(result, null, 1));
