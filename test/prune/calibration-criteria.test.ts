/**
 * Calibration statistics (lib/prune/calibration.ts) against float64 references computed
 * straight from the samples (Linear inputs, and im2col of padded / strided / grouped convs),
 * and the activation criteria (lib/prune/criteria-activation.ts) on hand-computed cases:
 *   wanda           |W_ij| * sqrt(Σ_samples x_j²)
 *   meanActivation  mean of max(out_r, 0), on every weight of row r
 *   apoz            1 - fraction(out_r <= 0), on every weight of row r
 */
import { describe, expect, it } from 'vitest';
import { IndexRangeError, ShapeError, SparsennTypeError } from '../../lib/errors.js';
import type { Dataset } from '../../lib/nn/data/dataset.js';
import { Dropout, ReLU } from '../../lib/nn/layers/activations.js';
import { Conv2d } from '../../lib/nn/layers/conv.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { BatchNorm1d } from '../../lib/nn/layers/norm.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import type { Module } from '../../lib/nn/module.js';
import { calibrationBatches, collectInputStats, collectOutputStats } from '../../lib/prune/calibration.js';
import { apoz, meanActivation, wanda } from '../../lib/prune/criteria-activation.js';
import type { PruneTarget } from '../../lib/prune/types.js';
import { expectThrows } from '../helpers/errors.js';
import { mulberry32, type Rng } from '../helpers/random.js';

// --------------------------------------------------------------------------- helpers ----

/** A dataset of `length` samples of `shape` from sample-major values. */
function dataset(images: ArrayLike<number>, shape: number[]): Dataset {
  const f = shape.reduce((a, b) => a * b, 1);
  const length = images.length / f;
  return { length, sampleShape: shape, images: Float32Array.from(images), labels: new Int32Array(length), numClasses: 1 };
}

function randomDataset(rng: Rng, length: number, shape: number[]): Dataset {
  const f = shape.reduce((a, b) => a * b, 1);
  return dataset(Array.from({ length: length * f }, () => rng() * 2 - 1), shape);
}

function randomize(m: Module, rng: Rng): void {
  for (const p of m.parameters()) for (let i = 0; i < p.size; i++) p.data[i] = rng() * 2 - 1;
}

function target(module: Linear | Conv2d, name: string): PruneTarget {
  return { name: `${name}.weight`, param: module.weight, module, moduleName: name };
}

/** Sample b of a dataset as float64. */
function sample(ds: Dataset, b: number): Float64Array {
  const f = ds.images.length / ds.length;
  return Float64Array.from(ds.images.subarray(b * f, (b + 1) * f));
}

/** y = W x + b in float64 (W rows x cols from float32 parameters). */
function affine(lin: Linear, x: Float64Array): Float64Array {
  const rows = lin.outFeatures;
  const cols = lin.inFeatures;
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = lin.bias ? lin.bias.data[r]! : 0;
    for (let c = 0; c < cols; c++) s += lin.weight.data[r * cols + c]! * x[c]!;
    y[r] = s;
  }
  return y;
}

