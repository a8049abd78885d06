/**
 * IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
 *
 * Layout: two zero bytes, a dtype byte (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64),
 * a byte with the number of dimensions; then each dimension as a big-endian uint32; then the
 * elements, row-major, big-endian. A file is gzip-compressed when it starts with 1f 8b.
 *
 * The reader trusts nothing in a header: the element count is checked against the bytes actually
 * present before anything is allocated, and a gzip stream is inflated no further than the header
 * says it should be (a short header or a zip bomb gives a FormatError, never a huge allocation).
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { constants as bufferConstants } from 'node:buffer';
import { promisify } from 'node:util';
import { constants as zlibConstants, gunzip, gunzipSync, gzipSync } from 'node:zlib';
import { FormatError, ShapeError, SparsennTypeError } from '../../errors.js';

const gunzipAsync = promisify(gunzip);

/** The element types of IDX. */
export type IdxDtype = 'u8' | 'i8' | 'i16' | 'i32' | 'f32' | 'f64';

/** The typed array that holds each IDX element type. */
export interface IdxDataTypes {
  u8: Uint8Array;
  i8: Int8Array;
  i16: Int16Array;
  i32: Int32Array;
  f32: Float32Array;
  f64: Float64Array;
}

/** Any of the typed arrays that hold IDX data. */
export type IdxData = IdxDataTypes[IdxDtype];

/** A decoded IDX array: `data` is row-major, `data.length` equals the product of `shape`. */
export type IdxArray = { [D in IdxDtype]: { dtype: D; shape: number[]; data: IdxDataTypes[D] } }[IdxDtype];

interface DtypeInfo {
  code: number;
  size: number;
  ctor: new (length: number) => IdxData;
}

const DTYPES: Record<IdxDtype, DtypeInfo> = {
  u8: { code: 0x08, size: 1, ctor: Uint8Array },
  i8: { code: 0x09, size: 1, ctor: Int8Array },
  i16: { code: 0x0b, size: 2, ctor: Int16Array },
  i32: { code: 0x0c, size: 4, ctor: Int32Array },
  f32: { code: 0x0d, size: 4, ctor: Float32Array },
  f64: { code: 0x0e, size: 8, ctor: Float64Array },
};

const BY_CODE = new Map<number, IdxDtype>(Object.entries(DTYPES).map(([name, info]): [number, IdxDtype] => [info.code, name as IdxDtype]));

/** deflate cannot expand data by more than 1032:1; beyond that (plus slack) a stream is short. */
const MAX_INFLATE_RATIO = 1032;
/** The largest header: 4 bytes + 255 dimensions of 4 bytes. */
const MAX_HEADER = 4 + 4 * 255;

interface Header {
  dtype: IdxDtype;
  shape: number[];
  /** Bytes of header. */
  offset: number;
  /** Bytes of data the header promises. */
  dataBytes: number;
}

