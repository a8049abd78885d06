/**
 * lib/nn/data/idx.ts (the IDX reader and writer) and lib/nn/data/fashion-mnist.ts (the loader and
 * the subset shipped in data/fashion-mnist-subset).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError, IndexRangeError, ShapeError, SparsennError, SparsennTypeError, type ErrorCode } from '../../../lib/errors.js';
import {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DEFAULT_DIR,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  loadFashionMnist,
  loadFashionMnistSync,
} from '../../../lib/nn/data/fashion-mnist.js';
import { encodeIdx, readIdx, readIdxFile, readIdxFileSync, type IdxArray, type IdxData } from '../../../lib/nn/data/idx.js';
import { packageRoot } from '../../../lib/package-root.js';

type ErrorClass = abstract new (...a: never[]) => SparsennError;

function expectError(fn: () => unknown, cls: ErrorClass, code: ErrorCode, label = ''): SparsennError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `${label}: expected ${code}, got ${String(caught)}`).toBeInstanceOf(cls);
  expect((caught as SparsennError).code, label).toBe(code);
  return caught as SparsennError;
}

async function expectRejection(p: Promise<unknown>, cls: ErrorClass, code: ErrorCode): Promise<SparsennError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(cls);
  expect((caught as SparsennError).code).toBe(code);
  return caught as SparsennError;
}

const bytesOf = (a: IdxData): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
/** Bit-exact equality of two typed arrays, fast on millions of elements (unlike a deep equal). */
const sameBytes = (a: IdxData | Int32Array, b: IdxData | Int32Array): boolean =>
  a.constructor === b.constructor && Buffer.compare(bytesOf(a), bytesOf(b)) === 0;

const tmp = mkdtempSync(join(tmpdir(), 'sparsenn-idx-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** One array per dtype, with the awkward values of each. */
const samples: IdxArray[] = [
  { dtype: 'u8', shape: [2, 3], data: Uint8Array.from([0, 1, 127, 128, 254, 255]) },
  { dtype: 'i8', shape: [5], data: Int8Array.from([-128, -1, 0, 1, 127]) },
  { dtype: 'i16', shape: [2, 2], data: Int16Array.from([-32768, -1, 0x0102, 32767]) },
  { dtype: 'i32', shape: [1, 2, 2], data: Int32Array.from([-2147483648, -1, 0x01020304, 2147483647]) },
  { dtype: 'f32', shape: [6], data: Float32Array.from([-0, 1.5, -3.25e-38, Infinity, NaN, 3.4028234663852886e38]) },
  { dtype: 'f64', shape: [3, 2], data: Float64Array.from([-0, Math.PI, 5e-324, -Infinity, NaN, Number.MAX_VALUE]) },
];

describe('IDX encode/read round trip', () => {
  for (const a of samples) {
    for (const gzip of [false, true]) {
      it(`${a.dtype}, ${gzip ? 'gzip' : 'plain'}: in memory and from a file, sync and async`, async () => {
        const bytes = encodeIdx(a, { gzip });
        expect(bytes[0] === 0x1f && bytes[1] === 0x8b).toBe(gzip);
        const check = (b: IdxArray) => {
          expect(b.dtype).toBe(a.dtype);
          expect(b.shape).toEqual(a.shape);
          expect(b.data.constructor).toBe(a.data.constructor);
          expect(bytesOf(b.data)).toEqual(bytesOf(a.data)); // bit-exact: -0, NaN, denormals
        };
        check(readIdx(bytes));
        const path = join(tmp, `${a.dtype}${gzip ? '.gz' : ''}`);
        writeFileSync(path, bytes);
        check(readIdxFileSync(path));
        check(await readIdxFile(path));
      });
    }
  }

  it('writes the exact big-endian layout', () => {
    const bytes = encodeIdx({ dtype: 'i16', shape: [1, 2], data: Int16Array.from([0x0102, -2]) });
    expect(Array.from(bytes)).toEqual([0, 0, 0x0b, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe]);
    const f = encodeIdx({ dtype: 'f32', shape: [1], data: Float32Array.from([1]) });
    expect(Array.from(f.subarray(8))).toEqual([0x3f, 0x80, 0, 0]);
  });

  it('handles zero dimensions (a scalar), empty arrays and large arrays', () => {
    const scalar = readIdx(encodeIdx({ dtype: 'f64', shape: [], data: Float64Array.from([2.5]) }));
    expect(scalar.shape).toEqual([]);
    expect(Array.from(scalar.data)).toEqual([2.5]);
    const empty = readIdx(encodeIdx({ dtype: 'i32', shape: [0, 5], data: new Int32Array(0) }, { gzip: true }));
    expect(empty.shape).toEqual([0, 5]);
    expect(empty.data.length).toBe(0);
    const big = new Uint8Array(300_000).map((_, i) => (i * 7919) & 0xff);
    const back = readIdx(encodeIdx({ dtype: 'u8', shape: [300, 1000], data: big }, { gzip: true }));
    expect(sameBytes(back.data, big)).toBe(true);
    // all zeros compresses at deflate's ~1030:1 limit: must not be taken for a lying header
    const zeros = encodeIdx({ dtype: 'u8', shape: [10_000, 1000], data: new Uint8Array(10_000_000) }, { gzip: true });
    expect((10_000_000 + 12) / zeros.length).toBeGreaterThan(1000);
    expect(readIdx(zeros).data.length).toBe(10_000_000);
  });

  it('returns arrays that never share memory with the input', () => {
    const bytes = encodeIdx({ dtype: 'u8', shape: [4], data: Uint8Array.from([1, 2, 3, 4]) });
    const a = readIdx(bytes);
    bytes[bytes.length - 1] = 99;
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4]);
    expect(a.data.byteOffset).toBe(0);
    expect(a.data.buffer.byteLength).toBe(4);
  });
});

