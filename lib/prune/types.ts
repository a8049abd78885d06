/**
 * The pruning model: every method is a combination of four orthogonal choices.
 *
 * - a {@link Criterion} scores each weight (higher = more important to keep);
 * - a {@link Structure} groups weights (single weights, N:M groups, blocks, whole channels)
 *   and turns kept groups into a mask;
 * - a scope (./scope.ts) allocates the sparsity across layers (uniform, global, ERK, ...);
 * - a schedule (./schedules.ts) decides when to prune during training (fit() callbacks).
 *
 * Pruning only ever edits the masks parameters already carry (Parameter.setMask), and it is
 * monotone: a weight pruned once stays pruned, except under dynamic sparse training (SET,
 * RigL), whose grow step is the one place a mask regains entries.
 */
import type { Dataset } from '../nn/data/dataset.js';
import type { Module } from '../nn/module.js';
import type { Parameter } from '../nn/parameter.js';
import type { LossFn } from '../nn/train/fit.js';

/** A prunable weight: a Linear or Conv2d weight (or any parameter named by the user). */
export interface PruneTarget {
  /** Full parameter name, e.g. 'fc1.weight'. */
  readonly name: string;
  readonly param: Parameter;
  /** The module that owns the parameter, and its full name ('fc1'). */
  readonly module: Module;
  readonly moduleName: string;
}

/** Data the calibration-based criteria run on: batches of (a subset of) a dataset. */
export interface CalibrationOptions {
  data: Dataset;
  /** Samples per batch (default 64). */
  batchSize?: number;
  /** Batches used (default: 8; the whole dataset when larger than it needs). */
  batches?: number;
  /** Loss for the gradient-based criteria (default cross-entropy from logits). */
  loss?: LossFn;
}

/** What a criterion gets besides the targets: the model and optional calibration data. */
export interface ScoreContext {
  readonly model: Module;
  readonly calibration?: CalibrationOptions;
}

/** Scores weights: one Float32Array per target, one score per weight, higher = keep. */
export interface Criterion {
  readonly name: string;
  score(targets: readonly PruneTarget[], ctx: ScoreContext): Float32Array[];
}

/**
 * How weights are grouped for pruning. A weight of shape [out, ...] is seen as `rows = out`
 * by `cols = size / out` (the layout the kernels use: a conv filter row is in*kh*kw long).
 *
 * Grouped structures (unstructured, blocks, channels) rank groups: `groupScores` reduces the
 * per-weight scores of each group, `expand` turns the kept groups back into a weight mask,
 * and `groupSizes` gives the weights per group so sparsity is counted in weights.
 * Fixed-ratio structures (N:M) instead choose inside every group with `select`.
 */
export type Structure = GroupedStructure | FixedRatioStructure;

export interface GroupedStructure {
  readonly kind: 'unstructured' | 'block' | 'channel';
  readonly name: string;
  /**
   * Rank within each row instead of across the layer (unstructured only): every output unit
   * keeps the same share of its inputs, as Wanda compares weights per output (Sun et al. 2023).
   */
  readonly perRow?: boolean;
  /** Number of groups of a target. */
  groupCount(t: PruneTarget): number;
  /** Weights in each group. */
  groupSizes(t: PruneTarget): Int32Array;
  /** One score per group from the per-weight scores (pruned weights score -Infinity). */
  groupScores(t: PruneTarget, scores: Float32Array): Float64Array;
  /** The weight mask of the kept groups (1 = kept group). */
  expand(t: PruneTarget, keptGroups: Uint8Array): Uint8Array;
}

export interface FixedRatioStructure {
  readonly kind: 'nm';
  readonly name: string;
  readonly n: number;
  readonly m: number;
  /** The fraction this structure prunes (1 - N/M for full groups). */
  sparsityOf(t: PruneTarget): number;
  /** Keeps the N best of every M consecutive weights along each row. */
  select(t: PruneTarget, scores: Float32Array): Uint8Array;
}

/** Per-layer result of a pruning step. */
export interface LayerPruneResult {
  name: string;
  /** Weights in the layer, and kept after this step. */
  size: number;
  kept: number;
  sparsity: number;
}

export interface PruneResult {
  layers: LayerPruneResult[];
  /** Pruned fraction over all pruned layers (weights, not groups). */
  sparsity: number;
  /** Problems noticed (e.g. a layer that would lose its connectivity), also sent to onWarning. */
  warnings: string[];
}
