/**
 * safetensors read/write: the tensor file format of PyTorch / Hugging Face
 * (https://github.com/huggingface/safetensors).
 *
 * Layout: 8 bytes little-endian u64 `N`; `N` bytes of UTF-8 JSON header; the data buffer. The
 * header maps each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets into
 * the data buffer, end exclusive) and may hold `"__metadata__"`, an object of string -> string.
 * Data is little-endian, row-major (C order).
 *
 * The reader enforces what the reference (Rust) reader does, and a little more: header length at
 * most 100 MB and inside the file; strict UTF-8 and strict JSON (duplicate keys rejected at every
 * level, nesting depth capped so hostile input cannot exhaust the stack); shape entries and
 * offsets non-negative integers without fraction or exponent; sorted by offset, the tensors tile
 * the data buffer exactly (no hole, no overlap, nothing past the end, nothing left over); each
 * tensor's byte length equals product(shape) * dtype size, computed with overflow checks; BOOL
 * bytes are 0 or 1. Unknown fields inside a tensor entry are ignored, as the reference does.
 *
 * The writer produces what the reference writer produces, byte for byte: tensors sorted by dtype
 * in descending order of the reference's `Dtype` enum (U64, I64, F64, F32, U32, I32, BF16, F16,
 * U16, I16, I8, U8, BOOL — alignment descending), then by name (Unicode code point order, i.e.
 * UTF-8 byte order as Rust compares `String`s); compact JSON with `__metadata__` first and each
 * entry's fields in the order dtype, shape, data_offsets; header padded with spaces so the data
 * starts at an 8-byte boundary. The reference writes metadata keys in hash-map (unspecified)
 * order; this writer sorts them by code point so its output is deterministic. Empty metadata is
 * omitted (a file read back without metadata then re-encodes to the same bytes).
 *
 * Data representation: F32 -> Float32Array, F64 -> Float64Array, I8/U8/I16/U16/I32/U32 -> the
 * typed array of that name, I64/U64 -> BigInt64Array/BigUint64Array, BOOL -> Uint8Array holding
 * only 0 and 1, and F16/BF16 -> Uint16Array of the raw 16-bit patterns (no conversion is done;
 * e.g. a BF16 value is the top half of the float32 with the same sign/exponent).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { writeFileAtomic, writeFileAtomicSync } from './atomic-file.js';
import { FormatError, NativeError, ShapeError, SparsennTypeError } from '../errors.js';

/** The element types sparsenn reads and writes (the reference's FP8/FP4/FP6 types are not supported). */
export type SafetensorsDtype = 'BOOL' | 'U8' | 'I8' | 'I16' | 'U16' | 'F16' | 'BF16' | 'I32' | 'U32' | 'F32' | 'F64' | 'I64' | 'U64';

/** The typed arrays that hold tensor data; see {@link SafetensorsTensor} for which goes with which dtype. */
export type SafetensorsData =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/**
 * One tensor: its dtype, its shape, and its elements in row-major order (`data.length` equals the
 * product of `shape`; a scalar has shape `[]` and one element).
 *
 * The typed array must match the dtype: BOOL and U8 -> Uint8Array (BOOL holds only 0 and 1),
 * I8 -> Int8Array, I16 -> Int16Array, U16 -> Uint16Array, F16 and BF16 -> Uint16Array of raw bit
 * patterns, I32 -> Int32Array, U32 -> Uint32Array, F32 -> Float32Array, F64 -> Float64Array,
 * I64 -> BigInt64Array, U64 -> BigUint64Array.
 */
export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: SafetensorsData;
}

