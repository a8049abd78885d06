/**
 * Hard-concrete L0 gates (lib/prune/l0.ts): the sampling function, its derivative at fixed noise
 * and the expected-L0 derivative against finite differences; one gated step against a float64
 * hand computation (∂L/∂θ = g⊙z, ∂L/∂log α by finite differences of the gated loss at fixed u,
 * the first Adam step in closed form); the gate distribution against its analytic P(z ≠ 0);
 * θ back in the weights after every step inside fit(); existing masks respected; training on the
 * Fashion-MNIST subset closes gates when λ is large and not when λ = 0; finalize() reproduces
 * the deterministic gated model exactly with masks where ẑ = 0.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { IndexRangeError, SparsennTypeError } from '../../lib/errors.js';
import type { Dataset } from '../../lib/nn/data/dataset.js';
import { loadFashionMnistSync } from '../../lib/nn/data/fashion-mnist.js';
import { manualSeed } from '../../lib/nn/init.js';
import { Flatten, ReLU } from '../../lib/nn/layers/activations.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import { mse } from '../../lib/nn/ops/loss.js';
import { Adam } from '../../lib/nn/optim/adam.js';
import { SGD } from '../../lib/nn/optim/sgd.js';
import { Tensor } from '../../lib/nn/tensor.js';
import { evaluate, fit, predict, type Callback } from '../../lib/nn/train/fit.js';
import {
  gateOpenProbability,
  gateOpenProbabilityGrad,
  hardConcrete,
  hardConcreteGrad,
  l0Gates,
  L0_BETA,
  L0_GAMMA,
  L0_ZETA,
  testGate,
} from '../../lib/prune/l0.js';
import type { PruneTarget } from '../../lib/prune/types.js';
import { expectThrows } from '../helpers/errors.js';
import { mulberry32 } from '../helpers/random.js';

// ------------------------------------------------------------- float64 references ----

const sig = (x: number) => 1 / (1 + Math.exp(-x));
/** The paper's sample, written out independently of the library. */
function refZ(logAlpha: number, u: number): number {
  const s = sig((Math.log(u / (1 - u)) + logAlpha) / (2 / 3));
  return Math.min(1, Math.max(0, s * 1.2 - 0.1));
}
/** P(z > 0) per gate: sigmoid(log α − β log(−γ/ζ)) with β = 2/3, γ = −0.1, ζ = 1.1. */
const refOpen = (logAlpha: number) => sig(logAlpha - (2 / 3) * Math.log(0.1 / 1.1));

function linearTarget(l: Linear, name = 'fc'): PruneTarget {
  return { name: `${name}.weight`, param: l.weight, module: l, moduleName: name };
}

// ------------------------------------------------------------------- the functions ----