/** Float64 im2col of one sample [C, H, W]: the feature vectors of every output position, rows (c, ki, kj). */
function im2colRef(x: Float64Array, c: number, h: number, w: number, conv: Conv2d): Float64Array[] {
  const [kh, kw] = conv.kernelSize;
  const [sh, sw] = conv.stride;
  const [ph, pw] = conv.padding;
  const [dh, dw] = conv.dilation;
  const oh = Math.floor((h + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((w + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  const out: Float64Array[] = [];
  for (let i = 0; i < oh; i++)
    for (let j = 0; j < ow; j++) {
      const v = new Float64Array(c * kh * kw);
      for (let ci = 0; ci < c; ci++)
        for (let a = 0; a < kh; a++)
          for (let b = 0; b < kw; b++) {
            const y = i * sh - ph + a * dh;
            const z = j * sw - pw + b * dw;
            if (y >= 0 && y < h && z >= 0 && z < w) v[(ci * kh + a) * kw + b] = x[(ci * h + y) * w + z]!;
          }
      out.push(v);
    }
  return out;
}

/** Σ x_j², Σ x xᵀ (per group of `cols` features) and |·| bounds, in float64. */
function statsRef(vectors: Float64Array[], groups: number, cols: number) {
  const sq = new Float64Array(groups * cols);
  const gram = new Float64Array(groups * cols * cols);
  const gramAbs = new Float64Array(groups * cols * cols);
  for (const v of vectors)
    for (let g = 0; g < groups; g++)
      for (let i = 0; i < cols; i++) {
        const a = v[g * cols + i]!;
        sq[g * cols + i]! += a * a;
        for (let j = 0; j < cols; j++) {
          const t = a * v[g * cols + j]!;
          gram[(g * cols + i) * cols + j]! += t;
          gramAbs[(g * cols + i) * cols + j]! += Math.abs(t);
        }
      }
  return { sq, gram, gramAbs };
}

function expectNear(got: ArrayLike<number>, ref: ArrayLike<number>, bound: ArrayLike<number>, rel: number, label: string): void {
  expect(got.length, `${label}: length`).toBe(ref.length);
  for (let i = 0; i < ref.length; i++) {
    const tol = rel * bound[i]! + 1e-9;
    if (!(Math.abs(got[i]! - ref[i]!) <= tol)) expect.fail(`${label}[${i}]: got ${got[i]}, expected ${ref[i]} (tolerance ${tol})`);
  }
}

// ------------------------------------------------------------------------- statistics ----

describe('collectInputStats', () => {
  it('Linear: Σ x², Σ x xᵀ and count of each layer input, in eval mode, over the first batches * batchSize samples', () => {
    const rng = mulberry32(11);
    const fc1 = new Linear(5, 4);
    const fc2 = new Linear(4, 3);
    randomize(fc1, rng);
    randomize(fc2, rng);
    // Dropout before fc1 would change fc1's inputs in training mode: eval mode must be used.
    const model = new Sequential(new Dropout(0.5), fc1, new ReLU(), fc2);
    model.train();
    const ds = randomDataset(rng, 20, [5]);
    const calibration = { data: ds, batchSize: 8, batches: 2 };
    const stats = collectInputStats(model, [target(fc1, '1'), target(fc2, '3')], calibration, { gram: true });

    const xs = Array.from({ length: 16 }, (_, b) => sample(ds, b)); // 2 batches of 8
    const hs = xs.map((x) => affine(fc1, x).map((v) => Math.max(v, 0)));
    for (const [s, vectors, cols] of [
      [stats[0]!, xs, 5],
      [stats[1]!, hs, 4],
    ] as const) {
      const ref = statsRef(vectors, 1, cols);
      expect(s.count).toBe(16);
      expect([s.rows, s.cols, s.groups]).toEqual([cols === 5 ? 4 : 3, cols, 1]);
      expectNear(s.sqNorm, ref.sq, ref.sq, 1e-6, `${s.name} sqNorm`);
      expectNear(s.gram!, ref.gram, ref.gramAbs, 1e-5, `${s.name} gram`);
    }
    expect(model.training).toBe(true);
    expect(model.namedModules().every(([, m]) => m.training)).toBe(true);
    expect(Object.hasOwn(fc1, 'forward'), 'hooks removed').toBe(false);
    // without gram: no Gram matrix
    expect(collectInputStats(model, [target(fc1, '1')], calibration)[0]!.gram).toBeNull();
  });

  it('uses the whole dataset when it has fewer samples than batches * batchSize (defaults 8 x 64)', () => {
    const rng = mulberry32(12);
    const fc = new Linear(3, 2);
    const ds = randomDataset(rng, 70, [3]);
    const [s] = collectInputStats(fc, [target(fc, 'fc')], { data: ds });
    expect(s!.count).toBe(70);
    const ref = statsRef(Array.from({ length: 70 }, (_, b) => sample(ds, b)), 1, 3);
    expectNear(s!.sqNorm, ref.sq, ref.sq, 1e-6, 'sqNorm');
    expect([...calibrationBatches({ data: ds, batchSize: 32 })].map((b) => b.size)).toEqual([32, 32, 6]);
    expect([...calibrationBatches({ data: ds, batchSize: 16, batches: 2 })].map((b) => b.size)).toEqual([16, 16]);
  });

  it.each([
    { name: 'padding + stride', cin: 2, cout: 3, k: [3, 2] as [number, number], opts: { stride: [2, 1] as [number, number], padding: [1, 2] as [number, number] } },
    { name: 'dilation', cin: 2, cout: 2, k: [2, 2] as [number, number], opts: { dilation: 2, padding: 1 } },
    { name: '1x1 (no im2col)', cin: 3, cout: 2, k: [1, 1] as [number, number], opts: {} },
    { name: 'grouped', cin: 4, cout: 6, k: [3, 3] as [number, number], opts: { groups: 2, padding: 1, stride: 2 } },
    { name: 'depthwise', cin: 3, cout: 6, k: [3, 3] as [number, number], opts: { groups: 3, padding: 1 } },
  ])('Conv2d ($name): statistics of the im2col rows, per group', ({ cin, cout, k, opts }) => {
    const rng = mulberry32(13 + cin * 7 + cout);
    const conv = new Conv2d(cin, cout, k, opts);
    randomize(conv, rng);
    const [h, w] = [5, 6];
    const ds = randomDataset(rng, 3, [cin, h, w]);
    const [s] = collectInputStats(conv, [target(conv, 'conv')], { data: ds, batchSize: 2 }, { gram: true });
    const groups = conv.groups;
    const cols = (cin / groups) * k[0] * k[1];
    const vectors = Array.from({ length: 3 }, (_, b) => im2colRef(sample(ds, b), cin, h, w, conv)).flat();
    const ref = statsRef(vectors, groups, cols);
    expect([s!.rows, s!.cols, s!.groups]).toEqual([cout, cols, groups]);
    expect(s!.count).toBe(vectors.length); // samples x output positions
    expectNear(s!.sqNorm, ref.sq, ref.sq, 1e-6, 'sqNorm');
    expectNear(s!.gram!, ref.gram, ref.gramAbs, 1e-5, 'gram');
  });
});

describe('collectOutputStats', () => {
  it('Linear and Conv2d: per-channel mean of max(out, 0) and fraction of out <= 0, against float64', () => {
    const rng = mulberry32(21);
    const fc = new Linear(4, 5);
    randomize(fc, rng);
    const ds = randomDataset(rng, 30, [4]);
    const [s] = collectOutputStats(fc, [target(fc, 'fc')], { data: ds, batchSize: 7, batches: 3 });
    const outs = Array.from({ length: 21 }, (_, b) => affine(fc, sample(ds, b)));
    expect(s!.count).toBe(21);
    for (let r = 0; r < 5; r++) {
      const vals = outs.map((y) => y[r]!);
      expect(s!.meanActivation[r]).toBeCloseTo(vals.reduce((a, v) => a + Math.max(v, 0), 0) / 21, 6);
      expect(s!.apoz[r]).toBe(vals.filter((v) => v <= 0).length / 21);
    }

    const conv = new Conv2d(2, 3, 3, { stride: 2, padding: 1 });
    randomize(conv, rng);
    const imgs = randomDataset(rng, 4, [2, 5, 5]);
    const [c] = collectOutputStats(conv, [target(conv, 'conv')], { data: imgs });
    const cols = 18;
    const outsC: number[][] = [[], [], []];
    for (let b = 0; b < 4; b++)
      for (const v of im2colRef(sample(imgs, b), 2, 5, 5, conv))
        for (let r = 0; r < 3; r++) {
          let y = conv.bias!.data[r]!;
          for (let j = 0; j < cols; j++) y += conv.weight.data[r * cols + j]! * v[j]!;
          outsC[r]!.push(y);
        }
    expect(c!.count).toBe(4 * 9); // 3x3 output positions
    for (let r = 0; r < 3; r++) {
      expect(c!.meanActivation[r]).toBeCloseTo(outsC[r]!.reduce((a, v) => a + Math.max(v, 0), 0) / 36, 6);
      expect(c!.apoz[r]).toBe(outsC[r]!.filter((v) => v <= 0).length / 36);
    }
  });
});

// --------------------------------------------------------------------------- criteria ----

describe('wanda', () => {
  it('scores |W_ij| * ||X_j||₂ (hand-computed) and ranks differently from |W|', () => {
    const fc = new Linear(3, 2, { bias: false });
    fc.weight.data.set([1, -2, 3, 0.5, 1, -4]);
    // samples [1, 2, 0] and [3, 0, 1]: Σ x² = [10, 4, 1]
    const ds = dataset([1, 2, 0, 3, 0, 1], [3]);
    const [s] = wanda().score([target(fc, 'fc')], { model: fc, calibration: { data: ds } });
    const expected = [Math.sqrt(10), 4, 3, 0.5 * Math.sqrt(10), 2, 4];
    expect(s).toBeInstanceOf(Float32Array);
    expect(s!.length).toBe(6);
    expected.forEach((v, i) => expect(s![i]).toBeCloseTo(v, 5));
    // row 0 by |w| keeps col 2 first; by Wanda col 1 (4) > col 0 (3.16) > col 2 (3)
    const order = [0, 1, 2].sort((a, b) => s![b]! - s![a]!);
    expect(order).toEqual([1, 0, 2]);
  });

  it('depthwise conv: each row uses its own group’s input norms', () => {
    const conv = new Conv2d(2, 2, 1, { groups: 2, bias: false });
    conv.weight.data.set([2, -1]);
    // two 2-channel 1x1 images: channel 0 sees 1, 2 (Σ x² = 5), channel 1 sees 3, 0 (Σ x² = 9)
    const ds = dataset([1, 3, 2, 0], [2, 1, 1]);
    const [s] = wanda().score([target(conv, 'conv')], { model: conv, calibration: { data: ds } });
    expect(s![0]).toBeCloseTo(2 * Math.sqrt(5), 5);
    expect(s![1]).toBeCloseTo(3, 5);
  });
});

describe('meanActivation and apoz', () => {
  // out = W x + b with W = [[1, 0], [0, 1], [1, -1]], b = [0, -2, 3] on x = [1,2], [-1,3], [2,1], [0,-2]:
  //   channel 0: 1, -1, 2, 0    -> mean max(.,0) 3/4,  APoZ 2/4
  //   channel 1: 0, 1, -1, -4   -> mean 1/4,           APoZ 3/4
  //   channel 2: 2, -1, 4, 5    -> mean 11/4,          APoZ 1/4
  const fc = new Linear(2, 3);
  fc.weight.data.set([1, 0, 0, 1, 1, -1]);
  fc.bias!.data.set([0, -2, 3]);
  const ds = dataset([1, 2, -1, 3, 2, 1, 0, -2], [2]);
  const t = target(fc, 'fc');

  it.each([
    { c: meanActivation(), perRow: [3 / 4, 1 / 4, 11 / 4], name: 'meanActivation' },
    { c: apoz(), perRow: [1 - 2 / 4, 1 - 3 / 4, 1 - 1 / 4], name: 'apoz' },
  ])('$name: the channel score on every weight of its row', ({ c, perRow }) => {
    const [s] = c.score([t], { model: fc, calibration: { data: ds } });
    expect(s!.length).toBe(6);
    for (let r = 0; r < 3; r++) {
      expect(s![2 * r]).toBeCloseTo(perRow[r]!, 6);
      expect(s![2 * r + 1]).toBe(s![2 * r]); // constant along the row: a row mean ranks channels by it
    }
    // channel 2 is kept first, channel 1 pruned first
    const rowMeans = [0, 1, 2].map((r) => (s![2 * r]! + s![2 * r + 1]!) / 2);
    expect([0, 1, 2].sort((a, b) => rowMeans[b]! - rowMeans[a]!)).toEqual([2, 0, 1]);
  });
});

// ----------------------------------------------------------------------------- errors ----

describe('errors', () => {
  const fc = new Linear(3, 2);
  const ds = dataset([1, 2, 3], [3]);
  const t = target(fc, 'fc');

  it.each([wanda(), meanActivation(), apoz()])('$name without ctx.calibration is ERR_TYPE naming the criterion', (c) => {
    const err = expectThrows(() => c.score([t], { model: fc }), SparsennTypeError, 'ERR_TYPE', c.name);
    expect(err.message).toContain(c.name);
    expect(err.message).toContain('calibration');
  });

  it('targets that are not a Linear/Conv2d weight are ERR_TYPE', () => {
    const bias: PruneTarget = { name: 'fc.bias', param: fc.bias!, module: fc, moduleName: 'fc' };
    expectThrows(() => collectInputStats(fc, [bias], { data: ds }), SparsennTypeError, 'ERR_TYPE', 'bias');
    const bn = new BatchNorm1d(3);
    const bnT: PruneTarget = { name: 'bn.weight', param: bn.weight!, module: bn, moduleName: 'bn' };
    expectThrows(() => collectOutputStats(bn, [bnT], { data: ds }), SparsennTypeError, 'ERR_TYPE', 'batch norm');
    expectThrows(() => wanda().score([bnT], { model: bn, calibration: { data: ds } }), SparsennTypeError, 'ERR_TYPE', 'wanda on batch norm');
  });

  it('bad calibration options are typed errors', () => {
    expectThrows(() => collectInputStats(fc, [t], { data: ds, batchSize: 0 }), IndexRangeError, 'ERR_RANGE', 'batchSize 0');
    expectThrows(() => collectInputStats(fc, [t], { data: ds, batches: 0 }), IndexRangeError, 'ERR_RANGE', 'batches 0');
    expectThrows(() => collectInputStats(fc, [t], { data: ds, batches: 1.5 }), SparsennTypeError, 'ERR_TYPE', 'batches 1.5');
    expectThrows(() => collectInputStats(fc, [t], undefined as never), SparsennTypeError, 'ERR_TYPE', 'no calibration');
    expectThrows(() => collectInputStats(fc, [t], { data: { ...ds, images: ds.images.subarray(1) } }), ShapeError, 'ERR_SHAPE', 'short images');
    expectThrows(() => collectInputStats(fc, [t], { data: null as never }), SparsennTypeError, 'ERR_TYPE', 'null data');
    // a wrong sample shape fails in the model with its own shape error, and leaves no hook behind
    expectThrows(() => collectInputStats(fc, [t], { data: dataset([1, 2], [2]) }), ShapeError, 'ERR_SHAPE', 'wrong sample shape');
    expect(Object.hasOwn(fc, 'forward')).toBe(false);
  });
});