/** The contents of a safetensors file: tensors by name and the `__metadata__` strings (`{}` when absent). */
export interface SafetensorsFile {
  tensors: Record<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Dtype table

type ArrayKind =
  | 'Uint8Array'
  | 'Int8Array'
  | 'Int16Array'
  | 'Uint16Array'
  | 'Int32Array'
  | 'Uint32Array'
  | 'Float32Array'
  | 'Float64Array'
  | 'BigInt64Array'
  | 'BigUint64Array';

interface DtypeInfo {
  /** Bytes per element. */
  size: number;
  /** Position in the reference's `Dtype` enum (increasing alignment); the writer sorts by it descending. */
  rank: number;
  kind: ArrayKind;
  make: (length: number) => SafetensorsData;
}

const DTYPES: Readonly<Record<SafetensorsDtype, DtypeInfo>> = {
  BOOL: { size: 1, rank: 0, kind: 'Uint8Array', make: (n) => new Uint8Array(n) },
  U8: { size: 1, rank: 1, kind: 'Uint8Array', make: (n) => new Uint8Array(n) },
  I8: { size: 1, rank: 2, kind: 'Int8Array', make: (n) => new Int8Array(n) },
  // (the reference has F8_E5M2, F8_E4M3 and others here; unsupported)
  I16: { size: 2, rank: 5, kind: 'Int16Array', make: (n) => new Int16Array(n) },
  U16: { size: 2, rank: 6, kind: 'Uint16Array', make: (n) => new Uint16Array(n) },
  F16: { size: 2, rank: 7, kind: 'Uint16Array', make: (n) => new Uint16Array(n) },
  BF16: { size: 2, rank: 8, kind: 'Uint16Array', make: (n) => new Uint16Array(n) },
  I32: { size: 4, rank: 9, kind: 'Int32Array', make: (n) => new Int32Array(n) },
  U32: { size: 4, rank: 10, kind: 'Uint32Array', make: (n) => new Uint32Array(n) },
  F32: { size: 4, rank: 11, kind: 'Float32Array', make: (n) => new Float32Array(n) },
  F64: { size: 8, rank: 12, kind: 'Float64Array', make: (n) => new Float64Array(n) },
  I64: { size: 8, rank: 13, kind: 'BigInt64Array', make: (n) => new BigInt64Array(n) },
  U64: { size: 8, rank: 14, kind: 'BigUint64Array', make: (n) => new BigUint64Array(n) },
};

const DTYPE_NAMES = Object.keys(DTYPES).join(', ');

function isDtype(v: unknown): v is SafetensorsDtype {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, v);
}

/** The reference's limit on the header size. */
const MAX_HEADER_BYTES = 100_000_000;
/** Deepest JSON nesting a valid header needs is 3 (header > entry > shape); anything far deeper is hostile. */
const MAX_JSON_DEPTH = 32;
/** Largest single read/write call (keeps under platform I/O limits). */
const IO_CHUNK = 1 << 30;
const METADATA_KEY = '__metadata__';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** `TypedArray.prototype[Symbol.toStringTag]`: the real kind of any typed array (subclasses and other realms included), else undefined. */
const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype) as object, Symbol.toStringTag)!
  .get as (this: unknown) => string | undefined;

// ---------------------------------------------------------------------------------------------
// Small helpers

/** A name or value quoted for an error message, cut short so hostile input cannot produce huge messages. */
function q(s: string): string {
  return `'${s.length > 120 ? `${s.slice(0, 120)}…` : s}'`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  const tag = typedArrayTag.call(v);
  if (tag !== undefined) return `a ${tag}`;
  return typeof v === 'object' ? `a ${(v as object).constructor?.name ?? 'object'}` : `${typeof v} ${String(v)}`;
}

function formatError(msg: string): FormatError {
  return new FormatError('ERR_FORMAT', `safetensors: ${msg}`);
}

/** Compares strings by Unicode code point (= UTF-8 byte order, as Rust and Python compare strings). */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (0xD800-0xDFFF) encode code points above 0xFFFF, which sort after 0xE000-0xFFFF.
      const sx = x >= 0xd800 && x <= 0xdfff;
      const sy = y >= 0xd800 && y <= 0xdfff;
      if (sx !== sy) return sx ? 1 : -1;
      return x - y;
    }
  }
  return a.length - b.length;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Defines an own enumerable property, so that a name such as `__proto__` is stored as data. */
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** product(dims) * size, or undefined when it would exceed 2^53 - 1 (each partial product is checked, like the reference). */
function checkedBytes(shape: readonly number[], size: number): number | undefined {
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return undefined;
  }
  n *= size;
  return n > Number.MAX_SAFE_INTEGER ? undefined : n;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** Reverses the bytes of each `size`-byte element in place (only used on big-endian hosts). */
function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

