/**
 * signalPropagation / reluMeanField (lib/analysis/signal.ts).
 *
 * Deep ReLU MLPs (width N = 512, depth 10, n = 64 seeded Gaussian inputs, masks keeping each
 * weight with probability s = 0.5): plain Kaiming init (σ_w² = 2, then masked: s σ_w² = 1) must
 * shrink the pre-activations' second moment q by s σ_w² / 2 = 1/2 per layer; sparseKaiming
 * (s σ_w² = 2) must keep it; sparseKaiming told density 0.25 on a 0.5 mask (s σ_w² = 4) must
 * double it. The measured q are checked against float64 means of the pre-activations.
 *
 * The tolerance follows from the sample sizes. Given layer l, the rows of the next weight
 * matrix are independent, so q_{l+1} - (s σ_w² / 2) q_l = [mean_j Q_j - s σ_w² m] +
 * s σ_w² [m - q_l / 2], with Q_j the mean over samples of h_j² in layer l+1 and m the mean square
 * of the ReLU outputs. The first bracket is a mean of N terms that are independent with mean 0
 * given layer l; the second is a mean over the N units of layer l of
 * d_i = mean_b(relu(h_ib)² - h_ib² / 2), independent given layer l-1 and with mean 0 because a
 * weight row and its negative are equally likely. Hence the standard error
 * SE² = Var_j(Q_j) / N + (s σ_w²)² Var_i(d_i) / N, estimated from the float64 activations; each
 * standardised deviation z = (q_{l+1} - (s σ_w² / 2) q_l) / SE must be within 5, and over the 27
 * ratios the z must have mean ~0 and standard deviation ~1 (so the SE is neither too loose nor
 * too tight). At N = 512 this SE is about 6% of q: finite width, not the number of samples,
 * limits the agreement (ReLU outputs share a positive mean, which couples the units).
 */
import { describe, expect, it } from 'vitest';
import { reluMeanField, signalPropagation } from '../../lib/analysis/signal.js';
import { ShapeError, SparsennTypeError } from '../../lib/errors.js';
import { kaimingNormal, sparseKaiming } from '../../lib/nn/init.js';
import { LeakyReLU, ReLU, Sigmoid, Tanh } from '../../lib/nn/layers/activations.js';
import { Conv2d } from '../../lib/nn/layers/conv.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { BatchNorm1d } from '../../lib/nn/layers/norm.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import type { Module } from '../../lib/nn/module.js';
import { Random } from '../../lib/nn/random.js';
import { noGrad, Tensor } from '../../lib/nn/tensor.js';
import { withForwardHooks } from '../../lib/nn/hooks.js';
import { expectThrows } from '../helpers/errors.js';

const N = 512;
const DEPTH = 10;
const SAMPLES = 64;
const S = 0.5;

type Init = 'kaiming' | 'sparse' | 'sparse-at-0.25';

/** Linear(N, N) layers with ReLU between; masks keep each weight with probability S. */
function reluNet(init: Init, seed: number): { model: Sequential; layers: Linear[] } {
  const rng = new Random(seed);
  const layers: Linear[] = [];
  const mods: Module[] = [];
  for (let l = 0; l < DEPTH; l++) {
    const lin = new Linear(N, N, { bias: false, rng });
    const mask = new Uint8Array(N * N);
    for (let i = 0; i < mask.length; i++) mask[i] = rng.next() < S ? 1 : 0;
    if (init === 'kaiming') kaimingNormal(lin.weight.data, lin.weight.shape, { rng });
    else sparseKaiming(lin.weight.data, lin.weight.shape, { mask, rng, density: init === 'sparse' ? undefined : 0.25 });
    lin.weight.setMask(mask);
    layers.push(lin);
    mods.push(lin);
    if (l < DEPTH - 1) mods.push(new ReLU());
  }
  return { model: new Sequential(...mods), layers };
}

/**
 * Per layer, in float64 from the pre-activations a plain forward pass produces (captured with
 * forward hooks): q, the per-row Q_j = mean_b h_jb² and the per-unit d_i = mean_b(relu(h)² - h²/2).
 */
function reference(model: Module, layers: Linear[], x: Tensor): Array<{ q: number; Q: Float64Array; d: Float64Array }> {
  const outputs = new Map<Module, Float32Array>();
  noGrad(() => withForwardHooks(layers, (m, _in, out) => outputs.set(m, out.data), () => model.forward(x)));
  return layers.map((lin) => {
    const h = outputs.get(lin)!;
    const Q = new Float64Array(N);
    const d = new Float64Array(N);
    for (let j = 0; j < N; j++)
      for (let b = 0; b < SAMPLES; b++) {
        const v = h[j * SAMPLES + b]!;
        Q[j]! += (v * v) / SAMPLES;
        d[j]! += ((v > 0 ? v * v : 0) - (v * v) / 2) / SAMPLES;
      }
    return { q: mean(Q), Q, d };
  });
}

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s / a.length;
}

