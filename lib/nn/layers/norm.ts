/**
 * Normalisation layers with PyTorch semantics on batch-last inputs: BatchNorm1d ([C, n] or
 * [C, L, n]), BatchNorm2d ([C, H, W, n]), LayerNorm (over all sample axes) and GroupNorm
 * ([C, ..., n]). Affine parameters are `weight` (ones) and `bias` (zeros); batch norm's running
 * statistics are the buffers `runningMean` (zeros) and `runningVar` (ones), saved in the state dict.
 */
import { checkCount } from '../../checks.js';
import { IndexRangeError, ShapeError, SparsennTypeError } from '../../errors.js';
import { Module, type ModuleConfig } from '../module.js';
import { batchNorm, groupNorm, layerNorm } from '../ops/norm.js';
import { Parameter } from '../parameter.js';
import { Tensor } from '../tensor.js';
import { stateArray } from '../state-arrays.js';

function checkReal(value: unknown, name: string, lo: number, hi: number, loOpen = false): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new SparsennTypeError('ERR_TYPE', `${name} must be a number, got ${String(value)}`);
  if (!(loOpen ? value > lo : value >= lo) || !(value <= hi))
    throw new IndexRangeError('ERR_RANGE', `${name} must be in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${value}`);
  return value;
}

function checkBool(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw new SparsennTypeError('ERR_TYPE', `${name} must be a boolean, got ${String(value)}`);
  return value;
}