function bytesOf(data: SafetensorsData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

// ---------------------------------------------------------------------------------------------
// Strict JSON (the header)

/** A JSON number, kept as its source text so integers are checked exactly. */
class JsonNumber {
  constructor(readonly text: string) {}
}
type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | Map<string, JsonValue>;

const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/**
 * A strict RFC 8259 parser: JSON.parse silently keeps the last of duplicate keys and cannot tell
 * `2` from `2.0`; this parser rejects duplicates, keeps number text, rejects lone surrogate
 * escapes (as serde_json does) and caps the nesting depth.
 */
class JsonParser {
  private pos = 0;
  constructor(private readonly s: string) {}

  parseDocument(): JsonValue {
    this.ws();
    const v = this.value(0);
    this.ws();
    if (this.pos !== this.s.length) this.fail('unexpected text after the top-level value');
    return v;
  }

  private fail(what: string): never {
    throw formatError(`header is not valid JSON: ${what} at character ${this.pos}`);
  }

  private ws(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else break;
    }
  }

  private value(depth: number): JsonValue {
    if (depth > MAX_JSON_DEPTH) this.fail(`nesting deeper than ${MAX_JSON_DEPTH} levels`);
    const c = this.s[this.pos];
    switch (c) {
      case '{':
        return this.object(depth);
      case '[':
        return this.array(depth);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default: {
        NUMBER_RE.lastIndex = this.pos;
        const m = NUMBER_RE.exec(this.s);
        if (m === null) this.fail(c === undefined ? 'unexpected end of text' : `unexpected character ${JSON.stringify(c)}`);
        this.pos += m[0].length;
        return new JsonNumber(m[0]);
      }
    }
  }

  private literal<T>(word: string, v: T): T {
    if (!this.s.startsWith(word, this.pos)) this.fail('invalid literal');
    this.pos += word.length;
    return v;
  }

  private object(depth: number): Map<string, JsonValue> {
    const m = new Map<string, JsonValue>();
    this.pos++; // {
    this.ws();
    if (this.s[this.pos] === '}') {
      this.pos++;
      return m;
    }
    for (;;) {
      this.ws();
      if (this.s[this.pos] !== '"') this.fail('expected a string key');
      const at = this.pos;
      const key = this.string();
      if (m.has(key)) {
        this.pos = at;
        this.fail(`duplicate key ${q(key)}`);
      }
      this.ws();
      if (this.s[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      this.ws();
      m.set(key, this.value(depth + 1));
      this.ws();
      const c = this.s[this.pos++];
      if (c === ',') continue;
      if (c === '}') return m;
      this.pos--;
      this.fail("expected ',' or '}'");
    }
  }

  private array(depth: number): JsonValue[] {
    const a: JsonValue[] = [];
    this.pos++; // [
    this.ws();
    if (this.s[this.pos] === ']') {
      this.pos++;
      return a;
    }
    for (;;) {
      this.ws();
      a.push(this.value(depth + 1));
      this.ws();
      const c = this.s[this.pos++];
      if (c === ',') continue;
      if (c === ']') return a;
      this.pos--;
      this.fail("expected ',' or ']'");
    }
  }

  private hex4(): number {
    const h = this.s.slice(this.pos, this.pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail('invalid \\u escape');
    this.pos += 4;
    return parseInt(h, 16);
  }

  private string(): string {
    const s = this.s;
    this.pos++; // opening quote
    let out = '';
    let start = this.pos;
    for (;;) {
      if (this.pos >= s.length) this.fail('unterminated string');
      const c = s.charCodeAt(this.pos);
      if (c === 0x22) {
        out += s.slice(start, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail('control character in a string (must be escaped)');
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += s.slice(start, this.pos);
      this.pos++; // backslash
      const e = s[this.pos++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const u = this.hex4();
          if (u >= 0xdc00 && u <= 0xdfff) this.fail('lone low surrogate escape');
          if (u >= 0xd800 && u <= 0xdbff) {
            if (s[this.pos] !== '\\' || s[this.pos + 1] !== 'u') this.fail('lone high surrogate escape');
            this.pos += 2;
            const lo = this.hex4();
            if (lo < 0xdc00 || lo > 0xdfff) this.fail('lone high surrogate escape');
            out += String.fromCharCode(u, lo);
          } else {
            out += String.fromCharCode(u);
          }
          break;
        }
        default:
          this.pos--;
          this.fail('invalid escape');
      }
      start = this.pos;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Reading: header -> layout

interface Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

interface Layout {
  /** Tensors sorted by offset. */
  entries: Entry[];
  metadata: Record<string, string>;
}

function jsonKind(v: JsonValue): string {
  if (v === null) return 'null';
  if (v instanceof Map) return 'an object';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof JsonNumber) return `the number ${v.text}`;
  return typeof v === 'string' ? 'a string' : `${String(v)}`;
}

/** A JSON number that is a non-negative integer (no sign, fraction or exponent) no larger than 2^53 - 1. */
function asIndex(v: JsonValue, what: () => string): number {
  if (v instanceof JsonNumber && /^(?:0|[1-9][0-9]*)$/.test(v.text)) {
    const n = Number(v.text);
    if (n <= Number.MAX_SAFE_INTEGER) return n;
    throw formatError(`${what()} is ${v.text}, larger than 2^53 - 1`);
  }
  throw formatError(`${what()} must be a non-negative integer, got ${jsonKind(v)}`);
}

/**
 * Reads the 8-byte prefix: the header length, checked against the 100 MB limit and the file size.
 * Throws FormatError when `prefix` has fewer than 8 bytes.
 */
function headerLength(prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw formatError(`file has ${fileSize} bytes, too short for the 8-byte header length (expected at least 8 bytes)`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw formatError(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (8n + n > BigInt(fileSize)) {
    throw formatError(`header length ${n} runs past the end of the file (${fileSize} bytes; at most ${fileSize - 8} header bytes fit)`);
  }
  return Number(n);
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Parses and validates the header against a data buffer of `dataLength` bytes. */
function parseLayout(headerBytes: Uint8Array, dataLength: number): Layout {
  let text: string;
  try {
    text = utf8.decode(headerBytes);
  } catch {
    throw formatError('header is not valid UTF-8');
  }
  const root = new JsonParser(text).parseDocument();
  if (!(root instanceof Map)) throw formatError(`header must be a JSON object, got ${jsonKind(root)}`);

  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, info] of root) {
    if (name === METADATA_KEY) {
      if (!(info instanceof Map)) throw formatError(`${METADATA_KEY} must be an object of string values, got ${jsonKind(info)}`);
      for (const [k, v] of info) {
        if (typeof v !== 'string') throw formatError(`${METADATA_KEY} value of ${q(k)} must be a string, got ${jsonKind(v)}`);
        setOwn(metadata, k, v);
      }
      continue;
    }
    const where = `tensor ${q(name)}`;
    if (!(info instanceof Map)) throw formatError(`${where} must be an object {dtype, shape, data_offsets}, got ${jsonKind(info)}`);
    const dtype = info.get('dtype');
    if (dtype === undefined) throw formatError(`${where} has no "dtype"`);
    if (!isDtype(dtype)) {
      throw formatError(`${where} has ${typeof dtype === 'string' ? `unknown dtype ${q(dtype)}` : `dtype ${jsonKind(dtype)}`}; expected one of ${DTYPE_NAMES}`);
    }
    const shapeV = info.get('shape');
    if (!Array.isArray(shapeV)) throw formatError(`${where} "shape" must be an array of non-negative integers, got ${shapeV === undefined ? 'nothing' : jsonKind(shapeV)}`);
    const shape = shapeV.map((d, i) => asIndex(d, () => `${where} shape[${i}]`));
    const offV = info.get('data_offsets');
    if (!Array.isArray(offV) || offV.length !== 2) {
      throw formatError(
        `${where} "data_offsets" must be an array [begin, end] of two non-negative integers, got ${offV === undefined ? 'nothing' : Array.isArray(offV) ? `${offV.length} entries` : jsonKind(offV)}`,
      );
    }
    const begin = asIndex(offV[0], () => `${where} data_offsets[0]`);
    const end = asIndex(offV[1], () => `${where} data_offsets[1]`);
    entries.push({ name, dtype, shape, begin, end });
  }

  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let prev: Entry | undefined;
  for (const e of entries) {
    const where = `tensor ${q(e.name)} has data_offsets [${e.begin}, ${e.end}]`;
    if (e.end < e.begin) throw formatError(`${where}: end is before begin`);
    if (e.end > dataLength) throw formatError(`${where}, past the end of the ${dataLength}-byte data buffer`);
    if (e.begin > covered) {
      throw formatError(`${where}, leaving a hole: data bytes [${covered}, ${e.begin}) belong to no tensor (tensors must tile the data buffer)`);
    }
    if (e.begin < covered && prev !== undefined) {
      throw formatError(`${where}, overlapping tensor ${q(prev.name)} at [${prev.begin}, ${prev.end}]`);
    }
    const need = checkedBytes(e.shape, DTYPES[e.dtype].size);
    if (need === undefined) throw formatError(`tensor ${q(e.name)} shape ${shapeText(e.shape)} with dtype ${e.dtype} overflows the byte count`);
    if (e.end - e.begin !== need) {
      throw formatError(`${where} (${e.end - e.begin} bytes) but dtype ${e.dtype} and shape ${shapeText(e.shape)} need ${need} bytes`);
    }
    covered = e.end;
    prev = e;
  }
  if (covered !== dataLength) {
    throw formatError(`the data buffer has ${dataLength} bytes but the tensors cover only ${covered}; bytes [${covered}, ${dataLength}) belong to no tensor`);
  }
  return { entries, metadata };
}

function allocate(e: Entry): SafetensorsData {
  const info = DTYPES[e.dtype];
  try {
    return info.make((e.end - e.begin) / info.size);
  } catch (err) {
    throw new NativeError('ERR_MEMORY', `safetensors: cannot allocate tensor ${q(e.name)} (${e.end - e.begin} bytes): ${(err as Error).message}`);
  }
}

/** After the raw bytes are in place: host byte order and the BOOL check. */
function finishTensor(e: Entry, data: SafetensorsData): SafetensorsTensor {
  const bytes = bytesOf(data);
  if (e.dtype === 'BOOL') {
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] > 1) throw formatError(`BOOL tensor ${q(e.name)} holds the byte ${bytes[i]} at element ${i}; expected 0 or 1`);
    }
  }
  if (!LITTLE_ENDIAN) swapBytes(bytes, DTYPES[e.dtype].size);
  return { dtype: e.dtype, shape: e.shape, data };
}

function assemble(layout: Layout, fill: (e: Entry, dst: Uint8Array) => void): SafetensorsFile {
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const e of layout.entries) {
    const data = allocate(e);
    fill(e, bytesOf(data));
    setOwn(tensors, e.name, finishTensor(e, data));
  }
  return { tensors, metadata: layout.metadata };
}

/**
 * Decodes a safetensors file held in memory. Every tensor's data is copied into a fresh typed
 * array of its own (so the input may be reused, and offsets that are not multiples of the element
 * size are fine). Tensors are returned in file (offset) order; `metadata` is `{}` when the file
 * has none.
 *
 * @throws FormatError (`ERR_FORMAT`) when the bytes are not a valid safetensors file; the message
 *   says what was wrong and what was expected.
 * @throws SparsennTypeError (`ERR_TYPE`) when `bytes` is not a Uint8Array.
 */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (typedArrayTag.call(bytes) !== 'Uint8Array') {
    throw new SparsennTypeError('ERR_TYPE', `decodeSafetensors: bytes must be a Uint8Array, got ${describe(bytes)}`);
  }
  const n = headerLength(bytes, bytes.length);
  const dataStart = 8 + n;
  const layout = parseLayout(bytes.subarray(8, dataStart), bytes.length - dataStart);
  return assemble(layout, (e, dst) => dst.set(bytes.subarray(dataStart + e.begin, dataStart + e.end)));
}

// ---------------------------------------------------------------------------------------------
// Writing: tensors -> header + data chunks

interface Prepared {
  /** The 8-byte length, the padded header, then each tensor's little-endian bytes. */
  chunks: Uint8Array[];
  size: number;
}

function checkString(s: unknown, what: string): string {
  if (typeof s !== 'string') throw new SparsennTypeError('ERR_TYPE', `safetensors: ${what} must be a string, got ${describe(s)}`);
  if (LONE_SURROGATE.test(s)) throw new SparsennTypeError('ERR_TYPE', `safetensors: ${what} ${q(s)} is not well-formed Unicode (lone surrogate); it cannot be stored as UTF-8`);
  return s;
}

function checkTensor(name: string, t: unknown): SafetensorsTensor {
  const where = `tensor ${q(name)}`;
  if (typeof t !== 'object' || t === null) throw new SparsennTypeError('ERR_TYPE', `safetensors: ${where} must be an object {dtype, shape, data}, got ${describe(t)}`);
  const { dtype, shape, data } = t as Partial<SafetensorsTensor>;
  if (!isDtype(dtype)) throw new SparsennTypeError('ERR_TYPE', `safetensors: ${where} has dtype ${typeof dtype === 'string' ? q(dtype) : describe(dtype)}; expected one of ${DTYPE_NAMES}`);
  if (!Array.isArray(shape)) throw new SparsennTypeError('ERR_TYPE', `safetensors: ${where} shape must be an array of non-negative integers, got ${describe(shape)}`);
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new ShapeError('ERR_SHAPE', `safetensors: ${where} shape[${i}] must be a non-negative integer, got ${String(d)}`);
    }
  }
  const info = DTYPES[dtype];
  const kind = typedArrayTag.call(data);
  if (kind !== info.kind) {
    throw new SparsennTypeError('ERR_TYPE', `safetensors: ${where} has dtype ${dtype}, so its data must be a ${info.kind}, got ${describe(data)}`);
  }
  const arr = data as SafetensorsData;
  const count = checkedBytes(shape, 1);
  if (count === undefined || arr.length !== count) {
    throw new ShapeError('ERR_SHAPE', `safetensors: ${where} has shape ${shapeText(shape)} (${count ?? 'over 2^53'} elements) but its data has ${arr.length} elements`);
  }
  if (dtype === 'BOOL') {
    const b = arr as Uint8Array;
    for (let i = 0; i < b.length; i++) {
      if (b[i] > 1) throw new SparsennTypeError('ERR_TYPE', `safetensors: BOOL ${where} holds ${b[i]} at element ${i}; expected only 0 or 1`);
    }
  }
  return { dtype, shape, data: arr };
}

