/**
 * Weight initialisers, and the seeded generator layers draw from by default.
 *
 * fan_in / fan_out follow PyTorch: for a weight [out, in, ...kernel], fan_in = in * prod(kernel)
 * and fan_out = out * prod(kernel).
 *
 * The sparse-aware initialiser is for a layer that keeps only a fraction s of its weights:
 * each unit then sums s * fan_in terms, so keeping the forward signal's variance constant
 * through ReLU layers (the mean-field condition s * sigma_w^2 = 2, sigma_w^2 = fan_in * Var(w))
 * needs Var(w) = 2 / (s * fan_in), i.e. Kaiming's variance divided by s.
 */
import { ShapeError } from '../errors.js';
import { Random } from './random.js';

let globalRandom = new Random(0);

/** Seeds the generator that layer constructors, dropout and shuffling use by default. */
export function manualSeed(seed: number): void {
  globalRandom = new Random(seed);
}

/** The default generator (seeded by manualSeed, seed 0 at start). */
export function defaultRandom(): Random {
  return globalRandom;
}

export type Nonlinearity = 'linear' | 'relu' | 'leaky_relu' | 'tanh' | 'sigmoid' | 'gelu' | 'selu';

/** PyTorch's calculate_gain. */
export function gain(nonlinearity: Nonlinearity, negativeSlope = 0.01): number {
  switch (nonlinearity) {
    case 'linear':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu':
      return Math.sqrt(2 / (1 + negativeSlope * negativeSlope));
    case 'gelu':
      return Math.SQRT2; // treated like ReLU, as most practice does
    case 'selu':
      return 3 / 4;
  }
}

/** fan_in and fan_out of a weight shape [out, in, ...kernel]. */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new ShapeError('ERR_SHAPE', `fan in/out need a weight of rank >= 2, got [${shape.join(', ')}]`);
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1]! * receptive, fanOut: shape[0]! * receptive };
}

export interface InitOptions {
  rng?: Random;
}

function fillUniform(data: Float32Array, bound: number, rng: Random): void {
  for (let i = 0; i < data.length; i++) data[i] = (rng.next() * 2 - 1) * bound;
}

function fillNormal(data: Float32Array, std: number, rng: Random): void {
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * std;
}

export interface KaimingOptions extends InitOptions {
  mode?: 'fanIn' | 'fanOut';
  nonlinearity?: Nonlinearity;
  negativeSlope?: number;
}

/** Kaiming/He uniform: U(-b, b), b = gain * sqrt(3 / fan). */
export function kaimingUniform(data: Float32Array, shape: readonly number[], opts: KaimingOptions = {}): Float32Array {
  const { fanIn, fanOut } = fans(shape);
  const fan = (opts.mode ?? 'fanIn') === 'fanIn' ? fanIn : fanOut;
  const std = gain(opts.nonlinearity ?? 'relu', opts.negativeSlope) / Math.sqrt(Math.max(fan, 1));
  fillUniform(data, Math.sqrt(3) * std, opts.rng ?? globalRandom);
  return data;
}

/** Kaiming/He normal: N(0, (gain / sqrt(fan))^2). */
export function kaimingNormal(data: Float32Array, shape: readonly number[], opts: KaimingOptions = {}): Float32Array {
  const { fanIn, fanOut } = fans(shape);
  const fan = (opts.mode ?? 'fanIn') === 'fanIn' ? fanIn : fanOut;
  fillNormal(data, gain(opts.nonlinearity ?? 'relu', opts.negativeSlope) / Math.sqrt(Math.max(fan, 1)), opts.rng ?? globalRandom);
  return data;
}

/** Xavier/Glorot uniform: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out)). */
export function xavierUniform(data: Float32Array, shape: readonly number[], opts: InitOptions & { gain?: number } = {}): Float32Array {
  const { fanIn, fanOut } = fans(shape);
  fillUniform(data, (opts.gain ?? 1) * Math.sqrt(6 / Math.max(fanIn + fanOut, 1)), opts.rng ?? globalRandom);
  return data;
}

/** Xavier/Glorot normal: N(0, gain^2 * 2 / (fan_in + fan_out)). */
export function xavierNormal(data: Float32Array, shape: readonly number[], opts: InitOptions & { gain?: number } = {}): Float32Array {
  const { fanIn, fanOut } = fans(shape);
  fillNormal(data, (opts.gain ?? 1) * Math.sqrt(2 / Math.max(fanIn + fanOut, 1)), opts.rng ?? globalRandom);
  return data;
}

/** U(-bound, bound): PyTorch's default bias init uses bound = 1 / sqrt(fan_in). */
export function uniform(data: Float32Array, bound: number, opts: InitOptions = {}): Float32Array {
  fillUniform(data, bound, opts.rng ?? globalRandom);
  return data;
}

export interface SparseInitOptions extends InitOptions {
  /** Kept fraction s in (0, 1]; defaults to the kept fraction of `mask`. */
  density?: number;
  /** Which entries are kept (1) — pruned entries are set to zero. */
  mask?: Readonly<Uint8Array> | null;
  distribution?: 'normal' | 'uniform';
  nonlinearity?: Nonlinearity;
}

/**
 * Variance-corrected initialisation for a sparse layer keeping a fraction s of its weights:
 * Var(w) = gain^2 / (s * fan_in), which for ReLU (gain^2 = 2) is s * sigma_w^2 = 2 with
 * sigma_w^2 = fan_in * Var(w). Pruned entries (mask 0) are zero.
 */
export function sparseKaiming(data: Float32Array, shape: readonly number[], opts: SparseInitOptions = {}): Float32Array {
  const { fanIn } = fans(shape);
  const mask = opts.mask ?? null;
  if (mask && mask.length !== data.length) throw new ShapeError('ERR_SHAPE', `mask has ${mask.length} entries, the weight has ${data.length}`);
  let s = opts.density;
  if (s === undefined) {
    if (mask) {
      let kept = 0;
      for (let i = 0; i < mask.length; i++) kept += mask[i]!;
      s = data.length === 0 ? 1 : kept / data.length;
    } else s = 1;
  }
  if (!(s > 0 && s <= 1)) throw new ShapeError('ERR_SHAPE', `density must be in (0, 1], got ${s}`);
  const std = gain(opts.nonlinearity ?? 'relu') / Math.sqrt(s * Math.max(fanIn, 1));
  const rng = opts.rng ?? globalRandom;
  if ((opts.distribution ?? 'normal') === 'normal') fillNormal(data, std, rng);
  else fillUniform(data, Math.sqrt(3) * std, rng);
  if (mask) for (let i = 0; i < data.length; i++) if (mask[i] === 0) data[i] = 0;
  return data;
}
