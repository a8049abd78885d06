/**
 * Seeded pseudo-random numbers for initialisation, shuffling and dropout: xoshiro128** (Blackman &
 * Vigna) with its 128-bit state filled by splitmix32 from a 64-bit key. Every generator is fully
 * determined by its seed, and {@link Random.fork} derives independent, reproducible streams from
 * the key alone (like JAX's `fold_in`), so that e.g. the shuffle of epoch `e` depends only on
 * `(seed, e)`, however many numbers were drawn before.
 *
 * Not for cryptography.
 */
import { IndexRangeError, SparsennTypeError } from '../errors.js';

const TWO_32 = 4294967296;
const TWO_53 = 9007199254740992;

/** The murmur3 32-bit finaliser: a bijection on uint32 with full avalanche. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Splits a safe integer into its low and high 32-bit words (two's complement for negatives). */
function words(n: number): [number, number] {
  return [n >>> 0, Math.floor(n / TWO_32) >>> 0];
}

function checkSafeInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new SparsennTypeError('ERR_TYPE', `Random: ${what} must be a safe integer, got ${String(value)}`);
  }
  return value;
}

/** Anything indexable and writable with a length: arrays and typed arrays. */
export interface MutableArrayLike<T> {
  readonly length: number;
  [index: number]: T;
}

/** A seeded generator (xoshiro128**). Cheap to create; not shared between threads. */
export class Random {
  /** The 64-bit key (two uint32 words) this generator was made from; fork() derives from it. */
  #k0 = 0;
  #k1 = 0;
  #s0 = 0;
  #s1 = 0;
  #s2 = 0;
  #s3 = 0;
  /** The second Box–Muller deviate, or NaN when none is cached. */
  #spare = NaN;

  /**
   * @param seed any safe integer (default 0); equal seeds give equal sequences.
   * @throws {SparsennTypeError} ERR_TYPE when `seed` is not a safe integer.
   */
  constructor(seed = 0) {
    const [lo, hi] = words(checkSafeInteger(seed, 'seed'));
    this.#k0 = lo;
    this.#k1 = hi;
    this.#init();
  }

  #init(): void {
    // Two Feistel rounds mix the key words so both seeds words reach every state word (the
    // first output depends on s1 alone, so s1 must depend on the low word, where small seeds
    // live); the rounds are a bijection, and two splitmix32 sequences then fill s0, s2 from a
    // and s1, s3 from b, so distinct keys still give distinct states.
    let b = (this.#k1 ^ fmix32(this.#k0 ^ 0x6a09e667)) >>> 0;
    let a = (this.#k0 ^ fmix32(b ^ 0xbb67ae85)) >>> 0;
    const next = (st: number): [number, number] => {
      st = (st + 0x9e3779b9) >>> 0;
      return [st, fmix32(st)];
    };
    let out: number;
    [a, out] = next(a);
    this.#s0 = out;
    [b, out] = next(b);
    this.#s1 = out;
    [a, out] = next(a);
    this.#s2 = out;
    [b, out] = next(b);
    this.#s3 = out;
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1; // the one forbidden state
    this.#spare = NaN;
  }

  /** The next raw 32-bit output, a uint32. */
  uint32(): number {
    const s0 = this.#s0;
    const s1 = this.#s1;
    const s2 = this.#s2;
    const s3 = this.#s3;
    const x = Math.imul(s1, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = s1 << 9;
    let n2 = s2 ^ s0;
    let n3 = s3 ^ s1;
    const n1 = s1 ^ n2;
    const n0 = s0 ^ n3;
    n2 ^= t;
    n3 = (n3 << 11) | (n3 >>> 21);
    this.#s0 = n0 >>> 0;
    this.#s1 = n1 >>> 0;
    this.#s2 = n2 >>> 0;
    this.#s3 = n3 >>> 0;
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits (two raw outputs). */
  next(): number {
    const hi = this.uint32() >>> 5; // 27 bits
    const lo = this.uint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / TWO_53;
  }

  /** A uniform double in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }

  /**
   * A uniform integer in [0, n), without modulo bias (rejection sampling).
   * @throws {SparsennTypeError} ERR_TYPE when `n` is not an integer.
   * @throws {IndexRangeError} ERR_RANGE when `n` is not in [1, 2^32].
   */
  int(n: number): number {
    if (typeof n !== 'number' || !Number.isInteger(n)) {
      throw new SparsennTypeError('ERR_TYPE', `Random.int: n must be an integer, got ${String(n)}`);
    }
    if (n < 1 || n > TWO_32) throw new IndexRangeError('ERR_RANGE', `Random.int: n must be in [1, 2^32], got ${n}`);
    if (n === TWO_32) return this.uint32();
    // Accept x < limit, the largest multiple of n that fits in 32 bits.
    const limit = TWO_32 - (TWO_32 % n);
    for (;;) {
      const x = this.uint32();
      if (x < limit) return x % n;
    }
  }

  /**
   * A normal deviate (Box–Muller; the second value of each pair is cached for the next call).
   * @param mean default 0
   * @param std default 1
   */
  normal(mean = 0, std = 1): number {
    let z: number;
    if (!Number.isNaN(this.#spare)) {
      z = this.#spare;
      this.#spare = NaN;
    } else {
      const u1 = 1 - this.next(); // (0, 1]: log never sees 0
      const u2 = this.next();
      const r = Math.sqrt(-2 * Math.log(u1));
      const theta = 2 * Math.PI * u2;
      z = r * Math.cos(theta);
      this.#spare = r * Math.sin(theta);
    }
    return mean + std * z;
  }

  /**
   * Shuffles `arr` in place (Fisher–Yates: every permutation equally likely) and returns it.
   * Works on arrays and typed arrays of up to 2^32 elements.
   */
  shuffle<A extends MutableArrayLike<unknown>>(arr: A): A {
    const a = arr as MutableArrayLike<unknown>;
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return arr;
  }

  /**
   * An independent generator for sub-stream `stream`, derived from this generator's key only:
   * the same (seed, stream) always gives the same stream, whatever this generator has drawn.
   * Forks nest: `r.fork(a).fork(b)` is a stream of its own.
   * @throws {SparsennTypeError} ERR_TYPE when `stream` is not a safe integer.
   */
  fork(stream: number): Random {
    const [slo, shi] = words(checkSafeInteger(stream, 'stream'));
    let a = fmix32(this.#k0 ^ fmix32(slo ^ 0x3c6ef372));
    let b = fmix32(this.#k1 ^ fmix32(shi ^ 0xa54ff53a) ^ 0x510e527f);
    a = fmix32(a ^ b);
    b = fmix32(b ^ a ^ 0x9b05688c);
    const child = new Random(0);
    child.#k0 = a;
    child.#k1 = b;
    child.#init();
    return child;
  }
}