describe('hard-concrete functions', () => {
  it('the constants are the paper’s', () => {
    expect([L0_BETA, L0_GAMMA, L0_ZETA]).toEqual([2 / 3, -0.1, 1.1]);
  });

  it('z(log α, u) matches the formula; ∂z/∂log α matches finite differences at fixed u (0 where clamped)', () => {
    const rng = mulberry32(7);
    let inside = 0;
    let clamped = 0;
    for (let k = 0; k < 400; k++) {
      const a = rng() * 8 - 4;
      const u = 0.001 + 0.998 * rng();
      expect(hardConcrete(a, u)).toBeCloseTo(refZ(a, u), 14);
      const h = 1e-6;
      const fd = (refZ(a + h, u) - refZ(a - h, u)) / (2 * h);
      const z = refZ(a, u);
      // skip points within h of a clamp edge, where the central difference straddles the kink
      if (Math.abs(refZ(a + h, u) - z) > 0 && (refZ(a + h, u) === 0 || refZ(a - h, u) === 0 || refZ(a + h, u) === 1 || refZ(a - h, u) === 1)) continue;
      expect(hardConcreteGrad(a, u)).toBeCloseTo(fd, 6);
      if (z === 0 || z === 1) clamped++;
      else inside++;
    }
    expect(inside, 'both regimes are exercised').toBeGreaterThan(100);
    expect(clamped).toBeGreaterThan(50);
  });

  it('P(z ≠ 0) and its derivative; the test-time gate closes below logit(−γ/(ζ−γ)) and opens fully above logit((1−γ)/(ζ−γ))', () => {
    for (const a of [-6, -2.5, -1, 0, 0.3, 2, 5]) {
      expect(gateOpenProbability(a)).toBeCloseTo(refOpen(a), 14);
      expect(gateOpenProbabilityGrad(a)).toBeCloseTo((refOpen(a + 1e-6) - refOpen(a - 1e-6)) / 2e-6, 8);
    }
    const closeAt = Math.log(0.1 / 1.1); // sigmoid = 1/12
    const fullAt = Math.log(1.1 / 0.1); // sigmoid = 11/12
    expect(testGate(closeAt - 1e-9)).toBe(0);
    expect(testGate(closeAt + 1e-3)).toBeGreaterThan(0);
    expect(testGate(fullAt + 1e-9)).toBe(1);
    expect(testGate(fullAt - 1e-3)).toBeLessThan(1);
    expect(testGate(0)).toBeCloseTo(0.5, 14);
  });

  it('log α starts at N(logit(1 − droprateInit), 0.01²), reproducibly from the seed', () => {
    const fc = new Linear(50, 40, { bias: false });
    const a = l0Gates([linearTarget(fc)], { lambda: 0, droprateInit: 0.3, seed: 8 }).logAlpha[0]!;
    const mean = a.reduce((x, y) => x + y, 0) / a.length;
    const std = Math.sqrt(a.reduce((x, y) => x + (y - mean) ** 2, 0) / (a.length - 1));
    expect(Math.abs(mean - Math.log(0.7 / 0.3))).toBeLessThan(4 * (0.01 / Math.sqrt(a.length)));
    expect(Math.abs(std / 0.01 - 1)).toBeLessThan(0.1);
    expect([...l0Gates([linearTarget(fc)], { lambda: 0, droprateInit: 0.3, seed: 8 }).logAlpha[0]!]).toEqual([...a]);
    expect([...l0Gates([linearTarget(fc)], { lambda: 0, droprateInit: 0.3, seed: 9 }).logAlpha[0]!]).not.toEqual([...a]);
  });

  it('sampled gates follow the hard-concrete law: P(z = 0) = 1 − P(z ≠ 0), P(z = 1) analytic', () => {
    const fc = new Linear(100, 100, { bias: false });
    const gates = l0Gates([linearTarget(fc)], { lambda: 0, seed: 3 });
    const a = gates.logAlpha[0]!;
    for (let i = 0; i < a.length; i++) a[i] = i < 5000 ? -1 : 0.8;
    const count = [0, 0, 0, 0]; // zeros / ones, for each half
    for (let step = 0; step < 4; step++) {
      gates.onStepBegin();
      const z = gates.lastSample[0]!.z;
      for (let i = 0; i < z.length; i++) {
        if (z[i] === 0) count[i < 5000 ? 0 : 2]!++;
        if (z[i] === 1) count[i < 5000 ? 1 : 3]!++;
      }
      gates.restore();
    }
    // P(z = 1) = P(s >= 11/12) = 1 − sigmoid(β·logit(11/12) − log α)
    const pOne = (la: number) => 1 - sig((2 / 3) * Math.log(11) - la);
    const n = 20000;
    for (const [k, la] of [[0, -1], [2, 0.8]] as const) {
      const p0 = 1 - refOpen(la);
      expect(Math.abs(count[k]! / n - p0), `P(z=0) at log α ${la}`).toBeLessThan(4 * Math.sqrt((p0 * (1 - p0)) / n));
      const p1 = pOne(la);
      expect(Math.abs(count[k + 1]! / n - p1), `P(z=1) at log α ${la}`).toBeLessThan(4 * Math.sqrt((p1 * (1 - p1)) / n));
    }
  });
});

// ----------------------------------------------------------------- one gated step ----

