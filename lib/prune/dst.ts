/**
 * Dynamic sparse training: the mask changes during training at constant sparsity.
 *
 * Every `updateEvery` steps (until `endStep`), each layer drops the fraction alpha_t of its kept
 * weights with the smallest magnitude and grows as many among the weights not kept:
 * - SET (Mocanu et al. 2018) grows at random;
 * - RigL (Evci et al. 2020) grows those with the largest dense-gradient magnitude, the dense
 *   gradient being computed only at update steps (Parameter.captureDenseGrad).
 * alpha_t follows a cosine decay alpha/2 (1 + cos(pi t / endStep)) (or stays constant), and
 * grown weights start at zero with fresh optimizer state. These updates are the only place a
 * mask regains entries.
 */
import { IndexRangeError, SparsennTypeError } from '../errors.js';
import type { Module } from '../nn/module.js';
import { Random } from '../nn/random.js';
import type { Optimizer } from '../nn/optim/optimizer.js';
import type { Callback, StepInfo, TrainContext } from '../nn/train/fit.js';
import { topK } from './rank.js';
import { pruneTargets, type TargetOptions } from './targets.js';
import type { PruneTarget } from './types.js';

export interface DstOptions extends TargetOptions {
  targets?: PruneTarget[];
  /** alpha, the fraction of kept weights replaced at the first update (default 0.3). */
  dropFraction?: number;
  /** ΔT (default 100). */
  updateEvery?: number;
  /** No updates from this step on (T_end; the RigL paper uses 75% of training). */
  endStep: number;
  /** 'cosine' (default) or 'constant'. */
  decay?: 'cosine' | 'constant';
  seed?: number;
}

export interface DstUpdate {
  step: number;
  fraction: number;
  /** Weights replaced per target. */
  replaced: number[];
}

export interface DynamicSparseTraining extends Callback {
  readonly method: 'set' | 'rigl';
  readonly targets: readonly PruneTarget[];
  readonly updates: DstUpdate[];
  /** Whether `step` is an update step. */
  isUpdateStep(step: number): boolean;
  /** alpha_t. */
  fractionAt(step: number): number;
}

function dst(method: 'set' | 'rigl', model: Module, opts: DstOptions): DynamicSparseTraining {
  if (!opts || typeof opts !== 'object') throw new SparsennTypeError('ERR_TYPE', `${method}() needs options with endStep`);
  const alpha = opts.dropFraction ?? 0.3;
  if (!(alpha >= 0 && alpha <= 1)) throw new IndexRangeError('ERR_RANGE', `dropFraction must be in [0, 1], got ${String(alpha)}`);
  const every = opts.updateEvery ?? 100;
  if (!Number.isInteger(every) || every < 1) throw new IndexRangeError('ERR_RANGE', `updateEvery must be an integer >= 1, got ${String(every)}`);
  const end = opts.endStep;
  if (!Number.isInteger(end) || end < 0) throw new IndexRangeError('ERR_RANGE', `endStep must be an integer >= 0, got ${String(end)}`);
  const decay = opts.decay ?? 'cosine';
  if (decay !== 'cosine' && decay !== 'constant') throw new SparsennTypeError('ERR_TYPE', `decay must be 'cosine' or 'constant', got ${String(decay)}`);
  const targets = opts.targets ?? pruneTargets(model, opts);
  for (const t of targets) if (!t.param.mask) throw new SparsennTypeError('ERR_TYPE', `${t.name} has no mask: start dynamic sparse training from a sparse model (sparseInit or prune first)`);
  const rng = new Random(opts.seed ?? 0);
  const updates: DstUpdate[] = [];
  const isUpdateStep = (t: number) => t > 0 && t < end && t % every === 0;
  const fractionAt = (t: number) => (decay === 'constant' ? alpha : (alpha / 2) * (1 + Math.cos((Math.PI * Math.min(t, end)) / Math.max(end, 1))));

  const update = (step: number, optimizer: Optimizer) => {
    const fraction = fractionAt(step);
    const replaced = targets.map((t) => {
      const p = t.param;
      const mask = Uint8Array.from(p.mask!);
      const active = p.maskPattern().active;
      const k = Math.round(fraction * active.length);
      if (k === 0) return 0;
      const w = p.data;
      // drop: the k kept weights of smallest magnitude (ties: lower index first)
      const dropScore = new Float64Array(active.length);
      for (let a = 0; a < active.length; a++) dropScore[a] = -Math.abs(w[active[a]!]!);
      const dropped = topK(dropScore, k);
      for (let a = 0; a < active.length; a++) if (dropped[a]) mask[active[a]!] = 0;
      // grow: k among the weights not kept now (just-dropped ones included, as in RigL)
      let grow: Int32Array;
      if (method === 'rigl') {
        const g = p.denseGrad;
        if (!g) throw new SparsennTypeError('ERR_TYPE', `RigL: no dense gradient was captured for ${t.name}; is the layer used in the forward pass?`);
        const growScore = new Float64Array(p.size);
        for (let i = 0; i < p.size; i++) growScore[i] = mask[i] ? -Infinity : Math.abs(g[i]!);
        const chosen = topK(growScore, k);
        grow = new Int32Array(k);
        let c = 0;
        for (let i = 0; i < p.size; i++) if (chosen[i]) grow[c++] = i;
        grow = grow.subarray(0, c);
      } else {
        const candidates = new Int32Array(p.size - (active.length - k));
        let c = 0;
        for (let i = 0; i < p.size; i++) if (mask[i] === 0) candidates[c++] = i;
        grow = rng.shuffle(candidates).subarray(0, k);
      }
      for (const i of grow) mask[i] = 1;
      p.setMask(mask);
      for (const i of grow) w[i] = 0; // new connections start at zero
      // ... with fresh optimizer state, also those dropped and regrown in this same update
      // (kept by both masks, the optimizer would otherwise carry their old state over)
      optimizer.resetEntries(p, grow);
      return k;
    });
    updates.push({ step, fraction, replaced });
  };

  const releaseDense = () => {
    for (const t of targets) {
      t.param.captureDenseGrad = false;
      t.param.denseGrad = null;
    }
  };

  return {
    method,
    targets,
    updates,
    isUpdateStep,
    fractionAt,
    onStepBegin(info: StepInfo) {
      if (method === 'rigl' && isUpdateStep(info.globalStep)) for (const t of targets) t.param.captureDenseGrad = true;
    },
    onStepEnd(info: StepInfo, ctx: TrainContext) {
      if (!isUpdateStep(info.globalStep)) return;
      try {
        update(info.globalStep, ctx.optimizer);
      } finally {
        releaseDense();
      }
    },
    onTrainEnd: releaseDense,
    onTrainAbort: releaseDense,
  };
}

/** SET: drop by magnitude, grow at random. */
export function SET(model: Module, opts: DstOptions): DynamicSparseTraining {
  return dst('set', model, opts);
}

/** RigL: drop by magnitude, grow by dense-gradient magnitude. */
export function RigL(model: Module, opts: DstOptions): DynamicSparseTraining {
  return dst('rigl', model, opts);
}
