/** Conv2d: 2-D convolution on batch-last images, on the sparse kernels when its weight's mask is sparse enough. */
import { checkCount } from '../../checks.js';
import { IndexRangeError, ShapeError, SparsennTypeError } from '../../errors.js';
import { kaimingUniform, uniform, type InitOptions } from '../init.js';
import { Module, type ModuleConfig } from '../module.js';
import { conv2d, toPair, type Pair } from '../ops/conv.js';
import type { WeightExecution } from '../ops/weight-product.js';
import { Parameter } from '../parameter.js';
import type { Tensor } from '../tensor.js';
import { stateArray } from '../state-arrays.js';

export interface Conv2dOptions extends InitOptions {
  /** Default 1. */
  stride?: Pair;
  /**
   * Zero padding on each side (default 0), or 'valid' (0), or 'same' (stride 1 only: the
   * output has the input's size; needs dilation * (kernel - 1) even on both axes).
   */
  padding?: Pair | 'same' | 'valid';
  /** Default 1. */
  dilation?: Pair;
  /** Default 1; must divide both channel counts (groups = inChannels is depthwise). */
  groups?: number;
  /** Learn an additive bias (default true). */
  bias?: boolean;
  /**
   * 'auto' (default) runs on the sparse kernels when the weight's mask is sparse enough (one
   * group only; grouped convolutions always run dense, masked).
   */
  execution?: WeightExecution;
}

export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  /** [outChannels, inChannels / groups, kh, kw], PyTorch's layout. */
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  execution: WeightExecution;

  /** Weights as PyTorch initialises them: Kaiming uniform with a = sqrt(5), bias U(±1/sqrt(fan_in)). */
  constructor(inChannels: number, outChannels: number, kernelSize: Pair, opts: Conv2dOptions = {}) {
    super();
    this.inChannels = checkCount(inChannels, 'Conv2d: inChannels', 1);
    this.outChannels = checkCount(outChannels, 'Conv2d: outChannels', 1);
    this.kernelSize = toPair(kernelSize, 'Conv2d: kernelSize', 1);
    this.stride = toPair(opts.stride ?? 1, 'Conv2d: stride', 1);
    this.dilation = toPair(opts.dilation ?? 1, 'Conv2d: dilation', 1);
    this.groups = checkCount(opts.groups ?? 1, 'Conv2d: groups', 1);
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0)
      throw new ShapeError('ERR_SHAPE', `Conv2d: groups (${this.groups}) must divide inChannels and outChannels, got ${inChannels} and ${outChannels}`);
    this.padding = resolvePadding(opts.padding ?? 0, this.kernelSize, this.stride, this.dilation);
    this.execution = opts.execution ?? 'auto';
    const [kh, kw] = this.kernelSize;
    const shape = [outChannels, inChannels / this.groups, kh, kw];
    const fanIn = (inChannels / this.groups) * kh * kw;
    this.weight = this.registerParameter(
      'weight',
      new Parameter(
        kaimingUniform(stateArray(shape.reduce((a, b) => a * b, 1)), shape, { nonlinearity: 'leaky_relu', negativeSlope: Math.sqrt(5), rng: opts.rng }),
        shape,
      ),
    );
    this.bias =
      opts.bias === false
        ? null
        : this.registerParameter('bias', new Parameter(uniform(stateArray(outChannels), 1 / Math.sqrt(fanIn), { rng: opts.rng }), [outChannels]));
  }

  /** x: [inChannels, H, W, batch] -> [outChannels, OH, OW, batch]. */
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups, execution: this.execution });
  }

  config(): ModuleConfig {
    return {
      type: 'Conv2d',
      inChannels: this.inChannels,
      outChannels: this.outChannels,
      kernelSize: [...this.kernelSize],
      stride: [...this.stride],
      padding: [...this.padding],
      dilation: [...this.dilation],
      groups: this.groups,
      bias: this.bias !== null,
    };
  }

  static fromConfig(c: ModuleConfig): Conv2d {
    return new Conv2d(c['inChannels'] as number, c['outChannels'] as number, c['kernelSize'] as Pair, {
      stride: c['stride'] as Pair | undefined,
      padding: c['padding'] as Pair | 'same' | 'valid' | undefined,
      dilation: c['dilation'] as Pair | undefined,
      groups: c['groups'] as number | undefined,
      bias: c['bias'] as boolean | undefined,
    });
  }
}

/** Numeric padding for a padding option; 'same' is d (k - 1) / 2 per axis, stride 1 only. */
function resolvePadding(padding: Pair | 'same' | 'valid', kernel: [number, number], stride: [number, number], dilation: [number, number]): [number, number] {
  if (padding === 'valid') return [0, 0];
  if (padding === 'same') {
    if (stride[0] !== 1 || stride[1] !== 1)
      throw new IndexRangeError('ERR_RANGE', `Conv2d: padding 'same' needs stride 1, got stride [${stride.join(', ')}]`);
    const out: [number, number] = [0, 0];
    for (let a = 0; a < 2; a++) {
      const total = dilation[a]! * (kernel[a]! - 1);
      if (total % 2 !== 0)
        throw new IndexRangeError(
          'ERR_RANGE',
          `Conv2d: padding 'same' needs an even dilation * (kernel - 1) on each axis for symmetric padding, got ${total} on axis ${a} (kernel [${kernel.join(', ')}], dilation [${dilation.join(', ')}])`,
        );
      out[a] = total / 2;
    }
    return out;
  }
  if (typeof padding === 'string') throw new SparsennTypeError('ERR_TYPE', `Conv2d: padding must be an integer, a pair, 'same' or 'valid', got '${padding}'`);
  return toPair(padding, 'Conv2d: padding', 0);
}
