import { describe, expect, it } from 'vitest';
import { Histogram } from '../../lib/serve/index.js';
import { mulberry32 } from '../helpers/random.js';

const BOUNDS = [1, 2, 5, 10, 20, 50];

/** 1024 values: uniform on (0, 60), with some exactly on bucket bounds (≤ is inclusive). */
function sample(seed: number, count = 1024): number[] {
  const rng = mulberry32(seed);
  return Array.from({ length: count }, (_, i) => (i % 17 === 0 ? BOUNDS[i % BOUNDS.length]! : rng() * 60));
}

/** Nearest-rank q-quantile of the data: the ceil(q·N)-th smallest value (the smallest for q = 0). */
function exactQuantile(sorted: readonly number[], q: number): number {
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

describe('Histogram', () => {
  it('counts each bucket like a direct count of the data', () => {
    for (const seed of [1, 2, 3]) {
      const data = sample(seed);
      const h = new Histogram(BOUNDS);
      for (const v of data) h.observe(v);
      const buckets = h.buckets();
      expect(buckets.map((b) => b.le)).toEqual([...BOUNDS, Infinity]);
      buckets.forEach((b) => expect(b.count, `le=${b.le}`).toBe(data.filter((v) => v <= b.le).length));
      // Per bucket (not cumulative): lo < v ≤ hi.
      const edges = [-Infinity, ...BOUNDS, Infinity];
      for (let i = 0; i < buckets.length; i++) {
        const own = buckets[i]!.count - (i > 0 ? buckets[i - 1]!.count : 0);
        expect(own).toBe(data.filter((v) => v > edges[i]! && v <= edges[i + 1]!).length);
      }
      expect(h.count).toBe(data.length);
      expect(h.sum).toBeCloseTo(data.reduce((s, v) => s + v, 0), 6);
      expect(h.max).toBe(Math.max(...data));
    }
  });

  it('puts a value equal to a bound in that bound’s bucket', () => {
    const h = new Histogram([1, 2, 3]);
    h.observe(2);
    expect(h.buckets().map((b) => b.count)).toEqual([0, 1, 1, 1]);
    h.observe(2.0000001);
    expect(h.buckets().map((b) => b.count)).toEqual([0, 1, 2, 2]);
    h.observe(3.5);
    expect(h.buckets().map((b) => b.count)).toEqual([0, 1, 2, 3]);
  });

  it('quantile(q) is the first bucket bound at or above the exact quantile (capped by the max)', () => {
    const qs = [0, 0.001, 0.01, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1];
    for (const seed of [4, 5, 6]) {
      const data = sample(seed);
      const sorted = [...data].sort((a, b) => a - b);
      const max = sorted[sorted.length - 1]!;
      const h = new Histogram(BOUNDS);
      for (const v of data) h.observe(v);
      for (const q of qs) {
        const exact = exactQuantile(sorted, q);
        const bound = BOUNDS.find((b) => b >= exact);
        // The +Inf bucket reports the observed maximum; a finite bucket its bound, but never
        // more than the largest value seen.
        const want = bound === undefined ? max : Math.min(bound, max);
        const got = h.quantile(q);
        expect(got, `seed ${seed} q ${q}`).toBe(want);
        expect(got).toBeGreaterThanOrEqual(exact);
      }
    }
  });

  it('quantile of data beyond the last bound is the observed max', () => {
    const h = new Histogram([1, 2]);
    for (const v of [0.5, 3, 7, 11.5]) h.observe(v);
    expect(h.quantile(0.25)).toBe(1); // 0.5 → bucket le=1
    expect(h.quantile(0.5)).toBe(11.5); // 3 → +Inf bucket
    expect(h.quantile(0.99)).toBe(11.5);
    expect(h.quantile(1)).toBe(11.5);
  });

  it('with one bucket per value, quantile(q) is the exact nearest-rank quantile', () => {
    // Data 1..10, a bound at each value: the bucket holding the ceil(q·10)-th smallest is its value.
    const h = new Histogram([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const v of [7, 3, 10, 1, 5, 9, 2, 8, 4, 6]) h.observe(v);
    const cases: [number, number][] = [[0, 1], [0.05, 1], [0.1, 1], [0.12, 2], [0.25, 3], [0.31, 4], [0.5, 5], [0.55, 6], [0.9, 9], [0.91, 10], [1, 10]];
    for (const [q, want] of cases) expect(h.quantile(q), `q ${q}`).toBe(want);
  });

  it('quantile never exceeds the largest value seen', () => {
    const h = new Histogram([1, 2]);
    h.observe(0.3);
    h.observe(0.4);
    expect(h.quantile(0.5)).toBe(0.4);
    expect(h.quantile(1)).toBe(0.4);
  });

  it('quantile is NaN when empty', () => {
    const h = new Histogram(BOUNDS);
    for (const q of [0, 0.5, 0.99, 1]) expect(h.quantile(q)).toBeNaN();
    expect(h.count).toBe(0);
    expect(h.sum).toBe(0);
    const s = h.summary();
    expect(s.count).toBe(0);
    expect(s.p50).toBeNaN();
    expect(s.p99).toBeNaN();
    expect(h.buckets().every((b) => b.count === 0)).toBe(true);
  });

  it('summary() reports the same numbers as the accessors', () => {
    const data = sample(9);
    const h = new Histogram(BOUNDS);
    for (const v of data) h.observe(v);
    expect(h.summary()).toEqual({ count: h.count, sum: h.sum, max: h.max, p50: h.quantile(0.5), p90: h.quantile(0.9), p99: h.quantile(0.99) });
  });

  it('rejects bounds that are empty, not finite or not increasing with RangeError', () => {
    for (const bad of [[], [1, 1], [2, 1], [1, 3, 2], [1, NaN], [NaN], [1, Infinity], [-Infinity, 0]]) {
      expect(() => new Histogram(bad), `[${bad.join(', ')}]`).toThrow(RangeError);
    }
    expect(() => new Histogram([-5, 0, 0.5])).not.toThrow();
  });

  it('copies its bounds', () => {
    const bounds = [1, 2, 3];
    const h = new Histogram(bounds);
    bounds[1] = 100;
    expect(h.bounds).toEqual([1, 2, 3]);
  });

  describe('exponential()', () => {
    it('steps by about 2^(1/steps) from first until a bound reaches last', () => {
      for (const [first, last, steps] of [
        [0.05, 60_000, 4],
        [1, 1000, 2],
        [0.001, 1, 8],
        [3, 3000, 1],
      ] as const) {
        const h = Histogram.exponential(first, last, steps);
        const b = h.bounds;
        const ratio = 2 ** (1 / steps);
        expect(b[0]).toBeCloseTo(first, 10);
        for (let i = 1; i < b.length; i++) {
          expect(b[i]!).toBeGreaterThan(b[i - 1]!);
          // Bounds are rounded to 6 significant digits: the ratio is exact to about 1e-5.
          expect(Math.abs(b[i]! / b[i - 1]! / ratio - 1), `${first}..${last}/${steps} at ${i}`).toBeLessThan(2e-5);
        }
        // Number of bounds: enough steps to reach last (ceil(log2(last/first)·steps), plus the first).
        expect(b.length).toBe(Math.ceil(Math.log2(last / first) * steps - 1e-9) + 1);
        // The top bound reaches last, and the one before does not.
        expect(b[b.length - 1]!).toBeGreaterThanOrEqual(last);
        expect(b[b.length - 2]!).toBeLessThan(last);
      }
    });

    it('steps = 1 gives powers of two; the default is 4 steps per doubling', () => {
      expect(Histogram.exponential(1, 1024, 1).bounds).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
      const d = Histogram.exponential(1, 16).bounds;
      expect(d.length).toBe(17);
      expect(d[4]).toBe(2);
      expect(d[8]).toBe(4);
      expect(d[2]).toBeCloseTo(Math.SQRT2, 3);
    });
  });

  it('prometheus() has cumulative _bucket lines ending in le="+Inf" equal to _count, and _sum', () => {
    const data = sample(12, 500);
    const h = new Histogram(BOUNDS);
    for (const v of data) h.observe(v);
    const text = h.prometheus('req_latency_ms', 'Request latency.');
    const lines = text.split('\n');
    expect(lines[0]).toBe('# HELP req_latency_ms Request latency.');
    expect(lines[1]).toBe('# TYPE req_latency_ms histogram');
    const bucketLines = lines.filter((l) => l.startsWith('req_latency_ms_bucket'));
    expect(bucketLines.length).toBe(BOUNDS.length + 1);
    const parsed = bucketLines.map((l) => {
      const m = /^req_latency_ms_bucket\{le="([^"]+)"\} (\d+)$/.exec(l);
      expect(m, l).not.toBeNull();
      return { le: m![1]!, count: Number(m![2]) };
    });
    expect(parsed.map((p) => p.le)).toEqual([...BOUNDS.map(String), '+Inf']);
    parsed.forEach((p, i) => {
      const le = i < BOUNDS.length ? BOUNDS[i]! : Infinity;
      expect(p.count).toBe(data.filter((v) => v <= le).length);
      if (i > 0) expect(p.count).toBeGreaterThanOrEqual(parsed[i - 1]!.count);
    });
    const sumLine = lines.find((l) => l.startsWith('req_latency_ms_sum '));
    const countLine = lines.find((l) => l.startsWith('req_latency_ms_count '));
    expect(Number(sumLine!.split(' ')[1])).toBeCloseTo(data.reduce((s, v) => s + v, 0), 6);
    expect(Number(countLine!.split(' ')[1])).toBe(data.length);
    expect(parsed[parsed.length - 1]!.count).toBe(data.length);
    // _sum and _count come after the buckets.
    expect(lines.indexOf(sumLine!)).toBeGreaterThan(lines.indexOf(bucketLines[bucketLines.length - 1]!));
    expect(lines.length).toBe(2 + BOUNDS.length + 1 + 2);
  });
});

describe('Histogram edge cases', () => {
  it('max is the largest observation even when all are negative, NaN when empty', () => {
    const h = new Histogram([-10, -5]);
    expect(h.max).toBeNaN();
    h.observe(-3);
    h.observe(-7);
    expect(h.max).toBe(-3);
    expect(h.quantile(1)).toBe(-3);
  });

  it('many steps per octave still give increasing bounds', () => {
    const h = Histogram.exponential(1, 2, 2000);
    expect(h.bounds.length).toBeGreaterThan(1000);
    expect(h.bounds[h.bounds.length - 1]).toBeGreaterThanOrEqual(2);
  });
});
