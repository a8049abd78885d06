/**
 * Data movement over the sample axes of batch-last tensors, with gradients: the ONNX Transpose,
 * Slice and Gather ops. Each builds an index map (output sample position -> input position) and
 * copies whole runs of n batch values along it; the gradient scatters back along the same map.
 *
 * - `transpose(x, perm)` (resolvePerm checks the permutation)
 * - `slice(x, starts, ends, axes?, steps?)` (sliceRange: ONNX's clamping on one axis)
 * - `gather(x, indices, indicesShape, axis)`
 */
import { float32Uninit } from '../../alloc.js';
import { IndexRangeError, ShapeError, SparsennTypeError } from '../../errors.js';
import { accumulateOwnedGrad, opResult, shapeSize, type Tensor } from '../tensor.js';
import { sampleAxis } from './elementwise.js';
import { prod, sampleShapeOf, stridedMap, stridesOf } from './index-maps.js';
import { checkActivation, checkIntArray, describe, fmt, sampleAxes } from './tensor-op-checks.js';

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
