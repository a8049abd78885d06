/**
 * `.spnn`: sparsenn's compact model file. One file holds the architecture (model.config(),
 * rebuilt with moduleFromConfig on load), every parameter and buffer, and the masks, so the
 * loaded model is the same sparse model. A masked weight stores only its kept values plus its
 * mask, range-coded close to (usually just under) its entropy bound N·H(p) bits (see
 * entropy/bitmap.ts), so a 90%-sparse fp32 layer takes about 10% of its dense size for the
 * values plus 1.47% for the mask.
 *
 * Layout (integers little-endian):
 *
 *   offset  size  field
 *   0       8     magic 0x89 'S' 'P' 'N' 'N' 0x0D 0x0A 0x1A (PNG-style: catches text-mode
 *                 transfers that rewrite line ends, and 7-bit channels)
 *   8       2     u16 format version (1)
 *   10      2     u16 flags, 0 (reserved)
 *   12      4     u32 header length H
 *   16      H     header: UTF-8 JSON, see {@link SpnnHeader}
 *   16+H    D     data: one section per tensor, back to back in header order, tiling D exactly
 *   end-4   4     u32 CRC-32 (zlib's) of every byte before it
 *
 * A tensor section is [mask stream][values]: the mask stream (encodings `mask` and `zeros`
 * only, `maskBytes` long) codes the kept-entry bitmap; the values are the kept entries in
 * row-major order (all entries for `dense`) at the tensor's dtype (entropy/values.ts: f32;
 * f16; i8 with its float32 scales first).
 *
 * Encodings: `dense` (every value), `mask` (a parameter's mask: restored with setMask), and
 * `zeros`, for an unmasked weight with many exact zeros (+0.0): the same storage as `mask`
 * but no mask is set on load, the zeros come back as values. The writer picks `zeros` only
 * when it makes the tensor smaller; it is lossless at fp32.
 *
 * Precision applies to weights (parameters of two or more dimensions): `fp32` (default,
 * bit-exact), `fp16` (round to nearest even, |x̂ − x| ≤ max(2^-11·|x|, 2^-25)), `int8`
 * (symmetric, one float32 scale per output row or per tensor, |x̂ − x| ≤ 0.50001·scale ≈
 * max|x|/254 of the row). A weight that does not fit the precision (an fp16 overflow, a
 * non-finite value for int8) is stored as fp32 instead. Biases, other 1-D parameters,
 * buffers and masks are always exact (fp32).
 *
 * Loading validates everything before building anything: magic, version, flags, lengths,
 * checksum (a CRC-32 catches every single-byte error), the header's JSON and every field,
 * that the sections tile the data exactly, element counts against the file size (a small
 * file cannot make the reader allocate much: see {@link SpnnLoadOptions.maxElements}), then
 * the rebuilt model's tensor names, kinds and shapes against the header, and each mask's
 * stream: its length, the range decoder's clean end (LZMA's check, ~32 bits of redundancy
 * per mask) and its popcount against the stored value count. Anything wrong is a
 * FormatError('ERR_FORMAT') saying what. Saving is atomic (temporary file + rename).
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { FormatError, LimitError, SparsennTypeError } from '../errors.js';
import { checkLimit, resolveLimits, type LoadLimits } from '../limits.js';
import { Module } from '../nn/module.js';
import { moduleFromConfig } from '../nn/registry.js';
import { writeFileAtomic, writeFileAtomicSync } from './atomic-file.js';
import { binaryEntropy, decodeBitmap, encodeBitmap, MAX_PERIOD, type BitmapModel } from './entropy/bitmap.js';
import { crc32 } from './entropy/crc32.js';
import { bytesPerValue, packedBytes, packValues, unpackValues, type ValueDtype } from './entropy/values.js';

/** The file's first 8 bytes. */
export const SPNN_MAGIC: Readonly<Uint8Array> = Uint8Array.of(0x89, 0x53, 0x50, 0x4e, 0x4e, 0x0d, 0x0a, 0x1a);
/** The format version this code writes and reads. */
export const SPNN_VERSION = 1;

const PREFIX_BYTES = 16;
const CRC_BYTES = 4;
/** Most dimensions a tensor may declare. */
const MAX_RANK = 8;
/** Largest tensor: masks are indexed with Int32 (Parameter.maskPattern). */
const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

