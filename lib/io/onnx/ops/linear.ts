/**
 * Gemm and MatMul. A product of an activation with a constant weight becomes a Linear (weight
 * [out, in], so MatMul's [in, out] constant is transposed), wrapped in AlongAxis when the
 * activation has more than one sample axis; a following Add of a constant bias is fused by the
 * importer's pre-pass (the synthetic op MatMulAdd). A product of two activations is MatMulActs.
 */
import { Linear } from '../../../nn/layers/linear.js';
import { MatMulActs } from '../../../nn/layers/tensor-ops.js';
import type { ImportContext, ImportNode } from '../context.js';
import { AlongAxis } from '../../../nn/layers/axis.js';
import { floatConst, maxImportElements, size, type ActValue, type ConstValue } from '../values.js';
import { onnxRank, reshapeAct, type Converter } from './common.js';

/** A Linear with the given weight [out, in] and bias [out] (or none). */
function linearFrom(weight: Float32Array, outF: number, inF: number, bias: Float32Array | null): Linear {
  const l = new Linear(inF, outF, { bias: bias !== null });
  l.weight.data.set(weight);
  if (bias) l.bias!.data.set(bias);
  return l;
}

/** The values of a constant bias for `m` outputs: shape [m], [1, m], [1], [] (broadcast). */
function biasValues(ctx: ImportContext, node: ImportNode, c: ConstValue, m: number, scale: number): Float32Array {
  if (c.batch) return ctx.fail(node, 'the bias depends on the batch size');
  const dims = [...c.dims];
  while (dims.length > 1 && dims[0] === 1) dims.shift();
  const n = size(dims);
  if (dims.length > 1 || (n !== m && n !== 1))
    return ctx.fail(node, `the bias of shape [${c.dims.join(', ')}] does not broadcast to one value per output (${m}); a bias that varies along the batch is not supported`);
  const out = new Float32Array(m);
  for (let i = 0; i < m; i++) out[i] = scale * c.data[n === 1 ? 0 : i]!;
  return out;
}

/** C = A B for 2-D constants (weight preprocessing a model may carry). */
function matmulConst(ctx: ImportContext, node: ImportNode, a: ConstValue, b: ConstValue): ConstValue {
  if (a.dims.length !== 2 || b.dims.length !== 2 || a.dims[1] !== b.dims[0] || a.batch || b.batch)
    return ctx.fail(node, `folding a product of constants needs two matrices [m, k] [k, p], got [${a.dims.join(', ')}] and [${b.dims.join(', ')}]`);
  const [m, k] = a.dims as [number, number];
  const p = b.dims[1]!;
  const out = new Float64Array(m * p);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < k; j++) {
      const v = a.data[i * k + j]!;
      for (let q = 0; q < p; q++) out[i * p + q] += v * b.data[j * p + q]!;
    }
  return floatConst([m, p], out);
}

/**
 * x [N, ..., K] times a constant W [K, M] (+ bias [M]): a Linear on the last sample axis, in an
 * AlongAxis when x has several sample axes. A 1-D W [K] drops the last axis (numpy).
 */
function activationTimesWeight(ctx: ImportContext, node: ImportNode, x: ActValue, w: ConstValue, bias: ConstValue | undefined): ActValue {
  if (w.batch) return ctx.fail(node, 'the weight depends on the batch size');
  let dims = [...w.dims];
  while (dims.length > 2 && dims[0] === 1) dims = dims.slice(1);
  if (dims.length > 2) return ctx.fail(node, `a batched constant weight [${w.dims.join(', ')}] is not supported (expected [in, out])`);
  const vector = dims.length === 1;
  const [k, m] = vector ? [dims[0]!, 1] : (dims as [number, number]);
  const kx = x.shape[x.shape.length - 1];
  if (x.shape.length === 0 || kx !== k) return ctx.fail(node, `the input [N, ${x.shape.join(', ')}] does not end in ${k}, the weight's input size ([${w.dims.join(', ')}])`);
  const wt = new Float32Array(m * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < m; j++) wt[j * k + i] = w.data[i * m + j]!;
  const b = bias ? biasValues(ctx, node, bias, m, 1) : null;
  const linear = linearFrom(wt, m, k, b);
  const y = x.shape.length === 1 ? ctx.emit(node, linear, [x]) : ctx.emit(node, new AlongAxis(linear, -1), [x]);
  return vector ? reshapeAct(ctx, node, y, y.shape.slice(0, -1), 'squeeze') : y;
}

/**
 * A constant A [M, K] times x [N, ..., K, P]: a Linear (weight A itself) along the second-to-last
 * sample axis.
 */
