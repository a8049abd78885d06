/**
 * L1 and group-lasso regularizers (lib/prune/regularize.ts): the gradients they add against
 * central finite differences of a float64 reference penalty (masked and compact sparse-kernel
 * gradients included), the proximal steps against their closed forms (through fit() with SGD,
 * where they give exact zeros), a zero-norm row, and thresholdToMask pruning exactly the weights
 * / rows at or below the threshold, with the bias of removed rows.
 */
import { describe, expect, it } from 'vitest';
import { IndexRangeError, SparsennTypeError } from '../../lib/errors.js';
import { manualSeed } from '../../lib/nn/init.js';
import { ReLU } from '../../lib/nn/layers/activations.js';
import { Conv2d } from '../../lib/nn/layers/conv.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { BatchNorm1d } from '../../lib/nn/layers/norm.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import type { Module } from '../../lib/nn/module.js';
import { crossEntropy } from '../../lib/nn/ops/loss.js';
import { SGD } from '../../lib/nn/optim/sgd.js';
import type { Parameter } from '../../lib/nn/parameter.js';
import { noGrad, Tensor } from '../../lib/nn/tensor.js';
import { fit, type Callback, type StepInfo, type TrainContext } from '../../lib/nn/train/fit.js';
import {
  groupLasso,
  groupLassoPenalty,
  l1Penalty,
  l1Regularizer,
  proximalGroupLasso,
  regularizationPenalty,
  thresholdToMask,
} from '../../lib/prune/regularize.js';
import { pruneTargets } from '../../lib/prune/targets.js';
import type { PruneTarget } from '../../lib/prune/types.js';
import { expectThrows } from '../helpers/errors.js';
import { mulberry32, nonzeroValue, type Rng } from '../helpers/random.js';

// --------------------------------------------------------------------------- helpers ----

const info: StepInfo = { epoch: 0, step: 0, globalStep: 0, loss: 0, batchSize: 1, lr: 0.1 };
const ctxOf = (model: Module, lr = 0.1): TrainContext => ({ model, optimizer: new SGD(model.parameters(), { lr }), stepsPerEpoch: 1, epochs: 1, stopTraining: false });

function randomMask(rng: Rng, n: number, density: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => (rng() < density ? 1 : 0));
}

/** A Linear and a Conv2d with nonzero weights (no kinks of |w| at the test points), one row zeroed. */
function smallModel(seed: number): { model: Sequential; fc: Linear; conv: Conv2d } {
  manualSeed(seed);
  const rng = mulberry32(seed);
  const conv = new Conv2d(2, 4, 3);
  const fc = new Linear(7, 5);
  for (const p of [conv.weight, fc.weight]) for (let i = 0; i < p.size; i++) p.data[i] = nonzeroValue(rng);
  const model = new Sequential({ conv, fc });
  return { model, fc, conv };
}

/** Float64 reference penalties of weights given as float64 arrays viewed rows x cols. */
const refL1 = (w: Float64Array) => w.reduce((s, v) => s + Math.abs(v), 0);
function refGroup(w: Float64Array, rows: number): number {
  const cols = w.length / rows;
  let s = 0;
  for (let r = 0; r < rows; r++) {
    let q = 0;
    for (let c = 0; c < cols; c++) q += w[r * cols + c]! ** 2;
    s += Math.sqrt(cols) * Math.sqrt(q);
  }
  return s;
}

/** Central finite differences of λ·pen at p's weights in float64; masked entries are held at 0. */
function fdGrad(p: Parameter, lambda: number, pen: (w: Float64Array, rows: number) => number, h = 1e-6): Float64Array {
  const w = Float64Array.from(p.data);
  const out = new Float64Array(w.length);
  for (let i = 0; i < w.length; i++) {
    if (p.mask && p.mask[i] === 0) continue;
    const x = w[i]!;
    w[i] = x + h;
    const up = pen(w, p.shape[0]!);
    w[i] = x - h;
    const down = pen(w, p.shape[0]!);
    w[i] = x;
    out[i] = (lambda * (up - down)) / (2 * h);
  }
  return out;
}

