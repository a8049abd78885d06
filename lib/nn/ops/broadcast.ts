/**
 * Broadcast arithmetic of batch-last tensors, with gradients: the numpy broadcast of two sample
 * shapes and the binary ops (add, sub, mul, div, pow) of two activations or of an activation
 * and a sample-shaped constant, as ONNX Add / Sub / Mul / Div / Pow need them.
 *
 * - `broadcastShapes(a, b, what?) -> number[]` (numpy rules, trailing alignment)
 * - `elementwise(op, a, b)`, `elementwiseConst(op, x, constant, constantFirst?)` with
 *   op 'add' | 'sub' | 'mul' | 'div' | 'pow' and constant `{ data: Float32Array; shape: number[] }`
 *   (a sample-shaped constant: no batch axis)
 *
 * The batch axis (last) never broadcasts: two activations must have the same batch size.
 */
import { float32Uninit } from '../../alloc.js';
import { ShapeError, SparsennTypeError } from '../../errors.js';
import { accumulateOwnedGrad, opResult, shapeSize, Tensor } from '../tensor.js';
import { prod, sampleShapeOf, stridedMap, stridesOf } from './index-maps.js';
import { checkActivation, checkIntArray, describe, fmt } from './tensor-op-checks.js';

/**
 * The numpy broadcast of two (sample) shapes: aligned at the trailing axis, each pair of dims
 * equal or one of them 1. ShapeError otherwise.
 */
export function broadcastShapes(a: readonly number[], b: readonly number[], what = 'broadcast'): number[] {
  const r = Math.max(a.length, b.length);
  const out = new Array<number>(r);
  for (let i = 0; i < r; i++) {
    const da = i - (r - a.length) >= 0 ? a[i - (r - a.length)]! : 1;
    const db = i - (r - b.length) >= 0 ? b[i - (r - b.length)]! : 1;
    if (da === db || db === 1) out[i] = da;
    else if (da === 1) out[i] = db;
    else
      throw new ShapeError(
        'ERR_SHAPE',
        `${what}: sample shapes ${fmt(a)} and ${fmt(b)} do not broadcast (axis ${i} of the aligned shapes: ${da} vs ${db}; dims must match or be 1)`,
      );
  }
  return out;
}

/** Map from the positions of `outShape` to those of `inShape` broadcast to it (shared with matmul-acts.ts). */
export function broadcastMap(outShape: readonly number[], inShape: readonly number[]): Int32Array {
  const off = outShape.length - inShape.length;
  const inStrides = stridesOf(inShape);
  const strides = outShape.map((_, d) => (d < off || inShape[d - off] === 1 ? 0 : inStrides[d - off]!));
  return stridedMap(outShape, strides, 0);
}

// ------------------------------------------------------------------------- binary arithmetic --

/** The binary ops of {@link elementwise}. */
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'pow';

const BINARY_OPS: readonly BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow'];

/** A constant operand: values of a sample shape (no batch axis), broadcast over the batch. */
export interface ConstantTensor {
  data: Float32Array;
  shape: readonly number[];
}

/**
 * One operand of a binary op: element (o, j) (output sample position o, batch index j) is
 * data[map[o] * row + j * step]; an activation has row = n, step = 1, a constant row = 1, step = 0.
 */
interface Operand {
  data: Float32Array;
  map: Int32Array;
  row: number;
  step: number;
  tensor: Tensor | null;
}

export function checkBinaryOp(op: unknown, what: string): BinaryOp {
  if (!BINARY_OPS.includes(op as BinaryOp)) throw new SparsennTypeError('ERR_TYPE', `${what}: op must be one of ${BINARY_OPS.join(', ')}, got ${String(op)}`);
  return op as BinaryOp;
}

/** Checks a constant operand: a Float32Array whose length is the product of its (sample) shape. */
export function checkConstant(c: unknown, what: string): ConstantTensor {
  if (typeof c !== 'object' || c === null) throw new SparsennTypeError('ERR_TYPE', `${what} must be { data: Float32Array, shape: number[] }, got ${describe(c)}`);
  const { data, shape } = c as { data?: unknown; shape?: unknown };
  if (!(data instanceof Float32Array)) throw new SparsennTypeError('ERR_TYPE', `${what}.data must be a Float32Array, got ${describe(data)}`);
  const s = checkIntArray(shape, `${what}.shape`);
  const size = shapeSize(s, `${what}.shape`);
  if (size !== data.length) throw new ShapeError('ERR_SHAPE', `${what} has ${data.length} values, its shape ${fmt(s)} needs ${size}`);
  return { data, shape: s };
}

function binaryForward(op: BinaryOp, A: Operand, B: Operand, n: number, y: Float32Array): void {
  const { data: ad, map: am, row: ar, step: as } = A;
  const { data: bd, map: bm, row: br, step: bs } = B;
  const count = am.length;
  switch (op) {
    case 'add':
      for (let o = 0; o < count; o++) {
        const pa = am[o]! * ar, pb = bm[o]! * br, po = o * n;
        for (let j = 0; j < n; j++) y[po + j] = ad[pa + j * as]! + bd[pb + j * bs]!;
      }
      break;
    case 'sub':
      for (let o = 0; o < count; o++) {
        const pa = am[o]! * ar, pb = bm[o]! * br, po = o * n;
        for (let j = 0; j < n; j++) y[po + j] = ad[pa + j * as]! - bd[pb + j * bs]!;
      }
      break;
    case 'mul':
      for (let o = 0; o < count; o++) {
        const pa = am[o]! * ar, pb = bm[o]! * br, po = o * n;
        for (let j = 0; j < n; j++) y[po + j] = ad[pa + j * as]! * bd[pb + j * bs]!;
      }
      break;
    case 'div':
      for (let o = 0; o < count; o++) {
        const pa = am[o]! * ar, pb = bm[o]! * br, po = o * n;
        for (let j = 0; j < n; j++) y[po + j] = ad[pa + j * as]! / bd[pb + j * bs]!;
      }
      break;
    case 'pow':
      for (let o = 0; o < count; o++) {
        const pa = am[o]! * ar, pb = bm[o]! * br, po = o * n;
        for (let j = 0; j < n; j++) y[po + j] = Math.pow(ad[pa + j * as]!, bd[pb + j * bs]!);
      }
      break;
  }
}

