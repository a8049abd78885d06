/** Pooling layers on batch-last images (no parameters). */
import { IndexRangeError, SparsennTypeError } from '../../errors.js';
import { Module, type ModuleConfig } from '../module.js';
import { toPair, type Pair } from '../ops/conv.js';
import { avgPool2d, globalAvgPool, maxPool2d } from '../ops/pool.js';
import type { Tensor } from '../tensor.js';

export interface Pool2dLayerOptions {
  /** Default: the kernel size. */
  stride?: Pair;
  /** Implicit padding on each side, at most half the kernel; default 0. */
  padding?: Pair;
  /** Round the output size up (PyTorch's ceil_mode); default false. */
  ceilMode?: boolean;
}

export interface AvgPool2dLayerOptions extends Pool2dLayerOptions {
  /** Divide by the full window, padding included (default true). */
  countIncludePad?: boolean;
}

function checkBoolean(v: unknown, name: string): boolean {
  if (typeof v !== 'boolean') throw new SparsennTypeError('ERR_TYPE', `${name} must be a boolean, got ${typeof v}`);
  return v;
}

/** The options shared by both window pools, normalised. */
abstract class Pool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly ceilMode: boolean;

  protected constructor(what: string, kernelSize: Pair, opts: Pool2dLayerOptions) {
    super();
    this.kernelSize = toPair(kernelSize, `${what}: kernelSize`, 1);
    this.stride = toPair(opts.stride ?? this.kernelSize, `${what}: stride`, 1);
    this.padding = toPair(opts.padding ?? 0, `${what}: padding`, 0);
    this.ceilMode = checkBoolean(opts.ceilMode ?? false, `${what}: ceilMode`);
    if (2 * this.padding[0] > this.kernelSize[0] || 2 * this.padding[1] > this.kernelSize[1])
      throw new IndexRangeError(
        'ERR_RANGE',
        `${what}: padding must be at most half the kernel size, got padding [${this.padding.join(', ')}] for kernel [${this.kernelSize.join(', ')}]`,
      );
  }
}

/** Max pooling: [C, H, W, n] -> [C, OH, OW, n]. */
export class MaxPool2d extends Pool2d {
  constructor(kernelSize: Pair, opts: Pool2dLayerOptions = {}) {
    super('MaxPool2d', kernelSize, opts);
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding, ceilMode: this.ceilMode });
  }

  config(): ModuleConfig {
    return { type: 'MaxPool2d', kernelSize: [...this.kernelSize], stride: [...this.stride], padding: [...this.padding], ceilMode: this.ceilMode };
  }

  static fromConfig(c: ModuleConfig): MaxPool2d {
    return new MaxPool2d(c['kernelSize'] as Pair, {
      stride: c['stride'] as Pair | undefined,
      padding: c['padding'] as Pair | undefined,
      ceilMode: c['ceilMode'] as boolean | undefined,
    });
  }
}

/** Average pooling: [C, H, W, n] -> [C, OH, OW, n]. */
export class AvgPool2d extends Pool2d {
  readonly countIncludePad: boolean;

  constructor(kernelSize: Pair, opts: AvgPool2dLayerOptions = {}) {
    super('AvgPool2d', kernelSize, opts);
    this.countIncludePad = checkBoolean(opts.countIncludePad ?? true, 'AvgPool2d: countIncludePad');
  }

  forward(x: Tensor): Tensor {
    return avgPool2d(x, {
      kernelSize: this.kernelSize,
      stride: this.stride,
      padding: this.padding,
      ceilMode: this.ceilMode,
      countIncludePad: this.countIncludePad,
    });
  }

  config(): ModuleConfig {
    return {
      type: 'AvgPool2d',
      kernelSize: [...this.kernelSize],
      stride: [...this.stride],
      padding: [...this.padding],
      ceilMode: this.ceilMode,
      countIncludePad: this.countIncludePad,
    };
  }

  static fromConfig(c: ModuleConfig): AvgPool2d {
    return new AvgPool2d(c['kernelSize'] as Pair, {
      stride: c['stride'] as Pair | undefined,
      padding: c['padding'] as Pair | undefined,
      ceilMode: c['ceilMode'] as boolean | undefined,
      countIncludePad: c['countIncludePad'] as boolean | undefined,
    });
  }
}

/** The mean over the spatial axes: [C, H, W, n] -> [C, n]. */
export class GlobalAvgPool extends Module {
  forward(x: Tensor): Tensor {
    return globalAvgPool(x);
  }

  config(): ModuleConfig {
    return { type: 'GlobalAvgPool' };
  }

  static fromConfig(): GlobalAvgPool {
    return new GlobalAvgPool();
  }
}