function expectNear(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, label: string): void {
  expect(got.length, `${label}: length`).toBe(want.length);
  for (let i = 0; i < got.length; i++)
    if (!(Math.abs(got[i]! - want[i]!) <= tol * (1 + Math.abs(want[i]!)))) expect.fail(`${label}: index ${i}: got ${got[i]}, expected ${want[i]}`);
}

// ------------------------------------------------------------------------ gradients ----

describe('penalty gradients', () => {
  const cases = [
    { name: 'l1', make: l1Regularizer, pen: refL1, value: l1Penalty },
    { name: 'group lasso', make: groupLasso, pen: refGroup, value: groupLassoPenalty },
  ] as const;

  for (const c of cases)
    it(`${c.name}: adds λ·∇penalty to an existing gradient, creates a missing one, keeps pruned entries zero`, () => {
      const { model, fc, conv } = smallModel(11);
      const rng = mulberry32(12);
      fc.weight.setMask(randomMask(rng, fc.weight.size, 0.6));
      // one fully zero row: its group-lasso gradient is 0 (finite differences agree: ‖±h e_i‖ = h)
      fc.weight.data.fill(0, 2 * 7, 3 * 7);
      const lambda = 0.37;
      const before = Float32Array.from({ length: fc.weight.size }, (_, i) => (fc.weight.mask![i] ? rng() - 0.5 : 0));
      fc.weight.grad = before.slice();
      conv.weight.grad = null;
      const reg = c.make({ lambda });
      reg.onTrainBegin!(ctxOf(model));
      reg.onAfterBackward!(info, ctxOf(model));

      const wantFc = fdGrad(fc.weight, lambda, c.pen);
      for (let i = 0; i < before.length; i++) wantFc[i]! += before[i]!;
      expectNear(fc.weight.grad!, wantFc, 1e-5, `${c.name} fc`);
      for (let i = 0; i < fc.weight.size; i++) if (fc.weight.mask![i] === 0) expect(fc.weight.grad![i], `pruned entry ${i}`).toBe(0);
      if (c.name === 'group lasso') for (let i = 14; i < 21; i++) expect(fc.weight.grad![i], `zero row, entry ${i}`).toBe(before[i]);
      expectNear(conv.weight.grad!, fdGrad(conv.weight, lambda, c.pen), 1e-5, `${c.name} conv (gradient created)`);
      // the BatchNorm-free model has exactly these two targets; penalty() agrees with the reference
      const ref = lambda * (c.pen(Float64Array.from(conv.weight.data), 4) + c.pen(Float64Array.from(fc.weight.data), 5));
      expect(reg.penalty()).toBeCloseTo(ref, 10);
      expect(c.value(model, lambda)).toBeCloseTo(ref, 10);
      expect(regularizationPenalty([reg, reg])).toBeCloseTo(2 * ref, 10);
    });

  for (const c of cases)
    it(`${c.name}: on a sparse-executed layer the compact kernel gradient gets the penalty at kept entries`, () => {
      manualSeed(3);
      const rng = mulberry32(4);
      const fc = new Linear(16, 8, { execution: 'sparse' });
      for (let i = 0; i < fc.weight.size; i++) fc.weight.data[i] = nonzeroValue(rng);
      fc.weight.setMask(randomMask(rng, fc.weight.size, 0.25));
      const x = Tensor.from(Array.from({ length: 16 * 3 }, () => rng() - 0.5), [16, 3]);
      crossEntropy(fc.forward(x), Int32Array.from([0, 3, 7])).backward();
      const active = fc.weight.maskPattern().active;
      const compact = fc.weight.gradFor(active)!;
      expect(compact.compact, 'the kernel gradient is compact').toBe(true);
      const dense = new Float64Array(fc.weight.size);
      active.forEach((idx, k) => (dense[idx] = compact.values[k]!));
      const target: PruneTarget = { name: 'fc.weight', param: fc.weight, module: fc, moduleName: 'fc' };
      const reg = c.make({ lambda: 0.05, targets: [target] });
      reg.onAfterBackward!(info, ctxOf(fc));
      expect(fc.weight.gradFor(active)!.compact, 'the gradient stays compact for the optimizer').toBe(true);
      const want = fdGrad(fc.weight, 0.05, c.pen);
      for (let i = 0; i < want.length; i++) want[i]! += dense[i]!;
      expectNear(fc.weight.grad!, want, 1e-5, c.name);
    });

  it('lambda = 0 and proximal mode add nothing to the gradient', () => {
    const { model, fc } = smallModel(5);
    for (const reg of [l1Regularizer({ lambda: 0 }), groupLasso({ lambda: 1, proximal: true })]) {
      fc.weight.grad = new Float32Array(fc.weight.size).fill(0.25);
      reg.onAfterBackward!(info, ctxOf(model));
      expect(fc.weight.grad.every((v) => v === 0.25)).toBe(true);
    }
  });
});