function weightTimesActivation(ctx: ImportContext, node: ImportNode, a: ConstValue, x: ActValue): ActValue {
  if (a.batch) return ctx.fail(node, 'the weight depends on the batch size');
  let dims = [...a.dims];
  while (dims.length > 2 && dims[0] === 1) dims = dims.slice(1);
  if (dims.length !== 2)
    return ctx.fail(node, `a constant left operand must be a matrix [M, K], got [${a.dims.join(', ')}]`);
  if (x.shape.length < 2)
    return ctx.fail(node, `a constant [${a.dims.join(', ')}] times the activation [N, ${x.shape.join(', ')}] would contract the batch axis; sparsenn needs the activation to have at least 2 axes after the batch`);
  const [m, k] = dims as [number, number];
  const axis = x.shape.length - 2;
  if (x.shape[axis] !== k) return ctx.fail(node, `the constant [${a.dims.join(', ')}] cannot multiply the activation [N, ${x.shape.join(', ')}]`);
  const linear = linearFrom(Float32Array.from(a.data), m, k, null);
  return ctx.emit(node, new AlongAxis(linear, axis), [x]);
}

const matMul: Converter = (ctx, node, inputs) => {
  const [a, b] = inputs;
  if (!a || !b) return ctx.fail(node, 'MatMul needs two inputs');
  if (a.kind === 'const' && b.kind === 'const') return matmulConst(ctx, node, a, b);
  if (a.kind === 'act' && b.kind === 'const') return activationTimesWeight(ctx, node, a, b, undefined);
  if (a.kind === 'const' && b.kind === 'act') return weightTimesActivation(ctx, node, a, b);
  const x = a as ActValue;
  const y = b as ActValue;
  if (onnxRank(x) !== onnxRank(y) || x.shape.length < 2)
    return ctx.fail(
      node,
      `a product of two activations needs both of the same rank with at least 2 axes after the batch (numpy would otherwise broadcast the batch axis against another), got [N, ${x.shape.join(', ')}] and [N, ${y.shape.join(', ')}]`,
    );
  const out = x.shape.slice(0, -1).reduce((p, d) => p * d, 1) * y.shape[y.shape.length - 1]!;
  if (!(out <= maxImportElements())) return ctx.fail(node, `the product would have more than ${maxImportElements()} values per sample`);
  return ctx.emit(node, new MatMulActs(), [x, y]);
};

/** MatMul followed by Add of a constant bias (fused by the importer's pre-pass). */
const matMulAdd: Converter = (ctx, node, inputs) => {
  const x = ctx.act(node, inputs, 0, 'the input');
  const w = ctx.konst(node, inputs, 1, 'the weight');
  const b = ctx.konst(node, inputs, 2, 'the bias');
  return activationTimesWeight(ctx, node, x, w, b);
};

const gemm: Converter = (ctx, node, inputs) => {
  const at = ctx.attrs(node);
  const transA = at.int('transA', 0);
  const transB = at.int('transB', 0);
  const alpha = at.float('alpha', 1);
  const beta = at.float('beta', 1);
  const a = inputs[0];
  if (!a) return ctx.fail(node, 'Gemm needs input A');
  if (a.kind === 'const') {
    return ctx.fail(node, 'Gemm with a constant A and an activation B is not supported (the batch must be axis 0 of A)');
  }
  if (transA !== 0) return ctx.fail(node, 'transA = 1 would make the batch axis a column of A; sparsenn needs the batch on axis 0');
  if (a.shape.length !== 1) return ctx.fail(node, `Gemm needs a 2-D input [N, K], got [N, ${a.shape.join(', ')}]`);
  const w = ctx.konst(node, inputs, 1, 'B (the weight)');
  if (w.batch || w.dims.length !== 2) return ctx.fail(node, `B must be a constant matrix, got shape [${w.dims.join(', ')}]`);
  const k = a.shape[0]!;
  const [r, c] = w.dims as [number, number];
  const m = transB ? r : c;
  if ((transB ? c : r) !== k) return ctx.fail(node, `A [N, ${k}] and B [${w.dims.join(', ')}] (transB = ${transB}) do not multiply`);
  // Linear's weight is [out, in]: B itself with transB, else its transpose; alpha folds in.
  const wt = new Float32Array(m * k);
  for (let o = 0; o < m; o++) for (let i = 0; i < k; i++) wt[o * k + i] = alpha * w.data[transB ? o * k + i : i * m + o]!;
  const cIn = inputs[2];
  let bias: Float32Array | null = null;
  if (cIn) {
    if (cIn.kind !== 'const') return ctx.fail(node, 'C must be a constant bias; an activation C is not supported');
    bias = biasValues(ctx, node, cIn, m, beta);
  }
  return ctx.emit(node, linearFrom(wt, m, k, bias), [a]);
};

export const linearOps: Record<string, Converter> = {
  Gemm: gemm,
  MatMul: matMul,
  'sparsenn:MatMulAdd': matMulAdd,
};