/** Float64 forward of mse(W̃ x + b̃, t) for a Linear (out x in), x (in x n). */
function refLoss(w: Float64Array, b: Float64Array, x: Float32Array, t: Float32Array, out: number, inF: number, n: number): number {
  let s = 0;
  for (let r = 0; r < out; r++)
    for (let j = 0; j < n; j++) {
      let y = b[r]!;
      for (let c = 0; c < inF; c++) y += w[r * inF + c]! * x[c * n + j]!;
      s += (y - t[r * n + j]!) ** 2;
    }
  return s / (out * n);
}

describe('one gated step', () => {
  for (const granularity of ['weight', 'row'] as const)
    it(`${granularity} gates: ∂L/∂θ = g⊙z, ∂(L + λE[L0])/∂log α by finite differences, θ restored, first Adam step closed form`, () => {
      manualSeed(5);
      const rng = mulberry32(6);
      const [inF, out, n] = [6, 4, 5];
      const fc = new Linear(inF, out);
      const mask = Uint8Array.from({ length: inF * out }, (_, i) => (i % 7 === 3 ? 0 : 1));
      fc.weight.setMask(mask);
      const lambda = 0.02;
      const lr = 0.05;
      const gates = l0Gates([linearTarget(fc)], { lambda, granularity, lr, seed: 9, droprateInit: 0.3 });
      const a = gates.logAlpha[0]!;
      for (let k = 0; k < a.length; k++) a[k] = rng() * 4 - 1.5; // a mix of clamped and open samples
      const a0 = a.slice();
      const theta = fc.weight.data.slice();
      const thetaB = fc.bias!.data.slice();
      const x = Float32Array.from({ length: inF * n }, () => rng() * 2 - 1);
      const t = Float32Array.from({ length: out * n }, () => rng() * 2 - 1);

      gates.onStepBegin();
      const { u, z } = gates.lastSample[0]!;
      const gateOf = (i: number) => (granularity === 'row' ? Math.floor(i / inF) : i);
      for (let i = 0; i < theta.length; i++) expect(fc.weight.data[i], `gated weight ${i}`).toBe(Math.fround(theta[i]! * z[gateOf(i)]!));
      fc.weight.zeroGrad();
      fc.bias!.zeroGrad();
      mse(fc.forward(new Tensor(x, [inF, n])), t).backward();
      gates.onAfterBackward();
      expect([...fc.weight.data], 'θ is back').toEqual([...theta]);
      expect([...fc.bias!.data], 'bias θ is back').toEqual([...thetaB]);

      // the gated loss as a function of θ, bias and log α, at the step's fixed noise u
      const lossAt = (th: Float64Array, tb: Float64Array, la: Float64Array) => {
        const zz = Float64Array.from(la, (v, k) => refZ(v, u[k]!));
        const w = Float64Array.from(th, (v, i) => (mask[i] ? v * zz[gateOf(i)]! : 0));
        const b = granularity === 'row' ? Float64Array.from(tb, (v, r) => v * zz[r]!) : tb;
        return refLoss(w, b, x, t, out, inF, n);
      };
      const th = Float64Array.from(theta);
      const tb = Float64Array.from(thetaB);
      const la = Float64Array.from(a0);
      const h = 1e-6;
      const dTheta = Float64Array.from(th, (v, i) => {
        if (!mask[i]) return 0;
        th[i] = v + h;
        const up = lossAt(th, tb, la);
        th[i] = v - h;
        const down = lossAt(th, tb, la);
        th[i] = v;
        return (up - down) / (2 * h);
      });
      const gw = fc.weight.grad!;
      for (let i = 0; i < gw.length; i++) expect(gw[i], `∂L/∂θ[${i}]`).toBeCloseTo(dTheta[i]!, 5);
      // the penalty, counted in kept weights: a row gate stands for its row's kept weights
      const weightsBehind = Float64Array.from(a0, (_, k) => (granularity === 'row' ? mask.subarray(k * inF, (k + 1) * inF).reduce((s, m) => s + m, 0) : mask[k]!));
      const penalty = (l: Float64Array) => lambda * l.reduce((s, v, k) => s + weightsBehind[k]! * refOpen(v), 0);
      const grad = gates.lastLogAlphaGrad[0]!;
      let moved = 0;
      for (let k = 0; k < la.length; k++) {
        const v = la[k]!;
        la[k] = v + h;
        const up = lossAt(th, tb, la) + penalty(la);
        la[k] = v - h;
        const down = lossAt(th, tb, la) + penalty(la);
        la[k] = v;
        // skip the rare gate whose sample sits within h of a clamp edge
        if (Math.abs(refZ(v + h, u[k]!) - refZ(v - h, u[k]!)) > 0 && [refZ(v + h, u[k]!), refZ(v - h, u[k]!)].some((q) => q === 0 || q === 1) && ![0, 1].includes(refZ(v, u[k]!))) continue;
        expect(grad[k], `∂/∂log α[${k}]`).toBeCloseTo((up - down) / (2 * h), 5);
        // the first Adam step moves by lr·g/(|g| + eps)
        expect(a[k]).toBeCloseTo(a0[k]! - (lr * grad[k]!) / (Math.abs(grad[k]!) + 1e-8), 12);
        if (grad[k] !== 0) moved++;
      }
      expect(moved).toBeGreaterThan(la.length / 2);
      if (granularity === 'weight') for (let i = 0; i < mask.length; i++) if (!mask[i]) expect(grad[i], `masked gate ${i} is not trained`).toBe(0);
      expect(gates.expectedL0()).toBeCloseTo(penalty(Float64Array.from(a)) / lambda, 10);
    });
});

