/**
 * Lowering: the traced leaf calls become the operations an inference plan runs. Linear and
 * Conv2d become products (weight matrix times the batch-last input or its im2col columns) with
 * a following eval-mode BatchNorm folded into the weights and bias and a following ReLU fused
 * into the kernel's epilogue; shape-only layers (Flatten, Reshape, Dropout) become aliases of
 * their input's buffer; everything else runs as the module itself.
 */
import { Dropout, Flatten, GELU, Reshape, ReLU, Add, Concat } from '../nn/layers/activations.js';
import { Conv2d } from '../nn/layers/conv.js';
import { Linear } from '../nn/layers/linear.js';
import { BatchNorm1d, BatchNorm2d } from '../nn/layers/norm.js';
import { MaxPool2d } from '../nn/layers/pool.js';
import type { Module } from '../nn/module.js';
import type { ConvGeometry } from '../nn/ops/conv.js';
import type { TracedModel } from './trace.js';

/** Convolution geometry of a product that runs on im2col columns (the batch is the run's). */
export type ConvShape = Omit<ConvGeometry, 'n'>;

/**
 * Floats of im2col columns one chunk may hold. A convolution over a large batch multiplies
 * its weights by columns for a block of output rows at a time, so that the columns (with the
 * chunk's output) stay in a core's L2 cache between im2col writing and the product reading them.
 */
export const COL_CHUNK_FLOATS = 48 * 1024;

/** Whether im2col would return the input itself (1x1 kernel, stride 1, no padding). */
export function isIdentityConv(c: ConvShape): boolean {
  return c.kh === 1 && c.kw === 1 && c.sh === 1 && c.sw === 1 && c.ph === 0 && c.pw === 0;
}

/** Output rows of a convolution per chunk at batch n (oh when the whole im2col fits, or for a 1x1 identity). */
export function convChunkRows(c: ConvShape, n: number): number {
  if (isIdentityConv(c)) return c.oh;
  return Math.max(1, Math.min(c.oh, Math.floor(COL_CHUNK_FLOATS / (c.c * c.kh * c.kw * c.ow * n))));
}

export interface ProductOp {
  readonly kind: 'product';
  /** The layer's module name. */
  readonly name: string;
  readonly input: number;
  readonly output: number;
  /** Row-major [groups * rowsPerGroup, colsPerGroup] weights after folding (zeros where pruned). */
  readonly weight: Float32Array;
  readonly groups: number;
  readonly rows: number;
  readonly cols: number;
  readonly bias: Float32Array | null;
  readonly relu: boolean;
  /** null for a Linear; for a Conv2d its geometry (input channels of all groups). */
  readonly conv: ConvShape | null;
  /** The layers folded into this product, e.g. ['bn1', 'relu1']. */
  readonly fused: string[];
}

export interface AliasOp {
  readonly kind: 'alias';
  readonly name: string;
  readonly input: number;
  readonly output: number;
}

export interface SimpleOp {
  readonly kind: 'relu' | 'gelu' | 'add' | 'concat';
  readonly name: string;
  readonly inputs: readonly number[];
  readonly output: number;
}

export interface MaxPoolOp {
  readonly kind: 'maxpool';
  readonly name: string;
  readonly input: number;
  readonly output: number;
  /** [c, h, w, kh, kw, sh, sw, ph, pw, oh, ow]. */
  readonly geometry: readonly number[];
}

export interface ModuleOp {
  readonly kind: 'module';
  readonly name: string;
  readonly module: Module;
  readonly inputs: readonly number[];
  readonly output: number;
}

export type Op = ProductOp | AliasOp | SimpleOp | MaxPoolOp | ModuleOp;

/** Stored (nonzero) entries of a product's folded weights. */
export function nonzeros(weight: Float32Array): number {
  let n = 0;
  for (const v of weight) if (v !== 0) n++;
  return n;
}

function bnScaleShift(bn: BatchNorm1d | BatchNorm2d): { scale: Float64Array; shift: Float64Array } | null {
  if (!bn.runningMean || !bn.runningVar) return null;
  const c = bn.numFeatures;
  const scale = new Float64Array(c);
  const shift = new Float64Array(c);
  for (let i = 0; i < c; i++) {
    const g = bn.weight ? bn.weight.data[i]! : 1;
    const b = bn.bias ? bn.bias.data[i]! : 0;
    scale[i] = g / Math.sqrt(bn.runningVar[i]! + bn.eps);
    shift[i] = b - bn.runningMean[i]! * scale[i]!;
  }
  return { scale, shift };
}