function variance(a: ArrayLike<number>): number {
  const m = mean(a);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - m) ** 2;
  return s / (a.length - 1);
}

function gaussianInput(seed: number, rows: number, n: number): Tensor {
  const rng = new Random(seed);
  return new Tensor(Float32Array.from({ length: rows * n }, () => rng.normal()), [rows, n]);
}

describe('signal propagation through deep sparse ReLU MLPs', () => {
  it('decays as (s σ_w² / 2)^l with plain init, stays with sparseKaiming, grows when over-corrected', () => {
    const cases: Array<[Init, number]> = [
      ['kaiming', S * 2], // s σ_w² = 1
      ['sparse', 2],
      ['sparse-at-0.25', 4], // σ_w² = 2 / 0.25 on a mask of density 0.5
    ];
    const z: number[] = [];
    cases.forEach(([init, nominalGain], c) => {
      const { model, layers } = reluNet(init, 10 + c);
      const x = gaussianInput(100 + c, N, SAMPLES);
      const r = signalPropagation(model, x);
      const ref = reference(model, layers, x);
      expect(r.samples).toBe(SAMPLES);
      expect(r.layers).toHaveLength(DEPTH);
      const predicted = nominalGain / 2;
      r.layers.forEach((l, i) => {
        const label = `${init} layer ${i}`;
        // the measurement itself, against a float64 mean of the same pre-activations
        expect(Math.abs(l.q / ref[i]!.q - 1), label).toBeLessThan(1e-4);
        // the weights' s σ_w²: Σ w² over about N² s kept Gaussian weights has relative sd sqrt(2 / (N² s))
        expect(l.density * l.sigmaW2).toBeCloseTo(l.gain, 12);
        expect(Math.abs(l.gain / nominalGain - 1), label).toBeLessThan(5 * Math.sqrt(2 / (N * N * S)) + 5 * Math.sqrt((1 - S) / (N * N * S)));
        expect(Math.abs(l.density - S), label).toBeLessThan(5 * Math.sqrt((S * (1 - S)) / (N * N)));
        if (i === 0) {
          expect([l.source, l.activation, l.ratio, l.ratioPredicted]).toEqual([null, null, null, null]);
          expect(l.qPredicted).toBeCloseTo(l.gain * l.inputSecondMoment, 10);
          return;
        }
        const prev = r.layers[i - 1]!;
        expect([l.source, l.activation]).toEqual([prev.name, 'ReLU']);
        // the library's ReLU prediction is s σ_w² / 2 of this network's weights (quadrature check)
        expect(Math.abs(l.ratioPredicted! / (l.gain / 2) - 1), label).toBeLessThan(1e-6);
        expect(Math.abs(l.qPredicted / reluMeanField(prev.qPredicted, l.density, l.sigmaW2) - 1), label).toBeLessThan(1e-6);
        expect(l.ratio).toBeCloseTo(l.q / prev.q, 12);
        // the measured ratio against the theory's s σ_w² / 2, in standard errors
        const se = Math.sqrt(variance(ref[i]!.Q) / N + nominalGain ** 2 * (variance(ref[i - 1]!.d) / N));
        const zi = (ref[i]!.q - predicted * ref[i - 1]!.q) / se;
        expect(Math.abs(zi), `${label}: ratio ${l.ratio!.toFixed(4)} vs ${predicted}, z = ${zi.toFixed(2)}`).toBeLessThan(5);
        z.push(zi);
      });
      const growth = r.layers[DEPTH - 1]!.q / r.layers[0]!.q;
      const expectedGrowth = predicted ** (DEPTH - 1);
      // log of the product of 9 ratios: the relative SEs add in quadrature (about 6% each at N = 512)
      const logSe = Math.sqrt(
        r.layers.slice(1).reduce((a, _, k) => {
          const i = k + 1;
          return a + (variance(ref[i]!.Q) / N + nominalGain ** 2 * (variance(ref[i - 1]!.d) / N)) / (predicted * ref[i - 1]!.q) ** 2;
        }, 0),
      );
      expect(Math.abs(Math.log(growth / expectedGrowth)), `${init}: q grew ${growth} over ${DEPTH - 1} layers, predicted ${expectedGrowth}`).toBeLessThan(5 * logSe);
      if (init === 'kaiming') expect(growth).toBeLessThan(0.01); // 0.5^9 = 0.002
      if (init === 'sparse') expect(growth).toBeGreaterThan(0.5), expect(growth).toBeLessThan(2);
      if (init === 'sparse-at-0.25') expect(growth).toBeGreaterThan(100); // 2^9 = 512
    });
    // the SE describes the scatter: mean ~0, standard deviation ~1 over 27 standardised ratios
    expect(Math.abs(mean(z))).toBeLessThan(5 / Math.sqrt(z.length));
    const sd = Math.sqrt(variance(z));
    expect(sd).toBeGreaterThan(0.5);
    expect(sd).toBeLessThan(1.6);
  });

  it('reluMeanField is s σ_w² q / 2 + σ_b²', () => {
    expect(reluMeanField(3, 0.5, 4)).toBe(3);
    expect(reluMeanField(3, 0.5, 4, 0.25)).toBe(3.25);
    expect(reluMeanField(1, 1, 2)).toBe(1);
  });
});

