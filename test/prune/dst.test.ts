/**
 * Dynamic sparse training (lib/prune/dst.ts) and the dense-gradient capture it relies on
 * (Parameter.captureDenseGrad / denseGrad / captureDense, fed by lib/nn/ops/weight-product.ts and
 * lib/nn/ops/conv.ts).
 *
 * Through fit(), masks recorded at every step: bits go 0 -> 1 only at update steps; each layer's
 * kept count never changes; the dropped weights are the k smallest |w| (k = round(alpha_t * kept),
 * alpha_t the cosine decay written out here); grown weights are exactly 0 right after the update;
 * RigL's new mask is exactly (kept - dropped) + the top-|dense gradient| non-kept entries, and the
 * dense gradient it used matches a float64 forward/backward of the MLP computed in this file, on
 * the sparse and the dense execution path; grown weights get fresh optimizer state (the next
 * momentum-SGD step moves them by exactly -lr * g); the capture is switched off and cleared after each
 * update and at the end; SET grows at random (seeded). The capture itself is checked on Linear
 * (dense and sparse kernels), Conv2d (dense, sparse, grouped), and accumulates over passes.
 */
import { describe, expect, it } from 'vitest';
import { IndexRangeError, SparsennTypeError } from '../../lib/errors.js';
import type { Dataset } from '../../lib/nn/data/dataset.js';
import { ReLU } from '../../lib/nn/layers/activations.js';
import { Conv2d } from '../../lib/nn/layers/conv.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import { mse } from '../../lib/nn/ops/loss.js';
import type { WeightExecution } from '../../lib/nn/ops/weight-product.js';
import { sparseExecution } from '../../lib/nn/ops/weight-product.js';
import { SGD } from '../../lib/nn/optim/sgd.js';
import type { Parameter } from '../../lib/nn/parameter.js';
import { Random } from '../../lib/nn/random.js';
import { Tensor } from '../../lib/nn/tensor.js';
import { fit, type Callback } from '../../lib/nn/train/fit.js';
import { RigL, SET, type DynamicSparseTraining } from '../../lib/prune/dst.js';
import { sparseInit } from '../../lib/prune/sparse-init.js';
import { expectThrows } from '../helpers/errors.js';

// --------------------------------------------------------------------------- helpers ----

const IN = 10;
const HID = 24;
const OUT = 3;
const N = 32;

function dataset(seed: number): Dataset {
  const rng = new Random(seed);
  return {
    length: N,
    sampleShape: [IN],
    images: Float32Array.from({ length: N * IN }, () => rng.normal()),
    labels: Int32Array.from({ length: N }, () => rng.int(OUT)),
    numClasses: OUT,
  };
}

function sparseMlp(seed: number, execution: WeightExecution = 'auto') {
  const fc1 = new Linear(IN, HID, { rng: new Random(seed), execution });
  const fc2 = new Linear(HID, OUT, { rng: new Random(seed + 1), execution });
  const model = new Sequential(fc1, new ReLU(), fc2);
  sparseInit(model, { sparsity: 0.75, seed });
  return { fc1, fc2, model };
}

/**
 * Float64 dense gradients of the full-batch mean cross-entropy of Linear -> ReLU -> Linear with
 * the given (masked: pruned entries are zero) weights: the gradient at every entry, pruned ones
 * included, i.e. what dL/dW would be if the pruned weights were present at value 0.
 */
function refDenseGrads(fc1: Linear, fc2: Linear, ds: Dataset): [Float64Array, Float64Array] {
  const W1 = fc1.weight.data;
  const b1 = fc1.bias!.data;
  const W2 = fc2.weight.data;
  const b2 = fc2.bias!.data;
  const dW1 = new Float64Array(HID * IN);
  const dW2 = new Float64Array(OUT * HID);
  for (let s = 0; s < ds.length; s++) {
    const x = Array.from({ length: IN }, (_, i) => ds.images[s * IN + i]!);
    const h = Array.from({ length: HID }, (_, r) => b1[r]! + x.reduce((a, v, i) => a + W1[r * IN + i]! * v, 0));
    const a = h.map((v) => Math.max(v, 0));
    const z = Array.from({ length: OUT }, (_, c) => b2[c]! + a.reduce((acc, v, j) => acc + W2[c * HID + j]! * v, 0));
    const zmax = Math.max(...z);
    const e = z.map((v) => Math.exp(v - zmax));
    const sum = e.reduce((p, q) => p + q, 0);
    const dz = e.map((v, c) => (v / sum - (c === ds.labels[s] ? 1 : 0)) / ds.length);
    for (let c = 0; c < OUT; c++) for (let j = 0; j < HID; j++) dW2[c * HID + j]! += dz[c]! * a[j]!;
    const dh = Array.from({ length: HID }, (_, j) => (h[j]! > 0 ? dz.reduce((acc, v, c) => acc + W2[c * HID + j]! * v, 0) : 0));
    for (let r = 0; r < HID; r++) for (let i = 0; i < IN; i++) dW1[r * IN + i]! += dh[r]! * x[i]!;
  }
  return [dW1, dW2];
}