// -------------------------------------------------------------------- proximal steps ----

/** Records, after the regularizer's hooks, the weights and gradient before the step and the weights after. */
function recorder(p: Parameter): Callback & { steps: Array<{ w: Float32Array; g: Float32Array; after: Float32Array | null }> } {
  const steps: Array<{ w: Float32Array; g: Float32Array; after: Float32Array | null }> = [];
  return {
    steps,
    onAfterBackward() {
      steps.push({ w: p.data.slice(), g: p.grad!.slice(), after: null });
    },
    onStepEnd() {
      steps[steps.length - 1]!.after = p.data.slice();
    },
  };
}

function toyData(seed: number, n = 48) {
  const rng = mulberry32(seed);
  const images = Float32Array.from({ length: n * 6 }, () => rng() * 2 - 1);
  const labels = Int32Array.from({ length: n }, (_, i) => (images[i * 6]! > 0 ? 1 : 0) + (images[i * 6 + 1]! > 0 ? 2 : 0));
  return { length: n, sampleShape: [6], images, labels, numClasses: 4 };
}

describe('proximal steps', () => {
  it('l1 proximal: after each SGD step, w = soft-threshold(w - lr g, lr λ), with exact zeros', async () => {
    manualSeed(21);
    const fc1 = new Linear(6, 12);
    const model = new Sequential({ fc1, act: new ReLU(), fc2: new Linear(12, 4) });
    const lr = 0.1;
    const lambda = 0.5;
    const rec = recorder(fc1.weight);
    await fit(model, toyData(1), { optimizer: new SGD(model.parameters(), { lr }), epochs: 2, batchSize: 16, callbacks: [l1Regularizer({ lambda, proximal: true }), rec], progress: false });
    expect(rec.steps.length).toBe(6);
    for (const [s, { w, g, after }] of rec.steps.entries()) {
      const want = Float64Array.from(w, (v, i) => {
        const x = Math.fround(v - Math.fround(lr * g[i]!));
        return Math.sign(x) * Math.max(Math.abs(x) - lr * lambda, 0);
      });
      expectNear(after!, want, 1e-6, `step ${s}`);
      for (let i = 0; i < want.length; i++) if (want[i] === 0) expect(after![i], `step ${s} entry ${i} is an exact zero`).toBe(0);
    }
    expect(fc1.weight.data.filter((v) => v === 0).length, 'soft-thresholding made exact zeros').toBeGreaterThan(5);
  });

  it('group-lasso proximal: after each SGD step, rows shrink by max(0, 1 - lr λ sqrt(cols)/‖row‖), small rows become zero', async () => {
    manualSeed(22);
    const fc1 = new Linear(6, 12);
    const model = new Sequential({ fc1, act: new ReLU(), fc2: new Linear(12, 4) });
    const lr = 0.1;
    const lambda = 0.4;
    const rec = recorder(fc1.weight);
    await fit(model, toyData(2), { optimizer: new SGD(model.parameters(), { lr }), epochs: 2, batchSize: 16, callbacks: [groupLasso({ lambda, proximal: true }), rec], progress: false });
    for (const [s, { w, g, after }] of rec.steps.entries()) {
      const v = Float64Array.from(w, (x, i) => Math.fround(x - Math.fround(lr * g[i]!)));
      const want = new Float64Array(v.length);
      for (let r = 0; r < 12; r++) {
        const norm = Math.hypot(...v.subarray(r * 6, r * 6 + 6));
        const f = Math.max(0, 1 - (lr * lambda * Math.sqrt(6)) / norm);
        for (let c = 0; c < 6; c++) want[r * 6 + c] = v[r * 6 + c]! * f;
      }
      expectNear(after!, want, 1e-6, `step ${s}`);
    }
    let zeroRows = 0;
    for (let r = 0; r < 12; r++) if (fc1.weight.data.subarray(r * 6, r * 6 + 6).every((x) => x === 0)) zeroRows++;
    expect(zeroRows, 'block soft-thresholding removed whole rows').toBeGreaterThan(0);
  });

  it('block soft-thresholding by hand: [3, 4] shrinks to half, a small row and a zero row become zero', () => {
    const fc = new Linear(2, 3, { bias: false });
    fc.weight.data.set([3, 4, 0.1, -0.1, 0, 0]);
    const t: PruneTarget = { name: 'w', param: fc.weight, module: fc, moduleName: '' };
    proximalGroupLasso([t], 2.5 / Math.SQRT2); // step·sqrt(2) = 2.5 = ‖[3, 4]‖ / 2
    expectNear(fc.weight.data, [1.5, 2, 0, 0, 0, 0], 1e-6, 'rows');
    expect([...fc.weight.data].every(Number.isFinite)).toBe(true);
  });
});

