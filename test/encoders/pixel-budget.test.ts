import { describe, expect, it } from 'vitest';
import { createPixelBudget } from '../../src/encoders/pixel-budget.js';

/** A task that records when it runs and finishes only when told to. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('pixel budget', () => {
  it('runs small images together and holds a large one until the pixels it needs are free', async () => {
    const budget = createPixelBudget(100);
    const running = new Set<string>();
    const started: string[] = [];
    const task = (name: string, pixels: number, until: Promise<void>) =>
      budget.use(pixels, async () => {
        running.add(name);
        started.push(name);
        await until;
        running.delete(name);
        return name;
      });
    const a = gate();
    const b = gate();
    const c = gate();
    const first = task('a', 40, a.opened);
    const second = task('b', 40, b.opened);
    const large = task('c', 90, c.opened);
    const small = task('d', 10, Promise.resolve());
    await Promise.resolve();
    expect([...running]).toEqual(['a', 'b']);
    a.open();
    await first;
    // 'd' would fit beside 'b', but waits behind 'c' so a large image is never starved.
    expect(started).toEqual(['a', 'b']);
    b.open();
    await second;
    await new Promise((resolve) => setImmediate(resolve));
    // Both fit now (90 + 10), in order.
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    expect(await small).toBe('d');
    c.open();
    expect(await large).toBe('c');
  });

  it('runs an image larger than the whole budget alone, and gives the pixels back when work fails', async () => {
    const budget = createPixelBudget(10);
    await expect(budget.use(1_000, async () => Promise.reject(new Error('corrupt')))).rejects.toThrow('corrupt');
    expect(await budget.use(10, async () => 'ran')).toBe('ran');
    expect(() => createPixelBudget(0)).toThrow(RangeError);
  });
});
