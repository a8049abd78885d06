/** lib/nn/random.ts: the seeded generator behind initialisation and shuffles. */
import { describe, expect, it } from 'vitest';
import { IndexRangeError, SparsennError, SparsennTypeError, type ErrorCode } from '../../lib/errors.js';
import { Random } from '../../lib/nn/random.js';

function expectError(fn: () => unknown, cls: abstract new (...a: never[]) => SparsennError, code: ErrorCode): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(cls);
  expect((caught as SparsennError).code).toBe(code);
}

function draws(r: Random, n: number): number[] {
  return Array.from({ length: n }, () => r.uint32());
}

/** xoshiro128** written straight from the reference C (Blackman & Vigna), on a Uint32Array. */
function referenceXoshiro(state: Uint32Array): () => number {
  const s = state;
  const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;
  return () => {
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  };
}

/**
 * The documented seeding: two Feistel rounds (fmix32) mix the seed's low and high words into
 * a and b, then splitmix32 over a (s0, s2) and b (s1, s3).
 */
function referenceState(seed: number): Uint32Array {
  const fmix = (h: number) => {
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  };
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  let b = (hi ^ fmix(lo ^ 0x6a09e667)) >>> 0;
  let a = (lo ^ fmix(b ^ 0xbb67ae85)) >>> 0;
  const out = new Uint32Array(4);
  a = (a + 0x9e3779b9) >>> 0;
  out[0] = fmix(a);
  b = (b + 0x9e3779b9) >>> 0;
  out[1] = fmix(b);
  a = (a + 0x9e3779b9) >>> 0;
  out[2] = fmix(a);
  b = (b + 0x9e3779b9) >>> 0;
  out[3] = fmix(b);
  return out;
}

