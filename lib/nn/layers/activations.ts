/**
 * Parameter-free layers: activations, softmax, dropout, and the shape/merge layers (Flatten,
 * Reshape, Add, Concat). Each has `config()` -> `{ type: '<ClassName>', ...constructor args }`
 * and a static `fromConfig`.
 */
import { ShapeError, SparsennTypeError } from '../../errors.js';
import { Module, type ModuleConfig } from '../module.js';
import {
  add,
  checkDropoutP,
  concat,
  dropout,
  flatten,
  gelu,
  hardsigmoid,
  hardswish,
  leakyRelu,
  relu,
  reshape,
  sigmoid,
  softmax,
  tanh,
  type GeluApproximation,
} from '../ops/elementwise.js';
import type { Random } from '../random.js';
import { Tensor } from '../tensor.js';

function checkInput(x: unknown, layer: string, what = 'input'): Tensor {
  if (!(x instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', `${layer}: ${what} must be a Tensor, got ${x === undefined ? 'nothing' : typeof x}`);
  return x;
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(checkInput(x, 'ReLU'));
  }
  config(): ModuleConfig {
    return { type: 'ReLU' };
  }
  static fromConfig(): ReLU {
    return new ReLU();
  }
}

/** max(x, 0) + negativeSlope * min(x, 0). */
export class LeakyReLU extends Module {
  readonly negativeSlope: number;
  constructor(negativeSlope = 0.01) {
    super();
    if (typeof negativeSlope !== 'number' || !Number.isFinite(negativeSlope))
      throw new SparsennTypeError('ERR_TYPE', `LeakyReLU negativeSlope must be a finite number, got ${String(negativeSlope)}`);
    this.negativeSlope = negativeSlope;
  }
  forward(x: Tensor): Tensor {
    return leakyRelu(checkInput(x, 'LeakyReLU'), this.negativeSlope);
  }
  config(): ModuleConfig {
    return { type: 'LeakyReLU', negativeSlope: this.negativeSlope };
  }
  static fromConfig(c: ModuleConfig): LeakyReLU {
    return new LeakyReLU((c['negativeSlope'] as number | undefined) ?? 0.01);
  }
}

/** x * Phi(x): exact (erf, the default) or PyTorch's tanh approximation. */
export class GELU extends Module {
  readonly approximate: GeluApproximation;
  constructor(approximate: GeluApproximation = 'none') {
    super();
    if (approximate !== 'none' && approximate !== 'tanh')
      throw new SparsennTypeError('ERR_TYPE', `GELU approximate must be 'none' or 'tanh', got ${String(approximate)}`);
    this.approximate = approximate;
  }
  forward(x: Tensor): Tensor {
    return gelu(checkInput(x, 'GELU'), this.approximate);
  }
  config(): ModuleConfig {
    return { type: 'GELU', approximate: this.approximate };
  }
  static fromConfig(c: ModuleConfig): GELU {
    return new GELU((c['approximate'] as GeluApproximation | undefined) ?? 'none');
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return tanh(checkInput(x, 'Tanh'));
  }
  config(): ModuleConfig {
    return { type: 'Tanh' };
  }
  static fromConfig(): Tanh {
    return new Tanh();
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return sigmoid(checkInput(x, 'Sigmoid'));
  }
  config(): ModuleConfig {
    return { type: 'Sigmoid' };
  }
  static fromConfig(): Sigmoid {
    return new Sigmoid();
  }
}

/** x * relu6(x + 3) / 6. */
export class HardSwish extends Module {
  forward(x: Tensor): Tensor {
    return hardswish(checkInput(x, 'HardSwish'));
  }
  config(): ModuleConfig {
    return { type: 'HardSwish' };
  }
  static fromConfig(): HardSwish {
    return new HardSwish();
  }
}

/** relu6(x + 3) / 6. */
export class HardSigmoid extends Module {
  forward(x: Tensor): Tensor {
    return hardsigmoid(checkInput(x, 'HardSigmoid'));
  }
  config(): ModuleConfig {
    return { type: 'HardSigmoid' };
  }
  static fromConfig(): HardSigmoid {
    return new HardSigmoid();
  }
}

/**
 * Softmax over a sample axis: 0 (default) is the features of [F, n] or the channels of
 * [C, H, W, n]; negative axes count back from the last sample axis. The batch axis cannot be chosen.
 */
export class Softmax extends Module {
  readonly axis: number;
  constructor(axis = 0) {
    super();
    if (typeof axis !== 'number' || !Number.isInteger(axis)) throw new SparsennTypeError('ERR_TYPE', `Softmax axis must be an integer, got ${String(axis)}`);
    this.axis = axis;
  }
  forward(x: Tensor): Tensor {
    return softmax(checkInput(x, 'Softmax'), this.axis);
  }
  config(): ModuleConfig {
    return { type: 'Softmax', axis: this.axis };
  }
  static fromConfig(c: ModuleConfig): Softmax {
    return new Softmax((c['axis'] as number | undefined) ?? 0);
  }
}

export interface DropoutOptions {
  /** The generator masks are drawn from; default: the global one seeded by manualSeed(), read at each forward. */
  rng?: Random;
}

/**
 * Inverted dropout: in training mode zeroes each element with probability p and scales the
 * rest by 1 / (1 - p); in eval mode returns its input unchanged.
 */
export class Dropout extends Module {
  readonly p: number;
  rng: Random | undefined;
  constructor(p = 0.5, opts: DropoutOptions = {}) {
    super();
    this.p = checkDropoutP(p, 'Dropout');
    this.rng = opts.rng;
  }
  forward(x: Tensor): Tensor {
    checkInput(x, 'Dropout');
    if (!this.training) return x;
    return dropout(x, this.p, this.rng);
  }
  config(): ModuleConfig {
    return { type: 'Dropout', p: this.p };
  }
  static fromConfig(c: ModuleConfig): Dropout {
    return new Dropout((c['p'] as number | undefined) ?? 0.5);
  }
}

/** [...s, n] -> [prod(s), n]. */
export class Flatten extends Module {
  forward(x: Tensor): Tensor {
    return flatten(checkInput(x, 'Flatten'));
  }
  config(): ModuleConfig {
    return { type: 'Flatten' };
  }
  static fromConfig(): Flatten {
    return new Flatten();
  }
}

/** [...s, n] -> [...shape, n] (shape without the batch; one entry may be -1). */
export class Reshape extends Module {
  readonly shape: readonly number[];
  constructor(shape: readonly number[]) {
    super();
    if (!Array.isArray(shape as unknown) || shape.some((d) => typeof d !== 'number'))
      throw new SparsennTypeError('ERR_TYPE', `Reshape needs the sample shape as an array of integers, got ${String(shape)}`);
    if (shape.some((d) => !Number.isInteger(d) || d < -1) || shape.filter((d) => d === -1).length > 1)
      throw new ShapeError('ERR_SHAPE', `Reshape shape [${shape.join(', ')}] must hold non-negative integers and at most one -1`);
    this.shape = Object.freeze([...shape]);
  }
  forward(x: Tensor): Tensor {
    return reshape(checkInput(x, 'Reshape'), this.shape);
  }
  config(): ModuleConfig {
    return { type: 'Reshape', shape: [...this.shape] };
  }
  static fromConfig(c: ModuleConfig): Reshape {
    return new Reshape(c['shape'] as number[]);
  }
}

/** a + b (a residual connection); same shapes. */
export class Add extends Module {
  forward(a: Tensor, b: Tensor): Tensor {
    return add(checkInput(a, 'Add', 'first input'), checkInput(b, 'Add', 'second input'));
  }
  config(): ModuleConfig {
    return { type: 'Add' };
  }
  static fromConfig(): Add {
    return new Add();
  }
}

/** Joins its inputs along a sample axis (default 0: features / channels). */
export class Concat extends Module {
  readonly axis: number;
  constructor(axis = 0) {
    super();
    if (typeof axis !== 'number' || !Number.isInteger(axis)) throw new SparsennTypeError('ERR_TYPE', `Concat axis must be an integer, got ${String(axis)}`);
    this.axis = axis;
  }
  forward(...xs: Tensor[]): Tensor {
    if (xs.length === 0) throw new SparsennTypeError('ERR_TYPE', 'Concat needs at least one input');
    xs.forEach((x, i) => checkInput(x, 'Concat', `input ${i}`));
    return concat(xs, this.axis);
  }
  config(): ModuleConfig {
    return { type: 'Concat', axis: this.axis };
  }
  static fromConfig(c: ModuleConfig): Concat {
    return new Concat((c['axis'] as number | undefined) ?? 0);
  }
}
