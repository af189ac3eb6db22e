// Runs the pack's ONNX files with onnxruntime-node on inputs written by the export stages (parasol_train/export.py) and prints the outputs.
// usage: node verify_onnx.mjs <pack dir> <inputs.json>
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
const [packDir, inputsPath] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(inputsPath, "utf8"));
const out = [];
for (const c of cases) {
  const sess = await ort.InferenceSession.create(`${packDir}/${c.file}`);
  const feeds = {};
  for (const [name, t] of Object.entries(c.inputs)) {
    feeds[name] = t.type === "int64"
      ? new ort.Tensor("int64", BigInt64Array.from(t.data.map((v) => BigInt(v))), t.dims)
      : new ort.Tensor("float32", Float32Array.from(t.data), t.dims);
  }
  const res = await sess.run(feeds);
  const o = res[c.output];
  out.push({ file: c.file, dims: o.dims, data: Array.from(o.data), inputNames: sess.inputNames, outputNames: sess.outputNames });
}
console.log(JSON.stringify(out));