describe('IDX malformed input gives FormatError, never a crash or a huge allocation', () => {
  const good = encodeIdx({ dtype: 'i16', shape: [2, 3], data: Int16Array.from([1, 2, 3, 4, 5, 6]) });
  const header = (dtype: number, dims: number[]): Uint8Array => {
    const b = new Uint8Array(4 + 4 * dims.length);
    b[2] = dtype;
    b[3] = dims.length;
    const v = new DataView(b.buffer);
    dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
    return b;
  };
  const concat = (...parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty file', new Uint8Array(0), /truncated header.*expected at least 4/],
    ['3 bytes', Uint8Array.from([0, 0, 8]), /truncated header/],
    ['bad magic', concat(Uint8Array.from([1, 0]), good.subarray(2)), /bad magic 01 00 0b 02.*expected.*00 00/],
    ['bad magic (second byte)', concat(Uint8Array.from([0, 7]), good.subarray(2)), /bad magic/],
    ['unknown dtype 0x0a', concat(good.subarray(0, 2), Uint8Array.from([0x0a]), good.subarray(3)), /unknown dtype byte 0x0a.*expected 0x08/],
    ['unknown dtype 0xff', concat(good.subarray(0, 2), Uint8Array.from([0xff]), good.subarray(3)), /unknown dtype/],
    ['dims cut off', good.subarray(0, 9), /truncated header: 9 bytes, expected 12 for 2 dimensions/],
    ['data cut off', good.subarray(0, good.length - 1), /truncated data: 23 bytes in all, expected 24/],
    ['header only, big dims', header(0x08, [60000, 28, 28]), /truncated data/],
    ['trailing garbage', concat(good, Uint8Array.from([0])), /1 bytes of trailing garbage.*expected exactly 24/],
    ['255 dims of 2^32-1', header(0x08, new Array<number>(255).fill(0xffffffff)), /overflow.*expected an element count below 2\^53/],
    ['3 dims of 2^32-1', header(0x0e, [0xffffffff, 0xffffffff, 0xffffffff]), /overflow/],
    ['product beyond any buffer', header(0x0e, [1 << 26, 1 << 26]), /need \d+ bytes: expected at most/],
    ['a zero dim does not excuse garbage', concat(header(0x08, [0, 0xffffffff]), Uint8Array.from([1])), /trailing garbage/],
  ];
  for (const [name, bytes, message] of cases) {
    for (const gzip of [false, true]) {
      it(`${name} (${gzip ? 'gzip' : 'plain'})`, () => {
        const input = gzip ? new Uint8Array(gzipSync(bytes)) : bytes;
        const err = expectError(() => readIdx(input), FormatError, 'ERR_FORMAT', name);
        expect(err.message).toMatch(/^idx: /);
        expect(err.message).toMatch(message);
      });
    }
  }

  const gz = encodeIdx({ dtype: 'u8', shape: [100, 100], data: new Uint8Array(10_000).map((_, i) => (i * 31) & 0xff) }, { gzip: true });
  it('truncated gzip stream', () => {
    expect(expectError(() => readIdx(gz.subarray(0, gz.length - 9)), FormatError, 'ERR_FORMAT').message).toMatch(/gzip stream/);
    expectError(() => readIdx(gz.subarray(0, 3)), FormatError, 'ERR_FORMAT');
  });
  it('corrupt gzip stream', () => {
    const bad = gz.slice();
    for (let i = 20; i < bad.length - 8; i += 7) bad[i] ^= 0x5a;
    expectError(() => readIdx(bad), FormatError, 'ERR_FORMAT');
    expectError(() => readIdx(concat(gz, Uint8Array.from([1, 2, 3]))), FormatError, 'ERR_FORMAT');
  });
  it('gzip data beyond what the header promises is trailing garbage', () => {
    const more = gzipSync(concat(good, new Uint8Array(100_000)));
    expect(expectError(() => readIdx(more), FormatError, 'ERR_FORMAT').message).toMatch(/trailing garbage/);
  });
  it('a gzip header promising far more than the stream can hold is rejected before inflating', () => {
    const lie = gzipSync(header(0x08, [1 << 16, 1 << 14])); // 1 GiB promised by ~40 bytes
    expect(expectError(() => readIdx(lie), FormatError, 'ERR_FORMAT').message).toMatch(/cannot hold/);
  });
  it('names the file in messages, and rejects non-bytes with a type error', async () => {
    const path = join(tmp, 'bad-magic.idx');
    writeFileSync(path, Uint8Array.from([9, 9, 9, 9]));
    expect(expectError(() => readIdxFileSync(path), FormatError, 'ERR_FORMAT').message).toContain(path);
    expect((await expectRejection(readIdxFile(path), FormatError, 'ERR_FORMAT')).message).toContain(path);
    const gzPath = join(tmp, 'cut.idx.gz');
    writeFileSync(gzPath, gz.subarray(0, gz.length - 9));
    expect((await expectRejection(readIdxFile(gzPath), FormatError, 'ERR_FORMAT')).message).toContain(gzPath);
    expectError(() => readIdx([0, 0, 8, 0] as unknown as Uint8Array), SparsennTypeError, 'ERR_TYPE');
  });
});

