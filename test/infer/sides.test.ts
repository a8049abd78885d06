import { describe, expect, it } from 'vitest';
import { measureSides, type TimingOptions } from '../../lib/infer/sides.js';

const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

const timing: TimingOptions = { minSamples: 3, maxSamples: 5, budgetMs: 20, hardCapMs: 500, warmupMs: 2, batchMs: 4, gapMs: 1 };

describe('measureSides', () => {
  it('interleaved: sides alternate; blocks: each side runs all its samples before the next, with its warm calls first', async () => {
    for (const order of ['interleaved', 'blocks'] as const) {
      const calls: string[] = [];
      const stats = await measureSides(
        [
          { label: 'a', call: () => (calls.push('a'), busy(0.5)) },
          { label: 'b', call: () => (calls.push('b'), busy(1.5)) },
        ],
        { ...timing, order, warmCalls: 2 },
      );
      // The warm-up phase is a...a b...b; the timed part starts at the next 'a'.
      const timed = calls.slice(calls.indexOf('a', calls.indexOf('b'))).join('');
      if (order === 'blocks') expect(timed).toMatch(/^a+b+$/);
      else expect(timed).toMatch(/^(a+b+){3,}$/);
      const [a, b] = stats;
      expect(a!.samples).toBeGreaterThanOrEqual(3);
      expect(b!.samples).toBeGreaterThanOrEqual(3);
      // Medians per call follow the work (1.5 ms vs 0.5 ms), within timer and scheduling noise.
      expect(b!.medianUs / a!.medianUs).toBeGreaterThan(2);
      expect(b!.medianUs / a!.medianUs).toBeLessThan(4.5);
    }
  });
});
