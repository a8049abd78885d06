/**
 * General tensor ops on batch-last tensors, each with its gradient: the ONNX operators that
 * imported models use beside the layers (broadcast arithmetic, unary math, clip, matmul of two
 * activations, transpose, slice, gather, reduce-mean, resize, transposed convolution).
 *
 * A value is [d0, ..., dk, n] with the batch n last and contiguous. Every axis argument names a
 * SAMPLE axis 0..k (negative counts back from the last sample axis, -1 = dk); the batch axis is
 * never touched, so each op works on the sample shape [d0, ..., dk] and keeps n. ONNX axis a + 1
 * is our sample axis a.
 *
 * Signatures (see each function):
 * - `broadcastShapes(a, b, what?) -> number[]` (numpy rules, trailing alignment)
 * - `elementwise(op, a, b)`, `elementwiseConst(op, x, constant, constantFirst?)` with
 *   op 'add' | 'sub' | 'mul' | 'div' | 'pow' and constant `{ data: Float32Array; shape: number[] }`
 *   (a sample-shaped constant: no batch axis)
 * - `unary(op, x)` with op 'sqrt' | 'erf' | 'exp' | 'log' | 'neg' | 'abs' | 'reciprocal'
 * - `clip(x, min, max)`
 * - `matmulActs(a, b)` (numpy matmul over the sample shapes, per batch element)
 * - `transpose(x, perm)`, `slice(x, starts, ends, axes?, steps?)`,
 *   `gather(x, indices, indicesShape, axis)`, `reduceMean(x, axes | null, keepdims)`
 * - `resize(x, opts)` on [C, H, W, n]
 * - `convTranspose2d(x, weight [Cin, Cout / groups, kh, kw], bias | null, opts)`
 */
import { float32Uninit } from '../../alloc.js';
import { IndexRangeError, ShapeError, SparsennTypeError } from '../../errors.js';
import { native } from '../../native.js';
import { Parameter } from '../parameter.js';
import { accumulateOwnedGrad, opResult, shapeSize, Tensor } from '../tensor.js';
import { toPair, type Pair } from './conv.js';
import { erf, sampleAxis, unaryOp } from './elementwise.js';

// ---------------------------------------------------------------------------------- helpers --

function fmt(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  return typeof v === 'object' ? (v.constructor?.name ?? 'an object') : `${typeof v} ${String(v)}`;
}

