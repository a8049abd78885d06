/**
 * The coders behind .spnn: CRC-32 against published check values and node:zlib; float16
 * conversion against a float64 round-to-nearest-even reference and every half bit pattern;
 * the range-coded bitmaps round trip and land within a few bytes of log2 C(N, k) (never above
 * N·H(p)); structured masks (N:M, channels, columns) cost far less than N·H(p); hostile
 * streams terminate and are flagged; value packing stays inside the documented error bounds.
 */
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { binaryEntropy, decodeBitmap, detectGroupPeriod, encodeBitmap, type BitmapModel } from '../../lib/io/entropy/bitmap.js';
import { crc32 } from '../../lib/io/entropy/crc32.js';
import { f16BitsToF32, f32ToF16Bits } from '../../lib/io/entropy/half.js';
import { packedBytes, packValues, unpackValues } from '../../lib/io/entropy/values.js';
import { mulberry32, type Rng } from '../helpers/random.js';

describe('crc32', () => {
  it('matches the published check value and node:zlib', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    const rng = mulberry32(1);
    const bytes = new Uint8Array(4099).map(() => Math.floor(rng() * 256));
    const z = (zlib as unknown as { crc32?: (b: Uint8Array) => number }).crc32;
    if (z) expect(crc32(bytes)).toBe(z(bytes));
    // continuation: crc of a split buffer equals crc of the whole
    expect(crc32(bytes.subarray(1000), crc32(bytes.subarray(0, 1000)))).toBe(crc32(bytes));
  });
});

/** float64 reference: the binary16 value nearest to x, ties to even (Infinity past the range). */
function refHalf(x: number): number {
  if (Number.isNaN(x) || !Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  const e = Math.max(-14, Math.floor(Math.log2(a)));
  // guard log2 rounding at powers of two
  const exp = 2 ** e > a ? e - 1 : 2 ** (e + 1) <= a ? e + 1 : e;
  const ulp = 2 ** (Math.max(-14, exp) - 10);
  const t = a / ulp;
  let m = Math.floor(t);
  const frac = t - m;
  if (frac > 0.5 || (frac === 0.5 && m % 2 === 1)) m++;
  const r = m * ulp;
  return Math.sign(x) * (r > 65504 ? Infinity : r);
}

describe('float16', () => {
  it('decodes known bit patterns', () => {
    expect(f16BitsToF32(0x3c00)).toBe(1);
    expect(f16BitsToF32(0xc000)).toBe(-2);
    expect(f16BitsToF32(0x7bff)).toBe(65504);
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f16BitsToF32(0x0400)).toBe(2 ** -14);
    expect(f16BitsToF32(0x7c00)).toBe(Infinity);
    expect(f16BitsToF32(0xfc00)).toBe(-Infinity);
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
    expect(Number.isNaN(f16BitsToF32(0x7e00))).toBe(true);
  });

  it('round trips every half bit pattern', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = f16BitsToF32(h);
      if (Number.isNaN(v)) expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(v)))).toBe(true);
      else if (f32ToF16Bits(v) !== h) expect.fail(`half 0x${h.toString(16)} (${v}) re-encodes to 0x${f32ToF16Bits(v).toString(16)}`);
    }
  });

  it('rounds to nearest even, within max(2^-11|x|, 2^-25)', () => {
    const cases = [1 + 2 ** -11, 1 + 3 * 2 ** -11, 65519.99, 65520, 2 ** -25, 2 ** -25 * (1 + 2 ** -10), 1.5 * 2 ** -24, 2.5 * 2 ** -24, 2 ** -14 - 2 ** -25, 1e-8, -3.14159];
    expect(f16BitsToF32(f32ToF16Bits(1 + 2 ** -11))).toBe(1);
    expect(f16BitsToF32(f32ToF16Bits(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9);
    expect(f16BitsToF32(f32ToF16Bits(65520))).toBe(Infinity);
    expect(f16BitsToF32(f32ToF16Bits(2 ** -25))).toBe(0);
    const rng = mulberry32(7);
    for (let i = 0; i < 20000; i++) {
      // magnitudes from 2^-30 to 2^17, both signs
      const x = Math.fround((rng() < 0.5 ? -1 : 1) * 2 ** (rng() * 47 - 30));
      cases.push(x);
    }
    for (const x0 of cases) {
      const x = Math.fround(x0);
      const got = f16BitsToF32(f32ToF16Bits(x));
      expect(got, `half(${x})`).toBe(refHalf(x));
      if (Number.isFinite(got)) expect(Math.abs(got - x)).toBeLessThanOrEqual(Math.max(2 ** -11 * Math.abs(x), 2 ** -25));
    }
  });
});

function randomBits(n: number, p: number, rng: Rng): Uint8Array {
  return new Uint8Array(n).map(() => (rng() < p ? 1 : 0));
}

