/**
 * A bound on the pixels being decoded at once. Decoding holds an image's full-size RGBA in
 * memory, so "at most N images" is either too strict for icons (most of the machine idles while
 * the models run) or too loose for photos; counting pixels allows many small images or a few
 * large ones. Waiters are served in order, so a large image is never starved by small ones.
 */
export interface PixelBudget {
  /** Runs `work` once `pixels` (capped at the capacity) fit in the budget, and gives them back after. */
  use<T>(pixels: number, work: () => Promise<T>): Promise<T>;
}

export function createPixelBudget(capacity: number): PixelBudget {
  if (!(Number.isFinite(capacity) && capacity > 0)) throw new RangeError(`capacity must be positive, got ${capacity}`);
  let free = capacity;
  const waiting: Array<{ pixels: number; start: () => void }> = [];

  function admit(): void {
    while (waiting.length > 0 && waiting[0].pixels <= free) {
      const next = waiting.shift() as { pixels: number; start: () => void };
      free -= next.pixels;
      next.start();
    }
  }

  return {
    async use(pixels, work) {
      const weight = Math.min(Math.max(pixels, 1), capacity);
      await new Promise<void>((start) => {
        waiting.push({ pixels: weight, start });
        admit();
      });
      try {
        return await work();
      } finally {
        free += weight;
        admit();
      }
    },
  };
}
