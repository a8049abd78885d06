/**
 * safetensors: the reader against a file written by an independent Python implementation
 * (test/fixtures/safetensors/make_fixtures.py), the writer byte-for-byte against the same file and
 * the reference writer's own test vectors, exact round trips of every dtype, atomic saves, and a
 * FormatError (never a crash or hang) for each kind of malformed file.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError, ShapeError, SparsennError, SparsennTypeError, type ErrorCode } from '../../lib/errors.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  loadSafetensors,
  loadSafetensorsSync,
  saveSafetensors,
  saveSafetensorsSync,
  type SafetensorsData,
  type SafetensorsDtype,
  type SafetensorsTensor,
} from '../../lib/io/safetensors.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/safetensors');

type ErrorClass = abstract new (...args: never[]) => SparsennError;

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

async function rejected(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return undefined;
}

function expectError(err: unknown, cls: ErrorClass, code: ErrorCode, label: string, message?: RegExp): void {
  expect(err, `${label}: expected ${code}, got ${String(err)}`).toBeInstanceOf(cls);
  expect((err as SparsennError).code, label).toBe(code);
  if (message) expect((err as SparsennError).message, label).toMatch(message);
}

const enc = new TextEncoder();

/** A file from a header string (padded like the reference) and raw data bytes. */
function fileOf(header: string, data: ArrayLike<number> = [], pad = true): Uint8Array {
  let h = enc.encode(header);
  if (pad && h.length % 8 !== 0) h = enc.encode(header + ' '.repeat(8 - (h.length % 8)));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** Bytes of a typed array (bit-exact comparisons, NaN payloads and -0 included). */
const bytes = (d: SafetensorsData) => Array.from(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));

function expectSameTensors(a: Record<string, SafetensorsTensor>, b: Record<string, SafetensorsTensor>): void {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  for (const name of Object.keys(a)) {
    expect(b[name].dtype, name).toBe(a[name].dtype);
    expect(b[name].shape, name).toEqual(a[name].shape);
    expect(b[name].data.constructor, name).toBe(a[name].data.constructor);
    expect(bytes(b[name].data), name).toEqual(bytes(a[name].data));
  }
}

// ---------------------------------------------------------------------------------------------
// Fixture from the independent Python writer

interface Reference {
  metadata: Record<string, string>;
  order: string[];
  tensors: Record<string, { dtype: SafetensorsDtype; shape: number[]; values: Array<number | string> }>;
}

const reference = JSON.parse(readFileSync(join(FIXTURES, 'reference.json'), 'utf8')) as Reference;
const referenceBytes = new Uint8Array(readFileSync(join(FIXTURES, 'reference.safetensors')));

function typedFromValues(dtype: SafetensorsDtype, values: Array<number | string>): SafetensorsData {
  switch (dtype) {
    case 'F32':
      return Float32Array.from(values as number[]);
    case 'F64':
      return Float64Array.from(values as number[]);
    case 'I64':
      return BigInt64Array.from(values.map((v) => BigInt(v as string)));
    case 'U64':
      return BigUint64Array.from(values.map((v) => BigInt(v as string)));
    case 'I32':
      return Int32Array.from(values as number[]);
    case 'U32':
      return Uint32Array.from(values as number[]);
    case 'I16':
      return Int16Array.from(values as number[]);
    case 'I8':
      return Int8Array.from(values as number[]);
    case 'U16':
    case 'F16':
    case 'BF16':
      return Uint16Array.from(values as number[]);
    case 'U8':
    case 'BOOL':
      return Uint8Array.from(values as number[]);
  }
}

function referenceTensors(): Record<string, SafetensorsTensor> {
  const out: Record<string, SafetensorsTensor> = {};
  for (const [name, t] of Object.entries(reference.tensors)) out[name] = { dtype: t.dtype, shape: t.shape, data: typedFromValues(t.dtype, t.values) };
  return out;
}