/** log2 C(n, k) in float64. */
function log2Binomial(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log2((n - k + i) / i);
  return s;
}

function popcount(b: Uint8Array): number {
  return b.reduce((a, v) => a + v, 0);
}

function roundTrip(bits: Uint8Array, rows: number, cols: number, models?: BitmapModel[]): number {
  const coded = encodeBitmap(bits, rows, cols, models);
  const dec = decodeBitmap(coded.bytes, bits.length, cols, coded.model, popcount(bits));
  expect(dec.consumed, 'decoder consumes exactly the stream').toBe(coded.bytes.length);
  expect(dec.intact, 'the stream ends cleanly').toBe(true);
  expect(dec.ones).toBe(popcount(bits));
  expect(Buffer.compare(dec.bits, bits), 'bitmap round trip').toBe(0);
  return coded.bytes.length;
}

describe('bitmap coder', () => {
  const N = 60_000;
  const rows = 200;
  const cols = 300;
  for (const p of [0, 1e-3, 0.1, 0.5, 0.9, 1]) {
    it(`round trips random bitmaps at p = ${p} within a few bytes of log2 C(N, k)`, () => {
      const rng = mulberry32(Math.round(p * 1000) + 11);
      const bits = randomBits(N, p, rng);
      const k = popcount(bits);
      const bound = (N * binaryEntropy(k / N)) / 8;
      const info = log2Binomial(N, k) / 8;
      const count = roundTrip(bits, rows, cols, [{ kind: 'count' }]);
      const ctx = roundTrip(bits, rows, cols, [{ kind: 'context', period: 1 }]);
      roundTrip(bits, rows, cols, [{ kind: 'context', period: 4 }]);
      const auto = roundTrip(bits, rows, cols);
      if (k === 0 || k === N) {
        expect(count).toBe(0);
        expect(auto).toBe(0);
        return;
      }
      // the information content is a hard floor; the count model reaches it plus the flush
      expect(count).toBeGreaterThanOrEqual(Math.floor(info));
      expect(count).toBeLessThanOrEqual(Math.ceil(info) + 5);
      expect(count).toBeLessThanOrEqual(bound + 5);
      // the adaptive context model pays about ½·log2 N bits per context (4 contexts)
      expect(ctx).toBeLessThanOrEqual(bound * 1.01 + 16);
      expect(auto).toBe(Math.min(count, ctx));
    });
  }

  it('handles empty and tiny bitmaps', () => {
    expect(roundTrip(new Uint8Array(0), 0, 0)).toBe(0);
    for (let n = 1; n <= 9; n++) for (let s = 0; s < 1 << Math.min(n, 6); s++) roundTrip(new Uint8Array(n).map((_, i) => (s >> i % 6) & 1), 1, n);
  });

  it('codes N:M masks at about log2 C(M, N) bits per group', () => {
    const rng = mulberry32(5);
    for (const [n, m] of [
      [2, 4],
      [1, 4],
      [4, 8],
      [1, 2],
    ] as const) {
      const r = 64;
      const c = 256;
      const bits = new Uint8Array(r * c);
      for (let g = 0; g < (r * c) / m; g++) {
        const idx = Array.from({ length: m }, (_, j) => j).sort(() => rng() - 0.5);
        for (let j = 0; j < n; j++) bits[g * m + idx[j]!] = 1;
      }
      expect(detectGroupPeriod(bits, r, c)).toBe(m);
      const coded = encodeBitmap(bits, r, c);
      expect(coded.model).toEqual({ kind: 'context', period: m });
      const ideal = ((r * c) / m) * log2Binomial(m, n) / 8;
      const size = roundTrip(bits, r, c);
      expect(size, `${n}:${m}`).toBeLessThanOrEqual(ideal * 1.04 + 64);
      expect(size).toBeLessThan(((r * c) * binaryEntropy(n / m)) / 8 * 0.95);
    }
  });

  it('codes channel (row) and column structured masks far below N·H(p)', () => {
    const rng = mulberry32(9);
    const r = 128;
    const c = 400;
    const rowKeep = randomBits(r, 0.5, rng);
    const colKeep = randomBits(c, 0.3, rng);
    const byRow = new Uint8Array(r * c).map((_, i) => rowKeep[Math.floor(i / c)]!);
    const byCol = new Uint8Array(r * c).map((_, i) => colKeep[i % c]!);
    const blocks = new Uint8Array(r * c).map((_, i) => ((Math.floor(i / c / 4) * 7 + Math.floor((i % c) / 4) * 3) % 5 === 0 ? 1 : 0));
    for (const [label, bits] of [
      ['rows', byRow],
      ['columns', byCol],
      ['4x4 blocks', blocks],
    ] as const) {
      const bound = (bits.length * binaryEntropy(popcount(bits) / bits.length)) / 8;
      const size = roundTrip(bits, r, c);
      // whole rows and columns are predicted by the left and upper neighbours; a block's first
      // line is not (the context cannot tell which line of its block it is on)
      expect(size, label).toBeLessThan((label === '4x4 blocks' ? 0.2 : 0.05) * bound);
    }
  });

  it('terminates on hostile streams and reports what it consumed', () => {
    const rng = mulberry32(3);
    for (let t = 0; t < 20; t++) {
      const junk = new Uint8Array(Math.floor(rng() * 40)).map(() => Math.floor(rng() * 256));
      const dec = decodeBitmap(junk, 5000, 50, { kind: 'context', period: 1 + (t % 4) }, 0);
      expect(dec.bits.length).toBe(5000);
      expect(dec.bits.every((b) => b === 0 || b === 1)).toBe(true);
      const c = decodeBitmap(junk, 5000, 50, { kind: 'count' }, 700);
      expect(c.ones).toBe(700); // the count model produces exactly the promised count
    }
    // a truncated stream needs more bytes than it has
    const bits = randomBits(20000, 0.2, rng);
    const coded = encodeBitmap(bits, 100, 200, [{ kind: 'count' }]);
    const dec = decodeBitmap(coded.bytes.subarray(0, coded.bytes.length - 3), 20000, 200, coded.model, popcount(bits));
    expect(dec.consumed).toBeGreaterThan(coded.bytes.length - 3);
    expect(dec.intact).toBe(false);
    // decoding with the wrong count, or after any single-byte change, does not end cleanly
    const k = popcount(bits);
    for (const wrong of [k - 1, k + 1]) expect(decodeBitmap(coded.bytes, 20000, 200, coded.model, wrong).intact).toBe(false);
    const ctx = encodeBitmap(bits, 100, 200, [{ kind: 'context', period: 1 }]);
    for (let i = 0; i < ctx.bytes.length; i += 7) {
      const bad = ctx.bytes.slice();
      bad[i] ^= 0x10;
      expect(decodeBitmap(bad, 20000, 200, ctx.model, k).intact, `byte ${i}`).toBe(false);
    }
  });
});