// ------------------------------------------------------------------ inside fit() ----

function toyData(seed: number, n = 64): Dataset {
  const rng = mulberry32(seed);
  const images = Float32Array.from({ length: n * 8 }, () => rng() * 2 - 1);
  const labels = Int32Array.from({ length: n }, (_, i) => (images[i * 8]! + images[i * 8 + 1]! > 0 ? 1 : 0) + (images[i * 8 + 2]! > 0 ? 2 : 0));
  return { length: n, sampleShape: [8], images, labels, numClasses: 4 };
}

describe('inside fit()', () => {
  it('the weights hold θ outside each step: SGD updates θ by the gated gradient, evaluate() sees θ', async () => {
    manualSeed(12);
    const fc1 = new Linear(8, 16);
    const model = new Sequential({ fc1, act: new ReLU(), fc2: new Linear(16, 4) });
    const lr = 0.2;
    const gates = l0Gates(model, { lambda: 0.01, granularity: 'row', lr: 0.1, seed: 1 });
    const p = fc1.weight;
    let theta: Float32Array | null = null;
    let grad: Float32Array | null = null;
    let lastAfter: Float32Array | null = null;
    let checked = 0;
    const before: Callback = {
      onStepBegin() {
        if (lastAfter) expect([...p.data], 'nothing changes θ between steps').toEqual([...lastAfter]);
        theta = p.data.slice();
      },
    };
    const after: Callback = {
      onStepBegin() {
        expect([...p.data]).not.toEqual([...theta!]); // gated for the forward pass
      },
      onAfterBackward() {
        expect([...p.data], 'θ restored before the optimizer step').toEqual([...theta!]);
        grad = p.grad!.slice();
      },
      onStepEnd() {
        for (let i = 0; i < p.size; i++) expect(p.data[i]).toBeCloseTo(theta![i]! - lr * grad![i]!, 6);
        lastAfter = p.data.slice();
        checked++;
      },
      onEpochEnd(logs) {
        expect([...p.data], 'evaluate() at epoch end sees θ').toEqual([...lastAfter!]);
        expect(evaluate(model, toyData(4)).loss).toBe(logs.valLoss);
      },
    };
    await fit(model, toyData(3), { optimizer: new SGD(model.parameters(), { lr }), epochs: 2, batchSize: 16, validation: toyData(4), callbacks: [before, gates, after], progress: false });
    expect(checked).toBe(8);
  });

  it('existing masks are respected: pruned weights stay zero in every gated pass and are not counted', async () => {
    manualSeed(13);
    const fc1 = new Linear(8, 16);
    const model = new Sequential({ fc1, act: new ReLU(), fc2: new Linear(16, 4) });
    const mask = Uint8Array.from({ length: fc1.weight.size }, (_, i) => (i % 3 === 0 ? 0 : 1));
    fc1.weight.setMask(mask);
    const gates = l0Gates(model, { lambda: 0.01, seed: 2 });
    const a = gates.logAlpha[0]!;
    const expected0 = [...a].reduce((s, v, i) => s + (mask[i] ? refOpen(v) : 0), 0) + [...gates.logAlpha[1]!].reduce((s, v) => s + refOpen(v), 0);
    expect(gates.expectedL0()).toBeCloseTo(expected0, 10);
    const check: Callback = {
      onAfterBackward: () => undefined,
      onStepBegin() {
        for (let i = 0; i < mask.length; i++) if (!mask[i]) expect(fc1.weight.data[i]).toBe(0);
      },
    };
    const a0 = a.slice();
    await fit(model, toyData(5), { optimizer: new Adam(model.parameters(), { lr: 0.01 }), epochs: 1, batchSize: 16, callbacks: [gates, check], progress: false });
    for (let i = 0; i < mask.length; i++) if (!mask[i]) expect(a[i], `log α of pruned weight ${i} untouched`).toBe(a0[i]);
    const res = gates.finalize();
    for (let i = 0; i < mask.length; i++) if (!mask[i]) expect(fc1.weight.mask![i]).toBe(0);
    expect(res.layers[0]!.kept).toBeLessThanOrEqual(mask.reduce((s, m) => s + m, 0));
  });
});