describe('safetensors: the Python-written reference file', () => {
  it('is a small committed fixture', () => {
    expect(referenceBytes.length).toBeLessThan(5000);
    expect(Object.keys(reference.tensors)).toHaveLength(14);
  });

  it('decodes to the values in reference.json', () => {
    const { tensors, metadata } = decodeSafetensors(referenceBytes);
    expect(metadata).toEqual(reference.metadata);
    expect(Object.keys(tensors)).toEqual(reference.order); // file (offset) order
    for (const [name, want] of Object.entries(reference.tensors)) {
      const got = tensors[name];
      expect(got.dtype, name).toBe(want.dtype);
      expect(got.shape, name).toEqual(want.shape);
      const values = Array.from(got.data as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? v.toString() : v));
      expect(values, name).toEqual(want.values); // toEqual tells -0 from 0
    }
    expect(tensors['step'].shape).toEqual([]);
    expect(tensors['step'].data).toEqual(new Uint8Array([7]));
    expect(tensors['empty'].data.length).toBe(0);
    expect(Object.is(tensors['fc1.bias'].data[3], -0)).toBe(true);
  });

  it('our encoder writes the same bytes (order, JSON, padding, data)', () => {
    const ours = encodeSafetensors(referenceTensors(), reference.metadata);
    expect(ours.length).toBe(referenceBytes.length);
    expect(Buffer.from(ours).equals(Buffer.from(referenceBytes))).toBe(true);
  });

  it('decode -> encode reproduces the file', () => {
    const { tensors, metadata } = decodeSafetensors(referenceBytes);
    expect(Buffer.from(encodeSafetensors(tensors, metadata)).equals(Buffer.from(referenceBytes))).toBe(true);
  });

  it('loads from disk, sync and async', async () => {
    const path = join(FIXTURES, 'reference.safetensors');
    const a = loadSafetensorsSync(path);
    const b = await loadSafetensors(path);
    const c = decodeSafetensors(referenceBytes);
    expectSameTensors(c.tensors, a.tensors);
    expectSameTensors(c.tensors, b.tensors);
    expect(a.metadata).toEqual(reference.metadata);
    expect(b.metadata).toEqual(reference.metadata);
  });
});