describe('value packing', () => {
  const rng = mulberry32(21);
  const values = new Float32Array(3000).map(() => (rng() - 0.5) * 2 ** Math.floor(rng() * 10 - 5));
  values[5] = 0;
  values[6] = -0;
  values[7] = 1e-30;

  it('f32 is exact', () => {
    const packed = packValues(values, 'f32', Int32Array.of(0, values.length))!;
    expect(packed.length).toBe(packedBytes('f32', values.length, 0));
    const back = unpackValues(packed, 'f32', values.length, Int32Array.of(0, values.length), 'x');
    expect(Buffer.compare(new Uint8Array(back.buffer), new Uint8Array(values.buffer))).toBe(0);
  });

  it('f16 is within max(2^-11|x|, 2^-25) and refuses overflow', () => {
    const packed = packValues(values, 'f16', Int32Array.of(0, values.length))!;
    expect(packed.length).toBe(2 * values.length);
    const back = unpackValues(packed, 'f16', values.length, Int32Array.of(0, values.length), 'x');
    for (let i = 0; i < values.length; i++) expect(Math.abs(back[i]! - values[i]!)).toBeLessThanOrEqual(Math.max(2 ** -11 * Math.abs(values[i]!), 2 ** -25));
    expect(packValues(Float32Array.of(1, 70000), 'f16', Int32Array.of(0, 2))).toBeNull();
    expect(packValues(Float32Array.of(1, Infinity), 'f16', Int32Array.of(0, 2))).not.toBeNull(); // infinities are representable
  });

  it('i8 is within 0.50001·scale per group, keeps zeros, refuses non-finite values', () => {
    const groups = Int32Array.of(0, 1, 1000, 1001, 3000); // a 1-value group, an empty group
    const packed = packValues(values, 'i8', groups)!;
    expect(packed.length).toBe(packedBytes('i8', values.length, 4));
    const back = unpackValues(packed, 'i8', values.length, groups, 'x');
    for (let g = 0; g < 4; g++) {
      let max = 0;
      for (let i = groups[g]!; i < groups[g + 1]!; i++) max = Math.max(max, Math.abs(values[i]!));
      const scale = (max / 127) * (1 + 2 ** -23);
      for (let i = groups[g]!; i < groups[g + 1]!; i++) expect(Math.abs(back[i]! - values[i]!)).toBeLessThanOrEqual(0.50001 * scale);
    }
    expect(back[5]).toBe(0);
    expect(back[6]).toBe(0);
    expect(packValues(Float32Array.of(1, NaN), 'i8', Int32Array.of(0, 2))).toBeNull();
  });
});
