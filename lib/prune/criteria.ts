/**
 * Criteria that score each weight from the weights and gradients alone:
 *
 * - magnitude |w| (Han et al. 2015);
 * - random (the control every paper needs);
 * - first-order Taylor |w * dL/dw| with the gradient averaged over calibration batches
 *   (Molchanov et al. 2019); at initialisation this is SNIP's connection sensitivity
 *   (Lee et al. 2019), hence {@link snip} as an alias;
 * - second-order OBD (LeCun et al. 1990): the loss increase of removing w_i is
 *   1/2 * H_ii * w_i^2, with H_ii estimated by the diagonal empirical Fisher, the mean of the
 *   squared gradient over calibration batches;
 * - movement (Sanh et al. 2020): -sum over fine-tuning steps of w * dL/dw, accumulated by the
 *   criterion's own fit() callback: weights moving away from zero score high.
 *
 * Criteria needing activations (Wanda, APoZ) live in criteria-activation.ts; OBS-style
 * pruning with weight reconstruction in obs.ts.
 */
import { SparsennTypeError } from '../errors.js';
import { calibrationBatches } from './calibration.js';
import { crossEntropy } from '../nn/ops/loss.js';
import { Random } from '../nn/random.js';
import { Tensor } from '../nn/tensor.js';
import type { Callback } from '../nn/train/fit.js';
import type { Module } from '../nn/module.js';
import type { CalibrationOptions, Criterion, PruneTarget, ScoreContext } from './types.js';

/** |w|. */
export function magnitude(): Criterion {
  return {
    name: 'magnitude',
    score: (targets) => targets.map((t) => Float32Array.from(t.param.data, Math.abs)),
  };
}

/** Uniform random scores from a seeded generator (a fresh draw on every call). */
export function random(opts: { seed?: number } = {}): Criterion {
  const rng = new Random(opts.seed ?? 0);
  return {
    name: 'random',
    score: (targets) =>
      targets.map((t) => {
        const s = new Float32Array(t.param.size);
        for (let i = 0; i < s.length; i++) s[i] = rng.next();
        return s;
      }),
  };
}

/**
 * Runs the calibration batches (calibration.ts) forward and backward in eval mode (deterministic: no dropout,
 * batch norm on running statistics) and hands each batch's gradient of every target to
 * `visit`. Gradients of other parameters are computed too (autograd needs them) and cleared.
 */
export function forEachCalibrationGradient(model: Module, targets: readonly PruneTarget[], calib: CalibrationOptions | undefined, visit: (t: number, grad: Float32Array) => void, who = 'calibration'): number {
  const batches = [...calibrationBatches(calib!, who)]; // validates (a missing calibration throws)
  const lossFn = calib!.loss ?? ((out: Tensor, y: Int32Array) => crossEntropy(out, y));
  const params = model.parameters();
  const wasTraining = model.training;
  model.eval();
  try {
    for (const batch of batches) {
      for (const p of params) p.zeroGrad();
      lossFn(model.forward(new Tensor(batch.x, batch.shape)), batch.y).backward();
      targets.forEach((t, i) => {
        const g = t.param.grad;
        if (g) visit(i, g);
      });
    }
  } finally {
    for (const p of params) p.zeroGrad();
    model.train(wasTraining);
  }
  return batches.length;
}

/** Mean gradient per target over the calibration batches (float64 sums). */
function meanGradients(targets: readonly PruneTarget[], ctx: ScoreContext, who: string): Float64Array[] {
  const sums = targets.map((t) => new Float64Array(t.param.size));
  const n = forEachCalibrationGradient(ctx.model, targets, ctx.calibration, (i, g) => {
    const s = sums[i]!;
    for (let j = 0; j < g.length; j++) s[j]! += g[j]!;
  }, who);
  for (const s of sums) for (let j = 0; j < s.length; j++) s[j]! /= Math.max(n, 1);
  return sums;
}

/** First-order Taylor: |w * mean dL/dw| over calibration batches. */
export function taylor(): Criterion {
  return {
    name: 'taylor',
    score: (targets, ctx) => {
      const grads = meanGradients(targets, ctx, 'taylor');
      return targets.map((t, i) => {
        const w = t.param.data;
        const g = grads[i]!;
        return Float32Array.from(w, (v, j) => Math.abs(v * g[j]!));
      });
    },
  };
}

/** SNIP (Lee et al. 2019): the Taylor score |w * dL/dw|, used at initialisation. */
export function snip(): Criterion {
  return { ...taylor(), name: 'snip' };
}

/**
 * OBD saliency 1/2 * F_ii * w_i^2 with F_ii the mean squared calibration-batch gradient (the
 * diagonal empirical Fisher, which approximates the Hessian's diagonal near a minimum).
 */
export function obd(): Criterion {
  return {
    name: 'obd',
    score: (targets, ctx) => {
      const fisher = targets.map((t) => new Float64Array(t.param.size));
      const n = forEachCalibrationGradient(ctx.model, targets, ctx.calibration, (i, g) => {
        const f = fisher[i]!;
        for (let j = 0; j < g.length; j++) f[j]! += g[j]! * g[j]!;
      }, 'obd');
      return targets.map((t, i) => {
        const w = t.param.data;
        const f = fisher[i]!;
        return Float32Array.from(w, (v, j) => 0.5 * (f[j]! / Math.max(n, 1)) * v * v);
      });
    },
  };
}

/** Movement pruning's criterion and the callback that accumulates its scores during fit(). */
export interface MovementCriterion extends Criterion {
  /** Add to fit()'s callbacks: accumulates -w * dL/dw after every backward pass. */
  readonly tracker: Callback;
  /** Forgets the accumulated scores. */
  reset(): void;
}

/**
 * Movement pruning (Sanh et al. 2020): score S = -sum_t w_t * g_t, accumulated by `tracker`
 * over the steps of fine-tuning; weights whose training pushes them away from zero score high.
 */
export function movement(): MovementCriterion {
  let scores = new Map<object, Float64Array>();
  const tracker: Callback = {
    onAfterBackward: (_info, ctx) => {
      for (const p of ctx.optimizer.params) {
        const g = p.grad;
        if (!g) continue;
        let s = scores.get(p);
        if (!s) scores.set(p, (s = new Float64Array(p.size)));
        const w = p.data;
        for (let j = 0; j < g.length; j++) s[j]! -= w[j]! * g[j]!;
      }
    },
  };
  return {
    name: 'movement',
    tracker,
    reset: () => {
      scores = new Map();
    },
    score: (targets) =>
      targets.map((t) => {
        const s = scores.get(t.param);
        if (!s) throw new SparsennTypeError('ERR_TYPE', `movement has no scores for ${t.name}: add criterion.tracker to fit()'s callbacks and train before pruning`);
        return Float32Array.from(s);
      }),
  };
}
