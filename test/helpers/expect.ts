/** Comparison of float32 kernel output with the float64 reference, with a per-element bound. */
import { expect } from 'vitest';

/** Relative tolerance against the sum of |terms|, and an absolute floor. */
export const REL_TOL = 1e-5;
export const ABS_TOL = 1e-6;

/**
 * Asserts |got[i] - ref[i]| <= 1e-5 * bound[i] + 1e-6 for every i, where bound[i] is the sum of
 * the magnitudes of the terms of ref[i] (referenceAbsMatmul). NaN matches only NaN and an
 * infinite reference only the same infinity. On failure
 * the message names the first bad index (and its row/column when `cols` is given), the values
 * and how many elements are off.
 */
export function expectClose(got: Float32Array, ref: Float64Array, bound: Float64Array, label = '', cols?: number): void {
  expect(got, `${label}: result must be a Float32Array`).toBeInstanceOf(Float32Array);
  expect(got.length, `${label}: result length`).toBe(ref.length);
  expect(bound.length, `${label}: bound length`).toBe(ref.length);
  let first = -1;
  let bad = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    const r = ref[i];
    const ok = Number.isNaN(r) ? Number.isNaN(g) : !Number.isFinite(r) ? g === r : Math.abs(g - r) <= REL_TOL * bound[i] + ABS_TOL;
    if (!ok) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (first >= 0) {
    const at = cols ? ` (row ${Math.floor(first / cols)}, col ${first % cols})` : '';
    const msg =
      `${label}: ${bad} of ${got.length} elements out of tolerance; first at index ${first}${at}: ` +
      `got ${got[first]}, expected ${ref[first]} (|diff| ${Math.abs(got[first] - ref[first])}, ` +
      `allowed ${REL_TOL * bound[first] + ABS_TOL})`;
    expect.fail(msg);
  }
}

/** Asserts two Float32Arrays hold identical bits (NaN payloads and signed zeros included). */
export function expectSameBits(a: Float32Array, b: Float32Array, label = ''): void {
  expect(a.length, `${label}: length`).toBe(b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) expect.fail(`${label}: first differing bits at index ${i}: ${a[i]} vs ${b[i]}`);
  }
}

/** Equality that treats NaN as equal to NaN and +0 as equal to -0 (the `===` view of zeros). */
export function sameValue(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

/** Elementwise {@link sameValue}, failing with the first differing index. */
export function expectSameValues(got: ArrayLike<number>, want: ArrayLike<number>, label = ''): void {
  expect(got.length, `${label}: length`).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    if (!sameValue(got[i], want[i])) expect.fail(`${label}: first difference at index ${i}: got ${got[i]}, expected ${want[i]}`);
  }
}