function productOf(name: string, m: Linear | Conv2d, input: number, output: number, inputShape: readonly number[], outputShape: readonly number[]): ProductOp {
  const weight = m.weight.data.slice();
  const bias = m.bias ? m.bias.data.slice() : null;
  if (m instanceof Linear) return { kind: 'product', name, input, output, weight, groups: 1, rows: m.outFeatures, cols: m.inFeatures, bias, relu: false, conv: null, fused: [] };
  const [c, h, w] = inputShape as [number, number, number];
  const [, oh, ow] = outputShape as [number, number, number];
  const [kh, kw] = m.kernelSize;
  const conv: ConvShape = { c, h, w, kh, kw, sh: m.stride[0], sw: m.stride[1], ph: m.padding[0], pw: m.padding[1], dh: m.dilation[0], dw: m.dilation[1], oh, ow };
  return { kind: 'product', name, input, output, weight, groups: m.groups, rows: m.outChannels / m.groups, cols: (m.inChannels / m.groups) * kh * kw, bias, relu: false, conv, fused: [] };
}

/** Folds y = scale * (W x + b) + shift into W and b (rows scaled; zeros stay zero). */
function foldBatchNorm(p: ProductOp, scale: Float64Array, shift: Float64Array, bnName: string, output: number): ProductOp {
  const rows = p.groups * p.rows;
  const weight = p.weight.slice();
  const bias = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const s = scale[r]!;
    for (let j = r * p.cols; j < (r + 1) * p.cols; j++) weight[j] = weight[j]! * s;
    bias[r] = (p.bias ? p.bias[r]! : 0) * s + shift[r]!;
  }
  return { ...p, weight, bias, output, fused: [...p.fused, bnName] };
}

/** Linear and Conv2d modules the products can run (dense weights, ordinary conv geometry). */
function isProduct(m: Module): m is Linear | Conv2d {
  if (m instanceof Linear) return true;
  // A grouped conv with few rows per group (e.g. depthwise) is faster as the module's own loop.
  return m instanceof Conv2d && (m.groups === 1 || m.outChannels / m.groups >= 8);
}

export function lower(traced: TracedModel): Op[] {
  const uses = new Map<number, number>();
  for (const call of traced.calls) for (const v of call.inputs) uses.set(v, (uses.get(v) ?? 0) + 1);
  for (const o of traced.outputs) uses.set(o.value, (uses.get(o.value) ?? 0) + 1);
  const shape = (v: number) => traced.values[v]!.shape;
  const ops: Op[] = [];
  // The product whose output each value is, while a BN or ReLU may still fold into it.
  const open = new Map<number, number>();
  for (const call of traced.calls) {
    const m = call.module;
    const [x] = call.inputs;
    const single = x !== undefined && call.inputs.length === 1 && uses.get(x) === 1;
    const producer = x === undefined ? undefined : open.get(x);
    const p = producer === undefined ? undefined : (ops[producer] as ProductOp);
    if ((m instanceof BatchNorm1d || m instanceof BatchNorm2d) && single && p && !p.relu) {
      const affine = bnScaleShift(m);
      // BatchNorm1d over [C, L, n] normalises per C like a conv's channels; only [C, n] lines up with a Linear's rows.
      if (affine && affine.scale.length === p.groups * p.rows && (p.conv !== null || shape(x!).length === 1)) {
        ops[producer!] = foldBatchNorm(p, affine.scale, affine.shift, call.name, call.output);
        open.delete(x!);
        open.set(call.output, producer!);
        continue;
      }
    }
    if (m instanceof ReLU && single && p && !p.relu) {
      ops[producer!] = { ...p, relu: true, output: call.output, fused: [...p.fused, call.name] };
      open.delete(x!);
      open.set(call.output, producer!);
      continue;
    }
    if (isProduct(m) && x !== undefined) {
      open.set(call.output, ops.length);
      ops.push(productOf(call.name, m, x, call.output, shape(x), shape(call.output)));
    } else if ((m instanceof Flatten || m instanceof Reshape || m instanceof Dropout) && x !== undefined) {
      ops.push({ kind: 'alias', name: call.name, input: x, output: call.output });
    } else if (m instanceof ReLU) {
      ops.push({ kind: 'relu', name: call.name, inputs: call.inputs, output: call.output });
    } else if (m instanceof GELU && m.approximate === 'none') {
      ops.push({ kind: 'gelu', name: call.name, inputs: call.inputs, output: call.output });
    } else if (m instanceof Add && call.inputs.length === 2) {
      ops.push({ kind: 'add', name: call.name, inputs: call.inputs, output: call.output });
    } else if (m instanceof Concat && (m.axis === 0 || m.axis === -shape(call.output).length)) {
      ops.push({ kind: 'concat', name: call.name, inputs: call.inputs, output: call.output });
    } else if (m instanceof MaxPool2d && x !== undefined) {
      const [c, h, w] = shape(x) as [number, number, number];
      const [, oh, ow] = shape(call.output) as [number, number, number];
      const geometry = [c, h, w, m.kernelSize[0], m.kernelSize[1], m.stride[0], m.stride[1], m.padding[0], m.padding[1], oh, ow];
      ops.push({ kind: 'maxpool', name: call.name, input: x, output: call.output, geometry });
    } else {
      ops.push({ kind: 'module', name: call.name, module: m, inputs: call.inputs, output: call.output });
    }
  }
  return ops;
}