describe('Random', () => {
  it('is xoshiro128** seeded by splitmix32 (checked against the reference C, transcribed)', () => {
    for (const seed of [0, 1, 42, 2 ** 32 + 7, -1, Number.MAX_SAFE_INTEGER]) {
      const ref = referenceXoshiro(referenceState(seed));
      const r = new Random(seed);
      const got = Array.from({ length: 1000 }, () => r.uint32());
      const want = Array.from({ length: 1000 }, () => ref());
      expect(got, `seed ${seed}`).toEqual(want);
    }
  });

  it('is deterministic: equal seeds, equal streams; different seeds, different streams', () => {
    expect(draws(new Random(123), 100)).toEqual(draws(new Random(123), 100));
    expect(draws(new Random(), 10)).toEqual(draws(new Random(0), 10));
    const seeds = [0, 1, 2, -1, 2 ** 32, 2 ** 32 + 1, 2 ** 40];
    const firsts = new Set(seeds.map((s) => draws(new Random(s), 4).join(',')));
    expect(firsts.size).toBe(seeds.length);
  });

  it('next() is uniform on [0, 1): mean 1/2 and variance 1/12 within 5 sigma over 1e5 draws', () => {
    const r = new Random(7);
    const n = 100_000;
    let sum = 0;
    let sum2 = 0;
    let min = 1;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const u = r.next();
      sum += u;
      sum2 += u * u;
      min = Math.min(min, u);
      max = Math.max(max, u);
    }
    const mean = sum / n;
    const variance = sum2 / n - mean * mean;
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(0.002);
    // uniform(lo, hi) is the affine map of next()
    const a = new Random(3);
    const b = new Random(3);
    expect(a.uniform(-2, 6)).toBe(-2 + 8 * b.next());
  });

  it('normal() has mean 0 and variance 1 within tolerance over 1e5 draws, and honours mean/std', () => {
    const r = new Random(11);
    const n = 100_000;
    let sum = 0;
    let sum2 = 0;
    let sum4 = 0;
    let finite = true;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      finite &&= Number.isFinite(z);
      sum += z;
      sum2 += z * z;
      sum4 += z ** 4;
    }
    const mean = sum / n;
    const variance = sum2 / n - mean * mean;
    expect(finite).toBe(true);
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n)); // 5 sigma
    expect(Math.abs(variance - 1)).toBeLessThan(0.025); // sd of the estimate ~ sqrt(2/n) = 0.0045
    expect(Math.abs(sum4 / n - 3)).toBeLessThan(0.15); // kurtosis of a normal
    // Box–Muller pairs: the cached second value is used by the next call, then a new pair starts
    const s = new Random(5);
    const t = new Random(5);
    const pair = [s.normal(), s.normal()];
    expect([t.normal(10, 2), t.normal(10, 2)]).toEqual([10 + 2 * pair[0], 10 + 2 * pair[1]]);
  });

  it('int(n) is in [0, n), covers every value about equally, and rejects bad n', () => {
    const r = new Random(99);
    const counts = new Array<number>(10).fill(0);
    const n = 100_000;
    let inRange = true;
    for (let i = 0; i < n; i++) {
      const k = r.int(10);
      inRange &&= Number.isInteger(k) && k >= 0 && k < 10;
      counts[k]++;
    }
    expect(inRange).toBe(true);
    const sigma = Math.sqrt(n * 0.1 * 0.9);
    for (const c of counts) expect(Math.abs(c - n / 10)).toBeLessThan(5 * sigma);
    expect(r.int(1)).toBe(0);
    const big = r.int(2 ** 32);
    expect(big >= 0 && big < 2 ** 32).toBe(true);
    const odd = r.int(3_000_000_001); // a limit that forces rejections
    expect(odd >= 0 && odd < 3_000_000_001).toBe(true);
    expectError(() => r.int(0), IndexRangeError, 'ERR_RANGE');
    expectError(() => r.int(-3), IndexRangeError, 'ERR_RANGE');
    expectError(() => r.int(2 ** 32 + 1), IndexRangeError, 'ERR_RANGE');
    expectError(() => r.int(2.5), SparsennTypeError, 'ERR_TYPE');
    expectError(() => r.int(NaN), SparsennTypeError, 'ERR_TYPE');
  });

  it('shuffle() is an in-place permutation, every permutation about equally likely', () => {
    const r = new Random(1);
    for (const n of [0, 1, 2, 17, 1000]) {
      const a = Int32Array.from({ length: n }, (_, i) => i);
      expect(r.shuffle(a)).toBe(a);
      expect(Array.from(a).sort((p, q) => p - q)).toEqual(Array.from({ length: n }, (_, i) => i));
    }
    const words = ['a', 'b', 'c', 'd'];
    expect([...r.shuffle(words)].sort()).toEqual(['a', 'b', 'c', 'd']);
    // 3 elements: 6 permutations, each 1/6 of 60,000 within 5 sigma
    const seen = new Map<string, number>();
    const trials = 60_000;
    for (let i = 0; i < trials; i++) {
      const key = r.shuffle([0, 1, 2]).join('');
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    expect(seen.size).toBe(6);
    const sigma = Math.sqrt((trials * (1 / 6) * 5) / 6);
    for (const c of seen.values()) expect(Math.abs(c - trials / 6)).toBeLessThan(5 * sigma);
  });

  it('fork(stream) depends only on the key and the stream, not on earlier draws', () => {
    const parent = new Random(2024);
    const early = draws(parent.fork(3), 20);
    draws(parent, 1000);
    parent.normal();
    expect(draws(parent.fork(3), 20)).toEqual(early);
    expect(draws(new Random(2024).fork(3), 20)).toEqual(early);
    // distinct streams, distinct from the parent and from other seeds
    const streams = new Set<string>();
    for (const [seed, stream] of [[2024, 0], [2024, 1], [2024, 2], [2024, -1], [2025, 0], [0, 2024]] as const) {
      streams.add(draws(new Random(seed).fork(stream), 4).join(','));
    }
    streams.add(draws(new Random(2024), 4).join(','));
    expect(streams.size).toBe(7);
    // nesting
    expect(draws(new Random(1).fork(2).fork(3), 8)).toEqual(draws(new Random(1).fork(2).fork(3), 8));
    expect(draws(new Random(1).fork(2).fork(3), 8)).not.toEqual(draws(new Random(1).fork(3).fork(2), 8));
  });

  it('rejects seeds and streams that are not safe integers', () => {
    expectError(() => new Random(1.5), SparsennTypeError, 'ERR_TYPE');
    expectError(() => new Random(2 ** 53), SparsennTypeError, 'ERR_TYPE');
    expectError(() => new Random('7' as unknown as number), SparsennTypeError, 'ERR_TYPE');
    expectError(() => new Random(1).fork(NaN), SparsennTypeError, 'ERR_TYPE');
  });
});