// --------------------------------------------------------------- Fashion-MNIST ----

describe('training on the Fashion-MNIST subset', () => {
  let train: Dataset;
  let test: Dataset;
  beforeAll(() => {
    train = loadFashionMnistSync({ subset: true, split: 'train', normalize: true });
    test = loadFashionMnistSync({ subset: true, split: 'test', normalize: true });
  });

  /** Flatten → Linear(784, 32) → ReLU → Linear(32, 10), 4 epochs of Adam (128 steps) with the gates. */
  async function run(lambda: number, granularity: 'weight' | 'row') {
    manualSeed(1);
    const fc1 = new Linear(784, 32);
    const fc2 = new Linear(32, 10);
    const model = new Sequential({ flat: new Flatten(), fc1, act: new ReLU(), fc2 });
    // row gates on the hidden layer only: closing an output row would delete a class
    const gates = l0Gates(granularity === 'row' ? [linearTarget(fc1, 'fc1')] : model, { lambda, granularity, lr: 0.1, seed: 4 });
    await fit(model, train, { optimizer: new Adam(model.parameters(), { lr: 1e-3 }), epochs: 4, batchSize: 64, callbacks: [gates], progress: false, seed: 2 });
    return { model, gates, fc1, fc2 };
  }

  const samples = () => test.images.subarray(0, 200 * 784);

  function expectCloseLogits(got: Tensor, want: Tensor, label: string): void {
    expect(got.shape).toEqual(want.shape);
    for (let i = 0; i < got.size; i++) if (!(Math.abs(got.data[i]! - want.data[i]!) <= 1e-4 * (1 + Math.abs(want.data[i]!)))) expect.fail(`${label}: logit ${i}: ${got.data[i]} vs ${want.data[i]}`);
  }

  it('weight gates: λ large drives the test-time sparsity up, λ = 0 does not; finalize() bakes θ⊙ẑ, masks ẑ = 0 and reproduces the gated model', async () => {
    const off = await run(0, 'weight');
    const on = await run(3e-4, 'weight');
    expect(off.gates.sparsityAtTest(), 'λ = 0').toBeLessThan(0.1);
    expect(on.gates.sparsityAtTest(), 'λ = 3e-4').toBeGreaterThan(0.8);
    expect(on.gates.expectedL0()).toBeLessThan(0.3 * (784 * 32 + 32 * 10));
    expect(off.gates.expectedL0()).toBeGreaterThan(0.5 * (784 * 32 + 32 * 10));
    const acc = on.gates.withDeterministic(() => evaluate(on.model, test).accuracy);
    expect(acc, 'the sparse gated model still classifies').toBeGreaterThan(0.5);

    const { model, gates, fc1, fc2 } = on;
    const theta = [fc1.weight.data.slice(), fc2.weight.data.slice()];
    const zh = gates.testGates();
    const sparsity = gates.sparsityAtTest();
    const gated = gates.withDeterministic(() => predict(model, samples(), [1, 28, 28]));
    expect([...fc1.weight.data], 'withDeterministic() restores θ').toEqual([...theta[0]!]);
    const res = gates.finalize();
    [fc1, fc2].forEach((l, t) => {
      for (let i = 0; i < l.weight.size; i++) {
        expect(l.weight.mask![i], `${t}:${i}`).toBe(zh[t]![i]! > 0 ? 1 : 0);
        expect(l.weight.data[i]! + 0, `${t}:${i} is θ·ẑ`).toBe(Math.fround(theta[t]![i]! * zh[t]![i]!) + 0); // (+0 and -0 alike)
      }
      expect(l.bias!.mask, 'weight gates leave the bias alone').toBeNull();
    });
    expect(res.sparsity).toBeCloseTo(sparsity, 12);
    expect(res.layers.map((l) => l.name)).toEqual(['fc1.weight', 'fc2.weight']);
    expectCloseLogits(predict(model, samples(), [1, 28, 28]), gated, 'after finalize');
    // retired: a later step leaves the weights alone
    const w = fc1.weight.data.slice();
    gates.onStepBegin();
    expect([...fc1.weight.data]).toEqual([...w]);
    expect(gates.finalized).toBe(true);
  });

  it('row gates close whole neurons; finalize() masks their rows and bias entries, their outputs are exactly 0', async () => {
    const { model, gates, fc1 } = await run(3e-5, 'row');
    const zh = gates.testGates()[0]!;
    const closed = [...zh].map((z) => z === 0);
    const nClosed = closed.filter(Boolean).length;
    expect(nClosed, 'some neurons closed').toBeGreaterThan(4);
    expect(nClosed, 'not all').toBeLessThan(28);
    expect(gates.sparsityAtTest()).toBeCloseTo(nClosed / 32, 12);
    const gated = gates.withDeterministic(() => predict(model, samples(), [1, 28, 28]));
    const res = gates.finalize();
    expect(res.layers[0]!.kept).toBe((32 - nClosed) * 784);
    for (let r = 0; r < 32; r++) {
      expect(fc1.bias!.mask![r], `bias ${r}`).toBe(closed[r] ? 0 : 1);
      expect(fc1.weight.mask!.subarray(r * 784, (r + 1) * 784).every((m) => m === (closed[r] ? 0 : 1)), `row ${r}`).toBe(true);
    }
    expectCloseLogits(predict(model, samples(), [1, 28, 28]), gated, 'after finalize');
    const hidden = predict(fc1, samples(), [784]);
    for (let r = 0; r < 32; r++) if (closed[r]) expect(hidden.data.subarray(r * 200, (r + 1) * 200).every((v) => v === 0), `neuron ${r}`).toBe(true);
  });
});

