/**
 * Time spent inside onnxruntime, per model file, since the process started: what /metrics
 * reports as encoder and UNet time. Process-wide on purpose, like the metrics that read it.
 */

export interface InferenceTiming {
  calls: number;
  seconds: number;
}

const timings = new Map<string, InferenceTiming>();

export function recordInference(model: string, seconds: number): void {
  const timing = timings.get(model);
  if (timing) {
    timing.calls++;
    timing.seconds += seconds;
  } else {
    timings.set(model, { calls: 1, seconds });
  }
}

/** A copy: model file name (without .onnx) → calls and seconds. */
export function inferenceTimings(): Map<string, InferenceTiming> {
  return new Map([...timings].map(([model, t]) => [model, { ...t }]));
}

/** Runs `work` and records its duration under `model`. */
export async function timed<T>(model: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    recordInference(model, (performance.now() - started) / 1000);
  }
}

/** "models/mini/unet.onnx" → "unet". */
export function modelName(file: string): string {
  const base = file.slice(Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\')) + 1);
  return base.replace(/\.onnx$/i, '');
}
