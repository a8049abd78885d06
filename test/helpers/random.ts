/**
 * Seeded randomness for the tests: every random case is reproducible from its seed, which the
 * test names print.
 */

/** A uniform [0, 1) generator. */
export type Rng = () => number;

/** mulberry32: a small, fast 32-bit PRNG with good enough statistics for test data. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [lo, hi] (inclusive). */
export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/** A nonzero float32 in [-1, -2^-8] U [2^-8, 1]: never an exact zero, never denormal. */
export function nonzeroValue(rng: Rng): number {
  const mag = Math.fround(1 / 256 + rng() * (1 - 1 / 256));
  return rng() < 0.5 ? -mag : mag;
}

export interface RandomDenseOptions {
  /** Fraction of exact zeros, in [0, 1]: exactly round(sparsity * rows * cols) entries are 0. */
  sparsity?: number;
  /** Make every row r with r % 3 === 1 entirely zero (empty CSR rows). */
  emptyRows?: boolean;
}

/**
 * A rows x cols row-major Float32Array whose nonzeros lie in [-1, 1] away from 0. With
 * `sparsity`, the zero positions are a uniformly random subset of exactly that size.
 */
export function randomDense(rng: Rng, rows: number, cols: number, opts: RandomDenseOptions = {}): Float32Array {
  const size = rows * cols;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = nonzeroValue(rng);
  const zeros = Math.round((opts.sparsity ?? 0) * size);
  if (zeros > 0) {
    // Partial Fisher-Yates over the positions: the first `zeros` of the permutation become 0.
    const perm = new Int32Array(size);
    for (let i = 0; i < size; i++) perm[i] = i;
    for (let i = 0; i < zeros; i++) {
      const j = i + Math.floor(rng() * (size - i));
      const t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
      out[perm[i]] = 0;
    }
  }
  if (opts.emptyRows) for (let r = 1; r < rows; r += 3) out.fill(0, r * cols, (r + 1) * cols);
  return out;
}

/** A Float32Array of `length` values uniform in [-1, 1) (zeros allowed but improbable). */
export function randomVector(rng: Rng, length: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = rng() * 2 - 1;
  return out;
}

/** A random K x n row-major X (batch contiguous). */
export function randomX(rng: Rng, k: number, n: number): Float32Array {
  return randomVector(rng, k * n);
}