/**
 * d(loss)/d(operand `self`) of y = op(A, B), summed over the positions it was broadcast to
 * (float64 accumulation: a broadcast operand collects many terms).
 */
function binaryBackward(op: BinaryOp, first: boolean, A: Operand, B: Operand, y: Float32Array, g: Float32Array, n: number, size: number): Float32Array {
  const { data: ad, map: am, row: ar, step: as } = A;
  const { data: bd, map: bm, row: br, step: bs } = B;
  const selfMap = first ? am : bm;
  const selfRow = first ? ar : br;
  const acc = new Float64Array(size);
  const count = am.length;
  for (let o = 0; o < count; o++) {
    const pa = am[o]! * ar, pb = bm[o]! * br, po = o * n, ps = selfMap[o]! * selfRow;
    for (let j = 0; j < n; j++) {
      const gv = g[po + j]!;
      let d: number;
      switch (op) {
        case 'add':
          d = gv;
          break;
        case 'sub':
          d = first ? gv : -gv;
          break;
        case 'mul':
          d = gv * (first ? bd[pb + j * bs]! : ad[pa + j * as]!);
          break;
        case 'div': {
          const b = bd[pb + j * bs]!;
          d = first ? gv / b : (-gv * ad[pa + j * as]!) / (b * b);
          break;
        }
        default: {
          // pow: d/da = b a^(b-1) (0 where b = 0), d/db = y ln a (0 where a = 0 and b >= 0: PyTorch's choice).
          const a = ad[pa + j * as]!;
          const b = bd[pb + j * bs]!;
          if (first) d = b === 0 ? 0 : gv * b * Math.pow(a, b - 1);
          else d = a === 0 && b >= 0 ? 0 : gv * y[po + j]! * Math.log(a);
        }
      }
      acc[ps + j] += d;
    }
  }
  return Float32Array.from(acc);
}

function binaryOp(op: BinaryOp, A: Operand, B: Operand, outSample: number[], n: number, opName: string): Tensor {
  const y = float32Uninit(prod(outSample) * n);
  binaryForward(op, A, B, n, y);
  const inputs = [A.tensor, B.tensor].filter((t): t is Tensor => t !== null);
  return opResult(y, [...outSample, n], inputs, opName, (g) => {
    if (A.tensor?.requiresGrad) accumulateOwnedGrad(A.tensor, binaryBackward(op, true, A, B, y, g, n, A.tensor.size));
    // (x op x: both partial derivatives land on the one tensor, summed.)
    if (B.tensor?.requiresGrad) accumulateOwnedGrad(B.tensor, binaryBackward(op, false, A, B, y, g, n, B.tensor.size));
  });
}

/**
 * a op b for two activations [...sa, n] and [...sb, n] with the same batch n: the sample shapes
 * broadcast numpy-style (trailing alignment, dims equal or 1); output [...broadcast, n].
 * Gradients are summed over the broadcast dims.
 */
export function elementwise(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  checkBinaryOp(op, 'elementwise');
  checkActivation(a, `elementwise ${op}: a`);
  checkActivation(b, `elementwise ${op}: b`);
  if (a.batch !== b.batch)
    throw new ShapeError('ERR_SHAPE', `elementwise ${op}: the batch sizes differ (a ${fmt(a.shape)}, b ${fmt(b.shape)}; the last axis is the batch and must match)`);
  const sa = sampleShapeOf(a);
  const sb = sampleShapeOf(b);
  const out = broadcastShapes(sa, sb, `elementwise ${op}`);
  const n = a.batch;
  const A: Operand = { data: a.data, map: broadcastMap(out, sa), row: n, step: 1, tensor: a };
  const B: Operand = { data: b.data, map: broadcastMap(out, sb), row: n, step: 1, tensor: b };
  return binaryOp(op, A, B, out, n, op);
}

/**
 * x op constant (or constant op x with `constantFirst`, e.g. 1 / x), the constant a sample-shaped
 * array broadcast against x's sample shape and over the batch. No gradient for the constant.
 */
export function elementwiseConst(op: BinaryOp, x: Tensor, constant: ConstantTensor, constantFirst = false): Tensor {
  checkBinaryOp(op, 'elementwise');
  checkActivation(x, `elementwise ${op}: x`);
  const c = checkConstant(constant, `elementwise ${op}: constant`);
  if (typeof constantFirst !== 'boolean') throw new SparsennTypeError('ERR_TYPE', `elementwise ${op}: constantFirst must be a boolean, got ${describe(constantFirst)}`);
  const sx = sampleShapeOf(x);
  const out = broadcastShapes(constantFirst ? c.shape : sx, constantFirst ? sx : c.shape, `elementwise ${op}`);
  const n = x.batch;
  const X: Operand = { data: x.data, map: broadcastMap(out, sx), row: n, step: 1, tensor: x };
  const C: Operand = { data: c.data, map: broadcastMap(out, c.shape), row: 1, step: 0, tensor: null };
  return constantFirst ? binaryOp(op, C, X, out, n, `${op}(const, x)`) : binaryOp(op, X, C, out, n, `${op}(x, const)`);
}