describe('safetensors: the reference writer test vectors', () => {
  // From safetensors/src/tensor.rs (test_empty, test_serialization, test_serialization_forced_alignement).
  it('no tensors', () => {
    expect(Array.from(encodeSafetensors({}))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    const withMeta = encodeSafetensors({}, { framework: 'pt' });
    expect(Array.from(withMeta.subarray(0, 8))).toEqual([40, 0, 0, 0, 0, 0, 0, 0]);
    expect(Buffer.from(withMeta.subarray(8)).toString()).toBe('{"__metadata__":{"framework":"pt"}}     ');
    expect(decodeSafetensors(withMeta)).toEqual({ tensors: {}, metadata: { framework: 'pt' } });
  });

  it('one F32 tensor, with and without padding', () => {
    const data = new Float32Array([0, 1, 2, 3, 4, 5]);
    const a = encodeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data } });
    expect(a).toEqual(fileOf('{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}', bytes(data)));
    expect(a[0]).toBe(64);
    const b = encodeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data } });
    expect(b[0]).toBe(72);
    expect(Buffer.from(b.subarray(8, 80)).toString()).toBe('{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ');
  });

  it('sorts by dtype alignment (enum order) descending, then by code point', () => {
    const t = (dtype: SafetensorsDtype, data: SafetensorsData): SafetensorsTensor => ({ dtype, shape: [data.length], data });
    const out = encodeSafetensors({
      b: t('F64', new Float64Array(1)),
      a: t('I64', new BigInt64Array(1)),
      z: t('U8', new Uint8Array(1)),
      '\u{1F600}': t('F32', new Float32Array(1)),
      '\uFF21': t('F32', new Float32Array(1)),
      B: t('F32', new Float32Array(1)),
    });
    expect(Object.keys(decodeSafetensors(out).tensors)).toEqual(['a', 'b', 'B', '\uFF21', '\u{1F600}', 'z']);
  });

  it('pads the header so data starts 8-byte aligned, for any name length', () => {
    for (let len = 0; len < 20; len++) {
      const out = encodeSafetensors({ ['x'.repeat(len)]: { dtype: 'U8', shape: [1], data: new Uint8Array([1]) } });
      const n = Number(new DataView(out.buffer).getBigUint64(0, true));
      expect((8 + n) % 8).toBe(0);
      expect(out.length).toBe(8 + n + 1);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Round trips

function f32Bits(...bits: number[]): Float32Array {
  return new Float32Array(new Uint32Array(bits).buffer);
}
function f64Bits(...bits: bigint[]): Float64Array {
  return new Float64Array(new BigUint64Array(bits).buffer);
}

const everyDtype: Record<string, SafetensorsTensor> = {
  f32: { dtype: 'F32', shape: [2, 4], data: f32Bits(0x7fc00000, 0x7fc00001, 0xffffffff, 0x80000000, 0x7f800000, 0xff800000, 0x00000001, 0x3f800000) },
  f64: { dtype: 'F64', shape: [6], data: f64Bits(0x7ff8000000000001n, 0xfff0000000000000n, 0x7ff0000000000000n, 0x8000000000000000n, 1n, 0x7ff4000000000000n) },
  i64: { dtype: 'I64', shape: [3], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, -1n]) },
  u64: { dtype: 'U64', shape: [2], data: new BigUint64Array([2n ** 64n - 1n, 2n ** 53n + 1n]) },
  i32: { dtype: 'I32', shape: [2], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1]) },
  u32: { dtype: 'U32', shape: [1, 2], data: new Uint32Array([2 ** 32 - 1, 0]) },
  i16: { dtype: 'I16', shape: [2], data: new Int16Array([-32768, 32767]) },
  u16: { dtype: 'U16', shape: [2], data: new Uint16Array([65535, 1]) },
  f16: { dtype: 'F16', shape: [2], data: new Uint16Array([0x7e01, 0x8000]) },
  bf16: { dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0xffff]) },
  i8: { dtype: 'I8', shape: [2], data: new Int8Array([-128, 127]) },
  u8: { dtype: 'U8', shape: [], data: new Uint8Array([255]) },
  bool: { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
  none: { dtype: 'F64', shape: [0], data: new Float64Array(0) },
  wide: { dtype: 'I32', shape: [3, 0, 7], data: new Int32Array(0) },
};