function expectCloseTo(got: Float32Array, want: Float64Array, label: string, rel = 1e-4): void {
  const scale = Math.max(...Array.from(want, Math.abs));
  expect(scale, `${label}: zero reference`).toBeGreaterThan(0);
  for (let j = 0; j < got.length; j++)
    if (Math.abs(got[j]! - want[j]!) > rel * scale) expect.fail(`${label}[${j}]: got ${got[j]}, expected ${want[j]} (scale ${scale})`);
}

const ones = (m: Readonly<Uint8Array> | null) => (m ? m.reduce((a, b) => a + b, 0) : NaN);

/** The k active indices of smallest |w| (ties by index): what the drop step must remove. */
function smallestActive(mask: Uint8Array, w: Float32Array, k: number): number[] {
  const active = [...mask.keys()].filter((i) => mask[i] === 1);
  return active.sort((a, b) => Math.abs(w[a]!) - Math.abs(w[b]!) || a - b).slice(0, k);
}

interface StepRecord {
  step: number;
  /** Masks and weights after the optimizer step, before the DST update. */
  preMasks: Uint8Array[];
  preWeights: Float32Array[];
  /** The dense gradients captured this step (null where none), and the float64 reference. */
  dense: Array<Float32Array | null>;
  /** The ordinary (masked) gradients of this step. */
  grads: Float32Array[];
  ref: Float64Array[] | null;
  /** Masks and weights after the DST update. */
  postMasks: Uint8Array[];
  postWeights: Float32Array[];
  /** Capture flags / buffers right after the update. */
  flagsAfter: boolean[];
  denseAfter: Array<Float32Array | null>;
}

/** Full-batch training (one step per epoch, in dataset order) with recorders around the DST callback. */
async function trainDst(make: (model: Sequential) => DynamicSparseTraining, opts: { seed?: number; execution?: WeightExecution; steps?: number } = {}) {
  const { fc1, fc2, model } = sparseMlp(opts.seed ?? 1, opts.execution);
  const data = dataset(2);
  const dst = make(model);
  const params = [fc1.weight, fc2.weight];
  const records: StepRecord[] = [];
  let cur: Partial<StepRecord> = {};
  const pre: Callback = {
    onStepBegin: (info) => {
      cur = { step: info.globalStep };
    },
    onAfterBackward: (info) => {
      cur.dense = params.map((p) => (p.denseGrad ? p.denseGrad.slice() : null));
      cur.grads = params.map((p) => p.grad!.slice());
      cur.ref = dst.isUpdateStep(info.globalStep) ? refDenseGrads(fc1, fc2, data) : null;
    },
    onStepEnd: () => {
      cur.preMasks = params.map((p) => Uint8Array.from(p.mask!));
      cur.preWeights = params.map((p) => p.data.slice());
    },
  };
  const post: Callback = {
    onStepEnd: () => {
      cur.postMasks = params.map((p) => Uint8Array.from(p.mask!));
      cur.postWeights = params.map((p) => p.data.slice());
      cur.flagsAfter = params.map((p) => p.captureDenseGrad);
      cur.denseAfter = params.map((p) => p.denseGrad);
      records.push(cur as StepRecord);
    },
  };
  const initialKept = params.map((p) => ones(p.mask));
  await fit(model, data, {
    optimizer: new SGD(model.parameters(), { lr: 0.2, momentum: 0.9 }),
    epochs: opts.steps ?? 12,
    batchSize: N,
    shuffle: false,
    callbacks: [pre, dst, post],
    progress: false,
  });
  return { dst, records, params, initialKept, model, fc1, fc2 };
}

