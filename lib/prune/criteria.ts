/**
 * Criteria that score each weight from the weights and gradients alone:
 *
 * - magnitude |w| (Han et al. 2015);
 * - random (the control every paper needs);
 * - first-order Taylor (Molchanov et al. 2019): the loss change of removing w is about
 *   -w * dL/dw; the score is its magnitude averaged over calibration batches, mean_b |w * g_b|
 *   (averaging |.| per batch, not the gradient first: near a minimum the mean gradient is
 *   mostly noise);
 * - SNIP (Lee et al. 2019): connection sensitivity |w * mean_b g_b| at initialisation;
 * - second-order OBD (LeCun et al. 1990): the loss increase of removing w_i is
 *   1/2 * H_ii * w_i^2, with H_ii estimated by the diagonal empirical Fisher, the mean squared
 *   gradient. The gradients are per calibration batch, so with batchSize > 1 this is the
 *   batch-level Fisher (mean^2 + variance / batchSize); calibration batchSize: 1 gives the
 *   per-sample one;
 * - movement (Sanh et al. 2020): -sum over fine-tuning steps of w * dL/dw, accumulated by the
 *   criterion's own fit() callback: weights moving away from zero score high.
 *
 * Criteria needing activations (Wanda, APoZ) live in criteria-activation.ts; OBS-style
 * pruning with weight reconstruction in obs.ts.
 */
import { SparsennTypeError } from '../errors.js';
import { calibrationBatches } from './calibration.js';
import { pruneTargets } from './targets.js';
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
    score: (targets) =>
      targets.map((t) => {
        const w = t.param.data;
        const s = new Float32Array(w.length);
        for (let i = 0; i < w.length; i++) s[i] = Math.abs(w[i]!);
        return s;
      }),
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
  // the caller's gradients (e.g. mid-step) are put back afterwards
  const saved = params.map((p) => (p.hasGrad() ? p.grad!.slice() : null));
  try {
    model.inEvalMode(() => {
      for (const batch of batches) {
        for (const p of params) p.zeroGrad();
        lossFn(model.forward(new Tensor(batch.x, batch.shape)), batch.y).backward();
        targets.forEach((t, i) => {
          const g = t.param.grad;
          if (g) visit(i, g);
        });
      }
    });
  } finally {
    params.forEach((p, i) => {
      p.zeroGrad();
      if (saved[i]) p.grad = saved[i];
    });
  }
  return batches.length;
}

/**
 * Per target, the mean over calibration batches of f(w_j, g_j) for every weight j (float64
 * sums), as Float32 scores.
 */
function batchMean(targets: readonly PruneTarget[], ctx: ScoreContext, who: string, f: (w: number, g: number) => number, post: (mean: number, w: number) => number = (m) => m): Float32Array[] {
  const sums = targets.map((t) => new Float64Array(t.param.size));
  const n = forEachCalibrationGradient(
    ctx.model,
    targets,
    ctx.calibration,
    (i, g) => {
      const s = sums[i]!;
      const w = targets[i]!.param.data;
      for (let j = 0; j < g.length; j++) s[j]! += f(w[j]!, g[j]!);
    },
    who,
  );
  return targets.map((t, i) => {
    const s = sums[i]!;
    const w = t.param.data;
    const out = new Float32Array(s.length);
    for (let j = 0; j < s.length; j++) out[j] = post(s[j]! / Math.max(n, 1), w[j]!);
    return out;
  });
}

/** First-order Taylor: mean over calibration batches of |w * dL/dw|. */
export function taylor(): Criterion {
  return { name: 'taylor', score: (targets, ctx) => batchMean(targets, ctx, 'taylor', (w, g) => Math.abs(w * g)) };
}

/** SNIP (Lee et al. 2019): |w * mean dL/dw| over the calibration batches, used at initialisation. */
export function snip(): Criterion {
  return { name: 'snip', score: (targets, ctx) => batchMean(targets, ctx, 'snip', (_w, g) => g, (meanG, w) => Math.abs(w * meanG)) };
}

/**
 * OBD saliency 1/2 * F_ii * w_i^2 with F_ii the mean squared calibration-batch gradient (the
 * diagonal empirical Fisher, which approximates the Hessian's diagonal near a minimum).
 */
export function obd(): Criterion {
  return { name: 'obd', score: (targets, ctx) => batchMean(targets, ctx, 'obd', (_w, g) => g * g, (fisher, w) => 0.5 * fisher * w * w) };
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
      // weights of Linear/Conv2d only, read without expanding a compact (sparse-kernel) gradient
      for (const t of pruneTargets(ctx.model)) {
        const p = t.param;
        const active = p.mask ? p.maskPattern().active : null;
        const g = p.gradFor(active);
        if (!g) continue;
        let s = scores.get(p);
        if (!s) scores.set(p, (s = new Float64Array(p.size)));
        const w = p.data;
        const v = g.values;
        if (g.compact) for (let k = 0; k < v.length; k++) s[active![k]!]! -= w[active![k]!]! * v[k]!;
        else for (let j = 0; j < v.length; j++) s[j]! -= w[j]! * v[j]!;
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
