/**
 * Pruning criteria (lib/prune/criteria.ts) against their definitions, with the expected scores
 * formed independently in float64:
 * - magnitude = |w|, and pruning with it keeps the largest |w| (a hand-made case);
 * - taylor = mean_b |w * g_b|, snip = |w * mean_b g_b| and obd = 0.5 * mean_b(g_b^2) * w^2, g_b the gradient of batch b's
 *   mean loss, computed here by a float64 forward/backward of a Linear-ReLU-Dropout-Linear net
 *   with cross-entropy (calibration runs in eval mode: no dropout) and of a Linear with MSE;
 *   pruning with them keeps the top reference scores;
 * - movement = -sum_t w_t * g_t over the steps of fit(), from this file's own record of w_t, g_t;
 * - random is seeded and reproducible, a fresh draw per call.
 */
import { describe, expect, it } from 'vitest';
import { IndexRangeError, ShapeError, SparsennTypeError } from '../../lib/errors.js';
import type { Dataset } from '../../lib/nn/data/dataset.js';
import { Dropout, ReLU } from '../../lib/nn/layers/activations.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import { mse } from '../../lib/nn/ops/loss.js';
import { SGD } from '../../lib/nn/optim/sgd.js';
import { Random } from '../../lib/nn/random.js';
import { fit, type Callback } from '../../lib/nn/train/fit.js';
import { forEachCalibrationGradient, magnitude, movement, obd, random, snip, taylor } from '../../lib/prune/criteria.js';
import { Pruner } from '../../lib/prune/pruner.js';
import { pruneTargets } from '../../lib/prune/targets.js';
import type { CalibrationOptions, Criterion, PruneTarget } from '../../lib/prune/types.js';
import { expectThrows } from '../helpers/errors.js';

// --------------------------------------------------------------------------- helpers ----

function dataset(n: number, features: number, classes: number, seed: number): Dataset {
  const rng = new Random(seed);
  return {
    length: n,
    sampleShape: [features],
    images: Float32Array.from({ length: n * features }, () => rng.normal()),
    labels: Int32Array.from({ length: n }, () => rng.int(classes)),
    numClasses: classes,
  };
}

/** Consecutive batches of the dataset (calibration does not shuffle), at most `max`. */
function batchesOf(ds: Dataset, batchSize: number, max = Infinity): number[][] {
  const out: number[][] = [];
  for (let s = 0; s < ds.length && out.length < max; s += batchSize) out.push(Array.from({ length: Math.min(batchSize, ds.length - s) }, (_, j) => s + j));
  return out;
}

const F = (ds: Dataset) => ds.sampleShape[0]!;

/** Float64 gradients of batch-mean cross-entropy for Linear(W1,b1) -> ReLU -> Linear(W2,b2). */
function refGradsMlp(fc1: Linear, fc2: Linear, ds: Dataset, idx: number[]): [Float64Array, Float64Array] {
  const I = fc1.inFeatures;
  const H = fc1.outFeatures;
  const C = fc2.outFeatures;
  const W1 = fc1.weight.data;
  const b1 = fc1.bias!.data;
  const W2 = fc2.weight.data;
  const b2 = fc2.bias!.data;
  const dW1 = new Float64Array(H * I);
  const dW2 = new Float64Array(C * H);
  const n = idx.length;
  for (const s of idx) {
    const x = Array.from({ length: I }, (_, i) => ds.images[s * F(ds) + i]!);
    const h = Array.from({ length: H }, (_, r) => b1[r]! + x.reduce((a, v, i) => a + W1[r * I + i]! * v, 0));
    const a = h.map((v) => Math.max(v, 0));
    const z = Array.from({ length: C }, (_, c) => b2[c]! + a.reduce((acc, v, j) => acc + W2[c * H + j]! * v, 0));
    const zmax = Math.max(...z);
    const e = z.map((v) => Math.exp(v - zmax));
    const sum = e.reduce((p, q) => p + q, 0);
    const dz = e.map((v, c) => (v / sum - (c === ds.labels[s] ? 1 : 0)) / n);
    for (let c = 0; c < C; c++) for (let j = 0; j < H; j++) dW2[c * H + j]! += dz[c]! * a[j]!;
    const dh = Array.from({ length: H }, (_, j) => (h[j]! > 0 ? dz.reduce((acc, v, c) => acc + W2[c * H + j]! * v, 0) : 0));
    for (let r = 0; r < H; r++) for (let i = 0; i < I; i++) dW1[r * I + i]! += dh[r]! * x[i]!;
  }
  return [dW1, dW2];
}

