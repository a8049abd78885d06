/** SGD with momentum, Nesterov momentum and L2 weight decay (PyTorch's torch.optim.SGD). */
import { SparsennTypeError } from '../../errors.js';
import { native } from '../../native.js';
import type { Parameter } from '../parameter.js';
import { checkRate, Optimizer, type ParamState } from './optimizer.js';

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  /** L2 penalty added to the gradient: g + weightDecay * w. */
  weightDecay?: number;
}

export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  protected readonly stateBuffers = 1;

  constructor(params: Iterable<Parameter>, opts: SgdOptions) {
    super(params, opts.lr);
    this.momentum = checkRate(opts.momentum ?? 0, 'momentum', 1);
    this.dampening = checkRate(opts.dampening ?? 0, 'dampening', 1);
    this.nesterov = opts.nesterov ?? false;
    this.weightDecay = checkRate(opts.weightDecay ?? 0, 'weightDecay');
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0))
      throw new SparsennTypeError('ERR_TYPE', 'Nesterov momentum needs momentum > 0 and dampening 0');
  }

  protected update(p: Parameter, grad: Float32Array, compact: boolean, st: ParamState, indices: Int32Array | null): void {
    native.sgdUpdate(p.data, grad, compact, st.buffers[0]!, indices, this.lr, this.momentum, this.dampening, this.weightDecay, this.nesterov, st.step === 1);
  }
}