describe('encodeIdx rejects bad arrays', () => {
  it('wrong data type, unknown dtype, bad shapes', () => {
    const bad = (a: unknown) => () => encodeIdx(a as IdxArray);
    expectError(bad({ dtype: 'u8', shape: [2], data: Int8Array.from([1, 2]) }), SparsennTypeError, 'ERR_TYPE');
    expectError(bad({ dtype: 'f16', shape: [1], data: new Uint16Array(1) }), SparsennTypeError, 'ERR_TYPE');
    expectError(bad({ dtype: 'f32', shape: [3], data: new Float32Array(2) }), ShapeError, 'ERR_SHAPE');
    expectError(bad({ dtype: 'f32', shape: [-1], data: new Float32Array(0) }), ShapeError, 'ERR_SHAPE');
    expectError(bad({ dtype: 'f32', shape: [1.5], data: new Float32Array(1) }), ShapeError, 'ERR_SHAPE');
    expectError(bad({ dtype: 'u8', shape: new Array<number>(256).fill(1), data: new Uint8Array(1) }), ShapeError, 'ERR_SHAPE');
  });
});

describe('Fashion-MNIST', () => {
  const subsetDir = join(packageRoot(), 'data', 'fashion-mnist-subset');
  const hasFull = ['train', 't10k'].every(
    (p) => existsSync(join(FASHION_MNIST_DEFAULT_DIR, `${p}-images-idx3-ubyte.gz`)) && existsSync(join(FASHION_MNIST_DEFAULT_DIR, `${p}-labels-idx1-ubyte.gz`)),
  );

  it('has the 10 class names', () => {
    expect(FASHION_MNIST_CLASSES).toHaveLength(10);
    expect(FASHION_MNIST_CLASSES[0]).toBe('T-shirt/top');
    expect(FASHION_MNIST_CLASSES[9]).toBe('Ankle boot');
  });

  for (const [split, perClass] of [['train', 200], ['test', 50]] as const) {
    it(`the shipped subset (${split}) has ${perClass * 10} samples, ${perClass} per class, pixels in [0, 1]`, async () => {
      const ds = await loadFashionMnist({ subset: true, split });
      expect(ds.length).toBe(perClass * 10);
      expect(ds.sampleShape).toEqual([1, 28, 28]);
      expect(ds.numClasses).toBe(10);
      expect(ds.split).toBe(split);
      expect(ds.images.length).toBe(ds.length * 784);
      expect(ds.labels.length).toBe(ds.length);
      const counts = new Array<number>(10).fill(0);
      for (const y of ds.labels) counts[y]++;
      expect(counts).toEqual(new Array<number>(10).fill(perClass));
      let min = Infinity;
      let max = -Infinity;
      for (const v of ds.images) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      expect(min).toBe(0);
      expect(max).toBe(1);
      // the raw files agree with the loader: pixel / 255 as float32
      const raw = readIdxFileSync(join(subsetDir, `${split === 'train' ? 'train' : 't10k'}-images-idx3-ubyte.gz`));
      expect(raw.shape).toEqual([perClass * 10, 28, 28]);
      expect(sameBytes(ds.images, Float32Array.from(raw.data, (v) => v / 255))).toBe(true);
      // sync and async agree
      const sync = loadFashionMnistSync({ subset: true, split });
      expect(sameBytes(sync.images, ds.images)).toBe(true);
      expect(sameBytes(sync.labels, ds.labels)).toBe(true);
    });
  }

  it('limit keeps the first samples; normalize standardises with mean 0.2860, std 0.3530', () => {
    const all = loadFashionMnistSync({ subset: true });
    const some = loadFashionMnistSync({ subset: true, limit: 7 });
    expect(some.length).toBe(7);
    expect(sameBytes(some.images, all.images.subarray(0, 7 * 784))).toBe(true);
    expect(sameBytes(some.labels, all.labels.subarray(0, 7))).toBe(true);
    expect(loadFashionMnistSync({ subset: true, limit: 0 }).length).toBe(0);
    expect(loadFashionMnistSync({ subset: true, limit: 1e9 }).length).toBe(2000);
    const norm = loadFashionMnistSync({ subset: true, split: 'test', normalize: true });
    const plain = loadFashionMnistSync({ subset: true, split: 'test' });
    let worst = 0;
    for (let i = 0; i < norm.images.length; i++) {
      worst = Math.max(worst, Math.abs(norm.images[i] - (plain.images[i] - FASHION_MNIST_MEAN) / FASHION_MNIST_STD));
    }
    expect(worst).toBeLessThan(1e-6);
    expect(FASHION_MNIST_MEAN).toBe(0.286);
    expect(FASHION_MNIST_STD).toBe(0.353);
  });

  it('finds the folder from `dir` and from SPARSENN_FASHION_MNIST_DIR', () => {
    expect(loadFashionMnistSync({ dir: subsetDir, split: 'test' }).length).toBe(500);
    const saved = process.env.SPARSENN_FASHION_MNIST_DIR;
    process.env.SPARSENN_FASHION_MNIST_DIR = subsetDir;
    try {
      expect(loadFashionMnistSync({ split: 'test' }).length).toBe(500);
    } finally {
      if (saved === undefined) delete process.env.SPARSENN_FASHION_MNIST_DIR;
      else process.env.SPARSENN_FASHION_MNIST_DIR = saved;
    }
  });

  it('a folder without the files says how to get them', async () => {
    const empty = mkdtempSync(join(tmp, 'empty-'));
    const err = expectError(() => loadFashionMnistSync({ dir: empty }), FormatError, 'ERR_FORMAT');
    expect(err.message).toContain(empty);
    expect(err.message).toContain('apt-get install dataset-fashion-mnist');
    expect(err.message).toContain('subset: true');
    await expectRejection(loadFashionMnist({ dir: empty, split: 'test' }), FormatError, 'ERR_FORMAT');
  });

  it('rejects files whose counts, labels or shapes are wrong', () => {
    const dir = mkdtempSync(join(tmp, 'bad-'));
    const write = (name: string, a: IdxArray) => writeFileSync(join(dir, name), encodeIdx(a, { gzip: name.endsWith('.gz') }));
    write('train-images-idx3-ubyte.gz', { dtype: 'u8', shape: [3, 28, 28], data: new Uint8Array(3 * 784) });
    write('train-labels-idx1-ubyte.gz', { dtype: 'u8', shape: [2], data: Uint8Array.from([0, 1]) });
    expect(expectError(() => loadFashionMnistSync({ dir }), FormatError, 'ERR_FORMAT').message).toMatch(/3 images but .* 2 labels/);
    write('train-labels-idx1-ubyte.gz', { dtype: 'u8', shape: [3], data: Uint8Array.from([0, 10, 1]) });
    expect(expectError(() => loadFashionMnistSync({ dir }), FormatError, 'ERR_FORMAT').message).toMatch(/label 10 of sample 1/);
    write('t10k-images-idx3-ubyte', { dtype: 'u8', shape: [1, 32, 32], data: new Uint8Array(1024) }); // plain, also found
    write('t10k-labels-idx1-ubyte', { dtype: 'u8', shape: [1], data: Uint8Array.from([0]) });
    expect(expectError(() => loadFashionMnistSync({ dir, split: 'test' }), FormatError, 'ERR_FORMAT').message).toMatch(/expected \[n, 28, 28\]/);
  });

  it('rejects bad options with typed errors', () => {
    const load = (o: unknown) => () => loadFashionMnistSync(o as never);
    expectError(load({ subset: true, limit: -1 }), IndexRangeError, 'ERR_RANGE');
    expectError(load({ subset: true, limit: 2.5 }), SparsennTypeError, 'ERR_TYPE');
    expectError(load({ subset: true, split: 'valid' }), SparsennTypeError, 'ERR_TYPE');
    expectError(load({ subset: 'yes' }), SparsennTypeError, 'ERR_TYPE');
    expectError(load({ subset: true, dir: '/tmp' }), SparsennTypeError, 'ERR_TYPE');
    expectError(load({ subset: true, normalize: 1 }), SparsennTypeError, 'ERR_TYPE');
  });

  it.skipIf(!hasFull)('the subset equals the corresponding images of the full Debian files (first 200/50 per class)', async () => {
    for (const [prefix, split, perClass, total] of [['train', 'train', 200, 60000], ['t10k', 'test', 50, 10000]] as const) {
      const fullImages = readIdxFileSync(join(FASHION_MNIST_DEFAULT_DIR, `${prefix}-images-idx3-ubyte.gz`));
      const fullLabels = readIdxFileSync(join(FASHION_MNIST_DEFAULT_DIR, `${prefix}-labels-idx1-ubyte.gz`));
      expect(fullImages.shape).toEqual([total, 28, 28]);
      const subImages = readIdxFileSync(join(subsetDir, `${prefix}-images-idx3-ubyte.gz`));
      const subLabels = readIdxFileSync(join(subsetDir, `${prefix}-labels-idx1-ubyte.gz`));
      // the expected selection: the first perClass of each class, in the original order
      const taken = new Array<number>(10).fill(0);
      const keep: number[] = [];
      fullLabels.data.forEach((y, i) => {
        if (taken[y] < perClass) {
          taken[y]++;
          keep.push(i);
        }
      });
      expect(keep).toHaveLength(perClass * 10);
      let mismatches = 0;
      keep.forEach((src, i) => {
        if (subLabels.data[i] !== fullLabels.data[src]) mismatches++;
        const a = subImages.data.subarray(i * 784, (i + 1) * 784);
        const b = fullImages.data.subarray(src * 784, (src + 1) * 784);
        for (let k = 0; k < 784; k++) if (a[k] !== b[k]) mismatches++;
      });
      expect(mismatches, `${prefix}: subset differs from the full file`).toBe(0);
      // the very first subset image is the very first image of the full file
      expect(Array.from(subImages.data.subarray(0, 784))).toEqual(Array.from(fullImages.data.subarray(0, 784)));
      // and the full set loads through the loader
      const ds = await loadFashionMnist({ dir: FASHION_MNIST_DEFAULT_DIR, split, limit: 3 });
      expect(ds.length).toBe(3);
    }
  });
});
