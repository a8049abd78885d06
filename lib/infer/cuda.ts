/**
 * The CUDA path of compile({ device: 'cuda' }): a model whose lowered plan is a chain of Linear
 * products (with bias and ReLU folded or fused) runs as one device plan (native/cuda Plan):
 * weights uploaded once at compile time, each run copies its input in and its output out on
 * the plan's stream. Anything else, or no usable GPU, compiles for the CPU instead and says why.
 */
import { NativeError } from '../errors.js';
import { native, type NativeCudaPlan } from '../native.js';
import { CsrMatrix } from '../sparse/csr.js';
import type { Op, ProductOp } from './lower.js';
import type { Step, Workspace } from './steps.js';

/** Layers at or below this density are uploaded as CSR, the rest dense (see docs/cuda.md). */
export const CUDA_CSR_MAX_DENSITY = 0.5;

export interface CudaChain {
  readonly input: number;
  readonly output: number;
  readonly layers: readonly ProductOp[];
}

/**
 * The plan's ops as a device chain, or the reason they are not one: one input, one output,
 * Linear products each reading the previous one's output, ReLUs directly after a product
 * (fused into it) and shape-only aliases.
 */
export function cudaChainOf(ops: readonly Op[], inputs: readonly number[], outputs: readonly number[]): CudaChain | string {
  if (inputs.length !== 1 || outputs.length !== 1) return `the CUDA path runs models with one input and one output; this one has ${inputs.length} and ${outputs.length}`;
  const layers: ProductOp[] = [];
  let current = inputs[0]!;
  for (const op of ops) {
    switch (op.kind) {
      case 'alias':
        if (op.input !== current) return `'${op.name}' does not continue the chain of layers`;
        current = op.output;
        break;
      case 'product':
        if (op.conv !== null || op.groups !== 1) return `'${op.name}' is a convolution; the CUDA path runs Linear layers (with ReLU) only so far`;
        if (op.input !== current) return `'${op.name}' does not read the previous layer's output`;
        layers.push(op);
        current = op.output;
        break;
      case 'relu': {
        const last = layers[layers.length - 1];
        if (!last || op.inputs[0] !== current || last.relu) return `ReLU '${op.name}' does not directly follow a Linear layer`;
        layers[layers.length - 1] = { ...last, relu: true, output: op.output, fused: [...last.fused, op.name] };
        current = op.output;
        break;
      }
      default:
        return `'${op.name}' (${op.kind === 'module' ? op.module.constructor.name : op.kind}) has no CUDA kernel yet; the CUDA path runs chains of Linear layers with ReLU`;
    }
  }
  if (layers.length === 0) return 'the model has no Linear layer to run on the GPU';
  if (current !== outputs[0]) return 'the chain of layers does not end at the model output';
  return { input: inputs[0]!, output: outputs[0]!, layers };
}

/** Uploads the chain's weights; the caller disposes the plan. */
export function buildCudaPlan(chain: CudaChain): { plan: NativeCudaPlan; formats: string[] } {
  const Plan = native.CudaPlan;
  if (!Plan) throw new NativeError('ERR_CUDA', 'this build of sparsenn has no CUDA backend (rebuild with SPARSENN_CUDA=1)');
  const plan = new Plan();
  const formats: string[] = [];
  try {
    for (const l of chain.layers) {
      let nnz = 0;
      for (const v of l.weight) if (v !== 0) nnz++;
      if (nnz / Math.max(1, l.weight.length) <= CUDA_CSR_MAX_DENSITY) {
        const m = CsrMatrix.fromDense(l.weight, l.rows, l.cols);
        try {
          plan.addCsr(l.rows, l.cols, m.rowPtr, m.colIdx, m.values, l.bias, l.relu);
        } finally {
          m.dispose();
        }
        formats.push('csr');
      } else {
        plan.addDense(l.rows, l.cols, l.weight, l.bias, l.relu);
        formats.push('dense');
      }
    }
  } catch (e) {
    plan.dispose();
    throw e;
  }
  return { plan, formats };
}

/** The whole chain as one step: input buffer in, output buffer out, on the device. */
export class CudaChainStep implements Step {
  constructor(
    readonly plan: NativeCudaPlan,
    readonly input: number,
    readonly output: number,
  ) {}
  run(ws: Workspace): void {
    this.plan.run(ws.value(this.input), ws.n, ws.value(this.output));
  }
  async runAsync(ws: Workspace): Promise<void> {
    await this.plan.runAsync(ws.value(this.input), ws.n, ws.value(this.output));
  }
}
