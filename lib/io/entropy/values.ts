/**
 * Packing weight values at a chosen precision, little-endian:
 *
 * - `f32`: 4 bytes per value, exact.
 * - `f16`: 2 bytes per value, IEEE binary16 rounded to nearest even (see half.ts for the bound:
 *   |x̂ - x| <= max(2^-11·|x|, 2^-25)). Not used (returns null) when a finite value would
 *   overflow to infinity (|x| >= 65520).
 * - `i8`: symmetric linear quantisation per group of values (a weight row, or the whole
 *   tensor): scale s = fround(max|x| / 127) stored as float32, q = round(x / s) (halves away
 *   from zero) in [-127, 127] stored as int8, x̂ = fround(q·s). Error |x̂ - x| <= 0.50001·s,
 *   i.e. about max|x| / 254 in the group (s/2 from rounding, plus float32 rounding of q·s,
 *   at most 127·2^-24·s). Exact zeros stay zero. Not used (returns null) when a value is
 *   not finite or a group's scale underflows to zero. Layout: the G scales, then the values.
 */
import { FormatError } from '../../errors.js';
import { f16BitsToF32, f32ToF16Bits } from './half.js';

export type ValueDtype = 'f32' | 'f16' | 'i8';

/** Bytes one value takes. */
export function bytesPerValue(dtype: ValueDtype): number {
  return dtype === 'f32' ? 4 : dtype === 'f16' ? 2 : 1;
}

/** Total bytes of `count` values in `groups` quantisation groups (groups only count for i8). */
export function packedBytes(dtype: ValueDtype, count: number, groups: number): number {
  return count * bytesPerValue(dtype) + (dtype === 'i8' ? 4 * groups : 0);
}

/**
 * Packs `values` at `dtype`. For i8, `groupPtr` (length G + 1, increasing, from 0 to
 * values.length) delimits the quantisation groups. Returns null when the values cannot be
 * represented at that precision (the caller then stores them as f32).
 */
export function packValues(values: Float32Array, dtype: ValueDtype, groupPtr: Int32Array): Uint8Array | null {
  const n = values.length;
  if (dtype === 'f32') {
    const out = new Uint8Array(4 * n);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < n; i++) dv.setFloat32(4 * i, values[i]!, true);
    return out;
  }
  if (dtype === 'f16') {
    const out = new Uint8Array(2 * n);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < n; i++) {
      const h = f32ToF16Bits(values[i]!);
      if ((h & 0x7fff) === 0x7c00 && Number.isFinite(values[i]!)) return null; // overflow
      dv.setUint16(2 * i, h, true);
    }
    return out;
  }
  const groups = groupPtr.length - 1;
  const out = new Uint8Array(4 * groups + n);
  const dv = new DataView(out.buffer);
  for (let g = 0; g < groups; g++) {
    const begin = groupPtr[g]!;
    const end = groupPtr[g + 1]!;
    let max = 0;
    for (let i = begin; i < end; i++) {
      const a = Math.abs(values[i]!);
      if (!Number.isFinite(a)) return null;
      if (a > max) max = a;
    }
    const s = Math.fround(max / 127);
    if (max > 0 && s === 0) return null;
    dv.setFloat32(4 * g, s, true);
    for (let i = begin; i < end; i++) {
      const x = values[i]!;
      const q = s === 0 ? 0 : Math.min(127, Math.round(Math.abs(x) / s));
      dv.setInt8(4 * groups + i, x < 0 ? -q : q);
    }
  }
  return out;
}

/**
 * Unpacks what packValues wrote: `count` values in the groups of `groupPtr`, from exactly
 * packedBytes(dtype, count, groups) bytes. Throws FormatError for a scale that is negative,
 * not finite, or for an int8 of -128 (the writer never produces them).
 */
export function unpackValues(bytes: Uint8Array, dtype: ValueDtype, count: number, groupPtr: Int32Array, what: string): Float32Array {
  const out = new Float32Array(count);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'f32') {
    for (let i = 0; i < count; i++) out[i] = dv.getFloat32(4 * i, true);
    return out;
  }
  if (dtype === 'f16') {
    for (let i = 0; i < count; i++) out[i] = f16BitsToF32(dv.getUint16(2 * i, true));
    return out;
  }
  const groups = groupPtr.length - 1;
  for (let g = 0; g < groups; g++) {
    const s = dv.getFloat32(4 * g, true);
    if (!(s >= 0 && s < Infinity)) throw new FormatError('ERR_FORMAT', `${what}: int8 scale ${g} is ${s}, expected a finite number >= 0`);
    for (let i = groupPtr[g]!; i < groupPtr[g + 1]!; i++) {
      const q = dv.getInt8(4 * groups + i);
      if (q === -128) throw new FormatError('ERR_FORMAT', `${what}: int8 value ${i} is -128, expected [-127, 127]`);
      out[i] = q * s;
    }
  }
  return out;
}
