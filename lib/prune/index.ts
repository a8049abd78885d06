/** Pruning and sparse training (re-exports only; the package index re-exports this). */
export type {
  PruneTarget,
  Criterion,
  ScoreContext,
  CalibrationOptions,
  Structure,
  GroupedStructure,
  FixedRatioStructure,
  PruneResult,
  LayerPruneResult,
} from './types.js';
export { pruneTargets, targetDims, type TargetOptions, type NamePattern } from './targets.js';
export { magnitude, random, taylor, snip, obd, movement, forEachCalibrationGradient, type MovementCriterion } from './criteria.js';
export { unstructured, blocks, channels, nm } from './structures.js';
export { sensitivity, erkDensities, minDensity, type Scope, type SensitivityScope, type SensitivityMetric } from './scope.js';
export { Pruner, prune, type PrunerOptions, type PruneOptions } from './pruner.js';
export {
  oneShot,
  constantSparsity,
  polynomialDecay,
  polynomialSparsity,
  type PruningSchedule,
  type ScheduleEvent,
  type ConstantSparsityOptions,
  type PolynomialOptions,
} from './schedules.js';
export {
  rewindCheckpoint,
  reinitialize,
  iterativePruning,
  type RewindCheckpoint,
  type IterativeRound,
  type IterativePruningOptions,
  type IterativeRoundReport,
} from './lottery.js';
export { sparseInit, type SparseMaskInitOptions } from './sparse-init.js';
export { SET, RigL, type DstOptions, type DstUpdate, type DynamicSparseTraining } from './dst.js';
export { sparsityReport, formatSparsityReport, detectStructure, type SparsityReport, type LayerSparsity, type SparsityReportOptions } from './report.js';
export {
  l1Regularizer,
  groupLasso,
  regularizationPenalty,
  l1Penalty,
  groupLassoPenalty,
  thresholdToMask,
  type Regularizer,
  type RegularizerOptions,
  type ThresholdOptions,
  type TargetsOrModel,
} from './regularize.js';
export { l0Gates, L0Gates, hardConcrete, testGate, type L0Options } from './l0.js';
export { wanda, meanActivation, apoz } from './criteria-activation.js';
export { collectInputStats, collectOutputStats, type InputStats, type OutputStats } from './calibration.js';
export { sparseGpt, obsPruneMatrix, type SparseGptOptions, type SparseGptResult } from './obs.js';
export {
  channelGroups,
  maskChannels,
  channelScores,
  type ChannelGroup,
  type ChannelProducer,
  type CoupledChannels,
  type ChannelConsumer,
  type SampleShapes,
} from './dependency.js';
export { shrink, type ShrinkResult } from './shrink.js';