function checkInput(x: unknown, layer: string): Tensor {
  if (!(x instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', `${layer}: input must be a Tensor, got ${x === undefined ? 'nothing' : typeof x}`);
  return x;
}

/** Weight (ones) and bias (zeros) of the given shape, not yet registered. */
function affinePair(shape: number[]): [Parameter, Parameter] {
  const size = shape.reduce((a, b) => a * b, 1);
  return [new Parameter(stateArray(size).fill(1), shape), new Parameter(stateArray(size), shape)];
}

export interface BatchNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Weight of the new batch statistic in the running estimates (default 0.1). */
  momentum?: number;
  /** Learn weight and bias (default true). */
  affine?: boolean;
  /** Keep running estimates and use them in eval mode (default true); false: batch statistics always. */
  trackRunningStats?: boolean;
}

/** What BatchNorm1d and BatchNorm2d share (use it for instanceof checks on either). */
export abstract class BatchNormBase extends Module {
  /** The class name, for messages and config(). */
  protected readonly kind: string;
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  /** Running mean [C] (a registered buffer, updated in place), or null without trackRunningStats. */
  readonly runningMean: Float32Array | null;
  /** Running (unbiased) variance [C], or null without trackRunningStats. */
  readonly runningVar: Float32Array | null;
  /** Batches seen in training mode (PyTorch's num_batches_tracked), or null. */
  readonly numBatchesTracked: Float32Array | null;

  protected constructor(kind: string, numFeatures: number, opts: BatchNormOptions) {
    super();
    this.kind = kind;
    this.numFeatures = checkCount(numFeatures, `${kind} numFeatures`, 1);
    this.eps = checkReal(opts.eps ?? 1e-5, `${kind} eps`, 0, Infinity, true);
    this.momentum = checkReal(opts.momentum ?? 0.1, `${kind} momentum`, 0, 1);
    this.affine = checkBool(opts.affine ?? true, `${kind} affine`);
    this.trackRunningStats = checkBool(opts.trackRunningStats ?? true, `${kind} trackRunningStats`);
    const pair = this.affine ? affinePair([numFeatures]) : null;
    this.weight = pair ? this.registerParameter('weight', pair[0]) : null;
    this.bias = pair ? this.registerParameter('bias', pair[1]) : null;
    if (this.trackRunningStats) {
      // PyTorch's buffer names, so state dicts and safetensors files line up with torch's.
      this.runningMean = this.registerBuffer('running_mean', stateArray(numFeatures), [numFeatures]);
      this.runningVar = this.registerBuffer('running_var', stateArray(numFeatures).fill(1), [numFeatures]);
      this.numBatchesTracked = this.registerBuffer('num_batches_tracked', new Float32Array(1), []);
    } else {
      this.runningMean = null;
      this.runningVar = null;
      this.numBatchesTracked = null;
    }
  }

  /** Sets the running estimates back to mean 0, variance 1. */
  resetRunningStats(): void {
    this.runningMean?.fill(0);
    this.runningVar?.fill(1);
    this.numBatchesTracked?.fill(0);
  }

  protected abstract checkShape(x: Tensor): void;

  /**
   * Training mode (or no running statistics): normalises with the batch statistics and updates
   * the running estimates; eval mode: normalises with the running estimates.
   */
  forward(x: Tensor): Tensor {
    checkInput(x, this.kind);
    this.checkShape(x);
    const useBatch = this.training || !this.trackRunningStats;
    if (this.training && this.numBatchesTracked) this.numBatchesTracked[0]!++;
    return batchNorm(x, this.weight, this.bias, {
      training: useBatch,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      momentum: this.momentum,
      eps: this.eps,
    });
  }

  config(): ModuleConfig {
    return {
      type: this.kind,
      numFeatures: this.numFeatures,
      eps: this.eps,
      momentum: this.momentum,
      affine: this.affine,
      trackRunningStats: this.trackRunningStats,
    };
  }
}

function bnOptions(c: ModuleConfig): BatchNormOptions {
  return {
    eps: c['eps'] as number | undefined,
    momentum: c['momentum'] as number | undefined,
    affine: c['affine'] as boolean | undefined,
    trackRunningStats: c['trackRunningStats'] as boolean | undefined,
  };
}

/** Batch norm over [C, n] or [C, L, n]: statistics per channel over the batch (and L). */
export class BatchNorm1d extends BatchNormBase {
  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super('BatchNorm1d', numFeatures, opts);
  }
  protected checkShape(x: Tensor): void {
    if ((x.rank !== 2 && x.rank !== 3) || x.shape[0] !== this.numFeatures)
      throw new ShapeError(
        'ERR_SHAPE',
        `BatchNorm1d(${this.numFeatures}) needs input [${this.numFeatures}, batch] or [${this.numFeatures}, length, batch], got [${x.shape.join(', ')}]`,
      );
  }
  static fromConfig(c: ModuleConfig): BatchNorm1d {
    return new BatchNorm1d(c['numFeatures'] as number, bnOptions(c));
  }
}

/** Batch norm over [C, H, W, n]: statistics per channel over the batch and the image. */
export class BatchNorm2d extends BatchNormBase {
  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super('BatchNorm2d', numFeatures, opts);
  }
  protected checkShape(x: Tensor): void {
    if (x.rank !== 4 || x.shape[0] !== this.numFeatures)
      throw new ShapeError('ERR_SHAPE', `BatchNorm2d(${this.numFeatures}) needs input [${this.numFeatures}, H, W, batch], got [${x.shape.join(', ')}]`);
  }
  static fromConfig(c: ModuleConfig): BatchNorm2d {
    return new BatchNorm2d(c['numFeatures'] as number, bnOptions(c));
  }
}

export interface LayerNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learn an element-wise weight and bias of shape normalizedShape (default true). */
  elementwiseAffine?: boolean;
}

/**
 * Layer norm: each sample is normalised over all its values. normalizedShape must be the whole
 * sample shape (input [...normalizedShape, n]), since the batch is the last axis.
 */
export class LayerNorm extends Module {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;

