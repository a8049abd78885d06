/**
 * Static sparse initialisation: random masks at a chosen sparsity (uniform per layer, or ERK)
 * with the surviving weights drawn by the variance-corrected initialiser, so a network that is
 * sparse from the first step still propagates its signal (s * sigma_w^2 = 2 for ReLU, see
 * sparseKaiming). The starting point of static sparse training and of SET / RigL.
 */
import { SparsennTypeError } from '../errors.js';
import type { Module } from '../nn/module.js';
import { sparseKaiming, type Nonlinearity } from '../nn/init.js';
import { Random } from '../nn/random.js';
import { checkSparsity, erkDensities, minDensity } from './scope.js';
import { pruneTargets, type TargetOptions } from './targets.js';
import { layerResult, pruneResult } from './results.js';
import type { PruneResult, PruneTarget } from './types.js';

export interface SparseMaskInitOptions extends TargetOptions {
  sparsity: number;
  /** 'uniform' (every layer at `sparsity`, default) or 'erk'. */
  distribution?: 'uniform' | 'erk';
  seed?: number;
  /** Nonlinearity after the hidden layers (default 'relu'); the model's last layer uses 'linear'. */
  nonlinearity?: Nonlinearity;
  /** Connectivity guard, as in the Pruner (default 1). */
  minFanOut?: number;
  targets?: PruneTarget[];
  /** Receives warnings (default: process.emitWarning), as in the Pruner. */
  onWarning?: (message: string) => void;
}

/** Random exact-count masks and variance-corrected weights; returns the sparsities reached. */
export function sparseInit(model: Module, opts: SparseMaskInitOptions): PruneResult {
  checkSparsity(opts.sparsity);
  if (opts.distribution !== undefined && opts.distribution !== 'uniform' && opts.distribution !== 'erk')
    throw new SparsennTypeError('ERR_TYPE', `distribution must be 'uniform' or 'erk', got ${String(opts.distribution)}`);
  const targets = opts.targets ?? pruneTargets(model, opts);
  // the model's last layer produces the output (linear gain), whichever layers are targets
  const all = pruneTargets(model);
  const outputLayer = all[all.length - 1]?.param;
  const rng = new Random(opts.seed ?? 0);
  const minFanOut = opts.minFanOut ?? 1;
  const lo = targets.map((t) => minDensity(t, minFanOut));
  const densities = opts.distribution === 'erk' ? erkDensities(targets, 1 - opts.sparsity, lo) : targets.map((_, i) => Math.max(1 - opts.sparsity, lo[i]!));
  const warnings: string[] = [];
  targets.forEach((t, i) => {
    if (opts.distribution !== 'erk' && 1 - opts.sparsity < lo[i]! - 1e-12) warnings.push(`${t.name}: kept at density ${lo[i]!.toFixed(4)} by the connectivity guard`);
    const size = t.param.size;
    const keep = Math.round(densities[i]! * size);
    const order = Int32Array.from({ length: size }, (_, j) => j);
    rng.shuffle(order);
    const mask = new Uint8Array(size);
    for (let k = 0; k < keep; k++) mask[order[k]!] = 1;
    sparseKaiming(t.param.data, t.param.shape, { mask, rng, nonlinearity: t.param === outputLayer ? 'linear' : (opts.nonlinearity ?? 'relu') });
    t.param.setMask(mask);
  });
  const r = pruneResult(targets.map(layerResult));
  const emitted = [...warnings, ...r.warnings];
  for (const w of emitted) (opts.onWarning ?? ((m: string) => process.emitWarning(m, 'SparsennWarning')))(w);
  return { ...r, warnings: emitted };
}