/** The SGD step after an update moved weight (layer, j) by exactly -lr * g: no momentum state. */
function expectFreshStep(next: StepRecord, layer: number, j: number): void {
  const want = -0.2 * next.grads[layer]![j]!;
  expect(Math.abs(next.preWeights[layer]![j]! - want), `weight ${j} of layer ${layer} at step ${next.step}: ${next.preWeights[layer]![j]} vs -lr * g = ${want}`).toBeLessThanOrEqual(
    1e-6 * Math.abs(want) + 1e-12,
  );
}

const dstOpts = { updateEvery: 3, endStep: 10, dropFraction: 0.4 };
const UPDATE_STEPS = [3, 6, 9];
const cosine = (t: number, alpha: number, end: number) => (alpha / 2) * (1 + Math.cos((Math.PI * Math.min(t, end)) / end));

/** A weight dropped and grown again in the same update. */
interface Regrown {
  step: number;
  layer: number;
  index: number;
}

/** The invariants every DST method keeps; returns the grown sets of each update per layer. */
function checkInvariants(run: Awaited<ReturnType<typeof trainDst>>, regrown: Regrown[] = []): Map<number, number[][]> {
  const { dst, records, initialKept, params } = run;
  const grown = new Map<number, number[][]>();
  expect(records.map((r) => r.step)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  expect(dst.updates.map((u) => u.step)).toEqual(UPDATE_STEPS);
  let prevMasks = records[0]!.preMasks;
  for (const r of records) {
    const update = dst.isUpdateStep(r.step);
    expect(update).toBe(UPDATE_STEPS.includes(r.step));
    // between updates the masks do not change at all (the optimizer step keeps them)
    r.preMasks.forEach((m, i) => expect(m).toEqual(prevMasks[i]));
    r.postMasks.forEach((m, i) => {
      expect(ones(m), `kept count of layer ${i} at step ${r.step}`).toBe(initialKept[i]);
      const pm = r.preMasks[i]!;
      if (!update) return expect(m).toEqual(pm);
      const u = dst.updates.find((x) => x.step === r.step)!;
      expect(u.fraction).toBeCloseTo(cosine(r.step, 0.4, 10), 14);
      const k = Math.round(u.fraction * initialKept[i]!);
      expect(u.replaced[i]).toBe(k);
      // drop: exactly the k smallest-|w| kept weights leave the kept set (some may be regrown)
      const drop = new Set(smallestActive(pm, r.preWeights[i]!, k));
      const g: number[] = [];
      for (let j = 0; j < m.length; j++) {
        const survivor = pm[j] === 1 && !drop.has(j);
        if (survivor) expect(m[j], `survivor ${j} lost at step ${r.step}`).toBe(1);
        if (m[j] === 1 && !survivor) g.push(j);
        if (pm[j] === 1 && m[j] === 0) expect(drop.has(j)).toBe(true);
      }
      expect(g).toHaveLength(k);
      // grown weights (just-dropped ones regrown included) start at exactly zero; survivors unchanged
      for (const j of g) expect(r.postWeights[i]![j]).toBe(0);
      for (let j = 0; j < m.length; j++) if (pm[j] === 1 && !drop.has(j)) expect(r.postWeights[i]![j]).toBe(r.preWeights[i]![j]);
      if (!grown.has(r.step)) grown.set(r.step, []);
      grown.get(r.step)!.push(g);
      // fresh optimizer state: the next SGD step (lr 0.2, momentum 0.9) moves a newly grown weight
      // by exactly -lr * g, with no momentum (regrown just-dropped weights included: see below)
      for (const j of g) if (drop.has(j)) regrown.push({ step: r.step, layer: i, index: j });
      for (const j of g.filter((x) => !drop.has(x))) expectFreshStep(records[r.step + 1]!, i, j);
      // the capture is off and released right after every update
      expect(r.flagsAfter[i]).toBe(false);
      expect(r.denseAfter[i]).toBeNull();
    });
    prevMasks = r.postMasks;
  }
  for (const p of params) {
    expect(p.captureDenseGrad).toBe(false);
    expect(p.denseGrad).toBeNull();
  }
  return grown;
}

// ------------------------------------------------------------------------ schedules ----

describe('DST schedule', () => {
  it('isUpdateStep: every updateEvery steps, strictly between 0 and endStep', () => {
    const { model } = sparseMlp(3);
    const d = SET(model, { updateEvery: 4, endStep: 17 });
    expect(Array.from({ length: 25 }, (_, t) => t).filter((t) => d.isUpdateStep(t))).toEqual([4, 8, 12, 16]);
  });

  it('fractionAt follows alpha/2 (1 + cos(pi t / endStep)), 0 after endStep; constant decay stays alpha', () => {
    const { model } = sparseMlp(4);
    const d = RigL(model, { dropFraction: 0.3, endStep: 75 });
    for (const t of [0, 1, 10, 37, 50, 74, 75, 200]) expect(d.fractionAt(t)).toBeCloseTo(cosine(t, 0.3, 75), 14);
    expect(d.fractionAt(0)).toBeCloseTo(0.3, 14);
    expect(d.fractionAt(75)).toBeCloseTo(0, 14);
    const c = SET(model, { dropFraction: 0.25, endStep: 75, decay: 'constant' });
    for (const t of [0, 30, 74]) expect(c.fractionAt(t)).toBe(0.25);
    expect(c.method).toBe('set');
    expect(d.method).toBe('rigl');
    expect(d.targets.map((t) => t.name)).toEqual(['0.weight', '2.weight']);
  });

  it('typed errors: no masks, bad fractions, intervals, end steps and decays', () => {
    const dense = new Sequential(new Linear(3, 2));
    expectThrows(() => SET(dense, { endStep: 10 }), SparsennTypeError, 'ERR_TYPE', 'no masks');
    expectThrows(() => RigL(dense, { endStep: 10 }), SparsennTypeError, 'ERR_TYPE', 'no masks (RigL)');
    const { model } = sparseMlp(5);
    expectThrows(() => RigL(model, undefined as never), SparsennTypeError, 'ERR_TYPE', 'no options');
    expectThrows(() => SET(model, { endStep: 10, dropFraction: 1.5 }), IndexRangeError, 'ERR_RANGE', 'dropFraction 1.5');
    expectThrows(() => SET(model, { endStep: 10, dropFraction: -0.1 }), IndexRangeError, 'ERR_RANGE', 'dropFraction -0.1');
    expectThrows(() => SET(model, { endStep: 10, updateEvery: 0 }), IndexRangeError, 'ERR_RANGE', 'updateEvery 0');
    expectThrows(() => SET(model, { endStep: 10, updateEvery: 2.5 }), IndexRangeError, 'ERR_RANGE', 'updateEvery 2.5');
    expectThrows(() => SET(model, { endStep: -1 }), IndexRangeError, 'ERR_RANGE', 'endStep -1');
    expectThrows(() => SET(model, {} as never), IndexRangeError, 'ERR_RANGE', 'no endStep');
    expectThrows(() => SET(model, { endStep: 10, decay: 'linear' as 'cosine' }), SparsennTypeError, 'ERR_TYPE', 'decay');
    expectThrows(() => SET(model, { endStep: 10, include: ['nope.weight'] }), SparsennTypeError, 'ERR_TYPE', 'unknown include');
  });
});

// ----------------------------------------------------------------------------- SET ----

describe('SET through fit()', () => {
  it('masks change only at update steps, kept counts stay, dropped = smallest |w|, grown start at 0', async () => {
    const run = await trainDst((m) => SET(m, { ...dstOpts, seed: 7 }));
    const regrown: Regrown[] = [];
    const grown = checkInvariants(run, regrown);
    expect(grown.size).toBe(3);
    // SET never captures dense gradients
    for (const r of run.records) expect(r.dense).toEqual([null, null]);
    // this run regrows some just-dropped weights (the case the next test is about)
    expect(regrown.length).toBeGreaterThan(0);
  });

  // A weight dropped and grown again in the same update is in both the old and the new mask, so
  // a mask change alone would keep its momentum; DST resets it (Optimizer.resetEntries): the
  // next momentum-SGD step moves it by exactly -lr * g.
  it('a just-dropped weight that is regrown also starts with fresh optimizer state', async () => {
    const run = await trainDst((m) => SET(m, { ...dstOpts, seed: 7 }));
    const regrown: Regrown[] = [];
    checkInvariants(run, regrown);
    for (const r of regrown) expectFreshStep(run.records[r.step + 1]!, r.layer, r.index);
  });

  it('grows at random: the same seed gives the same masks, other seeds other grown sets', async () => {
    const a = await trainDst((m) => SET(m, { ...dstOpts, seed: 7 }));
    const b = await trainDst((m) => SET(m, { ...dstOpts, seed: 7 }));
    const c = await trainDst((m) => SET(m, { ...dstOpts, seed: 8 }));
    const ga = checkInvariants(a).get(3)!;
    expect(checkInvariants(b).get(3)!).toEqual(ga);
    const gc = checkInvariants(c).get(3)!;
    // the first update starts from identical models and masks: only the grow draws differ
    expect(c.records[3]!.preMasks).toEqual(a.records[3]!.preMasks);
    expect(gc).not.toEqual(ga);
    expect(gc[0]).not.toEqual(ga[0]);
  });
});

// ---------------------------------------------------------------------------- RigL ----

describe('RigL through fit()', () => {
  it.each<[string, WeightExecution]>([
    ['auto (the 25%-dense hidden layer runs on the sparse kernels)', 'auto'],
    ['dense', 'dense'],
  ])('grows exactly the top-|dense gradient| non-kept entries; the dense gradient matches float64 (%s)', async (_, execution) => {
    const run = await trainDst((m) => RigL(m, dstOpts), { execution });
    if (execution === 'auto') expect(sparseExecution(run.fc1.weight, 'auto')).toBe(true);
    const grown = checkInvariants(run);
    for (const r of run.records) {
      if (!UPDATE_STEPS.includes(r.step)) {
        // no capture outside update steps
        expect(r.dense).toEqual([null, null]);
        continue;
      }
      r.dense.forEach((g, i) => {
        expect(g, `dense gradient of layer ${i} at step ${r.step}`).not.toBeNull();
        expectCloseTo(g!, r.ref![i]!, `denseGrad layer ${i} step ${r.step}`);
        const pm = r.preMasks[i]!;
        // pruned entries have a dense gradient (that is its point) but no ordinary gradient
        expect([...pm.keys()].some((j) => pm[j] === 0 && Math.abs(g![j]!) > 0)).toBe(true);
        const k = run.dst.updates.find((u) => u.step === r.step)!.replaced[i]!;
        const drop = new Set(smallestActive(pm, r.preWeights[i]!, k));
        const candidates = [...pm.keys()].filter((j) => pm[j] === 0 || drop.has(j));
        const expected = candidates.sort((a, b) => Math.abs(g![b]!) - Math.abs(g![a]!) || a - b).slice(0, k).sort((a, b) => a - b);
        expect(grown.get(r.step)![i], `grown set of layer ${i} at step ${r.step}`).toEqual(expected);
        // and by the float64 reference: nothing left out scores clearly above what was grown
        const ref = r.ref![i]!;
        const scale = Math.max(...Array.from(ref, Math.abs));
        const minGrown = Math.min(...expected.map((j) => Math.abs(ref[j]!)));
        for (const j of candidates) if (!expected.includes(j)) expect(Math.abs(ref[j]!)).toBeLessThanOrEqual(minGrown + 1e-4 * scale);
      });
    }
  });

  it('an update without a captured dense gradient throws ERR_TYPE and still releases the capture', () => {
    const { fc1, fc2, model } = sparseMlp(9);
    const d = RigL(model, { updateEvery: 2, endStep: 10 });
    const info = { epoch: 0, step: 2, globalStep: 2, loss: 0, batchSize: 1, lr: 0.1 };
    d.onStepBegin!(info, undefined as never);
    expect(fc1.weight.captureDenseGrad && fc2.weight.captureDenseGrad).toBe(true);
    const ctx = { optimizer: new SGD(model.parameters(), { lr: 0.1 }) } as never;
    expectThrows(() => d.onStepEnd!(info, ctx), SparsennTypeError, 'ERR_TYPE', 'no dense gradient');
    expect(fc1.weight.captureDenseGrad || fc2.weight.captureDenseGrad).toBe(false);
    // off-schedule steps do not turn it on
    d.onStepBegin!({ ...info, globalStep: 3 }, undefined as never);
    expect(fc1.weight.captureDenseGrad).toBe(false);
  });
});

// -------------------------------------------------------------- dense-gradient capture ----

describe('Parameter dense-gradient capture', () => {
  function randomArray(n: number, rng: Random): Float32Array {
    return Float32Array.from({ length: n }, () => rng.normal());
  }
  function randomMask(n: number, density: number, rng: Random): Uint8Array {
    return Uint8Array.from({ length: n }, () => (rng.next() < density ? 1 : 0));
  }

  it.each<WeightExecution>(['dense', 'sparse'])('Linear (%s kernels): denseGrad = g x^T everywhere, grad = its masked part; accumulates; off by default', (execution) => {
    const rng = new Random(11);
    const rows = 7;
    const cols = 9;
    const n = 5;
    const l = new Linear(cols, rows, { rng: new Random(12), execution, bias: false });
    l.weight.setMask(randomMask(rows * cols, 0.3, rng));
    const x = randomArray(cols * n, rng);
    const target = randomArray(rows * n, rng);
    /** Float64 dL/dW for mean((W x - t)^2): (2 / (rows n)) (Wx - t) x^T. */
    const ref = () => {
      const W = l.weight.data;
      const g = new Float64Array(rows * cols);
      for (let r = 0; r < rows; r++)
        for (let j = 0; j < n; j++) {
          let y = 0;
          for (let c = 0; c < cols; c++) y += W[r * cols + c]! * x[c * n + j]!;
          const d = (2 * (y - target[r * n + j]!)) / (rows * n);
          for (let c = 0; c < cols; c++) g[r * cols + c]! += d * x[c * n + j]!;
        }
      return g;
    };
    const pass = () => mse(l.forward(new Tensor(x, [cols, n])), target).backward();
    pass();
    expect(l.weight.denseGrad).toBeNull();
    l.weight.zeroGrad();
    l.weight.captureDenseGrad = true;
    pass();
    const want = ref();
    expectCloseTo(l.weight.denseGrad!, want, 'denseGrad');
    const mask = l.weight.mask!;
    expectCloseTo(l.weight.grad!, want.map((v, i) => (mask[i] ? v : 0)), 'grad');
    l.weight.grad!.forEach((v, i) => mask[i] === 0 && expect(v).toBe(0));
    pass();
    expectCloseTo(l.weight.denseGrad!, want.map((v) => 2 * v), 'accumulated denseGrad');
  });

  it.each<[string, number, WeightExecution]>([
    ['dense', 1, 'dense'],
    ['sparse', 1, 'sparse'],
    ['grouped', 2, 'auto'],
  ])('Conv2d (%s): denseGrad equals the gradient of the same conv without the mask', (_, groups, execution) => {
    const rng = new Random(21);
    const make = () => new Conv2d(4, 6, 3, { rng: new Random(22), stride: 2, padding: 1, groups, execution });
    const masked = make();
    const mask = randomMask(masked.weight.size, 0.3, rng);
    masked.weight.setMask(mask);
    const plain = make();
    plain.weight.data.set(masked.weight.data); // same weights, zeros at pruned entries, no mask
    const x = randomArray(4 * 7 * 6 * 3, rng);
    const out = [6, 4, 3, 3];
    const target = randomArray(out.reduce((a, b) => a * b, 1), rng);
    masked.weight.captureDenseGrad = true;
    mse(masked.forward(new Tensor(x, [4, 7, 6, 3])), target).backward();
    mse(plain.forward(new Tensor(x, [4, 7, 6, 3])), target).backward();
    const want = Float64Array.from(plain.weight.grad!);
    expectCloseTo(masked.weight.denseGrad!, want, 'conv denseGrad');
    expectCloseTo(masked.weight.grad!, want.map((v, i) => (mask[i] ? v : 0)), 'conv grad');
    expect([...mask.keys()].some((i) => mask[i] === 0 && masked.weight.denseGrad![i] !== 0)).toBe(true);
  });

  it('captureDense is a no-op unless the flag is set', () => {
    const p: Parameter = new Linear(2, 2).weight;
    p.captureDense(new Float32Array([1, 2, 3, 4]));
    expect(p.denseGrad).toBeNull();
    p.captureDenseGrad = true;
    const dw = new Float32Array([1, 2, 3, 4]);
    p.captureDense(dw);
    dw[0] = 100; // a copy is kept
    p.captureDense(new Float32Array([1, 1, 1, 1]));
    expect(Array.from(p.denseGrad!)).toEqual([2, 3, 4, 5]);
  });
});