  constructor(normalizedShape: number | readonly number[], opts: LayerNormOptions = {}) {
    super();
    const shape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
    if (!Array.isArray(shape as unknown) || shape.length === 0)
      throw new SparsennTypeError('ERR_TYPE', `LayerNorm normalizedShape must be a positive integer or a non-empty array of them, got ${String(normalizedShape)}`);
    shape.forEach((d, i) => checkCount(d, `LayerNorm normalizedShape[${i}]`, 1));
    this.normalizedShape = Object.freeze([...shape]);
    this.eps = checkReal(opts.eps ?? 1e-5, 'LayerNorm eps', 0, Infinity, true);
    this.elementwiseAffine = checkBool(opts.elementwiseAffine ?? true, 'LayerNorm elementwiseAffine');
    const pair = this.elementwiseAffine ? affinePair([...shape]) : null;
    this.weight = pair ? this.registerParameter('weight', pair[0]) : null;
    this.bias = pair ? this.registerParameter('bias', pair[1]) : null;
  }

  forward(x: Tensor): Tensor {
    checkInput(x, 'LayerNorm');
    const s = this.normalizedShape;
    if (x.rank !== s.length + 1 || s.some((d, i) => d !== x.shape[i]))
      throw new ShapeError('ERR_SHAPE', `LayerNorm([${s.join(', ')}]) needs input [${[...s, 'batch'].join(', ')}], got [${x.shape.join(', ')}]`);
    return layerNorm(x, s, this.weight, this.bias, this.eps);
  }

  config(): ModuleConfig {
    return { type: 'LayerNorm', normalizedShape: [...this.normalizedShape], eps: this.eps, elementwiseAffine: this.elementwiseAffine };
  }

  static fromConfig(c: ModuleConfig): LayerNorm {
    return new LayerNorm(c['normalizedShape'] as number[], {
      eps: c['eps'] as number | undefined,
      elementwiseAffine: c['elementwiseAffine'] as boolean | undefined,
    });
  }
}

export interface GroupNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learn a per-channel weight and bias (default true). */
  affine?: boolean;
}

/**
 * Group norm over [C, ..., n] ([C, H, W, n] or [C, n]): channels are split into numGroups
 * groups of consecutive channels, each normalised per sample over its channels and positions.
 */
export class GroupNorm extends Module {
  readonly numGroups: number;
  readonly numChannels: number;
  readonly eps: number;
  readonly affine: boolean;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;

  constructor(numGroups: number, numChannels: number, opts: GroupNormOptions = {}) {
    super();
    this.numGroups = checkCount(numGroups, 'GroupNorm numGroups', 1);
    this.numChannels = checkCount(numChannels, 'GroupNorm numChannels', 1);
    if (numChannels % numGroups !== 0)
      throw new ShapeError('ERR_SHAPE', `GroupNorm: numChannels ${numChannels} must be divisible by numGroups ${numGroups}`);
    this.eps = checkReal(opts.eps ?? 1e-5, 'GroupNorm eps', 0, Infinity, true);
    this.affine = checkBool(opts.affine ?? true, 'GroupNorm affine');
    const pair = this.affine ? affinePair([numChannels]) : null;
    this.weight = pair ? this.registerParameter('weight', pair[0]) : null;
    this.bias = pair ? this.registerParameter('bias', pair[1]) : null;
  }

  forward(x: Tensor): Tensor {
    checkInput(x, 'GroupNorm');
    if (x.rank < 2 || x.shape[0] !== this.numChannels)
      throw new ShapeError(
        'ERR_SHAPE',
        `GroupNorm(${this.numGroups}, ${this.numChannels}) needs input [${this.numChannels}, ..., batch] (e.g. [${this.numChannels}, H, W, batch]), got [${x.shape.join(', ')}]`,
      );
    return groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }

  config(): ModuleConfig {
    return { type: 'GroupNorm', numGroups: this.numGroups, numChannels: this.numChannels, eps: this.eps, affine: this.affine };
  }

  static fromConfig(c: ModuleConfig): GroupNorm {
    return new GroupNorm(c['numGroups'] as number, c['numChannels'] as number, {
      eps: c['eps'] as number | undefined,
      affine: c['affine'] as boolean | undefined,
    });
  }
}
