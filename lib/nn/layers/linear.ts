/** Linear: y = W x + b, on the sparse kernels when W's mask is sparse enough. */
import { checkCount } from '../../checks.js';
import { ShapeError } from '../../errors.js';
import { kaimingUniform, uniform, type InitOptions } from '../init.js';
import { Module, type ModuleConfig } from '../module.js';
import { weightProduct, type WeightExecution } from '../ops/weight-product.js';
import { Parameter } from '../parameter.js';
import type { Tensor } from '../tensor.js';
import { stateArray } from '../state-arrays.js';

export interface LinearOptions extends InitOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
  /** 'auto' (default) runs on the sparse kernels when the weight's mask is sparse enough. */
  execution?: WeightExecution;
}

export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  execution: WeightExecution;

  /** Weights as PyTorch initialises them: Kaiming uniform with a = sqrt(5), bias U(±1/sqrt(in)). */
  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    this.inFeatures = checkCount(inFeatures, 'inFeatures', 1);
    this.outFeatures = checkCount(outFeatures, 'outFeatures', 1);
    this.execution = opts.execution ?? 'auto';
    const shape = [outFeatures, inFeatures];
    this.weight = this.registerParameter(
      'weight',
      new Parameter(kaimingUniform(stateArray(outFeatures * inFeatures), shape, { nonlinearity: 'leaky_relu', negativeSlope: Math.sqrt(5), rng: opts.rng }), shape),
    );
    this.bias =
      opts.bias === false
        ? null
        : this.registerParameter('bias', new Parameter(uniform(stateArray(outFeatures), 1 / Math.sqrt(inFeatures), { rng: opts.rng }), [outFeatures]));
  }

  /** x: [inFeatures, n] (or any shape whose size is inFeatures * n, n the last dimension). */
  forward(x: Tensor): Tensor {
    if (x.rank < 1 || x.size !== this.inFeatures * x.batch)
      throw new ShapeError('ERR_SHAPE', `Linear(${this.inFeatures} -> ${this.outFeatures}) needs input [${this.inFeatures}, batch], got [${x.shape.join(', ')}]`);
    return weightProduct(x, this.weight, this.bias, this.execution);
  }

  config(): ModuleConfig {
    return { type: 'Linear', inFeatures: this.inFeatures, outFeatures: this.outFeatures, bias: this.bias !== null };
  }

  static fromConfig(c: ModuleConfig): Linear {
    return new Linear(c['inFeatures'] as number, c['outFeatures'] as number, { bias: c['bias'] as boolean });
  }
}