function prepare(tensors: unknown, metadata: unknown): Prepared {
  if (typeof tensors !== 'object' || tensors === null || Array.isArray(tensors)) {
    throw new SparsennTypeError('ERR_TYPE', `safetensors: tensors must be an object mapping names to {dtype, shape, data}, got ${describe(tensors)}`);
  }
  const list: Array<{ name: string; t: SafetensorsTensor }> = [];
  for (const name of Object.keys(tensors)) {
    checkString(name, 'tensor name');
    if (name === METADATA_KEY) throw new SparsennTypeError('ERR_TYPE', `safetensors: ${q(METADATA_KEY)} is reserved and cannot name a tensor`);
    list.push({ name, t: checkTensor(name, (tensors as Record<string, unknown>)[name]) });
  }
  let meta: Array<[string, string]> = [];
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw new SparsennTypeError('ERR_TYPE', `safetensors: metadata must be an object of string values, got ${describe(metadata)}`);
    }
    meta = Object.keys(metadata).map((k) => [checkString(k, 'metadata key'), checkString((metadata as Record<string, unknown>)[k], `metadata value of ${q(k)}`)]);
    meta.sort((a, b) => compareCodePoints(a[0], b[0]));
  }
  list.sort((a, b) => DTYPES[b.t.dtype].rank - DTYPES[a.t.dtype].rank || compareCodePoints(a.name, b.name));

  // Compact JSON as serde_json writes it; JSON.stringify escapes strings the same way
  // (", \, \b \f \n \r \t, other controls as lowercase \u00xx; everything else verbatim).
  const parts: string[] = [];
  if (meta.length > 0) {
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${meta.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  }
  let offset = 0;
  const dataChunks: Uint8Array[] = [];
  for (const { name, t } of list) {
    const raw = bytesOf(t.data);
    const end = offset + raw.length;
    parts.push(`${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
    if (LITTLE_ENDIAN) {
      dataChunks.push(raw);
    } else {
      const copy = raw.slice();
      swapBytes(copy, DTYPES[t.dtype].size);
      dataChunks.push(copy);
    }
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return { chunks: [head, ...dataChunks.filter((c) => c.length > 0)], size: head.length + offset };
}

/**
 * Encodes tensors (and optional metadata) as a safetensors file, byte-identical to what the
 * reference writer produces for the same input (metadata keys sorted; see the module notes).
 *
 * @param tensors tensor name -> {dtype, shape, data}; the name `__metadata__` is reserved.
 * @param metadata optional string -> string map stored as `__metadata__` (omitted when empty).
 * @throws SparsennTypeError (`ERR_TYPE`) for a wrong argument type: unknown dtype, a typed array
 *   that does not match the dtype, a non-string metadata value, a BOOL value other than 0/1, a
 *   string that is not well-formed Unicode.
 * @throws ShapeError (`ERR_SHAPE`) when a shape entry is not a non-negative integer or
 *   `data.length` does not equal the product of the shape.
 */
export function encodeSafetensors(tensors: Record<string, SafetensorsTensor>, metadata?: Record<string, string>): Uint8Array {
  const p = prepare(tensors, metadata);
  const out = new Uint8Array(p.size);
  let at = 0;
  for (const c of p.chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Files

function checkPath(path: unknown, fn: string): string {
  if (typeof path !== 'string' || path.length === 0) throw new SparsennTypeError('ERR_TYPE', `${fn}: path must be a non-empty string, got ${describe(path)}`);
  return path;
}

function fileEnded(): FormatError {
  return formatError('file ended before the data its header describes (was it changed while being read?)');
}

function readFullySync(fd: number, dst: Uint8Array, position: number): void {
  let done = 0;
  while (done < dst.length) {
    const got = readSync(fd, dst, done, Math.min(dst.length - done, IO_CHUNK), position + done);
    if (got === 0) throw fileEnded();
    done += got;
  }
}

async function readFully(fh: FileHandle, dst: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < dst.length) {
    const { bytesRead } = await fh.read(dst, done, Math.min(dst.length - done, IO_CHUNK), position + done);
    if (bytesRead === 0) throw fileEnded();
    done += bytesRead;
  }
}

/**
 * Reads a safetensors file synchronously. The header is read and validated first, then each
 * tensor is read straight into its own typed array (the whole file is never held twice).
 *
 * @throws FormatError (`ERR_FORMAT`) when the file is not a valid safetensors file.
 * @throws SparsennTypeError (`ERR_TYPE`) when `path` is not a non-empty string.
 * Errors of the file system (ENOENT, EACCES, …) are passed through unchanged.
 */
export function loadSafetensorsSync(path: string): SafetensorsFile {
  checkPath(path, 'loadSafetensorsSync');
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const prefix = new Uint8Array(Math.min(8, size));
    readFullySync(fd, prefix, 0);
    const n = headerLength(prefix, size);
    const header = new Uint8Array(n);
    readFullySync(fd, header, 8);
    const layout = parseLayout(header, size - 8 - n);
    return assemble(layout, (e, dst) => readFullySync(fd, dst, 8 + n + e.begin));
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a safetensors file without blocking the event loop. Same checks and result as
 * {@link loadSafetensorsSync}.
 */
export async function loadSafetensors(path: string): Promise<SafetensorsFile> {
  checkPath(path, 'loadSafetensors');
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const prefix = new Uint8Array(Math.min(8, size));
    await readFully(fh, prefix, 0);
    const n = headerLength(prefix, size);
    const header = new Uint8Array(n);
    await readFully(fh, header, 8);
    const layout = parseLayout(header, size - 8 - n);
    const tensors: Record<string, SafetensorsTensor> = {};
    for (const e of layout.entries) {
      const data = allocate(e);
      await readFully(fh, bytesOf(data), 8 + n + e.begin);
      setOwn(tensors, e.name, finishTensor(e, data));
    }
    return { tensors, metadata: layout.metadata };
  } finally {
    await fh.close();
  }
}

/**
 * Writes a safetensors file atomically: the bytes go to a temporary file in the same directory
 * (`<path>.tmp-<pid>-<random>`), which is fsynced and then renamed over `path`. A failed save
 * (bad arguments, disk full, …) leaves any previous file at `path` untouched and removes the
 * temporary file. An existing file's permission bits are kept. Arguments are validated, and the
 * header built, before any file is created. Takes the same arguments and throws the same errors
 * as {@link encodeSafetensors}, plus file-system errors.
 */
export function saveSafetensorsSync(path: string, tensors: Record<string, SafetensorsTensor>, metadata?: Record<string, string>): void {
  checkPath(path, 'saveSafetensorsSync');
  writeFileAtomicSync(path, prepare(tensors, metadata).chunks);
}

/**
 * Writes a safetensors file atomically without blocking the event loop; same behaviour as
 * {@link saveSafetensorsSync}.
 */
export async function saveSafetensors(path: string, tensors: Record<string, SafetensorsTensor>, metadata?: Record<string, string>): Promise<void> {
  checkPath(path, 'saveSafetensors');
  await writeFileAtomic(path, prepare(tensors, metadata).chunks);
}
