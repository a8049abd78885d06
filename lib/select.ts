import { IndexRangeError } from './errors.js';
import { checkCount } from './checks.js';

/** Selection helpers for magnitude-based conversions (top-k by |value|). */

/**
 * The k-th largest value of `values` (1-based k, 1 <= k <= length), in expected linear time
 * (quickselect on a copy; the input is left untouched).
 */
export function kthLargest(values: Float32Array | Float64Array, k: number): number {
  const a = Float64Array.from(values);
  let lo = 0;
  let hi = a.length - 1;
  const target = k - 1; // index in descending order
  let seed = 0x9e3779b9;
  while (lo < hi) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    const pivot = a[lo + (seed % (hi - lo + 1))];
    // three-way partition, descending: [> pivot | == pivot | < pivot]
    let lt = lo;
    let i = lo;
    let gt = hi;
    while (i <= gt) {
      const v = a[i];
      if (v > pivot) {
        a[i] = a[lt];
        a[lt] = v;
        lt++;
        i++;
      } else if (v < pivot) {
        a[i] = a[gt];
        a[gt] = v;
        gt--;
      } else i++;
    }
    if (target < lt) hi = lt - 1;
    else if (target > gt) lo = gt + 1;
    else return pivot;
  }
  return a[lo];
}

/**
 * A keep-mask choosing exactly k entries with the largest scores; ties at the threshold go to
 * the lowest indices, so the result is deterministic. NaN scores rank below every number.
 */
export function topKMask(scores: Float32Array | Float64Array, k: number): Uint8Array {
  const n = scores.length;
  const keep = new Uint8Array(n);
  if (k <= 0) return keep;
  if (k >= n) return keep.fill(1);
  const clean = Float64Array.from(scores, (v) => (Number.isNaN(v) ? -Infinity : v));
  const t = kthLargest(clean, k);
  let kept = 0;
  for (let i = 0; i < n; i++) if (clean[i] > t) { keep[i] = 1; kept++; }
  for (let i = 0; i < n && kept < k; i++) if (clean[i] === t) { keep[i] = 1; kept++; }
  return keep;
}

/** How a magnitude-based conversion picks its survivors: exactly one of these. */
export interface KeepTarget {
  /** Fraction of entries to drop, in [0, 1]. */
  sparsity?: number;
  /** Fraction of entries to keep, in [0, 1]. */
  density?: number;
  /** Exact number of entries to keep. */
  nnz?: number;
}

/** Number of entries to keep out of `total` for a target (rounded to the nearest integer). */
export function keepCount(total: number, target: KeepTarget, what: string): number {
  const given = (['sparsity', 'density', 'nnz'] as const).filter((key) => target[key] !== undefined);
  if (given.length !== 1) {
    throw new IndexRangeError('ERR_RANGE', `${what}: give exactly one of sparsity, density or nnz (got ${given.length ? given.join(', ') : 'none'})`);
  }
  if (target.nnz !== undefined) return checkCount(target.nnz, `${what}: nnz`, 0, total);
  const key = given[0] as 'sparsity' | 'density';
  const f = target[key] as number;
  if (typeof f !== 'number' || !(f >= 0 && f <= 1)) throw new IndexRangeError('ERR_RANGE', `${what}: ${key} must be a number in [0, 1], got ${String(f)}`);
  return Math.round((key === 'density' ? f : 1 - f) * total);
}