function where(source: string | undefined): string {
  return source === undefined ? 'idx' : `idx: ${source}`;
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Parses the header in `bytes` (which may hold only a prefix of the file). Returns null when the
 * prefix is too short to hold the whole header and `complete` is false.
 */
function parseHeader(bytes: Uint8Array, complete: boolean, source: string | undefined): Header | null {
  const at = where(source);
  if (bytes.length < 4) {
    if (!complete) return null;
    throw new FormatError('ERR_FORMAT', `${at}: truncated header: ${bytes.length} bytes, expected at least 4 (magic, dtype, ndims)`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const hex = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new FormatError('ERR_FORMAT', `${at}: bad magic ${hex}: expected the first two bytes to be 00 00 (an IDX file), or 1f 8b (gzip)`);
  }
  const dtype = BY_CODE.get(bytes[2]);
  if (dtype === undefined) {
    throw new FormatError(
      'ERR_FORMAT',
      `${at}: unknown dtype byte 0x${bytes[2].toString(16).padStart(2, '0')}: expected 0x08 (u8), 0x09 (i8), 0x0b (i16), 0x0c (i32), 0x0d (f32) or 0x0e (f64)`,
    );
  }
  const ndims = bytes[3];
  const offset = 4 + 4 * ndims;
  if (bytes.length < offset) {
    if (!complete) return null;
    throw new FormatError('ERR_FORMAT', `${at}: truncated header: ${bytes.length} bytes, expected ${offset} for ${ndims} dimensions`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, offset);
  const shape: number[] = [];
  let count = 1;
  for (let d = 0; d < ndims; d++) {
    const n = view.getUint32(4 + 4 * d, false);
    shape.push(n);
    count *= n; // exact: each factor < 2^32 and the running product is checked below
    if (count > Number.MAX_SAFE_INTEGER) {
      throw new FormatError('ERR_FORMAT', `${at}: dimensions [${shape.join(', ')}${d + 1 < ndims ? ', …' : ''}] overflow: expected an element count below 2^53`);
    }
  }
  // Any count beyond the largest allocatable buffer is also beyond any real file.
  const dataBytes = count * DTYPES[dtype].size;
  if (dataBytes > bufferConstants.MAX_LENGTH) {
    throw new FormatError(
      'ERR_FORMAT',
      `${at}: dimensions [${shape.join(', ')}] of ${dtype} need ${dataBytes} bytes: expected at most ${bufferConstants.MAX_LENGTH} (the largest buffer)`,
    );
  }
  return { dtype, shape, offset, dataBytes };
}

/** Checks that the decompressed or plain file is exactly header + data. */
function checkLength(header: Header, length: number, source: string | undefined): void {
  const expected = header.offset + header.dataBytes;
  const what = `[${header.shape.join(', ')}] of ${header.dtype} (${header.dataBytes} bytes of data after a ${header.offset}-byte header)`;
  if (length < expected) {
    throw new FormatError('ERR_FORMAT', `${where(source)}: truncated data: ${length} bytes in all, expected ${expected} for ${what}`);
  }
  if (length > expected) {
    throw new FormatError(
      'ERR_FORMAT',
      `${where(source)}: ${length - expected} bytes of trailing garbage: ${length} bytes in all, expected exactly ${expected} for ${what}`,
    );
  }
}

/**
 * Decodes the big-endian elements of a checked, complete file into fresh arrays (a copy even for
 * bytes: a Buffer from fs or zlib may be a slice of a shared pool).
 */
function decodeData(header: Header, bytes: Uint8Array): IdxArray {
  const { dtype, shape, offset } = header;
  const info = DTYPES[dtype];
  const n = header.dataBytes / info.size;
  const body = bytes.subarray(offset, offset + header.dataBytes);
  switch (dtype) {
    case 'u8':
      return { dtype, shape, data: new Uint8Array(body) }; // a copy (Buffer#slice would be a view)
    case 'i8':
      return { dtype, shape, data: new Int8Array(body.buffer, body.byteOffset, n).slice() };
    default: {
      const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
      switch (dtype) {
        case 'i16': {
          const data = new Int16Array(n);
          for (let i = 0; i < n; i++) data[i] = view.getInt16(2 * i, false);
          return { dtype, shape, data };
        }
        case 'i32': {
          const data = new Int32Array(n);
          for (let i = 0; i < n; i++) data[i] = view.getInt32(4 * i, false);
          return { dtype, shape, data };
        }
        case 'f32': {
          const data = new Float32Array(n);
          for (let i = 0; i < n; i++) data[i] = view.getFloat32(4 * i, false);
          return { dtype, shape, data };
        }
        case 'f64': {
          const data = new Float64Array(n);
          for (let i = 0; i < n; i++) data[i] = view.getFloat64(8 * i, false);
          return { dtype, shape, data };
        }
      }
    }
  }
}

function zlibFailure(cause: unknown, header: Header, source: string | undefined): FormatError {
  const e = cause as NodeJS.ErrnoException;
  const expected = header.offset + header.dataBytes;
  const err =
    e?.code === 'ERR_BUFFER_TOO_LARGE'
      ? new FormatError(
          'ERR_FORMAT',
          `${where(source)}: trailing garbage: the gzip stream inflates to more than ${expected} bytes, expected exactly ${expected} for [${header.shape.join(', ')}] of ${header.dtype}`,
        )
      : new FormatError('ERR_FORMAT', `${where(source)}: corrupt or truncated gzip stream (${e?.message ?? String(cause)}): expected a complete gzip file`);
  (err as Error & { cause?: unknown }).cause = cause;
  return err;
}

/**
 * Reads the header of a gzip file by inflating growing prefixes of the compressed bytes (each
 * bounded), so that a hostile stream costs at most a few MiB before its header is checked.
 */
function gzipHeader(bytes: Uint8Array, source: string | undefined): Header {
  for (let take = 4096; ; take *= 4) {
    const all = take >= bytes.length;
    let prefix: Buffer;
    try {
      // Z_SYNC_FLUSH: a cut-off prefix inflates to what it holds instead of failing. The output
      // bound is deflate's own limit for this many input bytes, so it only stops a broken zlib.
      prefix = gunzipSync(bytes.subarray(0, Math.min(take, bytes.length)), {
        finishFlush: zlibConstants.Z_SYNC_FLUSH,
        maxOutputLength: MAX_HEADER + 2 * MAX_INFLATE_RATIO * take,
      });
    } catch (cause) {
      const err = new FormatError(
        'ERR_FORMAT',
        `${where(source)}: corrupt gzip stream (${(cause as Error)?.message ?? String(cause)}): expected a gzip-compressed IDX file`,
      );
      (err as Error & { cause?: unknown }).cause = cause;
      throw err;
    }
    const header = parseHeader(prefix, all || prefix.length >= MAX_HEADER, source);
    if (header !== null) {
      const expected = header.offset + header.dataBytes;
      // A stream can never inflate beyond ~1032x its compressed size: a header promising more
      // than that is lying (truncated file); say so before inflating anything.
      if (expected > MAX_INFLATE_RATIO * bytes.length + 4096) {
        throw new FormatError(
          'ERR_FORMAT',
          `${where(source)}: truncated data: a ${bytes.length}-byte gzip stream cannot hold the ${expected} bytes that [${header.shape.join(', ')}] of ${header.dtype} need: expected a larger file`,
        );
      }
      return header;
    }
    if (all) {
      // unreachable: parseHeader with complete = true either returns or throws
      throw new FormatError('ERR_FORMAT', `${where(source)}: truncated header: expected a complete IDX header`);
    }
  }
}

function inflateOptions(header: Header): { maxOutputLength: number } {
  // One byte of room beyond the promised size, so that trailing data is detected as "too large".
  return { maxOutputLength: Math.min(header.offset + header.dataBytes + 1, bufferConstants.MAX_LENGTH) };
}

function readSync(bytes: Uint8Array, source: string | undefined): IdxArray {
  if (!(bytes instanceof Uint8Array)) {
    throw new SparsennTypeError('ERR_TYPE', `${where(source)}: expected the file contents as a Uint8Array, got ${Object.prototype.toString.call(bytes)}`);
  }
  if (isGzip(bytes)) {
    const header = gzipHeader(bytes, source);
    let plain: Buffer;
    try {
      plain = gunzipSync(bytes, inflateOptions(header));
    } catch (cause) {
      throw zlibFailure(cause, header, source);
    }
    checkLength(header, plain.length, source);
    return decodeData(header, plain);
  }
  const header = parseHeader(bytes, true, source) as Header;
  checkLength(header, bytes.length, source);
  return decodeData(header, bytes);
}

async function readAsync(bytes: Uint8Array, source: string): Promise<IdxArray> {
  if (!isGzip(bytes)) return readSync(bytes, source);
  const header = gzipHeader(bytes, source); // small, bounded work
  let plain: Buffer;
  try {
    plain = await gunzipAsync(bytes, inflateOptions(header)); // the bulk, off the event loop
  } catch (cause) {
    throw zlibFailure(cause, header, source);
  }
  checkLength(header, plain.length, source);
  return decodeData(header, plain);
}

/**
 * Decodes an IDX file held in memory, gzip-compressed (detected by its 1f 8b magic) or plain.
 * The result never shares memory with `bytes`.
 * @throws {FormatError} ERR_FORMAT for a bad magic, an unknown dtype, a truncated header or data,
 *   trailing bytes, or dimensions whose product overflows; the message says what was expected.
 * @throws {SparsennTypeError} ERR_TYPE when `bytes` is not a Uint8Array.
 */
export function readIdx(bytes: Uint8Array): IdxArray {
  return readSync(bytes, undefined);
}

/**
 * Reads and decodes an IDX file (plain or gzip). The inflation runs on libuv's thread pool.
 * @throws {FormatError} ERR_FORMAT as {@link readIdx}, with the path in the message; file-system
 *   errors (ENOENT, …) are passed through.
 */
export async function readIdxFile(path: string): Promise<IdxArray> {
  return readAsync(await readFile(path), path);
}

/** The synchronous {@link readIdxFile}. */
export function readIdxFileSync(path: string): IdxArray {
  return readSync(readFileSync(path), path);
}

export interface EncodeIdxOptions {
  /** Compress with gzip (level 9). Default false. */
  gzip?: boolean;
}

/**
 * Encodes an array as an IDX file (big-endian), optionally gzip-compressed. The inverse of
 * {@link readIdx}.
 * @throws {SparsennTypeError} ERR_TYPE for an unknown dtype or a `data` array of the wrong type.
 * @throws {ShapeError} ERR_SHAPE when `shape` is not a list of at most 255 uint32 dimensions
 *   whose product is `data.length`.
 */
export function encodeIdx(array: IdxArray, options: EncodeIdxOptions = {}): Uint8Array {
  const { dtype, shape, data } = array;
  if (!Object.prototype.hasOwnProperty.call(DTYPES, dtype)) {
    throw new SparsennTypeError('ERR_TYPE', `encodeIdx: unknown dtype ${String(dtype)}: expected one of ${Object.keys(DTYPES).join(', ')}`);
  }
  const info = DTYPES[dtype];
  if (!(data instanceof info.ctor)) {
    throw new SparsennTypeError('ERR_TYPE', `encodeIdx: dtype ${dtype} needs data in a ${info.ctor.name}, got ${Object.prototype.toString.call(data)}`);
  }
  if (!Array.isArray(shape) || shape.length > 255) {
    throw new ShapeError('ERR_SHAPE', `encodeIdx: shape must be an array of at most 255 dimensions, got ${String(shape)}`);
  }
  let count = 1;
  for (const n of shape) {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
      throw new ShapeError('ERR_SHAPE', `encodeIdx: shape [${shape.join(', ')}] has dimension ${n}: expected integers in [0, 2^32)`);
    }
    count *= n;
  }
  if (count !== data.length) {
    throw new ShapeError('ERR_SHAPE', `encodeIdx: shape [${shape.join(', ')}] holds ${count} elements but data has ${data.length}`);
  }
  const offset = 4 + 4 * shape.length;
  const out = new Uint8Array(offset + count * info.size);
  const view = new DataView(out.buffer);
  out[2] = info.code;
  out[3] = shape.length;
  shape.forEach((n, d) => view.setUint32(4 + 4 * d, n, false));
  const n = data.length;
  switch (dtype) {
    case 'u8':
      out.set(data as Uint8Array, offset);
      break;
    case 'i8':
      out.set(new Uint8Array(data.buffer, data.byteOffset, n), offset);
      break;
    case 'i16':
      for (let i = 0; i < n; i++) view.setInt16(offset + 2 * i, data[i], false);
      break;
    case 'i32':
      for (let i = 0; i < n; i++) view.setInt32(offset + 4 * i, data[i], false);
      break;
    case 'f32':
      for (let i = 0; i < n; i++) view.setFloat32(offset + 4 * i, data[i], false);
      break;
    case 'f64':
      for (let i = 0; i < n; i++) view.setFloat64(offset + 8 * i, data[i], false);
      break;
  }
  if (!options.gzip) return out;
  const z = gzipSync(out, { level: 9 });
  return new Uint8Array(z.buffer, z.byteOffset, z.byteLength);
}
