/**
 * Pruning schedules: fit() callbacks that call a {@link Pruner} at the right steps.
 *
 * - oneShot: prune once (at the start of training by default, then train = fine-tune);
 * - constantSparsity: prune to s at beginStep and again every `frequency` steps (the
 *   criterion may change its mind within the current mask, the mask never regrows);
 * - polynomialDecay (Zhu & Gupta 2017): s_t = s_f + (s_i - s_f) (1 - (t - t0) / (n Δt))^3,
 *   pruning every Δt steps from t0 to t0 + n Δt.
 *
 * Steps are fit()'s global steps; pruning happens at the start of the step (before its
 * forward pass), so step t trains with the mask of s_t. Every schedule records what it did in
 * `history`.
 */
import { IndexRangeError } from '../errors.js';
import type { Callback, StepInfo } from '../nn/train/fit.js';
import type { Pruner } from './pruner.js';
import { checkSparsity } from './scope.js';
import type { PruneResult } from './types.js';

export interface ScheduleEvent {
  step: number;
  /** The sparsity asked for, and what the pruner reached. */
  target: number;
  result: PruneResult;
}

export interface PruningSchedule extends Callback {
  /** The target sparsity at a global step (null where the schedule does not prune). */
  sparsityAt(step: number): number | null;
  readonly history: ScheduleEvent[];
}

function checkStep(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0) throw new IndexRangeError('ERR_RANGE', `${what} must be an integer >= 0, got ${String(v)}`);
  return v;
}

function scheduleCallback(pruner: Pruner, sparsityAt: (step: number) => number | null): PruningSchedule {
  const history: ScheduleEvent[] = [];
  return {
    sparsityAt,
    history,
    onStepBegin(info: StepInfo) {
      const target = sparsityAt(info.globalStep);
      if (target === null) return;
      history.push({ step: info.globalStep, target, result: pruner.pruneTo(target) });
    },
  };
}

/** Prunes to `sparsity` once, at global step `atStep` (default 0). */
export function oneShot(pruner: Pruner, sparsity: number, opts: { atStep?: number } = {}): PruningSchedule {
  checkSparsity(sparsity);
  const at = checkStep(opts.atStep ?? 0, 'atStep');
  return scheduleCallback(pruner, (t) => (t === at ? sparsity : null));
}

export interface ConstantSparsityOptions {
  beginStep?: number;
  /** Last step that prunes (default: no end). */
  endStep?: number;
  /** Steps between prunings (default 100). */
  frequency?: number;
}

/** Prunes to `sparsity` at beginStep and every `frequency` steps after it until endStep. */
export function constantSparsity(pruner: Pruner, sparsity: number, opts: ConstantSparsityOptions = {}): PruningSchedule {
  checkSparsity(sparsity);
  const t0 = checkStep(opts.beginStep ?? 0, 'beginStep');
  const end = opts.endStep === undefined ? Infinity : checkStep(opts.endStep, 'endStep');
  const dt = checkStep(opts.frequency ?? 100, 'frequency');
  if (dt < 1) throw new IndexRangeError('ERR_RANGE', 'frequency must be >= 1');
  if (end < t0) throw new IndexRangeError('ERR_RANGE', `endStep (${end}) is before beginStep (${t0}): the schedule would never prune`);
  return scheduleCallback(pruner, (t) => (t >= t0 && t <= end && (t - t0) % dt === 0 ? sparsity : null));
}

export interface PolynomialOptions {
  /** s_i (default 0). */
  initialSparsity?: number;
  /** s_f. */
  finalSparsity: number;
  /** t0 (default 0). */
  beginStep?: number;
  /** t0 + n Δt: the last pruning step; (endStep - beginStep) must be a multiple of frequency. */
  endStep: number;
  /** Δt (default 100). */
  frequency?: number;
  /** The exponent (default 3, Zhu & Gupta). */
  power?: number;
}

/** Zhu & Gupta's s_t for t in [t0, t0 + nΔt] (clamped outside), without the Δt grid. */
export function polynomialSparsity(step: number, o: PolynomialOptions): number {
  const si = o.initialSparsity ?? 0;
  const t0 = o.beginStep ?? 0;
  const span = o.endStep - t0;
  const progress = span <= 0 ? 1 : Math.min(1, Math.max(0, (step - t0) / span));
  return o.finalSparsity + (si - o.finalSparsity) * Math.pow(1 - progress, o.power ?? 3);
}

/** Gradual pruning on Zhu & Gupta's cubic (or any power) schedule. */
export function polynomialDecay(pruner: Pruner, opts: PolynomialOptions): PruningSchedule {
  checkSparsity(opts.initialSparsity ?? 0, 'initialSparsity');
  checkSparsity(opts.finalSparsity, 'finalSparsity');
  const t0 = checkStep(opts.beginStep ?? 0, 'beginStep');
  const end = checkStep(opts.endStep, 'endStep');
  const dt = checkStep(opts.frequency ?? 100, 'frequency');
  if (dt < 1) throw new IndexRangeError('ERR_RANGE', 'frequency must be >= 1');
  if (end < t0 || (end - t0) % dt !== 0) throw new IndexRangeError('ERR_RANGE', `endStep - beginStep (${end - t0}) must be a non-negative multiple of frequency (${dt})`);
  const power = opts.power ?? 3;
  if (!(power > 0)) throw new IndexRangeError('ERR_RANGE', `power must be > 0, got ${String(power)}`);
  return scheduleCallback(pruner, (t) => (t >= t0 && t <= end && (t - t0) % dt === 0 ? polynomialSparsity(t, opts) : null));
}
