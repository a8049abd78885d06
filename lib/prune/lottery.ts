/**
 * Iterative magnitude pruning with rewinding (Frankle & Carbin 2019; late rewinding, Frankle et
 * al. 2020; learning-rate rewinding, Renda et al. 2020).
 *
 * Train, prune the smallest surviving weights, reset the survivors to their values at step k
 * (k = 0: the initialisation, the "lottery ticket"), retrain; repeat. The control experiment
 * keeps each round's mask but re-draws the surviving weights at random ({@link reinitialize}).
 * Weights are not rewound with `rewind: 'none'`: with a fresh learning-rate schedule per round
 * that is learning-rate rewinding.
 */
import { IndexRangeError, SparsennTypeError } from '../errors.js';
import { kaimingUniform, uniform } from '../nn/init.js';
import { Conv2d } from '../nn/layers/conv.js';
import type { Module } from '../nn/module.js';
import { Random } from '../nn/random.js';
import type { Callback } from '../nn/train/fit.js';
import { Pruner, type PrunerOptions } from './pruner.js';
import { checkSparsity } from './scope.js';
import { pruneTargets } from './targets.js';
import type { PruneResult } from './types.js';

/** Weights and buffers of a model at one training step, for rewinding. */
export interface RewindCheckpoint extends Callback {
  /** The global step whose weights are captured (0: before the first update). */
  readonly step: number;
  readonly captured: boolean;
  /** Captures now (also what the callback does at `step`). */
  capture(): void;
  /**
   * Resets every parameter and buffer to the captured values; masks are kept, so pruned weights
   * stay zero. Throws if nothing was captured.
   */
  restore(): void;
}

/** A checkpoint of `model` taken by fit() at global step `step` (add it to the callbacks). */
export function rewindCheckpoint(model: Module, opts: { step?: number } = {}): RewindCheckpoint {
  const step = opts.step ?? 0;
  if (!Number.isInteger(step) || step < 0) throw new IndexRangeError('ERR_RANGE', `the rewind step must be an integer >= 0, got ${String(step)}`);
  let params: Array<[Float32Array, Float32Array]> | null = null;
  let buffers: Array<[Float32Array, Float32Array]> | null = null;
  const ckpt = {
    step,
    get captured() {
      return params !== null;
    },
    capture() {
      params = model.parameters().map((p) => [p.data, p.data.slice()]);
      buffers = model.namedBuffers().map(([, b]) => [b.data, b.data.slice()]);
    },
    restore() {
      if (!params || !buffers) throw new SparsennTypeError('ERR_TYPE', `nothing to rewind to: the checkpoint at step ${step} was never captured (add it to fit()'s callbacks)`);
      for (const [dst, src] of [...params, ...buffers]) dst.set(src);
      for (const p of model.parameters()) p.applyMask();
    },
    onTrainBegin() {
      if (step === 0 && !params) ckpt.capture();
    },
    onStepBegin(info: { globalStep: number }) {
      if (info.globalStep === step && !params) ckpt.capture();
    },
  };
  return ckpt;
}

/**
 * Re-draws the weights and biases of every Linear and Conv2d as their constructors do (Kaiming
 * uniform with a = sqrt(5), bias U(±1/sqrt(fan_in))), then re-applies the masks: the random
 * re-initialisation control of the lottery-ticket experiments.
 */
export function reinitialize(model: Module, opts: { seed?: number } = {}): void {
  const rng = new Random(opts.seed ?? 0);
  for (const t of pruneTargets(model)) {
    const w = t.param;
    kaimingUniform(w.data, w.shape, { nonlinearity: 'leaky_relu', negativeSlope: Math.sqrt(5), rng });
    w.applyMask();
    const bias = (t.module as unknown as { bias: typeof w | null }).bias;
    if (bias) {
      const fanIn = t.module instanceof Conv2d ? w.size / w.shape[0]! : w.shape[1]!;
      uniform(bias.data, 1 / Math.sqrt(fanIn), { rng });
      bias.applyMask();
    }
  }
}

export interface IterativeRound {
  /** 0 = the dense training run; round r >= 1 trains at sparsities[r - 1]. */
  round: number;
  sparsity: number;
  /** Callbacks the round's fit() must include (the rewind checkpoint in round 0). */
  callbacks: Callback[];
  /** The global step the weights were rewound to: start learning-rate schedules here. */
  startStep: number;
}

export interface IterativePruningOptions {
  /** The sparsity reached after each pruning round, ascending, e.g. [0.5, 0.8, 0.9, 0.95, 0.98]. */
  sparsities: number[];
  /** Trains the model for one round, passing `round.callbacks` to fit(). */
  train: (round: IterativeRound) => Promise<unknown>;
  /** 'init' (default, k = 0), { step: k } (late rewinding), or 'none' (keep the trained weights). */
  rewind?: 'init' | 'none' | { step: number };
  /** How each round prunes (default: global magnitude). */
  pruner?: PrunerOptions;
  /** Called after every round's training (e.g. to evaluate); its result is kept in the report. */
  afterRound?: (round: IterativeRound, prune: PruneResult | null) => unknown | Promise<unknown>;
}

export interface IterativeRoundReport {
  round: number;
  sparsity: number;
  prune: PruneResult | null;
  /** What afterRound returned. */
  metrics: unknown;
}

/** Runs iterative pruning with rewinding; returns one report per round (round 0 dense). */
export async function iterativePruning(model: Module, opts: IterativePruningOptions): Promise<IterativeRoundReport[]> {
  if (!opts || !Array.isArray(opts.sparsities) || typeof opts.train !== 'function')
    throw new SparsennTypeError('ERR_TYPE', 'iterativePruning needs sparsities (an ascending array) and a train(round) function');
  opts.sparsities.forEach((s, i) => {
    checkSparsity(s, `sparsities[${i}]`);
    if (i > 0 && s < opts.sparsities[i - 1]!) throw new IndexRangeError('ERR_RANGE', 'sparsities must be ascending');
  });
  const rewind = opts.rewind ?? 'init';
  if (rewind !== 'init' && rewind !== 'none' && !(typeof rewind === 'object' && rewind !== null && 'step' in rewind))
    throw new SparsennTypeError('ERR_TYPE', `rewind must be 'init', 'none' or { step: k }, got ${JSON.stringify(rewind)}`);
  const step = rewind === 'init' ? 0 : rewind === 'none' ? null : rewind.step;
  const ckpt = step === null ? null : rewindCheckpoint(model, { step });
  const pruner = new Pruner(model, { scope: 'global', ...opts.pruner });
  const reports: IterativeRoundReport[] = [];
  const first: IterativeRound = { round: 0, sparsity: 0, callbacks: ckpt ? [ckpt] : [], startStep: 0 };
  await opts.train(first);
  if (ckpt && !ckpt.captured) throw new SparsennTypeError('ERR_TYPE', `round 0 ended before step ${ckpt.step}: the rewind checkpoint was never taken`);
  reports.push({ round: 0, sparsity: 0, prune: null, metrics: await opts.afterRound?.(first, null) });
  for (let r = 0; r < opts.sparsities.length; r++) {
    const result = pruner.pruneTo(opts.sparsities[r]!);
    ckpt?.restore();
    const round: IterativeRound = { round: r + 1, sparsity: opts.sparsities[r]!, callbacks: [], startStep: step ?? 0 };
    await opts.train(round);
    reports.push({ round: r + 1, sparsity: result.sparsity, prune: result, metrics: await opts.afterRound?.(round, result) });
  }
  return reports;
}
