/**
 * Shape arithmetic and index maps shared by the general tensor ops: sizes, row-major strides,
 * and the map from each output sample position to an input one that broadcasting (broadcast.ts),
 * data movement (indexing.ts) and reductions (reduce.ts) all walk. Positions count sample
 * elements; the batch n (last, contiguous) multiplies them.
 */
import type { Tensor } from '../tensor.js';

/** The product of the dims (1 for none), unchecked: the shapes here come from checked tensors. */
export function prod(dims: readonly number[]): number {
  let p = 1;
  for (const d of dims) p *= d;
  return p;
}

/** The shape without the batch axis. */
export function sampleShapeOf(x: Tensor): number[] {
  return x.shape.slice(0, -1);
}

/** Row-major strides of a shape, in elements. */
/** Row-major strides of a shape, in elements. */
export function stridesOf(shape: readonly number[]): number[] {
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
export function stridedMap(outShape: readonly number[], strides: readonly number[], base: number): Int32Array {
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