describe('safetensors: round trips', () => {
  it('every dtype, bit-exact (NaN payloads, -0, infinities, denormals)', () => {
    const out = decodeSafetensors(encodeSafetensors(everyDtype, { a: 'b' }));
    expectSameTensors(everyDtype, out.tensors);
    expect(out.metadata).toEqual({ a: 'b' });
  });

  it('decodes from an unaligned view and copies into fresh aligned arrays', () => {
    const file = encodeSafetensors(everyDtype);
    for (const shift of [1, 3, 5]) {
      const host = new Uint8Array(file.length + shift);
      host.set(file, shift);
      const view = host.subarray(shift);
      const { tensors } = decodeSafetensors(view);
      expectSameTensors(everyDtype, tensors);
      for (const t of Object.values(tensors)) {
        expect(t.data.buffer).not.toBe(host.buffer);
        expect(t.data.byteOffset).toBe(0);
      }
    }
  });

  it('reads tensors whose offsets are not multiples of the element size', () => {
    // A 3-byte U8 tensor first puts the F32 and F64 at odd offsets (the reference orders differently, but any tiling is valid).
    const f32 = new Float32Array([1.5, -0]);
    const f64 = new Float64Array([Math.PI]);
    const data = [7, 8, 9, ...bytes(f32), ...bytes(f64)];
    const header = '{"u":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"f":{"dtype":"F32","shape":[2],"data_offsets":[3,11]},"d":{"dtype":"F64","shape":[1],"data_offsets":[11,19]}}';
    const { tensors } = decodeSafetensors(fileOf(header, data, false));
    expect(tensors['u'].data).toEqual(new Uint8Array([7, 8, 9]));
    expect(bytes(tensors['f'].data)).toEqual(bytes(f32));
    expect(tensors['d'].data).toEqual(f64);
  });

  it('accepts an unpadded header, any key order, ignores unknown entry fields', () => {
    const header = '{"t":{"data_offsets":[0,2],"extra":[1],"shape":[2],"dtype":"I8"},"__metadata__":{}}';
    const { tensors, metadata } = decodeSafetensors(fileOf(header, [1, 255], false));
    expect(tensors['t']).toEqual({ dtype: 'I8', shape: [2], data: new Int8Array([1, -1]) });
    expect(metadata).toEqual({});
  });

  it('names such as __proto__ are stored as plain data', () => {
    const tensors = JSON.parse('{"__proto__": 1}') as Record<string, unknown>;
    tensors['__proto__'] = { dtype: 'U8', shape: [1], data: new Uint8Array([3]) };
    const out = decodeSafetensors(encodeSafetensors(tensors as Record<string, SafetensorsTensor>, JSON.parse('{"__proto__":"m"}') as Record<string, string>));
    expect(Object.keys(out.tensors)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(out.tensors)).toBe(Object.prototype);
    expect(out.tensors['__proto__'].data).toEqual(new Uint8Array([3]));
    expect(Object.keys(out.metadata)).toEqual(['__proto__']);
  });

  it('property: random tensors and metadata round-trip and re-encode identically', () => {
    const dtypes = ['BOOL', 'U8', 'I8', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64'] as const;
    const size: Record<SafetensorsDtype, number> = { BOOL: 1, U8: 1, I8: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8 };
    const tensorArb = fc
      .record({ dtype: fc.constantFrom(...dtypes), shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }) })
      .chain(({ dtype, shape }) => {
        const n = shape.reduce((a, b) => a * b, 1);
        return fc.uint8Array({ minLength: n * size[dtype], maxLength: n * size[dtype] }).map((raw): SafetensorsTensor => {
          if (dtype === 'BOOL') raw = raw.map((b) => b & 1);
          const data = typedFromValues(dtype, []).constructor as new (b: ArrayBuffer) => SafetensorsData;
          return { dtype, shape, data: new data(raw.slice().buffer) };
        });
      });
    const nameArb = fc.string({ unit: 'binary', maxLength: 8 }).filter((s) => s !== '__metadata__');
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(nameArb, tensorArb), { maxLength: 6, selector: ([name]) => name }),
        fc.option(fc.array(fc.tuple(fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 10 })), { maxLength: 3 }), { nil: undefined }),
        (entries, meta) => {
          const tensors = Object.fromEntries(entries);
          const metadata = meta === undefined ? undefined : Object.fromEntries(meta);
          const file = encodeSafetensors(tensors, metadata);
          const back = decodeSafetensors(file);
          expectSameTensors(tensors, back.tensors);
          expect(back.metadata).toEqual(metadata ?? {});
          expect(Buffer.from(encodeSafetensors(back.tensors, back.metadata)).equals(Buffer.from(file))).toBe(true);
        },
      ),
      { seed: 20240611, numRuns: 100 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Files and atomic saves

describe('safetensors: saving', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sparsenn-safetensors-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const good = { w: { dtype: 'F32' as const, shape: [2], data: new Float32Array([1, 2]) } };
  const bad = { w: { dtype: 'BOOL' as const, shape: [2], data: new Uint8Array([1, 2]) } };

  it('save/load round trip, sync and async, replacing the previous file', async () => {
    const p = join(dir, 'rt.safetensors');
    saveSafetensorsSync(p, everyDtype, { k: 'v' });
    expect(readFileSync(p)).toEqual(Buffer.from(encodeSafetensors(everyDtype, { k: 'v' })));
    expectSameTensors(everyDtype, loadSafetensorsSync(p).tensors);
    await saveSafetensors(p, good);
    const back = await loadSafetensors(p);
    expectSameTensors(good, back.tensors);
    expect(back.metadata).toEqual({});
    expect(readdirSync(dir)).toEqual(['rt.safetensors']);
  });

  it('keeps the permission bits of the file it replaces', async () => {
    if (process.platform === 'win32') return;
    const p = join(dir, 'mode.safetensors');
    saveSafetensorsSync(p, good);
    chmodSync(p, 0o640);
    saveSafetensorsSync(p, good);
    expect(statSync(p).mode & 0o777).toBe(0o640);
    chmodSync(p, 0o600);
    await saveSafetensors(p, good);
    expect(statSync(p).mode & 0o777).toBe(0o600);
    rmSync(p);
  });

  it('a save that fails on bad tensors leaves the old file intact and no temp file', async () => {
    const p = join(dir, 'keep.safetensors');
    saveSafetensorsSync(p, good);
    const before = readFileSync(p);
    expectError(caught(() => saveSafetensorsSync(p, bad)), SparsennTypeError, 'ERR_TYPE', 'sync');
    expectError(await rejected(saveSafetensors(p, bad)), SparsennTypeError, 'ERR_TYPE', 'async');
    expectError(caught(() => saveSafetensorsSync(p, { w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })), ShapeError, 'ERR_SHAPE', 'shape');
    expect(readFileSync(p)).toEqual(before);
    expect(readdirSync(dir).filter((f) => f.startsWith('keep'))).toEqual(['keep.safetensors']);
    rmSync(p);
  });

  it('a save that fails after the temp file is written removes it and keeps what was there', async () => {
    // The target is a directory, so the final rename fails (EISDIR) after the temp file exists.
    const target = join(dir, 'occupied');
    mkdirSync(target);
    writeFileSync(join(target, 'inside'), 'x');
    expect(caught(() => saveSafetensorsSync(target, good))).toBeInstanceOf(Error);
    expect(await rejected(saveSafetensors(target, good))).toBeInstanceOf(Error);
    expect(readdirSync(target)).toEqual(['inside']);
    expect(readdirSync(dir).filter((f) => f.startsWith('occupied'))).toEqual(['occupied']);
    rmSync(target, { recursive: true });
  });

  it.skipIf(process.platform === 'win32' || process.getuid?.() === 0)('a save into an unwritable directory fails and keeps the old file', async () => {
    const sub = join(dir, 'ro');
    mkdirSync(sub);
    const p = join(sub, 'm.safetensors');
    saveSafetensorsSync(p, good);
    const before = readFileSync(p);
    chmodSync(sub, 0o555);
    try {
      expect(caught(() => saveSafetensorsSync(p, everyDtype))).toBeInstanceOf(Error);
      expect(await rejected(saveSafetensors(p, everyDtype))).toBeInstanceOf(Error);
    } finally {
      chmodSync(sub, 0o755);
    }
    expect(readFileSync(p)).toEqual(before);
    expect(readdirSync(sub)).toEqual(['m.safetensors']);
  });

  it('bad paths are ERR_TYPE; missing files pass the fs error through', async () => {
    const anyPath = (v: unknown) => v as string;
    expectError(caught(() => saveSafetensorsSync(anyPath(42), good)), SparsennTypeError, 'ERR_TYPE', 'save');
    expectError(caught(() => loadSafetensorsSync(anyPath(''))), SparsennTypeError, 'ERR_TYPE', 'load');
    expectError(await rejected(loadSafetensors(anyPath(null))), SparsennTypeError, 'ERR_TYPE', 'load async');
    expect((caught(() => loadSafetensorsSync(join(dir, 'missing'))) as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(existsSync(join(dir, 'missing'))).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Malformed files

const T = (dtype: string, shape: unknown, offsets: unknown) => `{"dtype":"${dtype}","shape":${JSON.stringify(shape)},"data_offsets":${JSON.stringify(offsets)}}`;

function withLength(n: bigint, rest: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(8 + rest.length);
  new DataView(out.buffer).setBigUint64(0, n, true);
  out.set(rest, 8);
  return out;
}

const malformed: Array<[string, Uint8Array, RegExp]> = [
  ['empty file', new Uint8Array(0), /too short/],
  ['truncated to 4 bytes', referenceBytes.subarray(0, 4), /too short/],
  ['truncated inside the header', referenceBytes.subarray(0, 100), /past the end of the file/],
  ['truncated inside the data', referenceBytes.subarray(0, referenceBytes.length - 3), /past the end of the \d+-byte data buffer/],
  ['header length larger than the file', withLength(1000n, enc.encode('{}')), /past the end of the file/],
  ['header length 2^64 - 1', withLength(2n ** 64n - 1n, enc.encode('{}')), /exceeds the 100000000-byte limit/],
  ['header length just over 100 MB', withLength(100_000_001n, enc.encode('{}')), /limit/],
  ['header not UTF-8', fileOf('{"a\xff":1}').map((b, i, a) => (i === 11 ? 0xff : a[i])), /UTF-8/],
  ['header not JSON', fileOf('{"a": }'), /not valid JSON/],
  ['header with trailing garbage', fileOf('{} x'), /after the top-level value/],
  ['header JSON an array', fileOf('[]'), /must be a JSON object, got an array/],
  ['header JSON a string', fileOf('"hi"'), /must be a JSON object/],
  ['header empty', fileOf('', [], false), /not valid JSON/],
  ['unknown dtype', fileOf(`{"a":${T('F8_E4M3', [1], [0, 1])}}`, [0]), /unknown dtype 'F8_E4M3'/],
  ['dtype not a string', fileOf('{"a":{"dtype":4,"shape":[1],"data_offsets":[0,1]}}', [0]), /dtype/],
  ['missing dtype', fileOf('{"a":{"shape":[1],"data_offsets":[0,1]}}', [0]), /no "dtype"/],
  ['missing shape', fileOf('{"a":{"dtype":"U8","data_offsets":[0,1]}}', [0]), /"shape"/],
  ['missing offsets', fileOf('{"a":{"dtype":"U8","shape":[1]}}', [0]), /"data_offsets"/],
  ['three offsets', fileOf(`{"a":${T('U8', [1], [0, 1, 2])}}`, [0]), /"data_offsets"/],
  ['tensor entry not an object', fileOf('{"a":[1,2]}'), /must be an object/],
  ['negative shape', fileOf(`{"a":${T('U8', [-1], [0, 0])}}`), /shape\[0\] must be a non-negative integer/],
  ['fractional shape', fileOf(`{"a":${T('U8', [2.5], [0, 2])}}`, [0, 0]), /non-negative integer/],
  ['shape 2.0', fileOf('{"a":{"dtype":"U8","shape":[2.0],"data_offsets":[0,2]}}', [0, 0]), /non-negative integer/],
  ['shape 1e0', fileOf('{"a":{"dtype":"U8","shape":[1e0],"data_offsets":[0,1]}}', [0]), /non-negative integer/],
  ['shape as a string', fileOf(`{"a":${T('U8', ['1'], [0, 1])}}`, [0]), /non-negative integer/],
  ['shape past 2^53', fileOf('{"a":{"dtype":"U8","shape":[18446744073709551616],"data_offsets":[0,1]}}', [0]), /larger than 2\^53/],
  ['shape product overflows', fileOf(`{"a":${T('F64', [2 ** 40, 2 ** 40, 2 ** 40, 0], [0, 0])}}`), /overflows/],
  ['negative offset', fileOf(`{"a":${T('U8', [1], [-1, 0])}}`, [0]), /non-negative integer/],
  ['offsets overlapping', fileOf(`{"a":${T('U8', [2], [0, 2])},"b":${T('U8', [2], [1, 3])}}`, [0, 0, 0]), /overlapping tensor 'a'/],
  ['hole between tensors', fileOf(`{"a":${T('U8', [1], [0, 1])},"b":${T('U8', [1], [2, 3])}}`, [0, 0, 0]), /hole/],
  ['first tensor not at 0', fileOf(`{"a":${T('U8', [1], [1, 2])}}`, [0, 0]), /hole/],
  ['offsets past the end', fileOf(`{"a":${T('U8', [4], [0, 4])}}`, [0, 0]), /past the end of the 2-byte data buffer/],
  ['offsets huge', fileOf(`{"a":${T('U8', [1], [0, 9007199254740991])}}`, [0]), /past the end/],
  ['end before begin', fileOf(`{"a":${T('U8', [0], [1, 0])}}`, [0]), /end is before begin/],
  ['bytes left over after the last tensor', fileOf(`{"a":${T('U8', [1], [0, 1])}}`, [0, 0]), /cover only 1/],
  ['bytes with no tensor at all', fileOf('{}', [0]), /cover only 0/],
  [
    'length mismatch with shape',
    fileOf(`{"fc1.weight":${T('F32', [2, 2], [0, 12])}}`, new Array(12).fill(0)),
    /tensor 'fc1.weight' has data_offsets \[0, 12\] \(12 bytes\) but dtype F32 and shape \[2,2\] need 16 bytes/,
  ],
  ['BOOL value 2', fileOf(`{"m":${T('BOOL', [3], [0, 3])}}`, [1, 0, 2]), /BOOL tensor 'm' holds the byte 2 at element 2/],
  ['duplicate tensor names', fileOf(`{"a":${T('U8', [1], [0, 1])},"a":${T('U8', [1], [1, 2])}}`, [0, 0]), /duplicate key 'a'/],
  ['duplicate field in an entry', fileOf('{"a":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}}', [0]), /duplicate key 'dtype'/],
  ['duplicate metadata keys', fileOf('{"__metadata__":{"k":"1","k":"2"}}'), /duplicate key 'k'/],
  ['metadata with a number value', fileOf('{"__metadata__":{"k":1}}'), /value of 'k' must be a string/],
  ['metadata with a nested object', fileOf('{"__metadata__":{"k":{"x":"y"}}}'), /must be a string/],
  ['metadata an array', fileOf('{"__metadata__":["a"]}'), /must be an object of string values/],
  ['metadata null', fileOf('{"__metadata__":null}'), /must be an object/],
  ['deep nesting', fileOf(`{"__metadata__":${'['.repeat(100_000)}${']'.repeat(100_000)}}`), /nesting deeper/],
  ['lone surrogate escape', fileOf('{"\\ud800":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'), /surrogate/],
  ['raw control character', fileOf('{"a\nb":1}'), /control character/],
  ['unterminated string', fileOf('{"abc'), /unterminated/],
];

describe('safetensors: malformed files are FormatError ERR_FORMAT', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sparsenn-safetensors-bad-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(malformed)('%s', async (label, file, message) => {
    expectError(caught(() => decodeSafetensors(file)), FormatError, 'ERR_FORMAT', `${label} (decode)`, message);
    const p = join(dir, 'bad.safetensors');
    writeFileSync(p, file);
    expectError(caught(() => loadSafetensorsSync(p)), FormatError, 'ERR_FORMAT', `${label} (loadSync)`, message);
    expectError(await rejected(loadSafetensors(p)), FormatError, 'ERR_FORMAT', `${label} (load)`, message);
    expect((caught(() => decodeSafetensors(file)) as Error).message).toMatch(/^safetensors: /);
  });

  it('a valid hand-written header with zero-length tensors anywhere is accepted', () => {
    const header = `{"e1":${T('F32', [0], [0, 0])},"a":${T('U8', [1], [0, 1])},"e2":${T('I64', [5, 0], [1, 1])}}`;
    const { tensors } = decodeSafetensors(fileOf(header, [9]));
    expect(Object.keys(tensors).sort()).toEqual(['a', 'e1', 'e2']);
    expect(tensors['e2'].data).toEqual(new BigInt64Array(0));
  });

  it('not a Uint8Array is ERR_TYPE', () => {
    expectError(caught(() => decodeSafetensors([1, 2, 3] as unknown as Uint8Array)), SparsennTypeError, 'ERR_TYPE', 'array');
    expectError(caught(() => decodeSafetensors(new Uint16Array(8) as unknown as Uint8Array)), SparsennTypeError, 'ERR_TYPE', 'u16');
  });
});

describe('safetensors: encoder argument errors', () => {
  const anyTensors = (v: unknown) => v as Record<string, SafetensorsTensor>;
  const one = (t: unknown) => anyTensors({ t });
  const cases: Array<[string, () => unknown, ErrorClass, ErrorCode]> = [
    ['tensors null', () => encodeSafetensors(anyTensors(null)), SparsennTypeError, 'ERR_TYPE'],
    ['tensors an array', () => encodeSafetensors(anyTensors([])), SparsennTypeError, 'ERR_TYPE'],
    ['tensor not an object', () => encodeSafetensors(one(3)), SparsennTypeError, 'ERR_TYPE'],
    ['unknown dtype', () => encodeSafetensors(one({ dtype: 'F8_E4M3', shape: [1], data: new Uint8Array(1) })), SparsennTypeError, 'ERR_TYPE'],
    ['Float64Array for F32', () => encodeSafetensors(one({ dtype: 'F32', shape: [1], data: new Float64Array(1) })), SparsennTypeError, 'ERR_TYPE'],
    ['Int16Array for F16', () => encodeSafetensors(one({ dtype: 'F16', shape: [1], data: new Int16Array(1) })), SparsennTypeError, 'ERR_TYPE'],
    ['Uint8ClampedArray for U8', () => encodeSafetensors(one({ dtype: 'U8', shape: [1], data: new Uint8ClampedArray(1) })), SparsennTypeError, 'ERR_TYPE'],
    ['plain array data', () => encodeSafetensors(one({ dtype: 'F32', shape: [1], data: [1] })), SparsennTypeError, 'ERR_TYPE'],
    ['shape not an array', () => encodeSafetensors(one({ dtype: 'U8', shape: 1, data: new Uint8Array(1) })), SparsennTypeError, 'ERR_TYPE'],
    ['negative shape', () => encodeSafetensors(one({ dtype: 'U8', shape: [-1], data: new Uint8Array(0) })), ShapeError, 'ERR_SHAPE'],
    ['fractional shape', () => encodeSafetensors(one({ dtype: 'U8', shape: [0.5], data: new Uint8Array(0) })), ShapeError, 'ERR_SHAPE'],
    ['length mismatch', () => encodeSafetensors(one({ dtype: 'U8', shape: [2, 2], data: new Uint8Array(3) })), ShapeError, 'ERR_SHAPE'],
    ['shape overflow', () => encodeSafetensors(one({ dtype: 'U8', shape: [2 ** 40, 2 ** 40], data: new Uint8Array(0) })), ShapeError, 'ERR_SHAPE'],
    ['BOOL value 2', () => encodeSafetensors(one({ dtype: 'BOOL', shape: [2], data: new Uint8Array([0, 2]) })), SparsennTypeError, 'ERR_TYPE'],
    ['reserved name', () => encodeSafetensors(anyTensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } })), SparsennTypeError, 'ERR_TYPE'],
    ['lone surrogate name', () => encodeSafetensors(anyTensors({ '\ud800': { dtype: 'U8', shape: [0], data: new Uint8Array(0) } })), SparsennTypeError, 'ERR_TYPE'],
    ['metadata not an object', () => encodeSafetensors({}, 'x' as unknown as Record<string, string>), SparsennTypeError, 'ERR_TYPE'],
    ['metadata number value', () => encodeSafetensors({}, { a: 1 } as unknown as Record<string, string>), SparsennTypeError, 'ERR_TYPE'],
  ];
  it.each(cases)('%s', (label, fn, cls, code) => {
    expectError(caught(fn), cls, code, label, /^safetensors: /);
  });

  it('accepts a Buffer for U8 data', () => {
    const out = decodeSafetensors(encodeSafetensors({ b: { dtype: 'U8', shape: [3], data: Buffer.from([1, 2, 3]) } }));
    expect(out.tensors['b'].data).toEqual(new Uint8Array([1, 2, 3]));
  });
});
