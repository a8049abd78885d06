/**
 * Criteria that look at activations on calibration data:
 *
 * - wanda(): |W_ij| * ‖X_j‖₂ (Sun et al. 2023, "A Simple and Effective Pruning Approach for
 *   Large Language Models"): a weight matters as much as its magnitude times the norm of the
 *   input feature it multiplies, over all calibration samples (and conv positions);
 * - meanActivation(): the mean of a channel's output after a ReLU, max(out, 0);
 * - apoz(): 1 - APoZ, the Average Percentage of Zeros of a channel's output (Hu et al. 2016,
 *   "Network Trimming"): channels that are mostly zero matter least.
 *
 * The last two score channels; every weight of output row r gets row r's score, so a channel
 * structure (which averages a row's kept scores) ranks channels by exactly that score.
 * All three need `ctx.calibration`.
 */
import { SparsennTypeError } from '../errors.js';
import { collectInputStats, collectOutputStats, type OutputStats } from './calibration.js';
import type { CalibrationOptions, Criterion, PruneTarget, ScoreContext } from './types.js';

function requireCalibration(ctx: ScoreContext, who: string): CalibrationOptions {
  if (!ctx || typeof ctx !== 'object') throw new SparsennTypeError('ERR_TYPE', `the ${who} criterion needs a score context { model, calibration }`);
  if (!ctx.calibration)
    throw new SparsennTypeError('ERR_TYPE', `the ${who} criterion needs calibration data: pass calibration: { data, batchSize?, batches? } to the pruner`);
  return ctx.calibration;
}

/** Wanda: |W_ij| * sqrt(Σ x_j²), with x_j the input feature (im2col row for a conv) of group(i). */
export function wanda(): Criterion {
  return {
    name: 'wanda',
    score: (targets, ctx) => {
      const calibration = requireCalibration(ctx, 'wanda');
      const stats = collectInputStats(ctx.model, targets, calibration);
      return targets.map((t, i) => {
        const s = stats[i]!;
        const norms = s.sqNorm.map(Math.sqrt);
        const w = t.param.data;
        const out = new Float32Array(w.length);
        const rowsPerGroup = s.rows / s.groups;
        for (let r = 0; r < s.rows; r++) {
          const off = Math.floor(r / rowsPerGroup) * s.cols;
          for (let j = 0, p = r * s.cols; j < s.cols; j++, p++) out[p] = Math.abs(w[p]!) * norms[off + j]!;
        }
        return out;
      });
    },
  };
}

/** Every weight of row r gets `perRow[r]`. */
function broadcastRows(t: PruneTarget, perRow: Float64Array): Float32Array {
  const rows = perRow.length;
  const cols = rows === 0 ? 0 : t.param.size / rows;
  const out = new Float32Array(t.param.size);
  for (let r = 0; r < rows; r++) out.fill(perRow[r]!, r * cols, (r + 1) * cols);
  return out;
}

function channelCriterion(name: string, pick: (s: OutputStats) => Float64Array): Criterion {
  return {
    name,
    score: (targets, ctx) => {
      const calibration = requireCalibration(ctx, name);
      const stats = collectOutputStats(ctx.model, targets, calibration);
      return targets.map((t, i) => broadcastRows(t, pick(stats[i]!)));
    },
  };
}

/** Mean activation: each channel's mean max(out, 0) over calibration samples and positions, on every weight of its row. */
export function meanActivation(): Criterion {
  return channelCriterion('meanActivation', (s) => s.meanActivation);
}

/** 1 - APoZ: each channel's fraction of positive outputs, on every weight of its row. */
export function apoz(): Criterion {
  return channelCriterion('apoz', (s) => s.apoz.map((z) => 1 - z));
}