// ------------------------------------------------------------------------ errors ----

describe('errors', () => {
  it('bad options give typed errors; finalize twice is refused', () => {
    const fc = new Linear(3, 2);
    const t = [linearTarget(fc)];
    expectThrows(() => l0Gates(t, { lambda: -1 }), IndexRangeError, 'ERR_RANGE', 'lambda');
    expectThrows(() => l0Gates(t, { lambda: 1, lr: 0 }), IndexRangeError, 'ERR_RANGE', 'lr');
    expectThrows(() => l0Gates(t, { lambda: 1, droprateInit: 1 }), IndexRangeError, 'ERR_RANGE', 'droprateInit');
    expectThrows(() => l0Gates(t, { lambda: 1, granularity: 'block' as 'row' }), SparsennTypeError, 'ERR_TYPE', 'granularity');
    expectThrows(() => l0Gates(t, { lambda: 1, seed: 0.5 }), SparsennTypeError, 'ERR_TYPE', 'seed');
    expectThrows(() => l0Gates('fc' as unknown as PruneTarget[], { lambda: 1 }), SparsennTypeError, 'ERR_TYPE', 'targets');
    const g = l0Gates(t, { lambda: 1 });
    g.finalize();
    expectThrows(() => g.finalize(), SparsennTypeError, 'ERR_TYPE', 'finalize twice');
  });
});
