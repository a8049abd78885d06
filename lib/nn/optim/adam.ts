/**
 * Adam (L2 weight decay folded into the gradient, torch.optim.Adam) and AdamW (decoupled
 * weight decay, torch.optim.AdamW), with PyTorch's bias correction and epsilon placement.
 */
import { IndexRangeError } from '../../errors.js';
import { native } from '../../native.js';
import type { Parameter } from '../parameter.js';
import { checkRate, Optimizer, type ParamState } from './optimizer.js';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

export class Adam extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  protected readonly stateBuffers = 2;
  /** AdamW decouples the decay from the gradient. */
  protected readonly decoupled: boolean = false;

  constructor(params: Iterable<Parameter>, opts: AdamOptions = {}) {
    super(params, opts.lr ?? 1e-3);
    const [b1, b2] = opts.betas ?? [0.9, 0.999];
    this.beta1 = checkBeta(b1, 'betas[0]');
    this.beta2 = checkBeta(b2, 'betas[1]');
    this.eps = checkRate(opts.eps ?? 1e-8, 'eps');
    this.weightDecay = checkRate(opts.weightDecay ?? this.defaultDecay(), 'weightDecay');
  }

  protected defaultDecay(): number {
    return 0;
  }

  protected update(p: Parameter, grad: Float32Array, compact: boolean, st: ParamState, indices: Int32Array | null): void {
    const c1 = 1 - this.beta1 ** st.step;
    const sqrtC2 = Math.sqrt(1 - this.beta2 ** st.step);
    native.adamUpdate(p.data, grad, compact, st.buffers[0]!, st.buffers[1]!, indices, this.lr, this.beta1, this.beta2, this.eps, this.weightDecay, this.decoupled, this.lr / c1, sqrtC2);
  }
}

/** 0 <= beta < 1: the bias correction divides by 1 - beta^t. */
function checkBeta(b: number, name: string): number {
  if (typeof b !== 'number' || !(b >= 0 && b < 1)) throw new IndexRangeError('ERR_RANGE', `${name} must be in [0, 1), got ${String(b)}`);
  return b;
}

export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;
  protected override defaultDecay(): number {
    return 1e-2;
  }
}