/** Precision of the stored weights. */
export type SpnnPrecision = 'fp32' | 'fp16' | 'int8';

/** Stored value type of a tensor: float32, float16, or int8 with float32 scales. */
export type SpnnDtype = ValueDtype;

/** How a tensor is stored: every value, kept values + mask, or nonzero values + zero pattern. */
export type SpnnEncoding = 'dense' | 'mask' | 'zeros';

/** Options of encodeSpnn / saveSpnn / sizeReport. */
export interface SpnnOptions {
  /** Precision of weights (parameters with 2+ dimensions); default 'fp32' (exact). */
  precision?: SpnnPrecision;
  /** int8 scale granularity: one per output row (default) or one per tensor. */
  int8Scale?: 'row' | 'tensor';
  /**
   * Store unmasked parameters with many exact zeros as nonzero values + coded zero pattern
   * when that is smaller (default true; lossless, no mask is added on load).
   */
  implicitZeros?: boolean;
  /** Free-form strings saved in the header (read back with inspectSpnn). */
  metadata?: Record<string, string>;
}

/** Options of decodeSpnn / loadSpnn / inspectSpnn. */
export interface SpnnLoadOptions {
  /**
   * Most tensor elements (all tensors together) the file may declare. Default:
   * max(2^24, 64 × file size in bytes), so a small or hostile file cannot make the loader
   * allocate much more than the file itself; a legitimately huge, very sparse model may need
   * a larger value.
   */
  maxElements?: number;
  /** Caps for untrusted files (file size, elements, architecture depth and size); see LoadLimits. */
  limits?: LoadLimits;
}

/** One tensor as the header describes it. */
export interface SpnnTensorInfo {
  name: string;
  kind: 'parameter' | 'buffer';
  shape: number[];
  encoding: SpnnEncoding;
  dtype: SpnnDtype;
  /** i8 only: scale granularity. */
  scale?: 'row' | 'tensor';
  /** `mask` / `zeros`: number of stored (kept / nonzero) values. */
  nnz?: number;
  /** `mask` / `zeros`: the bitmap model. */
  coder?: 'count' | 'context';
  /** `context` coder: the group period. */
  period?: number;
  /** `mask` / `zeros`: bytes of the coded bitmap. */
  maskBytes?: number;
}

/** The JSON header. */
export interface SpnnHeader {
  /** model.config() of the saved model. */
  architecture: unknown;
  metadata?: Record<string, string>;
  tensors: SpnnTensorInfo[];
}

