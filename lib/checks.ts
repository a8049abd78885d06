/** Argument checks shared by the TS API; each throws the typed error that names what was expected. */
import { FormatError, IndexRangeError, NativeError, ShapeError, SparsennTypeError } from './errors.js';

export const MAX_DIM = 0x7fffffff;

/** A matrix dimension: an integer in [0, 2^31 - 1]. */
export function checkDim(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_DIM) {
    throw new ShapeError('ERR_SHAPE', `${name} must be an integer in [0, 2^31 - 1], got ${String(value)}`);
  }
  return value;
}

/** A count such as the batch width n: an integer >= min. */
export function checkCount(value: unknown, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new IndexRangeError('ERR_RANGE', `${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

/** The product of dimensions as an element count, rejecting sizes no typed array can hold. */
export function elementCount(rows: number, cols: number, what: string): number {
  const n = rows * cols;
  if (n > MAX_DIM) throw new ShapeError('ERR_SHAPE', `${what} of ${rows}x${cols} has more than 2^31 - 1 elements`);
  return n;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  if (Array.isArray(v)) return 'Array';
  return typeof v;
}

export function checkFloat32(v: unknown, name: string): Float32Array {
  if (!(v instanceof Float32Array)) throw new SparsennTypeError('ERR_TYPE', `${name} must be a Float32Array, got ${describe(v)}`);
  return v;
}

export function checkInt32(v: unknown, name: string): Int32Array {
  if (!(v instanceof Int32Array)) throw new SparsennTypeError('ERR_TYPE', `${name} must be an Int32Array, got ${describe(v)}`);
  return v;
}

export function checkUint8(v: unknown, name: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new SparsennTypeError('ERR_TYPE', `${name} must be a Uint8Array, got ${describe(v)}`);
  return v;
}

export function checkLength(arr: { length: number }, expected: number, what: string): void {
  if (arr.length !== expected) throw new ShapeError('ERR_SHAPE', `${what} has length ${arr.length}, expected ${expected}`);
}

/**
 * Compressed-row structure: ptr has `outer + 1` non-decreasing entries from 0 to idx.length,
 * and each row's indices lie in [0, inner) strictly increasing.
 */
export function checkCompressed(ptr: Int32Array, idx: Int32Array, outer: number, inner: number, what: string): void {
  if (ptr.length !== outer + 1) throw new FormatError('ERR_FORMAT', `${what} rowPtr has length ${ptr.length}, expected ${outer + 1}`);
  if (ptr[0] !== 0) throw new FormatError('ERR_FORMAT', `${what} rowPtr[0] is ${ptr[0]}, expected 0`);
  for (let r = 0; r < outer; r++) {
    const p0 = ptr[r];
    const p1 = ptr[r + 1];
    if (p1 < p0) throw new FormatError('ERR_FORMAT', `${what} rowPtr is not non-decreasing: rowPtr[${r + 1}] = ${p1} < rowPtr[${r}] = ${p0}`);
    if (p1 > idx.length) throw new FormatError('ERR_FORMAT', `${what} rowPtr[${r + 1}] = ${p1} exceeds the ${idx.length} stored indices`);
    for (let p = p0; p < p1; p++) {
      const c = idx[p];
      if (c < 0 || c >= inner) throw new IndexRangeError('ERR_RANGE', `${what} column index ${c} at position ${p} (row ${r}) is out of range; expected 0 <= col < ${inner}`);
      if (p > p0 && c <= idx[p - 1]) {
        throw new FormatError('ERR_FORMAT', `${what} row ${r} has column indices out of order or repeated (${idx[p - 1]} then ${c}); expected strictly increasing (fromCoo sorts and merges)`);
      }
    }
  }
  if (ptr[outer] !== idx.length) throw new FormatError('ERR_FORMAT', `${what} rowPtr[${outer}] = ${ptr[outer]}, expected the number of stored entries ${idx.length}`);
}

/** @throws {NativeError} ERR_ALIAS when `out` shares memory with any of `inputs`. */
export function checkNoOverlap(out: ArrayBufferView, inputs: readonly (ArrayBufferView | null | undefined)[], what: string): void {
  for (const x of inputs) {
    if (!x || x.buffer !== out.buffer) continue;
    if (x.byteOffset < out.byteOffset + out.byteLength && out.byteOffset < x.byteOffset + x.byteLength)
      throw new NativeError('ERR_ALIAS', `${what} overlaps an input; pass a separate output array`);
  }
}