/** Float64 gradient of mean((W x + b - onehot(y))^2) over the C x n outputs, for one Linear. */
function refGradMse(fcl: Linear, ds: Dataset, idx: number[]): Float64Array {
  const I = fcl.inFeatures;
  const C = fcl.outFeatures;
  const W = fcl.weight.data;
  const dW = new Float64Array(C * I);
  for (const s of idx) {
    for (let c = 0; c < C; c++) {
      let z = fcl.bias!.data[c]!;
      for (let i = 0; i < I; i++) z += W[c * I + i]! * ds.images[s * I + i]!;
      const dz = (2 * (z - (ds.labels[s] === c ? 1 : 0))) / (C * idx.length);
      for (let i = 0; i < I; i++) dW[c * I + i]! += dz * ds.images[s * I + i]!;
    }
  }
  return dW;
}

/** Reference Taylor and OBD scores from per-batch gradients of each target. */
function refScores(w: Float32Array[], perBatch: Float64Array[][]): { taylor: Float64Array[]; snip: Float64Array[]; obd: Float64Array[] } {
  const nb = perBatch.length;
  return {
    taylor: w.map((wl, l) =>
      Float64Array.from(wl, (v, j) => {
        let t = 0;
        for (const b of perBatch) t += Math.abs(v * b[l]![j]!);
        return t / nb;
      }),
    ),
    snip: w.map((wl, l) =>
      Float64Array.from(wl, (v, j) => {
        let g = 0;
        for (const b of perBatch) g += b[l]![j]!;
        return Math.abs(v * (g / nb));
      }),
    ),
    obd: w.map((wl, l) =>
      Float64Array.from(wl, (v, j) => {
        let g2 = 0;
        for (const b of perBatch) g2 += b[l]![j]! ** 2;
        return 0.5 * (g2 / nb) * v * v;
      }),
    ),
  };
}

function expectScores(got: Float32Array, want: Float64Array, label: string): void {
  expect(got.length).toBe(want.length);
  const scale = Math.max(...want);
  expect(scale, `${label}: all-zero reference`).toBeGreaterThan(0);
  for (let j = 0; j < got.length; j++) {
    const tol = 2e-5 * Math.abs(want[j]!) + 1e-6 * scale;
    if (Math.abs(got[j]! - want[j]!) > tol) expect.fail(`${label}[${j}]: got ${got[j]}, expected ${want[j]} (tol ${tol})`);
  }
}