// ------------------------------------------------------------------ threshold to mask ----

describe('thresholdToMask', () => {
  it("'weights' prunes exactly the weights with |w| <= threshold, AND-ed with the existing mask", () => {
    manualSeed(31);
    const rng = mulberry32(32);
    const fc1 = new Linear(20, 15);
    const fc2 = new Linear(15, 10);
    const model = new Sequential({ fc1, bn: new BatchNorm1d(15), fc2 });
    const thr = Math.fround(0.05);
    fc1.weight.data[3] = -thr; // exactly at the threshold: pruned
    fc2.weight.setMask(randomMask(rng, fc2.weight.size, 0.8));
    const want = [fc1, fc2].map((l) => Uint8Array.from(l.weight.data, (v, i) => (Math.abs(v) > thr && (!l.weight.mask || l.weight.mask[i] === 1) ? 1 : 0)));
    const res = thresholdToMask(model, { threshold: thr });
    expect(res.layers.map((l) => l.name)).toEqual(['fc1.weight', 'fc2.weight']); // not bn.weight
    [fc1, fc2].forEach((l, k) => {
      expect([...l.weight.mask!]).toEqual([...want[k]!]);
      const kept = want[k]!.reduce((a, b) => a + b, 0);
      expect(res.layers[k]).toEqual({ name: `fc${k + 1}.weight`, size: l.weight.size, kept, sparsity: 1 - kept / l.weight.size });
    });
    expect(fc1.weight.mask![3]).toBe(0);
    const total = want.reduce((s, m) => s + m.length - m.reduce((a, b) => a + b, 0), 0);
    expect(res.sparsity).toBeCloseTo(total / (300 + 150), 12);
    expect(fc1.bias!.mask).toBeNull();
    expect(res.warnings).toEqual([]);
  });

  it("'rows' prunes exactly the rows with ‖row‖ <= threshold and masks their bias: the neurons output exactly 0", () => {
    const { model, fc, conv } = smallModel(41);
    // even rows small (norms about 0.45 and 0.7), odd rows large (about 1.5 and 2.4)
    for (const [l, cols] of [[fc, 7], [conv, 18]] as const)
      for (let r = 0; r < l.weight.shape[0]!; r += 2) for (let i = r * cols; i < (r + 1) * cols; i++) l.weight.data[i]! *= 0.3;
    const norms = (p: Parameter, cols: number) => Array.from({ length: p.shape[0]! }, (_, r) => Math.hypot(...p.data.subarray(r * cols, (r + 1) * cols)));
    const thr = 1.0;
    const wantFc = norms(fc.weight, 7).map((n) => n <= thr);
    const wantConv = norms(conv.weight, 18).map((n) => n <= thr);
    for (const want of [wantFc, wantConv]) {
      expect(want.filter(Boolean).length, 'the case prunes some but not all rows').toBeGreaterThan(0);
      expect(want.filter(Boolean).length).toBeLessThan(want.length);
    }
    fc.bias!.data.fill(0.5); // a nonzero bias would leak through a pruned row
    const res = thresholdToMask(model, { threshold: thr, structure: 'rows' });
    for (const [l, want, cols] of [[fc, wantFc, 7], [conv, wantConv, 18]] as const) {
      for (let r = 0; r < want.length; r++) {
        expect([...l.weight.mask!.subarray(r * cols, (r + 1) * cols)].every((m) => m === (want[r] ? 0 : 1)), `row ${r}`).toBe(true);
        expect(l.bias!.mask![r], `bias ${r}`).toBe(want[r] ? 0 : 1);
      }
    }
    expect(res.layers[1]!.kept).toBe(wantFc.filter((p) => !p).length * 7);
    const y = noGrad(() => fc.forward(Tensor.from(Array.from({ length: 14 }, (_, i) => i - 6), [7, 2])));
    for (let r = 0; r < 5; r++) for (let b = 0; b < 2; b++) if (wantFc[r]) expect(y.data[r * 2 + b]).toBe(0);
  });

  it('warns about a layer that loses every weight', () => {
    const { fc } = smallModel(51);
    const seen: string[] = [];
    const res = thresholdToMask([{ name: 'fc.weight', param: fc.weight, module: fc, moduleName: 'fc' }], { threshold: 10, onWarning: (m) => seen.push(m) });
    expect(res.sparsity).toBe(1);
    expect(res.warnings.length).toBe(1);
    expect(res.warnings[0]).toContain('fc.weight');
    expect(seen).toEqual(res.warnings);
  });

  it('pruneTargets lists the Linear and Conv2d weights only', () => {
    const { model } = smallModel(1);
    expect(pruneTargets(new Sequential({ m: model, bn: new BatchNorm1d(3) })).map((t) => t.name)).toEqual(['m.conv.weight', 'm.fc.weight']);
  });
});

