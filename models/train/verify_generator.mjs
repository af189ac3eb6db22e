// Times the pack's generator with onnxruntime-node: the UNet on a batch of 3 (one sampler step for one image) at
// default, 2 and 1 intra-op threads, and the VAE decoder on one latent. Prints JSON.
// usage: node verify_generator.mjs <pack dir>
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
const [packDir] = process.argv.slice(2);
// the latent's shape [C, H, W] from the pack's manifest (mini v1: 4x16x16, v2: 8x16x16)
const latent = JSON.parse(readFileSync(`${packDir}/pack.json`, "utf8")).parasol.latent;
const L = latent.reduce((a, b) => a * b, 1);
const res = {};
for (const threads of [0, 2, 1]) {
  const opts = threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {};
  const sess = await ort.InferenceSession.create(`${packDir}/unet.onnx`, opts);
  const B = 3, D = 256;
  const r = (n) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
  const feeds = {
    latent: new ort.Tensor("float32", r(B * L), [B, ...latent]),
    timestep: new ort.Tensor("float32", Float32Array.from([500, 500, 500]), [B]),
    content: new ort.Tensor("float32", r(B * D), [B, D]),
    style: new ort.Tensor("float32", r(B * D), [B, D]),
    content_mask: new ort.Tensor("float32", Float32Array.from([0, 0, 1]), [B]),
    style_mask: new ort.Tensor("float32", Float32Array.from([0, 1, 0]), [B]),
  };
  for (let i = 0; i < 10; i++) await sess.run(feeds);
  const times = [];
  for (let i = 0; i < 100; i++) { const t0 = process.hrtime.bigint(); await sess.run(feeds); times.push(Number(process.hrtime.bigint() - t0) / 1e6); }
  times.sort((a, b) => a - b);
  res[threads ? `threads${threads}` : "default"] = { median_ms: times[50], mean_ms: times.reduce((a, b) => a + b, 0) / times.length, p90_ms: times[90] };
}
const dec = await ort.InferenceSession.create(`${packDir}/vae_decoder.onnx`);
const z = new ort.Tensor("float32", new Float32Array(L), [1, ...latent]);
for (let i = 0; i < 5; i++) await dec.run({ latent: z });
const t0 = process.hrtime.bigint(); for (let i = 0; i < 20; i++) await dec.run({ latent: z });
res.decoder_ms = Number(process.hrtime.bigint() - t0) / 1e6 / 20;
console.log(JSON.stringify(res));
