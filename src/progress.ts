/** Progress lines for long CLI work: count, rate and ETA, throttled, on stderr. */

export interface ProgressSink {
  write(line: string): void;
}

const stderrSink: ProgressSink = { write: (line) => process.stderr.write(line) };

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export class Progress {
  private done = 0;
  private readonly started = Date.now();
  private lastPrinted = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly sink: ProgressSink | null = stderrSink,
    private readonly everyMs = 500,
  ) {}

  get count(): number {
    return this.done;
  }

  /** Items per second since the start. */
  rate(): number {
    const seconds = (Date.now() - this.started) / 1000;
    return seconds > 0 ? this.done / seconds : 0;
  }

  tick(n = 1): void {
    this.done += n;
    const now = Date.now();
    if (now - this.lastPrinted >= this.everyMs || this.done >= this.total) {
      this.lastPrinted = now;
      this.print();
    }
  }

  line(): string {
    const rate = this.rate();
    const pct = this.total > 0 ? Math.floor((100 * this.done) / this.total) : 100;
    const eta = rate > 0 ? (this.total - this.done) / rate : Number.POSITIVE_INFINITY;
    return `${this.label} ${this.done}/${this.total} (${pct}%) ${rate.toFixed(0)}/s ETA ${formatDuration(eta)}`;
  }

  private print(): void {
    this.sink?.write(`${this.line()}\n`);
  }

  finish(): string {
    const seconds = (Date.now() - this.started) / 1000;
    return `${this.label} ${this.done} in ${formatDuration(seconds)} (${this.rate().toFixed(0)}/s)`;
  }
}

/** Runs `worker` over items with bounded concurrency, preserving nothing about order. */
export async function forEachConcurrent<T>(
  items: readonly T[],
  concurrency: number,
  worker: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length) {
      const index = next++;
      await worker(items[index], index);
    }
  });
  await Promise.all(lanes);
}
