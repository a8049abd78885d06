/**
 * Learning-rate schedules: functions of the optimizer step (0-based) and the base rate.
 * fit() sets optimizer.lr = schedule.lrAt(step, baseLr) before every step; they compose
 * (warmup(...) wraps another schedule).
 */
import { IndexRangeError } from '../../errors.js';

export interface LrSchedule {
  lrAt(step: number, baseLr: number): number;
}

function checkSteps(v: number, name: string, min = 1): number {
  if (!Number.isInteger(v) || v < min) throw new IndexRangeError('ERR_RANGE', `${name} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

/** Constant rate. */
export const constantLr: LrSchedule = { lrAt: (_s, base) => base };

/** Multiplies the rate by gamma every stepSize steps (torch StepLR, counted in steps). */
export function stepLr(stepSize: number, gamma = 0.1): LrSchedule {
  checkSteps(stepSize, 'stepSize');
  return { lrAt: (step, base) => base * gamma ** Math.floor(step / stepSize) };
}

/** Cosine annealing from base to minLr over totalSteps, then minLr (torch CosineAnnealingLR). */
export function cosineLr(totalSteps: number, minLr = 0): LrSchedule {
  checkSteps(totalSteps, 'totalSteps');
  return {
    lrAt: (step, base) => (step >= totalSteps ? minLr : minLr + ((base - minLr) * (1 + Math.cos((Math.PI * step) / totalSteps))) / 2),
  };
}

/**
 * Linear warm-up from base * startFactor to the rate of `after` over warmupSteps, then
 * `after` with its steps counted from the end of the warm-up.
 */
export function linearWarmup(warmupSteps: number, after: LrSchedule = constantLr, startFactor = 0): LrSchedule {
  checkSteps(warmupSteps, 'warmupSteps', 0);
  return {
    lrAt: (step, base) => {
      if (step >= warmupSteps) return after.lrAt(step - warmupSteps, base);
      const target = after.lrAt(0, base);
      return target * (startFactor + ((1 - startFactor) * step) / warmupSteps);
    },
  };
}