/** What inspectSpnn reads from a file without building the model. */
export interface SpnnInfo {
  version: number;
  architecture: unknown;
  metadata: Record<string, string>;
  tensors: SpnnTensorInfo[];
  /** Bytes of magic, version, lengths, JSON header and checksum. */
  headerBytes: number;
  fileBytes: number;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function formatError(msg: string): FormatError {
  return new FormatError('ERR_FORMAT', `spnn: ${msg}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function q(s: string): string {
  return `'${s.length > 80 ? `${s.slice(0, 80)}…` : s}'`;
}

function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A tensor seen as rows x cols: rows = shape[0] (one row for a scalar). */
function dims(shape: readonly number[]): { rows: number; cols: number } {
  const n = product(shape);
  const rows = shape.length === 0 ? 1 : shape[0]!;
  return { rows, cols: rows === 0 ? 0 : n / rows };
}

/** Quantisation groups of a tensor's stored values (for i8): per row, or one group. */
function groupPointers(info: SpnnTensorInfo, bits: Uint8Array | null, count: number): Int32Array {
  if (info.dtype !== 'i8' || info.scale === 'tensor') return Int32Array.of(0, count);
  const { rows, cols } = dims(info.shape);
  const ptr = new Int32Array(rows + 1);
  for (let r = 0; r < rows; r++) {
    let k = cols;
    if (bits) {
      k = 0;
      for (let i = r * cols, end = i + cols; i < end; i++) k += bits[i]!;
    }
    ptr[r + 1] = ptr[r]! + k;
  }
  return ptr;
}

function groupCount(info: SpnnTensorInfo): number {
  if (info.dtype !== 'i8') return 0;
  return info.scale === 'tensor' ? 1 : dims(info.shape).rows;
}

function storedCount(info: SpnnTensorInfo): number {
  return info.encoding === 'dense' ? product(info.shape) : info.nnz!;
}

/** Section bytes of a tensor: mask stream + values (+ i8 scales). */
function sectionBytes(info: SpnnTensorInfo): { mask: number; values: number } {
  return { mask: info.maskBytes ?? 0, values: packedBytes(info.dtype, storedCount(info), groupCount(info)) };
}

function bitmapModel(info: SpnnTensorInfo): BitmapModel {
  return info.coder === 'context' ? { kind: 'context', period: info.period! } : { kind: 'count' };
}

// ---------------------------------------------------------------------------------------------
// Encoding

interface EncodedTensor {
  info: SpnnTensorInfo;
  mask: Uint8Array | null;
  values: Uint8Array;
}

function gather(data: Float32Array, bits: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  let k = 0;
  for (let i = 0; i < bits.length; i++) if (bits[i] === 1) out[k++] = data[i]!;
  return out;
}

/** Packs values at `dtype`, falling back to f32 when they do not fit it. */
function pack(info: SpnnTensorInfo, values: Float32Array, bits: Uint8Array | null): Uint8Array {
  if (info.dtype !== 'f32') {
    const packed = packValues(values, info.dtype, groupPointers(info, bits, values.length));
    if (packed) return packed;
    info.dtype = 'f32';
    delete info.scale;
  }
  return packValues(values, 'f32', Int32Array.of(0, values.length))!;
}

function encodeSparse(info: SpnnTensorInfo, data: Float32Array, bits: Uint8Array): EncodedTensor {
  let nnz = 0;
  for (let i = 0; i < bits.length; i++) nnz += bits[i]!;
  const { rows, cols } = dims(info.shape);
  const coded = encodeBitmap(bits, rows, cols);
  info.nnz = nnz;
  info.coder = coded.model.kind;
  if (coded.model.kind === 'context') info.period = coded.model.period;
  info.maskBytes = coded.bytes.length;
  return { info, mask: coded.bytes, values: pack(info, gather(data, bits, nnz), bits) };
}

type EncodeSettings = Required<Omit<SpnnOptions, 'metadata'>>;

function encodeParameter(name: string, data: Float32Array, shape: readonly number[], mask: Readonly<Uint8Array> | null, opts: EncodeSettings): EncodedTensor {
  const lowPrecision = shape.length >= 2 && opts.precision !== 'fp32';
  const base = (): SpnnTensorInfo => {
    const dtype: ValueDtype = lowPrecision ? (opts.precision === 'fp16' ? 'f16' : 'i8') : 'f32';
    const info: SpnnTensorInfo = { name, kind: 'parameter', shape: [...shape], encoding: 'dense', dtype };
    if (info.dtype === 'i8') info.scale = opts.int8Scale;
    return info;
  };
  if (mask) return encodeSparse({ ...base(), encoding: 'mask' }, data, mask as Uint8Array);
  const dense: EncodedTensor = { info: base(), mask: null, values: new Uint8Array(0) };
  dense.values = pack(dense.info, data, null);
  if (!opts.implicitZeros || data.length === 0) return dense;
  const bits = new Uint8Array(data.length);
  let zeros = 0;
  for (let i = 0; i < data.length; i++) {
    if (Object.is(data[i], 0)) zeros++;
    else bits[i] = 1;
  }
  // worth trying only when the bytes saved beat the bitmap's entropy bound
  const z = zeros / data.length;
  if (z * bytesPerValue(dense.info.dtype) * 8 <= binaryEntropy(z)) return dense;
  const sparse = encodeSparse({ ...base(), encoding: 'zeros' }, data, bits);
  return sparse.mask!.length + sparse.values.length < dense.values.length ? sparse : dense;
}

function resolveOptions(opts: SpnnOptions): EncodeSettings & { metadata: Record<string, string> } {
  if (!isObject(opts)) throw new SparsennTypeError('ERR_TYPE', 'spnn options must be an object');
  const precision = opts.precision ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'fp16' && precision !== 'int8')
    throw new SparsennTypeError('ERR_TYPE', `spnn precision must be 'fp32', 'fp16' or 'int8', got ${String(precision)}`);
  const int8Scale = opts.int8Scale ?? 'row';
  if (int8Scale !== 'row' && int8Scale !== 'tensor') throw new SparsennTypeError('ERR_TYPE', `spnn int8Scale must be 'row' or 'tensor', got ${String(int8Scale)}`);
  const implicitZeros = opts.implicitZeros ?? true;
  if (typeof implicitZeros !== 'boolean') throw new SparsennTypeError('ERR_TYPE', 'spnn implicitZeros must be a boolean');
  const metadata = opts.metadata ?? {};
  if (!isObject(metadata) || Object.values(metadata).some((v) => typeof v !== 'string'))
    throw new SparsennTypeError('ERR_TYPE', 'spnn metadata must be an object of strings');
  return { precision, int8Scale, implicitZeros, metadata: { ...(metadata as Record<string, string>) } };
}

/**
 * The model as `.spnn` bytes (see the file comment for the layout). Masked parameters are
 * stored as kept values + coded mask; `opts.precision` sets the precision of the weights.
 */
export function encodeSpnn(model: Module, opts: SpnnOptions = {}): Uint8Array {
  if (!(model instanceof Module)) throw new SparsennTypeError('ERR_TYPE', 'encodeSpnn: model must be a Module');
  const o = resolveOptions(opts);
  const architecture: unknown = model.config();
  const encoded: EncodedTensor[] = [];
  for (const [name, p] of model.namedParameters()) encoded.push(encodeParameter(name, p.data, p.shape, p.mask, o));
  for (const [name, b] of model.namedBuffers()) {
    const info: SpnnTensorInfo = { name, kind: 'buffer', shape: [...b.shape], encoding: 'dense', dtype: 'f32' };
    encoded.push({ info, mask: null, values: pack(info, b.data, null) });
  }
  const header: SpnnHeader = { architecture, tensors: encoded.map((e) => e.info) };
  if (Object.keys(o.metadata).length > 0) header.metadata = o.metadata;
  const json = new TextEncoder().encode(JSON.stringify(header));
  let dataBytes = 0;
  for (const e of encoded) dataBytes += (e.mask?.length ?? 0) + e.values.length;
  const out = new Uint8Array(PREFIX_BYTES + json.length + dataBytes + CRC_BYTES);
  const dv = new DataView(out.buffer);
  out.set(SPNN_MAGIC, 0);
  dv.setUint16(8, SPNN_VERSION, true);
  dv.setUint16(10, 0, true);
  dv.setUint32(12, json.length, true);
  out.set(json, PREFIX_BYTES);
  let at = PREFIX_BYTES + json.length;
  for (const e of encoded) {
    if (e.mask) {
      out.set(e.mask, at);
      at += e.mask.length;
    }
    out.set(e.values, at);
    at += e.values.length;
  }
  dv.setUint32(at, crc32(out.subarray(0, at)), true);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding: container and header

interface Parsed {
  info: SpnnInfo;
  /** Byte offset of the first data section. */
  dataStart: number;
}

function hex32(v: number): string {
  return v.toString(16).padStart(8, '0');
}

function checkContainer(bytes: Uint8Array): { headerLength: number } {
  const min = PREFIX_BYTES + CRC_BYTES;
  if (bytes.length < min) throw formatError(`the file is ${bytes.length} bytes, shorter than the smallest .spnn file (${min} bytes): truncated or not a .spnn file`);
  for (let i = 0; i < SPNN_MAGIC.length; i++)
    if (bytes[i] !== SPNN_MAGIC[i]) throw formatError('bad magic bytes: not a .spnn file (expected 89 53 50 4E 4E 0D 0A 1A)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint16(8, true);
  if (version !== SPNN_VERSION) throw formatError(`format version ${version} is not supported (this sparsenn reads version ${SPNN_VERSION})`);
  const flags = dv.getUint16(10, true);
  if (flags !== 0) throw formatError(`flags are 0x${flags.toString(16)}, expected 0 (reserved)`);
  const headerLength = dv.getUint32(12, true);
  if (headerLength > bytes.length - min)
    throw formatError(`header length ${headerLength} runs past the end of the ${bytes.length}-byte file: truncated or corrupted`);
  const stored = dv.getUint32(bytes.length - CRC_BYTES, true);
  const actual = crc32(bytes.subarray(0, bytes.length - CRC_BYTES));
  if (stored !== actual)
    throw formatError(`checksum mismatch (stored 0x${hex32(stored)}, computed 0x${hex32(actual)}): the file is corrupted or truncated`);
  return { headerLength };
}

const KEYS: Record<SpnnEncoding, readonly string[]> = {
  dense: ['name', 'kind', 'shape', 'encoding', 'dtype', 'scale'],
  mask: ['name', 'kind', 'shape', 'encoding', 'dtype', 'scale', 'nnz', 'coder', 'period', 'maskBytes'],
  zeros: ['name', 'kind', 'shape', 'encoding', 'dtype', 'scale', 'nnz', 'coder', 'period', 'maskBytes'],
};

function checkTensor(t: unknown, i: number): SpnnTensorInfo {
  if (!isObject(t)) throw formatError(`header tensor ${i} is not an object`);
  const name = t['name'];
  if (typeof name !== 'string' || name.length === 0) throw formatError(`header tensor ${i} needs a non-empty string 'name'`);
  const at = `tensor ${q(name)}`;
  const kind = t['kind'];
  if (kind !== 'parameter' && kind !== 'buffer') throw formatError(`${at}: kind must be 'parameter' or 'buffer'`);
  const shape = t['shape'];
  if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every(isCount))
    throw formatError(`${at}: shape must be an array of at most ${MAX_RANK} non-negative integers`);
  let n = 1;
  for (const d of shape as number[]) {
    n *= d;
    if (n > MAX_TENSOR_ELEMENTS) throw formatError(`${at}: shape [${shape.join(',')}] has more than ${MAX_TENSOR_ELEMENTS} elements`);
  }
  const encoding = t['encoding'];
  if (encoding !== 'dense' && encoding !== 'mask' && encoding !== 'zeros') throw formatError(`${at}: encoding must be 'dense', 'mask' or 'zeros'`);
  for (const key of Object.keys(t)) if (!KEYS[encoding].includes(key)) throw formatError(`${at}: unexpected field ${q(key)} for encoding '${encoding}'`);
  const dtype = t['dtype'];
  if (dtype !== 'f32' && dtype !== 'f16' && dtype !== 'i8') throw formatError(`${at}: dtype must be 'f32', 'f16' or 'i8'`);
  if (kind === 'buffer' && (encoding !== 'dense' || dtype !== 'f32')) throw formatError(`${at}: a buffer must be stored dense f32`);
  if (dtype !== 'f32' && shape.length < 2) throw formatError(`${at}: only weights of 2+ dimensions may be stored as ${dtype}`);
  const info: SpnnTensorInfo = { name, kind, shape: shape as number[], encoding, dtype };
  if (dtype === 'i8') {
    const scale = t['scale'];
    if (scale !== 'row' && scale !== 'tensor') throw formatError(`${at}: an i8 tensor needs scale 'row' or 'tensor'`);
    info.scale = scale;
  } else if ('scale' in t) throw formatError(`${at}: only i8 tensors have a scale`);
  if (encoding !== 'dense') {
    const { nnz, coder, period, maskBytes } = t;
    if (!isCount(nnz) || nnz > n) throw formatError(`${at}: nnz must be an integer in [0, ${n}]`);
    if (coder !== 'count' && coder !== 'context') throw formatError(`${at}: coder must be 'count' or 'context'`);
    if (coder === 'context') {
      if (!isCount(period) || period < 1 || period > MAX_PERIOD) throw formatError(`${at}: the context coder needs a period in [1, ${MAX_PERIOD}]`);
      info.period = period;
    } else if (period !== undefined) throw formatError(`${at}: only the context coder has a period`);
    if (!isCount(maskBytes)) throw formatError(`${at}: maskBytes must be a non-negative integer`);
    Object.assign(info, { nnz, coder, maskBytes });
  }
  return info;
}

function parse(bytes: Uint8Array, opts: SpnnLoadOptions = {}): Parsed {
  if (!(bytes instanceof Uint8Array)) throw new SparsennTypeError('ERR_TYPE', 'spnn: expected the file contents as a Uint8Array');
  if (!isObject(opts)) throw new SparsennTypeError('ERR_TYPE', 'spnn: load options must be an object');
  const limits = resolveLimits((opts as SpnnLoadOptions).limits, bytes.length);
  const maxElements = (opts as SpnnLoadOptions).maxElements ?? limits.maxElements;
  if (typeof maxElements !== 'number' || !(maxElements >= 0)) throw new SparsennTypeError('ERR_TYPE', 'spnn: maxElements must be a non-negative number');
  checkLimit('the file size in bytes', bytes.length, limits.maxFileBytes, 'maxFileBytes');
  const { headerLength } = checkContainer(bytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength));
  } catch {
    throw formatError('the header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw formatError(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(header)) throw formatError('the header must be a JSON object');
  for (const key of Object.keys(header))
    if (key !== 'architecture' && key !== 'metadata' && key !== 'tensors') throw formatError(`unexpected header field ${q(key)}`);
  if (!isObject(header['architecture'])) throw formatError("the header needs an 'architecture' object (model.config())");
  const metadata = header['metadata'] ?? {};
  if (!isObject(metadata) || Object.values(metadata).some((v) => typeof v !== 'string')) throw formatError("header 'metadata' must be an object of strings");
  const list = header['tensors'];
  if (!Array.isArray(list)) throw formatError("the header needs a 'tensors' array");
  const tensors = list.map(checkTensor);
  const names = new Set<string>();
  let elements = 0;
  for (const t of tensors) {
    if (names.has(t.name)) throw formatError(`tensor ${q(t.name)} appears twice in the header`);
    names.add(t.name);
    elements += product(t.shape);
  }
  if (elements > maxElements)
    throw new LimitError(
      'ERR_LIMIT',
      `spnn: the tensors declare ${elements} elements in all, more than the limit of ${maxElements} for a ${bytes.length}-byte file ` +
        '(raise maxElements or limits.maxElements to load a model this large)',
    );
  const dataStart = PREFIX_BYTES + headerLength;
  const dataLength = bytes.length - CRC_BYTES - dataStart;
  let used = 0;
  for (const t of tensors) {
    const s = sectionBytes(t);
    used += s.mask + s.values;
    if (used > dataLength) throw formatError(`tensor ${q(t.name)} runs past the end of the data (${dataLength} bytes): truncated or corrupted`);
  }
  if (used !== dataLength) throw formatError(`the data holds ${dataLength - used} bytes more than its tensors use`);
  return {
    info: {
      version: SPNN_VERSION,
      architecture: header['architecture'],
      metadata: { ...(metadata as Record<string, string>) },
      tensors,
      headerBytes: bytes.length - dataLength,
      fileBytes: bytes.length,
    },
    dataStart,
  };
}

/** Reads and validates a `.spnn` file's header (everything but the tensor data) without building the model. */
export function inspectSpnn(bytes: Uint8Array, opts?: SpnnLoadOptions): SpnnInfo {
  return parse(bytes, opts).info;
}

// ---------------------------------------------------------------------------------------------
// Decoding: model

function decodeTensor(bytes: Uint8Array, at: number, info: SpnnTensorInfo): { data: Float32Array; mask: Uint8Array | null } {
  const n = product(info.shape);
  const { mask: maskLength, values: valueLength } = sectionBytes(info);
  const where = `tensor ${q(info.name)}`;
  let bits: Uint8Array | null = null;
  if (info.encoding !== 'dense') {
    const nnz = info.nnz!;
    const stream = bytes.subarray(at, at + maskLength);
    const decoded = decodeBitmap(stream, n, dims(info.shape).cols, bitmapModel(info), nnz);
    if (decoded.consumed !== maskLength)
      throw formatError(`${where}: the mask stream is ${maskLength} bytes but decoding it took ${decoded.consumed}: corrupted`);
    if (!decoded.intact) throw formatError(`${where}: the mask stream does not decode cleanly (corrupted, or inconsistent with nnz ${nnz})`);
    if (decoded.ones !== nnz) throw formatError(`${where}: the mask keeps ${decoded.ones} entries but ${nnz} values are stored`);
    bits = decoded.bits;
  }
  const count = storedCount(info);
  const values = unpackValues(bytes.subarray(at + maskLength, at + maskLength + valueLength), info.dtype, count, groupPointers(info, bits, count), `spnn: ${where}`);
  if (!bits) return { data: values, mask: null };
  const data = new Float32Array(n);
  for (let i = 0, k = 0; i < n; i++) if (bits[i] === 1) data[i] = values[k++]!;
  return { data, mask: info.encoding === 'mask' ? bits : null };
}

function build(bytes: Uint8Array, opts?: SpnnLoadOptions): { model: Module; info: SpnnInfo } {
  const { info, dataStart } = parse(bytes, opts);
  let model: Module;
  try {
    // The architecture may allocate no more than the tensors may declare.
    const maxElements = opts?.maxElements ?? resolveLimits(opts?.limits, bytes.length).maxElements;
    model = moduleFromConfig(info.architecture, { ...opts?.limits, maxElements });
  } catch (e) {
    if (e instanceof LimitError) throw e;
    throw formatError(`the architecture cannot be rebuilt: ${(e as Error).message}`);
  }
  const expected = new Map<string, { kind: 'parameter' | 'buffer'; shape: readonly number[] }>();
  for (const [name, p] of model.namedParameters()) expected.set(name, { kind: 'parameter', shape: p.shape });
  for (const [name, b] of model.namedBuffers()) expected.set(name, { kind: 'buffer', shape: b.shape });
  for (const t of info.tensors) {
    const e = expected.get(t.name);
    if (!e) throw formatError(`tensor ${q(t.name)} is not a parameter or buffer of the saved architecture`);
    if (e.kind !== t.kind) throw formatError(`tensor ${q(t.name)} is stored as a ${t.kind} but the architecture has it as a ${e.kind}`);
    if (e.shape.length !== t.shape.length || e.shape.some((d, i) => d !== t.shape[i]))
      throw formatError(`tensor ${q(t.name)} has shape [${t.shape.join(', ')}] but the architecture expects [${e.shape.join(', ')}]`);
  }
  if (expected.size !== info.tensors.length) {
    const stored = new Set(info.tensors.map((t) => t.name));
    const missing = [...expected.keys()].filter((k) => !stored.has(k));
    throw formatError(`the file stores no values for [${missing.join(', ')}] of the architecture`);
  }
  const state: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
  const masks: Record<string, Uint8Array | null> = {};
  let at = dataStart;
  for (const t of info.tensors) {
    const { data, mask } = decodeTensor(bytes, at, t);
    const s = sectionBytes(t);
    at += s.mask + s.values;
    state[t.name] = { shape: t.shape, data };
    if (t.kind === 'parameter') masks[t.name] = mask;
  }
  model.loadStateDict(state, { masks });
  return { model, info };
}

/** Rebuilds a model from `.spnn` bytes: architecture, weights, buffers and masks (set with setMask). */
export function decodeSpnn(bytes: Uint8Array, opts?: SpnnLoadOptions): Module {
  return build(bytes, opts).model;
}

/** decodeSpnn that also returns the header (metadata, tensor table), validating the file once. */
export function readSpnn(bytes: Uint8Array, opts?: SpnnLoadOptions): { model: Module; info: SpnnInfo } {
  return build(bytes, opts);
}

function checkPath(path: unknown, fn: string): string {
  if (typeof path !== 'string' || path.length === 0) throw new SparsennTypeError('ERR_TYPE', `${fn}: path must be a non-empty string`);
  return path;
}

/** Saves the model as `.spnn` atomically: a failed save keeps any previous file at `path`. */
export async function saveSpnn(model: Module, path: string, opts?: SpnnOptions): Promise<void> {
  checkPath(path, 'saveSpnn');
  await writeFileAtomic(path, encodeSpnn(model, opts));
}

/** Synchronous saveSpnn. */
export function saveSpnnSync(model: Module, path: string, opts?: SpnnOptions): void {
  checkPath(path, 'saveSpnnSync');
  writeFileAtomicSync(path, encodeSpnn(model, opts));
}

/** Loads a model saved by saveSpnn (see decodeSpnn). */
export async function loadSpnn(path: string, opts?: SpnnLoadOptions): Promise<Module> {
  checkPath(path, 'loadSpnn');
  return build(await readFile(path), opts).model;
}

/** Synchronous loadSpnn. */
export function loadSpnnSync(path: string, opts?: SpnnLoadOptions): Module {
  checkPath(path, 'loadSpnnSync');
  return build(readFileSync(path), opts).model;
}

// ---------------------------------------------------------------------------------------------
// Size report

/** Where one tensor's bytes go. */
export interface SpnnTensorSize {
  name: string;
  kind: 'parameter' | 'buffer';
  shape: number[];
  encoding: SpnnEncoding;
  dtype: SpnnDtype;
  /** 'count', 'context/P' for stored bitmaps, '' for dense tensors. */
  coder: string;
  elements: number;
  /** Values stored (kept or nonzero ones; all for dense). */
  stored: number;
  /** stored / elements. */
  density: number;
  /** Bytes of the values, int8 scales included. */
  valueBytes: number;
  /** Bytes of the coded mask / zero pattern. */
  indexBytes: number;
  /** The entropy bound of the bitmap, elements · H(density) / 8 bytes (0 for dense tensors). */
  boundBytes: number;
  /** The tensor as dense fp32: 4 · elements. */
  denseBytes: number;
}

export interface SpnnSizeReport {
  tensors: SpnnTensorSize[];
  totals: {
    elements: number;
    stored: number;
    valueBytes: number;
    indexBytes: number;
    boundBytes: number;
    denseBytes: number;
    /** Magic, version, lengths, JSON header (architecture, tensor table) and checksum. */
    headerBytes: number;
    /** The whole file: valueBytes + indexBytes + headerBytes. */
    fileBytes: number;
  };
}

/**
 * Where the bytes of a `.spnn` file go, per tensor and in total, next to the entropy bound
 * of each mask and the dense fp32 size. Takes a model (encoded with `opts` first) or the
 * bytes of a file (validated like decodeSpnn, without building the model).
 */
export function sizeReport(modelOrBytes: Module | Uint8Array, opts?: SpnnOptions): SpnnSizeReport {
  const bytes = modelOrBytes instanceof Module ? encodeSpnn(modelOrBytes, opts) : modelOrBytes;
  const info = inspectSpnn(bytes);
  const tensors = info.tensors.map((t): SpnnTensorSize => {
    const elements = product(t.shape);
    const stored = storedCount(t);
    const density = elements === 0 ? 1 : stored / elements;
    const s = sectionBytes(t);
    return {
      name: t.name,
      kind: t.kind,
      shape: [...t.shape],
      encoding: t.encoding,
      dtype: t.dtype,
      coder: t.coder === undefined ? '' : t.coder === 'context' ? `context/${t.period}` : t.coder,
      elements,
      stored,
      density,
      valueBytes: s.values,
      indexBytes: s.mask,
      boundBytes: t.encoding === 'dense' ? 0 : (elements * binaryEntropy(density)) / 8,
      denseBytes: 4 * elements,
    };
  });
  const sum = (f: (t: SpnnTensorSize) => number): number => tensors.reduce((a, t) => a + f(t), 0);
  return {
    tensors,
    totals: {
      elements: sum((t) => t.elements),
      stored: sum((t) => t.stored),
      valueBytes: sum((t) => t.valueBytes),
      indexBytes: sum((t) => t.indexBytes),
      boundBytes: sum((t) => t.boundBytes),
      denseBytes: sum((t) => t.denseBytes),
      headerBytes: info.headerBytes,
      fileBytes: info.fileBytes,
    },
  };
}

/** sizeReport() as a printable table, with the file's ratios to the dense size and to values + bound. */
export function formatSizeReport(report: SpnnSizeReport): string {
  const head = ['tensor', 'shape', 'encoding', 'dtype', 'coder', 'density', 'values B', 'index B', 'bound B', 'index/bound', 'dense fp32 B'];
  const ratio = (a: number, b: number): string => (b === 0 ? (a === 0 ? '-' : 'inf') : (a / b).toFixed(3));
  const rows = report.tensors.map((t) => [
    t.name,
    `[${t.shape.join(',')}]`,
    t.encoding,
    t.dtype,
    t.coder || '-',
    t.density.toFixed(4),
    String(t.valueBytes),
    String(t.indexBytes),
    t.boundBytes.toFixed(1),
    t.encoding === 'dense' ? '-' : ratio(t.indexBytes, t.boundBytes),
    String(t.denseBytes),
  ]);
  const T = report.totals;
  const density = (T.elements === 0 ? 1 : T.stored / T.elements).toFixed(4);
  const totalBytes = [String(T.valueBytes), String(T.indexBytes), T.boundBytes.toFixed(1), ratio(T.indexBytes, T.boundBytes), String(T.denseBytes)];
  rows.push(['total', '', '', '', '', density, ...totalBytes]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]): string => r.map((v, c) => (c < 5 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ');
  return [
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `header ${T.headerBytes} B, file ${T.fileBytes} B: ${(T.fileBytes / Math.max(1, T.denseBytes) * 100).toFixed(2)}% of dense fp32, ` +
      `${ratio(T.fileBytes, T.valueBytes + T.boundBytes)}× (values + entropy bound)`,
  ].join('\n');
}