/** A batch-last tensor (rank >= 1: at least the batch axis). */
function checkActivation(t: unknown, what: string): Tensor {
  if (!(t instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', `${what} must be a Tensor, got ${describe(t)}`);
  if (t.rank < 1) throw new ShapeError('ERR_SHAPE', `${what} must be a batch-last tensor [...sample, batch], got a scalar`);
  return t;
}

function prod(dims: readonly number[]): number {
  let p = 1;
  for (const d of dims) p *= d;
  return p;
}

function sampleShapeOf(x: Tensor): number[] {
  return x.shape.slice(0, -1);
}

function checkIntArray(v: unknown, what: string): number[] {
  if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new SparsennTypeError('ERR_TYPE', `${what} must be an array of integers, got ${describe(v)}`);
  const out = Array.from(v as ArrayLike<number>);
  for (const [i, d] of out.entries())
    if (typeof d !== 'number' || !Number.isInteger(d)) throw new SparsennTypeError('ERR_TYPE', `${what}[${i}] must be an integer, got ${String(d)}`);
  return out;
}

/** Row-major strides of a shape, in elements. */
function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/**
 * For every position of `outShape` (row-major), the flat position base + sum idx[d] * strides[d]
 * in some input: the index map of broadcasts, transposes and slices.
 */
function stridedMap(outShape: readonly number[], strides: readonly number[], base: number): Int32Array {
  const size = prod(outShape);
  const r = outShape.length;
  const map = new Int32Array(size);
  if (size === 0) return map;
  const idx = new Array<number>(r).fill(0);
  let pos = base;
  for (let o = 0; o < size; o++) {
    map[o] = pos;
    for (let d = r - 1; d >= 0; d--) {
      idx[d]!++;
      pos += strides[d]!;
      if (idx[d]! < outShape[d]!) break;
      pos -= strides[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
  return map;
}

/**
 * y[o, :] = x[map[o], :] for every output sample position o (runs of n batch values), and the
 * adjoint dx[map[o], :] += g[o, :]: the forward and backward of every pure data-movement op.
 */
function takeRuns(x: Tensor, map: Int32Array, outSample: readonly number[], op: string): Tensor {
  const n = x.batch;
  const xd = x.data;
  const count = map.length;
  const y = float32Uninit(count * n);
  if (n === 1) for (let o = 0; o < count; o++) y[o] = xd[map[o]!]!;
  else
    for (let o = 0; o < count; o++) {
      const src = map[o]! * n;
      const dst = o * n;
      for (let j = 0; j < n; j++) y[dst + j] = xd[src + j]!;
    }
  return opResult(y, [...outSample, n], [x], op, (g) => {
    const dx = new Float32Array(x.size);
    for (let o = 0; o < count; o++) {
      const dst = map[o]! * n;
      const src = o * n;
      for (let j = 0; j < n; j++) dx[dst + j]! += g[src + j]!;
    }
    accumulateOwnedGrad(x, dx);
  });
}

/** Resolves a list of sample axes (negative allowed), rejecting repeats. */
function sampleAxes(axes: readonly number[], x: Tensor, what: string): number[] {
  const out = axes.map((a) => sampleAxis(a, x.rank, what, x.shape));
  const seen = new Set<number>();
  for (const [i, a] of out.entries()) {
    if (seen.has(a)) throw new ShapeError('ERR_SHAPE', `${what}: axis ${axes[i]} repeats sample axis ${a} (axes ${fmt(axes)})`);
    seen.add(a);
  }
  return out;
}

// ------------------------------------------------------------------------------ broadcasting --

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

/** Map from the positions of `outShape` to those of `inShape` broadcast to it. */
function broadcastMap(outShape: readonly number[], inShape: readonly number[]): Int32Array {
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

// ------------------------------------------------------------------------------------ unary --

/** The unary ops of {@link unary}. */
export type UnaryOpName = 'sqrt' | 'erf' | 'exp' | 'log' | 'neg' | 'abs' | 'reciprocal';

const UNARY_OPS: readonly UnaryOpName[] = ['sqrt', 'erf', 'exp', 'log', 'neg', 'abs', 'reciprocal'];

export function checkUnaryOp(op: unknown, what: string): UnaryOpName {
  if (!UNARY_OPS.includes(op as UnaryOpName)) throw new SparsennTypeError('ERR_TYPE', `${what}: op must be one of ${UNARY_OPS.join(', ')}, got ${String(op)}`);
  return op as UnaryOpName;
}

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * An element-wise math function with its derivative: sqrt (1 / 2 sqrt x), erf (2 / sqrt(pi)
 * e^(-x^2)), exp, log (1 / x), neg, abs (sign x, 0 at 0), reciprocal (-1 / x^2).
 */
export function unary(op: UnaryOpName, x: Tensor): Tensor {
  checkUnaryOp(op, 'unary');
  checkActivation(x, `unary ${op}: x`);
  switch (op) {
    case 'sqrt':
      return unaryOp(
        x,
        'sqrt',
        (a, y) => {
          for (let i = 0; i < a.length; i++) y[i] = Math.sqrt(a[i]!);
        },
        (_a, y, g, dx) => {
          for (let i = 0; i < y.length; i++) dx[i] = (0.5 * g[i]!) / y[i]!;
        },
      );
    case 'erf':
      return unaryOp(
        x,
        'erf',
        (a, y) => {
          for (let i = 0; i < a.length; i++) y[i] = erf(a[i]!);
        },
        (a, _y, g, dx) => {
          for (let i = 0; i < a.length; i++) dx[i] = g[i]! * TWO_OVER_SQRT_PI * Math.exp(-a[i]! * a[i]!);
        },
      );
    case 'exp':
      return unaryOp(
        x,
        'exp',
        (a, y) => {
          for (let i = 0; i < a.length; i++) y[i] = Math.exp(a[i]!);
        },
        (_a, y, g, dx) => {
          for (let i = 0; i < y.length; i++) dx[i] = g[i]! * y[i]!;
        },
      );
    case 'log':
      return unaryOp(
        x,
        'log',
        (a, y) => {
          for (let i = 0; i < a.length; i++) y[i] = Math.log(a[i]!);
        },
        (a, _y, g, dx) => {
          for (let i = 0; i < a.length; i++) dx[i] = g[i]! / a[i]!;
        },
      );
    case 'neg':
      return unaryOp(
        x,
        'neg',
        (a, y) => {
          for (let i = 0; i < a.length; i++) y[i] = -a[i]!;
        },
        (_a, _y, g, dx) => {
          for (let i = 0; i < g.length; i++) dx[i] = -g[i]!;
        },
      );
    case 'abs':
      return unaryOp(
        x,
        'abs',
        (a, y) => {
          for (let i = 0; i < a.length; i++) y[i] = Math.abs(a[i]!);
        },
        (a, _y, g, dx) => {
          for (let i = 0; i < a.length; i++) dx[i] = a[i]! > 0 ? g[i]! : a[i]! < 0 ? -g[i]! : 0;
        },
      );
    case 'reciprocal':
      return unaryOp(
        x,
        'reciprocal',
        (a, y) => {
          for (let i = 0; i < a.length; i++) y[i] = 1 / a[i]!;
        },
        (_a, y, g, dx) => {
          for (let i = 0; i < y.length; i++) dx[i] = -g[i]! * y[i]! * y[i]!;
        },
      );
  }
}

/** Checks clip bounds: numbers, not NaN (±Infinity allowed). */
export function checkClipBounds(min: unknown, max: unknown, what: string): [number, number] {
  for (const [name, v] of [
    ['min', min],
    ['max', max],
  ] as const)
    if (typeof v !== 'number' || Number.isNaN(v)) throw new SparsennTypeError('ERR_TYPE', `${what}: ${name} must be a number (±Infinity allowed), got ${describe(v)}`);
  return [min as number, max as number];
}

/**
 * min(max(x, lo), hi) element-wise (ONNX Clip: with lo > hi every value becomes hi); NaN stays
 * NaN. The gradient passes where lo <= x <= hi.
 */
export function clip(x: Tensor, min: number, max: number): Tensor {
  checkActivation(x, 'clip: x');
  const [lo, hi] = checkClipBounds(min, max, 'clip');
  return unaryOp(
    x,
    'clip',
    (a, y) => {
      for (let i = 0; i < a.length; i++) {
        const v = a[i]!;
        y[i] = v < lo ? (lo > hi ? hi : lo) : v > hi ? hi : v;
      }
    },
    (a, _y, g, dx) => {
      for (let i = 0; i < a.length; i++) {
        const v = a[i]!;
        dx[i] = v >= lo && v <= hi ? g[i]! : 0;
      }
    },
  );
}

// ----------------------------------------------------------------------------------- matmul --

/** Below this many multiply-adds a small product runs in JS (a native call costs more). */
const NATIVE_GEMM_MIN_WORK = 2048;

/**
 * C (m x p) = op(A) op(B), op(A) m x k, op(B) k x p; A stored m x k (k x m when transA), B stored
 * k x p (p x k when transB). Overwrites C.
 */
function smallGemm(m: number, k: number, p: number, A: Float32Array, transA: boolean, B: Float32Array, transB: boolean, C: Float32Array): void {
  if (m * k * p >= NATIVE_GEMM_MIN_WORK) {
    native.gemm(m, k, p, A, transA, B, transB, C);
    return;
  }
  C.fill(0);
  for (let i = 0; i < m; i++) {
    const crow = i * p;
    for (let kk = 0; kk < k; kk++) {
      const av = transA ? A[kk * m + i]! : A[i * k + kk]!;
      if (av === 0) continue;
      if (transB) for (let j = 0; j < p; j++) C[crow + j]! += av * B[j * k + kk]!;
      else {
        const brow = kk * p;
        for (let j = 0; j < p; j++) C[crow + j]! += av * B[brow + j]!;
      }
    }
  }
}

/** [size, n] (batch-last) -> [n, size] (sample-major) and back. */
function toSampleMajor(data: Float32Array, size: number, n: number): Float32Array {
  if (n === 1 || size === 0) return data;
  return native.transpose(size, n, data, float32Uninit(size * n));
}

function toBatchLast(data: Float32Array, size: number, n: number): Float32Array {
  if (n === 1 || size === 0) return data;
  return native.transpose(n, size, data, float32Uninit(size * n));
}

/**
 * The numpy matmul of two activations' sample shapes, per batch element: a [..., m, k, n] and
 * b [..., k, p, n] give [...broadcast(leading dims), m, p, n]. A rank-1 sample shape [k] is a
 * row vector on the left (its m axis is dropped from the result) and a column vector on the
 * right (its p axis is dropped). Both must have the same batch n. The products run sample-major
 * (each sample's matrices contiguous) on the native GEMM.
 */
export function matmulActs(a: Tensor, b: Tensor): Tensor {
  checkActivation(a, 'matmulActs: a');
  checkActivation(b, 'matmulActs: b');
  if (a.batch !== b.batch)
    throw new ShapeError('ERR_SHAPE', `matmulActs: the batch sizes differ (a ${fmt(a.shape)}, b ${fmt(b.shape)}; the last axis is the batch and must match)`);
  const sa = sampleShapeOf(a);
  const sb = sampleShapeOf(b);
  if (sa.length === 0 || sb.length === 0)
    throw new ShapeError('ERR_SHAPE', `matmulActs needs at least one sample axis on each side, got a ${fmt(a.shape)} and b ${fmt(b.shape)}`);
  const a2 = sa.length === 1 ? [1, sa[0]!] : sa;
  const b2 = sb.length === 1 ? [sb[0]!, 1] : sb;
  const m = a2[a2.length - 2]!;
  const k = a2[a2.length - 1]!;
  const k2 = b2[b2.length - 2]!;
  const p = b2[b2.length - 1]!;
  if (k !== k2)
    throw new ShapeError(
      'ERR_SHAPE',
      `matmulActs: inner dimensions differ: a's sample shape ${fmt(sa)} ends in k = ${k}, b's sample shape ${fmt(sb)} has ${k2} rows (a [..., m, k] x b [..., k, p])`,
    );
  const leadA = a2.slice(0, -2);
  const leadB = b2.slice(0, -2);
  const lead = broadcastShapes(leadA, leadB, 'matmulActs (leading dims)');
  const outSample = [...lead];
  if (sa.length > 1) outSample.push(m);
  if (sb.length > 1) outSample.push(p);
  const n = a.batch;
  const mapA = broadcastMap(lead, leadA);
  const mapB = broadcastMap(lead, leadB);
  const L = mapA.length;
  const sizeA = prod(sa);
  const sizeB = prod(sb);
  const sizeC = L * m * p;
  const At = toSampleMajor(a.data, sizeA, n);
  const Bt = toSampleMajor(b.data, sizeB, n);
  const Ct = float32Uninit(sizeC * n);
  const mk = m * k;
  const kp = k * p;
  const mp = m * p;
  for (let j = 0; j < n; j++)
    for (let l = 0; l < L; l++) {
      const oa = j * sizeA + mapA[l]! * mk;
      const ob = j * sizeB + mapB[l]! * kp;
      const oc = j * sizeC + l * mp;
      smallGemm(m, k, p, At.subarray(oa, oa + mk), false, Bt.subarray(ob, ob + kp), false, Ct.subarray(oc, oc + mp));
    }
  const y = toBatchLast(Ct, sizeC, n);
  return opResult(y, [...outSample, n], [a, b], 'matmulActs', (g) => {
    const Gt = toSampleMajor(g, sizeC, n);
    const tmp = new Float32Array(Math.max(mk, kp));
    // Leading positions broadcast from one block of a (or b) add their gradients into it.
    const accumulate = (dst: Float32Array, off: number, len: number) => {
      for (let i = 0; i < len; i++) dst[off + i]! += tmp[i]!;
    };
    if (a.requiresGrad) {
      const dAt = new Float32Array(sizeA * n);
      const t = tmp.subarray(0, mk);
      for (let j = 0; j < n; j++)
        for (let l = 0; l < L; l++) {
          const ob = j * sizeB + mapB[l]! * kp;
          const oc = j * sizeC + l * mp;
          // dA (m x k) = G (m x p) B^T.
          smallGemm(m, p, k, Gt.subarray(oc, oc + mp), false, Bt.subarray(ob, ob + kp), true, t);
          accumulate(dAt, j * sizeA + mapA[l]! * mk, mk);
        }
      accumulateOwnedGrad(a, n === 1 ? dAt : toBatchLast(dAt, sizeA, n));
    }
    if (b.requiresGrad) {
      const dBt = new Float32Array(sizeB * n);
      const t = tmp.subarray(0, kp);
      for (let j = 0; j < n; j++)
        for (let l = 0; l < L; l++) {
          const oa = j * sizeA + mapA[l]! * mk;
          const oc = j * sizeC + l * mp;
          // dB (k x p) = A^T G.
          smallGemm(k, m, p, At.subarray(oa, oa + mk), true, Gt.subarray(oc, oc + mp), false, t);
          accumulate(dBt, j * sizeB + mapB[l]! * kp, kp);
        }
      accumulateOwnedGrad(b, n === 1 ? dBt : toBatchLast(dBt, sizeB, n));
    }
  });
}

// -------------------------------------------------------------------------- data movement --

/** Checks a permutation of the sample axes (negative entries count back from the last). */
export function resolvePerm(perm: readonly number[], x: Tensor, what = 'transpose'): number[] {
  const p = checkIntArray(perm, `${what} perm`);
  const r = x.rank - 1;
  if (p.length !== r)
    throw new ShapeError('ERR_SHAPE', `${what}: perm ${fmt(p)} must list each of the ${r} sample axes of ${fmt(x.shape)} once (the batch axis is not permuted)`);
  const out = p.map((a) => (a < 0 ? a + r : a));
  const seen = new Set<number>();
  for (const [i, a] of out.entries()) {
    if (a < 0 || a >= r) throw new ShapeError('ERR_SHAPE', `${what}: perm[${i}] = ${p[i]} is not a sample axis of ${fmt(x.shape)} (0..${r - 1})`);
    if (seen.has(a)) throw new ShapeError('ERR_SHAPE', `${what}: perm ${fmt(p)} is not a permutation (axis ${a} repeats)`);
    seen.add(a);
  }
  return out;
}

/** Permutes the sample axes: output sample axis i is input sample axis perm[i]; the batch stays last. */
export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  checkActivation(x, 'transpose: x');
  const p = resolvePerm(perm, x);
  const s = sampleShapeOf(x);
  const st = stridesOf(s);
  const outShape = p.map((a) => s[a]!);
  const strides = p.map((a) => st[a]!);
  return takeRuns(x, stridedMap(outShape, strides, 0), outShape, 'transpose');
}

/** One resolved slice axis: the first index, the step and the count. */
export interface SliceRange {
  start: number;
  step: number;
  count: number;
}

/**
 * ONNX Slice on one axis of length `dim`: negative start/end count from the end, then start is
 * clamped to [0, dim] ([0, dim - 1] for a negative step) and end to [0, dim] ([-1, dim - 1]).
 */
export function sliceRange(start: number, end: number, step: number, dim: number): SliceRange {
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
  } else {
    s = Math.min(Math.max(s, 0), dim - 1);
    e = Math.min(Math.max(e, -1), dim - 1);
  }
  const count = Math.max(0, Math.ceil((e - s) / step));
  return { start: s, step, count };
}

/** Checks slice arguments that do not depend on the input (lengths, types, steps). */
export function checkSliceArgs(starts: readonly number[], ends: readonly number[], axes: readonly number[] | null, steps: readonly number[] | null, what = 'slice'): void {
  const st = checkNumberArray(starts, `${what} starts`);
  const en = checkNumberArray(ends, `${what} ends`);
  if (st.length !== en.length) throw new ShapeError('ERR_SHAPE', `${what}: starts ${fmt(st)} and ends ${fmt(en)} must have the same length`);
  if (axes !== null) {
    const ax = checkIntArray(axes, `${what} axes`);
    if (ax.length !== st.length) throw new ShapeError('ERR_SHAPE', `${what}: axes ${fmt(ax)} must have one entry per start (${st.length})`);
  }
  if (steps !== null) {
    const sp = checkIntArray(steps, `${what} steps`);
    if (sp.length !== st.length) throw new ShapeError('ERR_SHAPE', `${what}: steps ${fmt(sp)} must have one entry per start (${st.length})`);
    for (const [i, s] of sp.entries()) if (s === 0) throw new IndexRangeError('ERR_RANGE', `${what}: steps[${i}] is 0; a step must be a nonzero integer`);
  }
}

/** Integers or ±Infinity (ONNX uses INT64_MAX / INT64_MIN for "to the end"). */
function checkNumberArray(v: unknown, what: string): number[] {
  if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new SparsennTypeError('ERR_TYPE', `${what} must be an array of integers, got ${describe(v)}`);
  const out = Array.from(v as ArrayLike<number>);
  for (const [i, d] of out.entries())
    if (typeof d !== 'number' || !(Number.isInteger(d) || d === Infinity || d === -Infinity))
      throw new SparsennTypeError('ERR_TYPE', `${what}[${i}] must be an integer (or ±Infinity), got ${String(d)}`);
  return out;
}

/**
 * ONNX Slice over sample axes: for each listed axis (default 0, 1, ...; negative allowed) the
 * elements start, start + step, ... before end, with ONNX's clamping (out-of-range starts and
 * ends are clamped, so a huge end means "to the end"); steps default to 1 and may be negative.
 */
export function slice(x: Tensor, starts: readonly number[], ends: readonly number[], axes: readonly number[] | null = null, steps: readonly number[] | null = null): Tensor {
  checkActivation(x, 'slice: x');
  checkSliceArgs(starts, ends, axes, steps);
  const ax = sampleAxes(axes ?? starts.map((_, i) => i), x, 'slice');
  const s = sampleShapeOf(x);
  const st = stridesOf(s);
  const outShape = [...s];
  const strides = [...st];
  let base = 0;
  ax.forEach((a, i) => {
    const r = sliceRange(starts[i]!, ends[i]!, steps ? steps[i]! : 1, s[a]!);
    outShape[a] = r.count;
    strides[a] = st[a]! * r.step;
    if (r.count > 0) base += r.start * st[a]!;
  });
  return takeRuns(x, stridedMap(outShape, strides, base), outShape, 'slice');
}

/**
 * ONNX Gather along a sample axis: output sample shape s[:axis] + indicesShape + s[axis+1:].
 * Indices may be negative (counting from the end); indicesShape [] (one index) drops the axis.
 * An index outside [-s[axis], s[axis]) is an IndexRangeError. Gradients add up at repeated indices.
 */
export function gather(x: Tensor, indices: Int32Array | readonly number[], indicesShape: readonly number[], axis: number): Tensor {
  checkActivation(x, 'gather: x');
  const idx = checkIntArray(indices, 'gather indices');
  const ishape = checkIntArray(indicesShape, 'gather indicesShape');
  const isize = shapeSize(ishape, 'gather indicesShape');
  if (isize !== idx.length) throw new ShapeError('ERR_SHAPE', `gather: ${idx.length} indices for indicesShape ${fmt(ishape)} (${isize} entries)`);
  const a = sampleAxis(axis, x.rank, 'gather', x.shape);
  const s = sampleShapeOf(x);
  const dim = s[a]!;
  const outer = prod(s.slice(0, a));
  const inner = prod(s.slice(a + 1));
  const resolved = new Int32Array(isize);
  for (let i = 0; i < isize; i++) {
    const v = idx[i]!;
    if (v < -dim || v >= dim)
      throw new IndexRangeError('ERR_RANGE', `gather: index ${v} (position ${i}) is out of range for axis ${a} of length ${dim} (expected -${dim} <= index < ${dim})`);
    resolved[i] = v < 0 ? v + dim : v;
  }
  const outShape = [...s.slice(0, a), ...ishape, ...s.slice(a + 1)];
  const map = new Int32Array(outer * isize * inner);
  let o = 0;
  for (let u = 0; u < outer; u++)
    for (let i = 0; i < isize; i++) {
      const base = (u * dim + resolved[i]!) * inner;
      for (let v = 0; v < inner; v++) map[o++] = base + v;
    }
  return takeRuns(x, map, outShape, 'gather');
}

// ------------------------------------------------------------------------------ reductions --

/**
 * The mean over sample axes (null: all of them; [] reduces nothing, ONNX's
 * noop_with_empty_axes), keeping them as dims of 1 with `keepdims`. Negative axes count back.
 */
export function reduceMean(x: Tensor, axes: readonly number[] | null, keepdims = true): Tensor {
  checkActivation(x, 'reduceMean: x');
  if (typeof keepdims !== 'boolean') throw new SparsennTypeError('ERR_TYPE', `reduceMean: keepdims must be a boolean, got ${describe(keepdims)}`);
  const s = sampleShapeOf(x);
  const ax = axes === null ? s.map((_, i) => i) : sampleAxes(checkIntArray(axes, 'reduceMean axes'), x, 'reduceMean');
  const reduced = new Set(ax);
  const keptShape = s.map((d, i) => (reduced.has(i) ? 1 : d));
  const outShape = keepdims ? keptShape : s.filter((_, i) => !reduced.has(i));
  // Each input position's output position: the input walked with the output's strides, 0 on reduced axes.
  const kst = stridesOf(keptShape);
  const map = stridedMap(
    s,
    s.map((_, i) => (reduced.has(i) ? 0 : kst[i]!)),
    0,
  );
  let count = 1;
  for (const a of ax) count *= s[a]!;
  const n = x.batch;
  const outSize = prod(keptShape);
  const xd = x.data;
  const acc = new Float64Array(outSize * n);
  for (let i = 0; i < map.length; i++) {
    const src = i * n;
    const dst = map[i]! * n;
    for (let j = 0; j < n; j++) acc[dst + j] += xd[src + j]!;
  }
  const y = new Float32Array(acc.length);
  for (let i = 0; i < y.length; i++) y[i] = acc[i]! / count;
  return opResult(y, [...outShape, n], [x], 'reduceMean', (g) => {
    const dx = float32Uninit(x.size);
    const inv = 1 / count;
    for (let i = 0; i < map.length; i++) {
      const dst = i * n;
      const src = map[i]! * n;
      for (let j = 0; j < n; j++) dx[dst + j] = g[src + j]! * inv;
    }
    accumulateOwnedGrad(x, dx);
  });
}

// ----------------------------------------------------------------------------------- resize --

export type ResizeMode = 'nearest' | 'linear';
export type CoordinateTransformationMode = 'half_pixel' | 'pytorch_half_pixel' | 'asymmetric' | 'align_corners' | 'tf_half_pixel_for_nn';
export type NearestMode = 'round_prefer_floor' | 'round_prefer_ceil' | 'floor' | 'ceil';

/** Options of {@link resize}: exactly one of `scales` and `sizes` (for H and W). */
export interface ResizeOptions {
  /** Default 'nearest' (ONNX's default). 'linear' is bilinear on H and W. */
  mode?: ResizeMode;
  /** Output = floor(input * scale) per axis; scales > 0. */
  scales?: readonly [number, number];
  /** Output sizes [OH, OW] (>= 1); the scale is then OH / H (and OW / W). */
  sizes?: readonly [number, number];
  /** How an output coordinate maps to an input one; default 'half_pixel'. */
  coordinateTransformationMode?: CoordinateTransformationMode;
  /** Rounding of the mapped coordinate in 'nearest' mode; default 'round_prefer_floor'. */
  nearestMode?: NearestMode;
}

const RESIZE_MODES: readonly ResizeMode[] = ['nearest', 'linear'];
const CT_MODES: readonly CoordinateTransformationMode[] = ['half_pixel', 'pytorch_half_pixel', 'asymmetric', 'align_corners', 'tf_half_pixel_for_nn'];
const NEAREST_MODES: readonly NearestMode[] = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];

/** Resize options with every default filled in, checked. */
export interface ResolvedResizeOptions {
  mode: ResizeMode;
  scales: [number, number] | null;
  sizes: [number, number] | null;
  coordinateTransformationMode: CoordinateTransformationMode;
  nearestMode: NearestMode;
}

export function checkResizeOptions(opts: ResizeOptions, what = 'resize'): ResolvedResizeOptions {
  if (typeof opts !== 'object' || opts === null) throw new SparsennTypeError('ERR_TYPE', `${what}: options must be an object, got ${describe(opts)}`);
  const mode = opts.mode ?? 'nearest';
  if (!RESIZE_MODES.includes(mode)) throw new SparsennTypeError('ERR_TYPE', `${what}: mode must be one of ${RESIZE_MODES.join(', ')}, got ${String(mode)}`);
  const ct = opts.coordinateTransformationMode ?? 'half_pixel';
  if (!CT_MODES.includes(ct)) throw new SparsennTypeError('ERR_TYPE', `${what}: coordinateTransformationMode must be one of ${CT_MODES.join(', ')}, got ${String(ct)}`);
  const nm = opts.nearestMode ?? 'round_prefer_floor';
  if (!NEAREST_MODES.includes(nm)) throw new SparsennTypeError('ERR_TYPE', `${what}: nearestMode must be one of ${NEAREST_MODES.join(', ')}, got ${String(nm)}`);
  const hasScales = opts.scales !== undefined && opts.scales !== null;
  const hasSizes = opts.sizes !== undefined && opts.sizes !== null;
  if (hasScales === hasSizes) throw new SparsennTypeError('ERR_TYPE', `${what}: give exactly one of scales [sh, sw] and sizes [OH, OW]`);
  let scales: [number, number] | null = null;
  let sizes: [number, number] | null = null;
  if (hasScales) {
    const s = opts.scales as unknown;
    if (!Array.isArray(s) || s.length !== 2 || s.some((v) => typeof v !== 'number' || !Number.isFinite(v) || v <= 0))
      throw new IndexRangeError('ERR_RANGE', `${what}: scales must be two finite numbers > 0 [sh, sw], got ${Array.isArray(s) ? fmt(s) : describe(s)}`);
    scales = [s[0] as number, s[1] as number];
  } else {
    sizes = toPair(opts.sizes, `${what}: sizes`, 1);
  }
  return { mode, scales, sizes, coordinateTransformationMode: ct, nearestMode: nm };
}

/** Per output index along one axis: the two input taps and the weight of the second. */
interface AxisTaps {
  i0: Int32Array;
  i1: Int32Array;
  w1: Float64Array;
}

function roundNearest(v: number, mode: NearestMode): number {
  switch (mode) {
    case 'floor':
      return Math.floor(v);
    case 'ceil':
      return Math.ceil(v);
    case 'round_prefer_floor':
      return Number.isInteger(v - 0.5) ? Math.floor(v) : Math.round(v);
    case 'round_prefer_ceil':
      return Number.isInteger(v - 0.5) ? Math.ceil(v) : Math.round(v);
  }
}

/** ONNX Resize's coordinate mapping and interpolation taps along one axis (ONNX Runtime's clamping). */
function axisTaps(inLen: number, outLen: number, scale: number, o: ResolvedResizeOptions): AxisTaps {
  const i0 = new Int32Array(outLen);
  const i1 = new Int32Array(outLen);
  const w1 = new Float64Array(outLen);
  for (let x = 0; x < outLen; x++) {
    let xo: number;
    switch (o.coordinateTransformationMode) {
      case 'half_pixel':
        xo = (x + 0.5) / scale - 0.5;
        break;
      case 'pytorch_half_pixel':
        xo = outLen > 1 ? (x + 0.5) / scale - 0.5 : 0;
        break;
      case 'asymmetric':
        xo = x / scale;
        break;
      case 'align_corners':
        xo = outLen === 1 ? 0 : (x * (inLen - 1)) / (outLen - 1);
        break;
      case 'tf_half_pixel_for_nn':
        xo = (x + 0.5) / scale;
        break;
    }
    if (o.mode === 'nearest') {
      const i = Math.min(Math.max(roundNearest(xo, o.nearestMode), 0), inLen - 1);
      i0[x] = i;
      i1[x] = i;
      w1[x] = 0;
    } else {
      const c = Math.min(Math.max(xo, 0), inLen - 1);
      const f = Math.floor(c);
      i0[x] = f;
      i1[x] = Math.min(f + 1, inLen - 1);
      w1[x] = c - f;
    }
  }
  return { i0, i1, w1 };
}

/** The output size [OH, OW] of a resize of an H x W image. */
export function resizeOutputSize(h: number, w: number, o: ResolvedResizeOptions): [number, number] {
  if (o.sizes) return [o.sizes[0], o.sizes[1]];
  return [Math.floor(h * o.scales![0]), Math.floor(w * o.scales![1])];
}

/**
 * ONNX Resize of the H and W axes of [C, H, W, n]: 'nearest' or 'linear' (bilinear) with the
 * given coordinate transformation; indices outside the image are clamped to the edge (ONNX
 * Runtime's behaviour). Output [C, OH, OW, n]; the gradient scatters with the same weights.
 */
export function resize(x: Tensor, opts: ResizeOptions): Tensor {
  checkActivation(x, 'resize: x');
  const o = checkResizeOptions(opts);
  if (x.rank !== 4) throw new ShapeError('ERR_SHAPE', `resize needs an image batch [C, H, W, batch], got ${fmt(x.shape)}`);
  const [c, h, w, n] = x.shape as [number, number, number, number];
  if (h === 0 || w === 0) throw new ShapeError('ERR_SHAPE', `resize needs a non-empty image, got ${fmt(x.shape)}`);
  const [oh, ow] = resizeOutputSize(h, w, o);
  if (oh < 1 || ow < 1) throw new ShapeError('ERR_SHAPE', `resize: the output ${oh}x${ow} of the ${h}x${w} input is empty (scales ${fmt(o.scales ?? [])})`);
  const sh = o.scales ? o.scales[0] : oh / h;
  const sw = o.scales ? o.scales[1] : ow / w;
  const ty = axisTaps(h, oh, sh, o);
  const tx = axisTaps(w, ow, sw, o);
  const xd = x.data;
  const y = float32Uninit(c * oh * ow * n);
  const rowIn = w * n;
  const plane = h * rowIn;
  for (let ci = 0; ci < c; ci++)
    for (let yi = 0; yi < oh; yi++) {
      const wy = ty.w1[yi]!;
      const r0 = ci * plane + ty.i0[yi]! * rowIn;
      const r1 = ci * plane + ty.i1[yi]! * rowIn;
      for (let xi = 0; xi < ow; xi++) {
        const wx = tx.w1[xi]!;
        const c0 = tx.i0[xi]! * n;
        const c1 = tx.i1[xi]! * n;
        const w00 = (1 - wy) * (1 - wx), w01 = (1 - wy) * wx, w10 = wy * (1 - wx), w11 = wy * wx;
        const dst = ((ci * oh + yi) * ow + xi) * n;
        for (let j = 0; j < n; j++)
          y[dst + j] = w00 * xd[r0 + c0 + j]! + w01 * xd[r0 + c1 + j]! + w10 * xd[r1 + c0 + j]! + w11 * xd[r1 + c1 + j]!;
      }
    }
  return opResult(y, [c, oh, ow, n], [x], 'resize', (g) => {
    const dx = new Float32Array(x.size);
    for (let ci = 0; ci < c; ci++)
      for (let yi = 0; yi < oh; yi++) {
        const wy = ty.w1[yi]!;
        const r0 = ci * plane + ty.i0[yi]! * rowIn;
        const r1 = ci * plane + ty.i1[yi]! * rowIn;
        for (let xi = 0; xi < ow; xi++) {
          const wx = tx.w1[xi]!;
          const c0 = tx.i0[xi]! * n;
          const c1 = tx.i1[xi]! * n;
          const w00 = (1 - wy) * (1 - wx), w01 = (1 - wy) * wx, w10 = wy * (1 - wx), w11 = wy * wx;
          const src = ((ci * oh + yi) * ow + xi) * n;
          for (let j = 0; j < n; j++) {
            const gv = g[src + j]!;
            dx[r0 + c0 + j]! += w00 * gv;
            dx[r0 + c1 + j]! += w01 * gv;
            dx[r1 + c0 + j]! += w10 * gv;
            dx[r1 + c1 + j]! += w11 * gv;
          }
        }
      }
    accumulateOwnedGrad(x, dx);
  });
}

// ----------------------------------------------------------------- transposed convolution --

/** Options of {@link convTranspose2d}; PyTorch's meaning and defaults. */
export interface ConvTranspose2dOpOptions {
  /** Default 1. */
  stride?: Pair;
  /** Removed from each side of the full output; default 0. */
  padding?: Pair;
  /** Added to the bottom / right of the output; must be smaller than the stride or the dilation; default 0. */
  outputPadding?: Pair;
  /** Default 1. */
  dilation?: Pair;
  /** Default 1. */
  groups?: number;
}

/** The checked geometry of a transposed convolution. */
export interface ConvTransposeGeometry {
  stride: [number, number];
  padding: [number, number];
  outputPadding: [number, number];
  dilation: [number, number];
  groups: number;
}

export function checkConvTransposeOptions(opts: ConvTranspose2dOpOptions, what = 'convTranspose2d'): ConvTransposeGeometry {
  const stride = toPair(opts.stride ?? 1, `${what}: stride`, 1);
  const padding = toPair(opts.padding ?? 0, `${what}: padding`, 0);
  const outputPadding = toPair(opts.outputPadding ?? 0, `${what}: outputPadding`, 0);
  const dilation = toPair(opts.dilation ?? 1, `${what}: dilation`, 1);
  const groups = opts.groups ?? 1;
  if (typeof groups !== 'number' || !Number.isInteger(groups) || groups < 1)
    throw new IndexRangeError('ERR_RANGE', `${what}: groups must be an integer >= 1, got ${String(groups)}`);
  for (let a = 0; a < 2; a++)
    if (outputPadding[a]! >= stride[a]! && outputPadding[a]! >= dilation[a]!)
      throw new IndexRangeError(
        'ERR_RANGE',
        `${what}: outputPadding ${fmt(outputPadding)} must be smaller than the stride ${fmt(stride)} or the dilation ${fmt(dilation)} on each axis`,
      );
  return { stride, padding, outputPadding, dilation, groups };
}

/** Output size of a transposed convolution axis: (in - 1) s - 2 p + d (k - 1) + outputPadding + 1. */
export function convTransposeOutputSize(size: number, kernel: number, stride: number, padding: number, dilation: number, outputPadding: number): number {
  return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + outputPadding + 1;
}

/**
 * 2-D transposed convolution (PyTorch's ConvTranspose2d, the adjoint of conv2d) of a batch-last
 * x [Cin, H, W, n] with weight [Cin, Cout / groups, kh, kw] and an optional bias [Cout]: output
 * [Cout, OH, OW, n], OH = (H - 1) sh - 2 ph + dh (kh - 1) + oph + 1. Computed as a GEMM
 * W^T x into im2col columns, col2im onto the full (unpadded) output, then the crop by the
 * padding. The gradient of a masked (pruned) weight is exactly 0.
 */
export function convTranspose2d(x: Tensor, weight: Tensor, bias: Tensor | null, opts: ConvTranspose2dOpOptions = {}): Tensor {
  checkActivation(x, 'convTranspose2d: x');
  if (!(weight instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', `convTranspose2d: the weight must be a Tensor, got ${describe(weight)}`);
  if (bias !== null && !(bias instanceof Tensor)) throw new SparsennTypeError('ERR_TYPE', `convTranspose2d: the bias must be a Tensor or null, got ${describe(bias)}`);
  const geo = checkConvTransposeOptions(opts);
  const { groups } = geo;
  if (weight.rank !== 4) throw new ShapeError('ERR_SHAPE', `convTranspose2d: expected a weight [Cin, Cout / groups, kh, kw], got ${fmt(weight.shape)}`);
  const [cin, coutG, kh, kw] = weight.shape as [number, number, number, number];
  if (cin === 0 || coutG === 0 || kh === 0 || kw === 0) throw new ShapeError('ERR_SHAPE', `convTranspose2d: the weight ${fmt(weight.shape)} has a zero dimension`);
  if (cin % groups !== 0) throw new ShapeError('ERR_SHAPE', `convTranspose2d: groups (${groups}) must divide the input channels ${cin} (weight ${fmt(weight.shape)})`);
  const cout = coutG * groups;
  if (x.rank !== 4 || x.shape[0] !== cin)
    throw new ShapeError('ERR_SHAPE', `convTranspose2d: expected an input [${cin}, H, W, batch] (weight ${fmt(weight.shape)}), got ${fmt(x.shape)}`);
  if (bias && (bias.rank !== 1 || bias.size !== cout)) throw new ShapeError('ERR_SHAPE', `convTranspose2d: expected a bias of shape [${cout}], got ${fmt(bias.shape)}`);
  const [, h, w, n] = x.shape as [number, number, number, number];
  const [sh, sw] = geo.stride;
  const [ph, pw] = geo.padding;
  const [dh, dw] = geo.dilation;
  const [oph, opw] = geo.outputPadding;
  if (h === 0 || w === 0) throw new ShapeError('ERR_SHAPE', `convTranspose2d needs a non-empty image, got ${fmt(x.shape)}`);
  // The full output, before the padding is cropped: the conv2d input that x is the output of.
  const fh = (h - 1) * sh + dh * (kh - 1) + 1;
  const fw = (w - 1) * sw + dw * (kw - 1) + 1;
  const oh = fh - 2 * ph + oph;
  const ow = fw - 2 * pw + opw;
  if (oh < 1 || ow < 1)
    throw new ShapeError('ERR_SHAPE', `convTranspose2d: the padding ${fmt(geo.padding)} leaves an empty output (${oh}x${ow}) for the ${h}x${w} input`);
  const geom = Int32Array.from([cout, fh, fw, n, kh, kw, sh, sw, 0, 0, dh, dw, h, w]);
  const rowsG = coutG * kh * kw; // col rows per group
  const cinG = cin / groups;
  const len = h * w * n;
  const mask = weight instanceof Parameter ? weight.mask : null;
  // dx needs this forward pass's weights even if an optimizer step changes them before backward().
  const wd = x.requiresGrad && weight.requiresGrad ? weight.data.slice() : weight.data;
  const part = (a: Float32Array, gi: number, size: number) => a.subarray(gi * size, (gi + 1) * size);
  const col = float32Uninit(cout * kh * kw * len);
  const full = new Float32Array(cout * fh * fw * n);
  if (len > 0) {
    for (let gi = 0; gi < groups; gi++)
      native.gemm(rowsG, cinG, len, part(wd, gi, cinG * rowsG), true, part(x.data, gi, cinG * len), false, part(col, gi, rowsG * len));
    native.col2imAdd(col, geom, full);
  }
  const cropped = ph === 0 && pw === 0 && oh === fh && ow === fw;
  const y = cropped ? full : new Float32Array(cout * oh * ow * n);
  if (!cropped) cropCopy(full, y, cout, fh, fw, oh, ow, ph, pw, n, false);
  if (bias) {
    const plane = oh * ow * n;
    for (let c = 0; c < cout; c++) {
      const b = bias.data[c]!;
      for (let i = c * plane; i < (c + 1) * plane; i++) y[i]! += b;
    }
  }
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return opResult(y, [cout, oh, ow, n], inputs, 'convTranspose2d', (g) => {
    let gfull = g;
    if (!cropped) {
      gfull = new Float32Array(cout * fh * fw * n);
      cropCopy(gfull, g, cout, fh, fw, oh, ow, ph, pw, n, true);
    }
    const dcol = float32Uninit(cout * kh * kw * len);
    if (len > 0) native.im2col(gfull, geom, dcol);
    if (x.requiresGrad) {
      const dx = new Float32Array(x.size);
      if (len > 0)
        for (let gi = 0; gi < groups; gi++)
          native.gemm(cinG, rowsG, len, part(wd, gi, cinG * rowsG), false, part(dcol, gi, rowsG * len), false, part(dx, gi, cinG * len));
      accumulateOwnedGrad(x, dx);
    }
    if (weight.requiresGrad) {
      const dw = new Float32Array(weight.size);
      if (len > 0)
        for (let gi = 0; gi < groups; gi++)
          native.gemm(cinG, len, rowsG, part(x.data, gi, cinG * len), false, part(dcol, gi, rowsG * len), true, part(dw, gi, cinG * rowsG));
      if (weight instanceof Parameter) weight.captureDense(dw);
      if (mask) for (let i = 0; i < dw.length; i++) if (mask[i] === 0) dw[i] = 0;
      accumulateOwnedGrad(weight, dw);
    }
    if (bias?.requiresGrad) {
      const db = new Float32Array(cout);
      const plane = oh * ow * n;
      for (let c = 0; c < cout; c++) {
        let s = 0;
        for (let i = c * plane; i < (c + 1) * plane; i++) s += g[i]!;
        db[c] = s;
      }
      accumulateOwnedGrad(bias, db);
    }
  });
}

/**
 * Copies between the full output [C, fh, fw, n] and the cropped one [C, oh, ow, n] (rows and
 * columns offset by the padding; cropped positions past the full output are zero). `toFull`
 * copies cropped -> full (the backward), else full -> cropped.
 */
function cropCopy(full: Float32Array, out: Float32Array, c: number, fh: number, fw: number, oh: number, ow: number, ph: number, pw: number, n: number, toFull: boolean): void {
  const cols = Math.max(0, Math.min(ow, fw - pw));
  for (let ci = 0; ci < c; ci++)
    for (let yi = 0; yi < oh; yi++) {
      const fy = yi + ph;
      if (fy >= fh) break;
      const fo = ((ci * fh + fy) * fw + pw) * n;
      const oo = (ci * oh + yi) * ow * n;
      if (toFull) full.set(out.subarray(oo, oo + cols * n), fo);
      else out.set(full.subarray(fo, fo + cols * n), oo);
    }
}
