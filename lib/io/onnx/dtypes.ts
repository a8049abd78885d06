/**
 * ONNX element types: which ones sparsenn holds in a Float32Array or an Int32Array, their byte
 * sizes in raw_data, and the half-precision conversions.
 */
import { FormatError } from '../../errors.js';
import { OnnxDataType } from './types.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Names of the TensorProto.DataType codes, for messages. */
const NAMES: Record<number, string> = {
  0: 'UNDEFINED',
  1: 'FLOAT',
  2: 'UINT8',
  3: 'INT8',
  4: 'UINT16',
  5: 'INT16',
  6: 'INT32',
  7: 'INT64',
  8: 'STRING',
  9: 'BOOL',
  10: 'FLOAT16',
  11: 'DOUBLE',
  12: 'UINT32',
  13: 'UINT64',
  14: 'COMPLEX64',
  15: 'COMPLEX128',
  16: 'BFLOAT16',
};

export function dataTypeName(code: number): string {
  return NAMES[code] ?? `type ${code}`;
}

/** Whether sparsenn holds values of this type in a Float32Array (else an Int32Array). */
export function isFloatType(code: number): boolean {
  return code === OnnxDataType.FLOAT || code === OnnxDataType.FLOAT16 || code === OnnxDataType.BFLOAT16 || code === OnnxDataType.DOUBLE;
}

/** Bytes per element in raw_data, or 0 for a type sparsenn does not read. */
export function rawElementSize(code: number): number {
  switch (code) {
    case OnnxDataType.UINT8:
    case OnnxDataType.INT8:
    case OnnxDataType.BOOL:
      return 1;
    case OnnxDataType.UINT16:
    case OnnxDataType.INT16:
    case OnnxDataType.FLOAT16:
    case OnnxDataType.BFLOAT16:
      return 2;
    case OnnxDataType.FLOAT:
    case OnnxDataType.INT32:
    case OnnxDataType.UINT32:
      return 4;
    case OnnxDataType.INT64:
    case OnnxDataType.UINT64:
    case OnnxDataType.DOUBLE:
      return 8;
    default:
      return 0;
  }
}

/** The value range of an integer type (BOOL is 0/1), for checks when encoding. */
export function intRange(code: number): [number, number] {
  switch (code) {
    case OnnxDataType.UINT8:
      return [0, 255];
    case OnnxDataType.INT8:
      return [-128, 127];
    case OnnxDataType.BOOL:
      return [0, 1];
    case OnnxDataType.UINT16:
      return [0, 65535];
    case OnnxDataType.INT16:
      return [-32768, 32767];
    case OnnxDataType.UINT32:
    case OnnxDataType.UINT64:
      return [0, 2147483647];
    default:
      return [-2147483648, 2147483647];
  }
}

/** Saturates an integer to the int32 range (see types.ts: ±(2^63 - 1) sentinels). */
export function saturateInt32(v: number): number {
  return v > 2147483647 ? 2147483647 : v < -2147483648 ? -2147483648 : v;
}

/** IEEE half bits -> float. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** float -> IEEE half bits, rounding to nearest even (overflow to infinity). */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // A half subnormal (or zero): units of 2^-24.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent, up to infinity: what rounding should do.
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++;
  return sign | h;
}

/** bfloat16 bits -> float. */
export function bfloat16ToFloat(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0]!;
}

/** float -> bfloat16 bits, rounding to nearest even (NaN stays NaN). */
export function floatToBfloat16(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * Decodes raw_data (little-endian) of `count` elements of type `code` into sparsenn's array.
 * The caller has checked that the byte length is count * rawElementSize(code).
 */
export function decodeRaw(raw: Uint8Array, code: number, count: number): Float32Array | Int32Array {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (isFloatType(code)) {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      if (code === OnnxDataType.FLOAT) out[i] = dv.getFloat32(i * 4, true);
      else if (code === OnnxDataType.DOUBLE) out[i] = dv.getFloat64(i * 8, true);
      else if (code === OnnxDataType.FLOAT16) out[i] = halfToFloat(dv.getUint16(i * 2, true));
      else out[i] = bfloat16ToFloat(dv.getUint16(i * 2, true));
    }
    return out;
  }
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    switch (code) {
      case OnnxDataType.UINT8:
        out[i] = dv.getUint8(i);
        break;
      case OnnxDataType.INT8:
        out[i] = dv.getInt8(i);
        break;
      case OnnxDataType.BOOL:
        out[i] = dv.getUint8(i) !== 0 ? 1 : 0;
        break;
      case OnnxDataType.UINT16:
        out[i] = dv.getUint16(i * 2, true);
        break;
      case OnnxDataType.INT16:
        out[i] = dv.getInt16(i * 2, true);
        break;
      case OnnxDataType.INT32:
        out[i] = dv.getInt32(i * 4, true);
        break;
      case OnnxDataType.UINT32:
        out[i] = saturateInt32(dv.getUint32(i * 4, true));
        break;
      case OnnxDataType.INT64: {
        // The high half decides: a value in the int32 range has it 0 or -1 (sign extension).
        const lo = dv.getInt32(i * 8, true);
        const hi = dv.getInt32(i * 8 + 4, true);
        out[i] = hi === 0 && lo >= 0 ? lo : hi === -1 && lo < 0 ? lo : hi < 0 ? -2147483648 : 2147483647;
        break;
      }
      case OnnxDataType.UINT64: {
        const lo = dv.getUint32(i * 8, true);
        const hi = dv.getUint32(i * 8 + 4, true);
        out[i] = hi === 0 ? saturateInt32(lo) : 2147483647;
        break;
      }
      default:
        throw new FormatError('ERR_FORMAT', `cannot decode raw data of ${dataTypeName(code)}`);
    }
  }
  return out;
}

/** Encodes values as raw_data of type `code` (little-endian). Values are checked by the caller. */
export function encodeRaw(data: Float32Array | Int32Array, code: number): Uint8Array {
  const size = rawElementSize(code);
  const bytes = new Uint8Array(data.length * size);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    switch (code) {
      case OnnxDataType.FLOAT:
        dv.setFloat32(i * 4, v, true);
        break;
      case OnnxDataType.DOUBLE:
        dv.setFloat64(i * 8, v, true);
        break;
      case OnnxDataType.FLOAT16:
        dv.setUint16(i * 2, floatToHalf(v), true);
        break;
      case OnnxDataType.BFLOAT16:
        dv.setUint16(i * 2, floatToBfloat16(v), true);
        break;
      case OnnxDataType.UINT8:
      case OnnxDataType.BOOL:
        dv.setUint8(i, v);
        break;
      case OnnxDataType.INT8:
        dv.setInt8(i, v);
        break;
      case OnnxDataType.UINT16:
        dv.setUint16(i * 2, v, true);
        break;
      case OnnxDataType.INT16:
        dv.setInt16(i * 2, v, true);
        break;
      case OnnxDataType.INT32:
        dv.setInt32(i * 4, v, true);
        break;
      case OnnxDataType.UINT32:
        dv.setUint32(i * 4, v, true);
        break;
      case OnnxDataType.INT64:
      case OnnxDataType.UINT64:
        dv.setInt32(i * 8, v, true);
        dv.setInt32(i * 8 + 4, v < 0 ? -1 : 0, true);
        break;
      default:
        throw new FormatError('ERR_FORMAT', `cannot encode ${dataTypeName(code)} tensors`);
    }
  }
  return bytes;
}