describe('errors', () => {
  it('bad lambda, threshold, structure and targets give typed errors', () => {
    const { model } = smallModel(2);
    expectThrows(() => l1Regularizer({ lambda: -1 }), IndexRangeError, 'ERR_RANGE', 'negative lambda');
    expectThrows(() => groupLasso({ lambda: NaN }), IndexRangeError, 'ERR_RANGE', 'NaN lambda');
    expectThrows(() => l1Regularizer({ lambda: 1, targets: [{}] as unknown as PruneTarget[] }), SparsennTypeError, 'ERR_TYPE', 'bad target');
    expectThrows(() => l1Regularizer({ lambda: 1, proximal: 'yes' as unknown as boolean }), SparsennTypeError, 'ERR_TYPE', 'proximal');
    const t = pruneTargets(model);
    expectThrows(() => groupLasso({ lambda: 1, targets: [t[0]!, t[0]!] }), SparsennTypeError, 'ERR_TYPE', 'duplicate target');
    expectThrows(() => thresholdToMask(model, { threshold: -0.1 }), IndexRangeError, 'ERR_RANGE', 'negative threshold');
    expectThrows(() => thresholdToMask(model, { threshold: 0.1, structure: 'blocks' as 'rows' }), SparsennTypeError, 'ERR_TYPE', 'structure');
    expectThrows(() => thresholdToMask(42 as unknown as Module, { threshold: 0.1 }), SparsennTypeError, 'ERR_TYPE', 'not targets');
    expectThrows(() => l1Regularizer({ lambda: 1 }).penalty(), SparsennTypeError, 'ERR_TYPE', 'penalty without a model');
  });
});