/** E_z[f(√q z)²], z ~ N(0, 1), float64 midpoint rule on [-12, 12]. */
function gaussianMoment(f: (x: number) => number, q: number): number {
  const steps = 200_000;
  const h = 24 / steps;
  let e = 0;
  for (let k = 0; k < steps; k++) {
    const z = -12 + (k + 0.5) * h;
    e += (f(Math.sqrt(q) * z) ** 2 * Math.exp(-z * z / 2) * h) / Math.sqrt(2 * Math.PI);
  }
  return e;
}

describe('the mean-field map for other activations', () => {
  it('computes E[φ(√q z)²] with the model\'s own activation modules', () => {
    const rng = new Random(3);
    const lin = () => new Linear(256, 256, { rng });
    const model = new Sequential(lin(), new Tanh(), lin(), new LeakyReLU(0.2), lin(), new Sigmoid(), lin(), new ReLU(), new Tanh(), lin());
    const r = signalPropagation(model, gaussianInput(5, 256, 32));
    const phis: Array<[string, (x: number) => number]> = [
      ['Tanh', Math.tanh],
      ['LeakyReLU', (x) => (x > 0 ? x : 0.2 * x)],
      ['Sigmoid', (x) => 1 / (1 + Math.exp(-x))],
      ['ReLU > Tanh', (x) => Math.tanh(Math.max(x, 0))],
    ];
    phis.forEach(([name, f], k) => {
      const l = r.layers[k + 1]!;
      const prev = r.layers[k]!;
      expect(l.activation).toBe(name);
      // invert ratioPredicted = (gain E[φ²] + σ_b²) / q_prev
      const moment = (l.ratioPredicted! * prev.q - l.biasSecondMoment) / l.gain;
      expect(Math.abs(moment / gaussianMoment(f, prev.q) - 1), name).toBeLessThan(1e-5);
      // the chained prediction uses the same map on the previous prediction
      expect(Math.abs(l.qPredicted / (l.gain * gaussianMoment(f, prev.qPredicted) + l.biasSecondMoment) - 1), name).toBeLessThan(1e-5);
    });
    // LeakyReLU's closed form: (1 + a²) q / 2
    expect(Math.abs(gaussianMoment((x) => (x > 0 ? x : 0.2 * x), 0.7) / ((1.04 * 0.7) / 2) - 1)).toBeLessThan(1e-9);
    // the default Linear init has a bias: σ_b² = mean(b²) enters the prediction
    expect(r.layers[0]!.biasSecondMoment).toBeGreaterThan(0);
  });

  it('restarts from the measured input after a layer that is not element-wise; Conv2d fan-in includes the kernel', () => {
    const rng = new Random(4);
    const model = new Sequential(new Linear(32, 32, { rng }), new BatchNorm1d(32), new ReLU(), new Linear(32, 8, { rng }));
    const r = signalPropagation(model, gaussianInput(6, 32, 16));
    const l = r.layers[1]!;
    expect([l.source, l.activation, l.ratio, l.ratioPredicted]).toEqual([null, null, null, null]);
    expect(l.qPredicted).toBeCloseTo(l.gain * l.inputSecondMoment + l.biasSecondMoment, 10);
    expect(l.fanIn).toBe(32);

    const conv = new Conv2d(4, 6, 3, { groups: 2, padding: 1, rng });
    const c = signalPropagation(new Sequential(conv), new Tensor(gaussianInput(7, 100, 3).data, [4, 5, 5, 3]));
    expect(c.layers[0]!.fanIn).toBe(2 * 9);
    expect(c.layers[0]!.gain).toBeCloseTo(conv.weight.data.reduce((a, v) => a + v * v, 0) / 6, 10);
  });

  it('typed errors for bad arguments', () => {
    const model = new Sequential(new Linear(4, 4));
    expectThrows(() => signalPropagation(model, new Float32Array(8) as never), SparsennTypeError, 'ERR_TYPE', 'not a tensor');
    expectThrows(() => signalPropagation(model, []), SparsennTypeError, 'ERR_TYPE', 'no tensor');
    expectThrows(() => signalPropagation(model, gaussianInput(1, 5, 2)), ShapeError, 'ERR_SHAPE', 'wrong width');
    expectThrows(() => signalPropagation({} as Module, gaussianInput(1, 4, 2)), SparsennTypeError, 'ERR_TYPE', 'not a module');
  });
});
