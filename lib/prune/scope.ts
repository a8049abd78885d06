/**
 * Scopes: how a sparsity target is shared among layers.
 *
 * - 'layer': every layer at the same sparsity;
 * - 'global': one threshold over all layers' scores (layers end at whatever sparsity the
 *   ranking gives them; the total is met exactly);
 * - 'erk': Erdős–Rényi-Kernel densities (Evci et al. 2020): density proportional to
 *   (sum of the weight's dimensions) / (product of them), so small layers stay denser;
 * - { perLayer }: explicit sparsities by parameter name;
 * - sensitivity(...): scan each layer's loss against its sparsity and allocate so every layer
 *   costs about the same loss (see pruner.ts).
 *
 * The connectivity guard: a layer where each input unit has b potential outgoing weights kept
 * with probability d passes a signal on only while b * d >= 1 (percolation: p_c = 1 - 1/b), and
 * each output unit needs a kept fan-in too. So a layer's density never goes below
 * minFanOut * max(1/rows, 1/cols); allocations that would go below are clamped (and the
 * freed budget spent on other layers where the scope allows), with a warning.
 */
import { IndexRangeError, SparsennTypeError } from '../errors.js';
import type { Module } from '../nn/module.js';
import { targetDims } from './targets.js';
import type { PruneTarget } from './types.js';

/** Loss (lower is better) of the model on held-out data, for sensitivity scans. */
export type SensitivityMetric = (model: Module) => number;

export interface SensitivityScope {
  kind: 'sensitivity';
  metric: SensitivityMetric;
  /** Sparsity levels scanned per layer (default 0.5 ... 0.98). */
  levels: number[];
}

export type Scope = 'layer' | 'global' | 'erk' | { perLayer: Record<string, number> } | SensitivityScope;

/** Sensitivity-based allocation: each layer's `metric` (a loss) is scanned over `levels`. */
export function sensitivity(metric: SensitivityMetric, opts: { levels?: number[] } = {}): SensitivityScope {
  if (typeof metric !== 'function') throw new SparsennTypeError('ERR_TYPE', 'sensitivity() needs a metric function (model) => loss');
  const levels = opts.levels ?? [0.5, 0.7, 0.8, 0.9, 0.95, 0.98];
  for (const l of levels) checkSparsity(l, 'a sensitivity level');
  return { kind: 'sensitivity', metric, levels: [...levels].sort((a, b) => a - b) };
}

export function checkSparsity(s: unknown, what = 'sparsity'): number {
  if (typeof s !== 'number' || !(s >= 0 && s <= 1)) throw new IndexRangeError('ERR_RANGE', `${what} must be a number in [0, 1], got ${String(s)}`);
  return s;
}

/** The lowest density the connectivity guard allows for a target (1 when minFanOut is 0). */
export function minDensity(t: PruneTarget, minFanOut: number): number {
  const { rows, cols } = targetDims(t);
  if (minFanOut <= 0 || rows * cols === 0) return 0;
  return Math.min(1, minFanOut * Math.max(1 / rows, 1 / cols));
}

/**
 * Densities d_l with sum d_l * n_l = density * N, each within [lo_l, 1], and proportional to
 * `raw` where no bound binds (water-filling: clamp, then rescale the free layers).
 */
export function proportionalDensities(sizes: readonly number[], raw: readonly number[], density: number, lo: readonly number[]): number[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  const budget = density * total;
  const d = new Array<number>(sizes.length).fill(0);
  const fixed = new Array<boolean>(sizes.length).fill(false);
  for (let iter = 0; iter <= sizes.length; iter++) {
    let fixedKept = 0;
    let freeRaw = 0;
    sizes.forEach((n, i) => {
      if (fixed[i]) fixedKept += d[i]! * n;
      else freeRaw += raw[i]! * n;
    });
    const eps = freeRaw > 0 ? (budget - fixedKept) / freeRaw : 0;
    let changed = false;
    sizes.forEach((_, i) => {
      if (fixed[i]) return;
      const v = eps * raw[i]!;
      if (v > 1) {
        d[i] = 1;
        fixed[i] = changed = true;
      } else if (v < lo[i]!) {
        d[i] = lo[i]!;
        fixed[i] = changed = true;
      } else d[i] = v;
    });
    if (!changed) break;
  }
  return d;
}

/** ERK raw density of a weight: (sum of dims) / (product of dims). */
export function erkRaw(shape: readonly number[]): number {
  const prod = shape.reduce((a, b) => a * b, 1);
  return prod === 0 ? 0 : shape.reduce((a, b) => a + b, 0) / prod;
}

/** ERK densities reaching `density` overall, clamped to [lo, 1]. */
export function erkDensities(targets: readonly PruneTarget[], density: number, lo: readonly number[] = targets.map(() => 0)): number[] {
  return proportionalDensities(
    targets.map((t) => t.param.size),
    targets.map((t) => erkRaw(t.param.shape)),
    density,
    lo,
  );
}

/**
 * Per-layer sparsities from a scan: curve[l][k] is layer l's loss at levels[k] (levels
 * ascending, loss at sparsity 0 is `base`). For a loss budget tau, layer l takes the largest
 * sparsity whose (linearly interpolated, made monotone) loss increase stays within tau; tau is
 * found by bisection so that the weighted mean sparsity equals `target`.
 */
export function allocateBySensitivity(sizes: readonly number[], levels: readonly number[], base: number, curves: readonly number[][], target: number, hi: readonly number[]): number[] {
  const xs = [0, ...levels];
  const ys = curves.map((c) => {
    const y = [0, ...c.map((v) => v - base)];
    for (let k = 1; k < y.length; k++) y[k] = Math.max(y[k]!, y[k - 1]!); // monotone envelope
    return y;
  });
  const sparsityAt = (l: number, tau: number): number => {
    const y = ys[l]!;
    let s = 0;
    for (let k = 1; k < xs.length; k++) {
      if (y[k]! <= tau) {
        s = xs[k]!;
        continue;
      }
      const dy = y[k]! - y[k - 1]!;
      s = dy > 0 ? xs[k - 1]! + ((tau - y[k - 1]!) / dy) * (xs[k]! - xs[k - 1]!) : xs[k - 1]!;
      break;
    }
    return Math.min(s, hi[l]!);
  };
  const total = sizes.reduce((a, b) => a + b, 0);
  const mean = (tau: number) => sizes.reduce((a, n, l) => a + n * sparsityAt(l, tau), 0) / total;
  let lo = 0;
  let up = Math.max(1e-12, ...ys.map((y) => y[y.length - 1]!)) + 1;
  if (mean(up) < target) return sizes.map((_, l) => sparsityAt(l, up)); // cannot reach: the most the scan allows
  for (let i = 0; i < 100; i++) {
    const mid = (lo + up) / 2;
    if (mean(mid) >= target) up = mid;
    else lo = mid;
  }
  // the bisection lands just above the budget; scale down to hit the mean exactly
  const s = sizes.map((_, l) => sparsityAt(l, up));
  const m = mean(up);
  return m > 0 ? s.map((v) => (v * target) / m) : s;
}
