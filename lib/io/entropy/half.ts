/**
 * IEEE 754 binary16 (half precision) conversion, done on bit patterns so that it is exact and
 * the same on every platform.
 *
 * float32 -> float16 rounds to nearest, ties to even. For a finite float32 `x` whose half
 * `h` is finite, the error is at most half a unit in the last place of the half:
 *   |h - x| <= 2^-11 * |x|   when |x| >= 2^-14 (the normal range of binary16),
 *   |h - x| <= 2^-25         when |x| <  2^-14 (subnormal halves are spaced 2^-24 apart),
 * so always |h - x| <= max(2^-11 * |x|, 2^-25). Magnitudes of 65520 and more overflow to
 * infinity (the largest finite half is 65504). Infinities stay infinities; a NaN stays a NaN
 * (quiet, with the top 10 bits of its payload); the sign of zero is kept.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bit pattern nearest to the float32 value of `x` (ties to even). */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  const e = exp - 112; // the half's biased exponent: exp - 127 + 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // a subnormal half (or zero): the value is m * 2^(e - 14 - 24 + 24) with the implicit 1 added
    if (e < -10) return sign; // below 2^-25: rounds to zero
    const m = mant | 0x800000;
    const shift = 14 - e; // 14..24
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) === 1)) h++; // may carry into the smallest normal: still right
    return sign | h;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // a carry into the exponent is the right rounding, up to infinity
  return h;
}

/** The value of a binary16 bit pattern (exact: every half is a float32). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  return sign * (1024 + m) * 2 ** (e - 25);
}
