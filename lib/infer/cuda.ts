/**
 * The CUDA path of compile({ device: 'cuda' }): a model whose lowered plan is a chain of Linear
 * products (with bias and ReLU folded or fused) runs as one device plan (native/cuda Plan):
 * weights uploaded once at compile time, each run copies its input in and its output out on
 * the plan's stream. Anything else, or no usable GPU, compiles for the CPU instead and says why.
 */
import { NativeError } from '../errors.js';
import { native, type NativeCudaPlan } from '../native.js';
import { capabilities } from '../runtime.js';
import { CsrMatrix } from '../sparse/csr.js';
import { nonzeros, type Op, type ProductOp } from './lower.js';
import type { PlanLayer } from './plan-report.js';
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

/**
 * The session's device plan, or why there is none (a build without CUDA, no usable GPU, a
 * plan that is not a chain, or the device failing while the weights upload): the weights
 * uploaded (CSR at density <= CUDA_CSR_MAX_DENSITY, else dense) and the plan report's layers.
 * The caller disposes the plan.
 */
export function planOnDevice(ops: readonly Op[], inputs: readonly number[], outputs: readonly number[], batchSizes: readonly number[]): { plan: NativeCudaPlan; chain: CudaChain; layers: PlanLayer[] } | string {
  const cuda = capabilities().cuda;
  const Plan = native.CudaPlan;
  if (!cuda.available || !Plan) return cuda.reason ?? 'this build of sparsenn has no CUDA backend (rebuild with SPARSENN_CUDA=1)';
  const chain = cudaChainOf(ops, inputs, outputs);
  if (typeof chain === 'string') return chain;
  let plan: NativeCudaPlan | undefined;
  const layers: PlanLayer[] = [];
  try {
    plan = new Plan();
    for (const l of chain.layers) {
      const nnz = nonzeros(l.weight);
      const density = nnz / Math.max(1, l.weight.length);
      const format = density <= CUDA_CSR_MAX_DENSITY ? 'csr' : 'dense';
      if (format === 'csr') {
        const m = CsrMatrix.fromDense(l.weight, l.rows, l.cols);
        try {
          plan.addCsr(l.rows, l.cols, m.rowPtr, m.colIdx, m.values, l.bias, l.relu);
        } finally {
          m.dispose();
        }
      } else plan.addDense(l.rows, l.cols, l.weight, l.bias, l.relu);
      const formats = Object.fromEntries(batchSizes.map((b) => [String(b), `cuda ${format}`]));
      layers.push({ name: l.name, fused: l.fused, kind: 'linear', rows: l.rows, cols: l.cols, groups: 1, nnz, density, positions: 1, formats, timings: {}, reason: 'forced' });
    }
  } catch (e) {
    plan?.dispose();
    // The device itself failed (out of memory, a lost device): the CPU can still run the model.
    if (e instanceof NativeError && e.code === 'ERR_CUDA') return `building the device plan failed: ${e.message}`;
    throw e;
  }
  return { plan, chain, layers };
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