/** Indices of the top k, asserting a clear gap at the boundary (so float rounding cannot flip it). */
function clearTop(scores: Float64Array, k: number): Set<number> {
  const order = Array.from(scores, (v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
  expect(order[k - 1]![0] - order[k]![0], 'a near-tie at the pruning boundary').toBeGreaterThan(1e-4 * order[0]![0]);
  return new Set(order.slice(0, k).map(([, i]) => i));
}

function mlpModel(seed: number) {
  const fc1 = new Linear(4, 6, { rng: new Random(seed) });
  const fc2 = new Linear(6, 3, { rng: new Random(seed + 1) });
  // dropout would make calibration gradients random: calibration runs in eval mode
  const model = new Sequential(fc1, new ReLU(), new Dropout(0.5, { rng: new Random(seed + 2) }), fc2);
  return { fc1, fc2, model };
}

// ------------------------------------------------------------------------ magnitude ----

describe('magnitude()', () => {
  it('scores |w| exactly', () => {
    const { model } = mlpModel(1);
    const ts = pruneTargets(model);
    const scores = magnitude().score(ts, { model });
    ts.forEach((t, i) => expect(Array.from(scores[i]!)).toEqual(Array.from(t.param.data, (v) => Math.abs(v))));
  });

  it('pruning keeps the largest magnitudes (hand-made case)', () => {
    const l = new Linear(3, 2);
    l.weight.data.set([0.5, -2, 0.1, 1, -0.3, 0.05]);
    new Pruner(new Sequential(l), { minFanOut: 0 }).pruneTo(0.5);
    expect(Array.from(l.weight.mask!)).toEqual([1, 1, 0, 1, 0, 0]);
    expect(Array.from(l.weight.data)).toEqual([0.5, -2, 0, 1, 0, 0]);
  });
});

// ----------------------------------------------------------------------- random ----

describe('random()', () => {
  it('is seeded and reproducible, uniform in [0, 1), and draws afresh on every call', () => {
    const { model } = mlpModel(2);
    const ts = pruneTargets(model);
    const a = random({ seed: 5 });
    const b = random({ seed: 5 });
    const a1 = a.score(ts, { model });
    expect(b.score(ts, { model })).toEqual(a1);
    const a2 = a.score(ts, { model });
    expect(a2).not.toEqual(a1);
    expect(b.score(ts, { model })).toEqual(a2);
    expect(random({ seed: 6 }).score(ts, { model })).not.toEqual(a1);
    for (const s of [...a1, ...a2]) for (const v of s) expect(v >= 0 && v < 1).toBe(true);
    // the same seed prunes two identical models identically
    const m1 = mlpModel(3).model;
    const m2 = mlpModel(3).model;
    new Pruner(m1, { criterion: random({ seed: 9 }) }).pruneTo(0.6);
    new Pruner(m2, { criterion: random({ seed: 9 }) }).pruneTo(0.6);
    const m3 = mlpModel(3).model;
    new Pruner(m3, { criterion: random({ seed: 10 }) }).pruneTo(0.6);
    const masks = (m: Sequential) => pruneTargets(m).map((t) => Array.from(t.param.mask!));
    expect(masks(m1)).toEqual(masks(m2));
    expect(masks(m3)).not.toEqual(masks(m1));
  });
});

describe('random() seeds', () => {
  // xoshiro128**'s first output depends on the state word s1 alone: the seeding must mix the
  // seed's low word into s1, or every small seed gives the same first score.
  it('different seeds give different scores to the first weight', () => {
    const { model } = mlpModel(4);
    const ts = pruneTargets(model);
    const first = [1, 2, 3, 50].map((seed) => random({ seed }).score(ts, { model })[0]![0]);
    expect(new Set(first).size).toBe(4);
  });
});

// ------------------------------------------------------------------ taylor and obd ----

describe('taylor() and obd() against float64 gradients', () => {
  it('MLP with cross-entropy (default loss): three batches of 4, 4, 2 samples', () => {
    const { fc1, fc2, model } = mlpModel(11);
    const data = dataset(10, 4, 3, 12);
    const ts = pruneTargets(model);
    const perBatch = batchesOf(data, 4).map((idx) => refGradsMlp(fc1, fc2, data, idx));
    expect(perBatch).toHaveLength(3);
    const ref = refScores([fc1.weight.data, fc2.weight.data], perBatch);
    const calibration: CalibrationOptions = { data, batchSize: 4 };
    const tScores = taylor().score(ts, { model, calibration });
    const oScores = obd().score(ts, { model, calibration });
    ts.forEach((t, i) => {
      expectScores(tScores[i]!, ref.taylor[i]!, `taylor ${t.name}`);
      expectScores(oScores[i]!, ref.obd[i]!, `obd ${t.name}`);
    });
    // SNIP: the mean gradient first, then |w g|
    const s = snip();
    expect(s.name).toBe('snip');
    s.score(ts, { model, calibration }).forEach((sc, i) => expectScores(sc, ref.snip[i]!, `snip ${ts[i]!.name}`));
    // the model is back in training mode with no gradients left
    expect(model.training).toBe(true);
    for (const p of model.parameters()) expect(p.grad).toBeNull();
  });

  it('Linear with a custom MSE loss; `batches` limits the batches used', () => {
    const l = new Linear(5, 3, { rng: new Random(21) });
    const model = new Sequential(l);
    const data = dataset(24, 5, 3, 22);
    const loss = (out: Parameters<typeof mse>[0], y: Int32Array) => {
      const n = y.length;
      const target = new Float32Array(3 * n);
      y.forEach((c, j) => (target[c * n + j] = 1));
      return mse(out, target);
    };
    const perBatch = batchesOf(data, 5, 3).map((idx) => [refGradMse(l, data, idx)]);
    const ref = refScores([l.weight.data], perBatch);
    const calibration: CalibrationOptions = { data, batchSize: 5, batches: 3, loss };
    const ts = pruneTargets(model);
    expectScores(taylor().score(ts, { model, calibration })[0]!, ref.taylor[0]!, 'taylor');
    expectScores(obd().score(ts, { model, calibration })[0]!, ref.obd[0]!, 'obd');
    // all five batches give a different (and again exact) answer
    const all = refScores([l.weight.data], batchesOf(data, 5).map((idx) => [refGradMse(l, data, idx)]));
    expectScores(taylor().score(ts, { model, calibration: { ...calibration, batches: 100 } })[0]!, all.taylor[0]!, 'taylor, all batches');
  });

  it.each<[string, () => Criterion, 'taylor' | 'obd']>([
    ['taylor', taylor, 'taylor'],
    ['obd', obd, 'obd'],
  ])('pruning with %s keeps the top reference scores (not the top magnitudes)', (_, make, key) => {
    const { fc1, fc2, model } = mlpModel(31);
    const data = dataset(16, 4, 3, 32);
    const ref = refScores([fc1.weight.data, fc2.weight.data], batchesOf(data, 8).map((idx) => refGradsMlp(fc1, fc2, data, idx)))[key];
    const mags = [fc1.weight.data, fc2.weight.data].map((w) => Float64Array.from(w, Math.abs));
    const res = new Pruner(model, { criterion: make(), calibration: { data, batchSize: 8 }, minFanOut: 0 }).pruneTo(0.5);
    let differs = false;
    pruneTargets(model).forEach((t, i) => {
      const k = res.layers[i]!.kept;
      const top = clearTop(ref[i]!, k);
      t.param.mask!.forEach((v, j) => expect(v, `${t.name}[${j}]`).toBe(top.has(j) ? 1 : 0));
      const byMag = new Set(Array.from(mags[i]!, (v, j) => [v, j] as const).sort((a, b) => b[0] - a[0]).slice(0, k).map(([, j]) => j));
      if ([...top].some((j) => !byMag.has(j))) differs = true;
    });
    expect(differs, 'the case does not tell the criterion from magnitude').toBe(true);
  });

  it('needs calibration data and valid calibration options (typed errors)', () => {
    const { model } = mlpModel(41);
    const ts = pruneTargets(model);
    const data = dataset(8, 4, 3, 42);
    expectThrows(() => taylor().score(ts, { model }), SparsennTypeError, 'ERR_TYPE', 'taylor without data');
    expectThrows(() => obd().score(ts, { model }), SparsennTypeError, 'ERR_TYPE', 'obd without data');
    expectThrows(() => new Pruner(model, { criterion: taylor() }).pruneTo(0.5), SparsennTypeError, 'ERR_TYPE', 'pruner without data');
    expectThrows(() => taylor().score(ts, { model, calibration: { data: { ...data, images: new Float32Array(3) } } }), ShapeError, 'ERR_SHAPE', 'bad data');
    expectThrows(() => taylor().score(ts, { model, calibration: { data, batchSize: 0 } }), IndexRangeError, 'ERR_RANGE', 'batchSize 0');
    expectThrows(() => obd().score(ts, { model, calibration: { data, batches: 0 } }), IndexRangeError, 'ERR_RANGE', 'batches 0');
    expectThrows(() => obd().score(ts, { model, calibration: { data, batches: 1.5 } }), SparsennTypeError, 'ERR_TYPE', 'batches 1.5');
  });

  it('forEachCalibrationGradient restores eval mode too, and counts the batches it ran', () => {
    const { model } = mlpModel(51);
    model.eval();
    const ts = pruneTargets(model);
    const seen: number[] = [];
    const n = forEachCalibrationGradient(model, ts, { data: dataset(9, 4, 3, 52), batchSize: 2 }, (i) => seen.push(i));
    expect(n).toBe(5);
    expect(seen).toEqual([0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    expect(model.training).toBe(false);
  });
});

// ----------------------------------------------------------------------- movement ----

describe('movement()', () => {
  it('accumulates -sum_t w_t * g_t through fit() (checked against this file’s own record)', async () => {
    const { fc1, fc2, model } = mlpModel(61);
    const data = dataset(24, 4, 3, 62);
    // a partly pruned first layer: pruned weights have zero gradient and score 0
    new Pruner(model, { include: ['0.weight'], minFanOut: 0 }).pruneTo(0.5);
    const crit = movement();
    const ts: PruneTarget[] = pruneTargets(model);
    const ref = ts.map((t) => new Float64Array(t.param.size));
    let steps = 0;
    const recorder: Callback = {
      onAfterBackward: () => {
        steps++;
        ts.forEach((t, i) => {
          const w = t.param.data;
          const g = t.param.grad!;
          for (let j = 0; j < w.length; j++) ref[i]![j]! -= w[j]! * g[j]!;
        });
      },
    };
    await fit(model, data, { optimizer: new SGD(model.parameters(), { lr: 0.2 }), epochs: 2, batchSize: 8, callbacks: [recorder, crit.tracker], progress: false });
    expect(steps).toBe(6);
    const scores = crit.score(ts, { model });
    ts.forEach((_, i) => {
      const scale = Math.max(...ref[i]!.map(Math.abs));
      expect(scale).toBeGreaterThan(0);
      scores[i]!.forEach((v, j) => expect(Math.abs(v - ref[i]![j]!)).toBeLessThanOrEqual(1e-6 * scale + 1e-5 * Math.abs(ref[i]![j]!)));
    });
    fc1.weight.mask!.forEach((m, j) => m === 0 && expect(scores[0]![j]).toBe(0));
    expect(fc2.weight.mask).toBeNull();
    // pruning by movement keeps the top scores among the kept weights
    const before = Float64Array.from(ref[1]!);
    new Pruner(model, { criterion: crit, include: ['3.weight'], minFanOut: 0 }).pruneTo(0.5);
    const top = clearTop(before, 9);
    fc2.weight.mask!.forEach((v, j) => expect(v).toBe(top.has(j) ? 1 : 0));
  });

  it('has no scores before training or after reset() (ERR_TYPE)', async () => {
    const { model } = mlpModel(71);
    const crit = movement();
    const ts = pruneTargets(model);
    expectThrows(() => crit.score(ts, { model }), SparsennTypeError, 'ERR_TYPE', 'no tracker');
    await fit(model, dataset(8, 4, 3, 72), { optimizer: new SGD(model.parameters(), { lr: 0.1 }), epochs: 1, batchSize: 4, callbacks: [crit.tracker], progress: false });
    expect(crit.score(ts, { model })).toHaveLength(2);
    crit.reset();
    expectThrows(() => crit.score(ts, { model }), SparsennTypeError, 'ERR_TYPE', 'after reset');
  });
});
