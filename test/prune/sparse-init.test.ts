/**
 * Static sparse initialisation (lib/prune/sparse-init.ts): exact kept counts per layer (uniform:
 * round((1 - s) * n_l); ERK: round(d_l * n_l) with d_l from an independent water-filling, the
 * total within rounding); kept weights with variance gain^2 / (d * fan_in) (2 / (d * fan_in) for
 * ReLU layers, 1 / (d * fan_in) for the last, linear one), checked statistically with tolerances
 * set from the sample size; pruned weights exactly zero; random, seeded masks; the connectivity
 * guard; typed errors.
 */
import { describe, expect, it } from 'vitest';
import { IndexRangeError } from '../../lib/errors.js';
import { ReLU } from '../../lib/nn/layers/activations.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import { Random } from '../../lib/nn/random.js';
import { sparseInit } from '../../lib/prune/sparse-init.js';
import { pruneTargets } from '../../lib/prune/targets.js';
import { expectThrows } from '../helpers/errors.js';

function mlp(dims: number[], seed = 0): Sequential {
  const layers = [];
  for (let i = 0; i + 1 < dims.length; i++) {
    if (i > 0) layers.push(new ReLU());
    layers.push(new Linear(dims[i]!, dims[i + 1]!, { rng: new Random(seed + i) }));
  }
  return new Sequential(...layers);
}

/** Mean and mean square of the kept weights. */
function keptMoments(w: Float32Array, mask: Readonly<Uint8Array>): { n: number; mean: number; meanSq: number } {
  let n = 0;
  let s = 0;
  let s2 = 0;
  w.forEach((v, j) => {
    if (!mask[j]) return;
    n++;
    s += v;
    s2 += v * v;
  });
  return { n, mean: s / n, meanSq: s2 / n };
}

/**
 * Checks that the kept weights look like N(0, variance): mean square within `z` standard errors
 * of the variance (the mean square of n normal deviates has relative s.e. sqrt(2 / n)), mean
 * within z standard errors of 0.
 */
function expectVariance(w: Float32Array, mask: Readonly<Uint8Array>, variance: number, label: string, z = 5): void {
  const { n, mean, meanSq } = keptMoments(w, mask);
  const rel = z * Math.sqrt(2 / n);
  expect(Math.abs(meanSq / variance - 1), `${label}: mean square ${meanSq} vs variance ${variance} (n = ${n}, tolerance ${rel})`).toBeLessThan(rel);
  expect(Math.abs(mean), `${label}: mean`).toBeLessThan((z * Math.sqrt(variance)) / Math.sqrt(n));
}

/** ERK by water-filling, written independently of scope.ts. */
function refErk(shapes: number[][], density: number): number[] {
  const n = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const raw = shapes.map((s, i) => s.reduce((a, b) => a + b, 0) / n[i]!);
  const dense = new Set<number>();
  for (;;) {
    let left = density * n.reduce((a, b) => a + b, 0);
    let mass = 0;
    n.forEach((v, i) => (dense.has(i) ? (left -= v) : (mass += raw[i]! * v)));
    const eps = left / mass;
    const over = raw.filter((r, i) => !dense.has(i) && eps * r > 1);
    if (over.length === 0) return raw.map((r, i) => (dense.has(i) ? 1 : eps * r));
    raw.forEach((r, i) => eps * r > 1 && dense.add(i));
  }
}

describe('sparseInit, uniform', () => {
  it('keeps exactly round((1 - s) * n_l) per layer, pruned weights exactly 0, and reports it', () => {
    for (const s of [0.5, 0.8, 0.9]) {
      const model = mlp([60, 50, 30, 20], 1);
      const res = sparseInit(model, { sparsity: s, seed: 3 });
      const ts = pruneTargets(model);
      ts.forEach((t, i) => {
        const k = Math.round((1 - s) * t.param.size);
        expect(res.layers[i]).toEqual({ name: t.name, size: t.param.size, kept: k, sparsity: 1 - k / t.param.size });
        const m = t.param.mask!;
        expect(m.reduce((a, b) => a + b, 0)).toBe(k);
        m.forEach((v, j) => v === 0 && expect(t.param.data[j]).toBe(0));
        m.forEach((v, j) => v === 1 && expect(t.param.data[j]).not.toBe(0));
      });
      const N = ts.reduce((a, t) => a + t.param.size, 0);
      expect(res.sparsity).toBeCloseTo(1 - res.layers.reduce((a, l) => a + l.kept, 0) / N, 12);
      expect(res.warnings).toEqual([]);
    }
  });

  it('draws kept weights with variance 2 / (d * fan_in) for ReLU layers and 1 / (d * fan_in) for the last layer', () => {
    const model = mlp([400, 200, 100, 10], 2);
    const d = 0.2;
    sparseInit(model, { sparsity: 1 - d, seed: 4 });
    const [a, b, c] = pruneTargets(model);
    // 16,000 and 4,000 kept: relative s.e. of the mean square 1.1% and 2.2%, so 5 s.e. is 5.6% and 11%
    expectVariance(a!.param.data, a!.param.mask!, 2 / (d * 400), 'layer 1');
    expectVariance(b!.param.data, b!.param.mask!, 2 / (d * 200), 'layer 2');
    // 200 kept: relative s.e. 10%; 3.5 s.e. still tells 1 / (d fan_in) from the ReLU value 2 / (d fan_in)
    expectVariance(c!.param.data, c!.param.mask!, 1 / (d * 100), 'last layer (linear)', 3.5);
  });

  it('uses the requested nonlinearity’s gain on hidden layers (tanh: 25/9)', () => {
    const model = mlp([400, 200, 10], 5);
    sparseInit(model, { sparsity: 0.75, seed: 6, nonlinearity: 'tanh' });
    const [a] = pruneTargets(model);
    expectVariance(a!.param.data, a!.param.mask!, 25 / 9 / (0.25 * 400), 'tanh layer');
  });

  it('draws masks at random, reproducibly from the seed', () => {
    const masks = (seed: number) => {
      const model = mlp([100, 80, 10], 7);
      sparseInit(model, { sparsity: 0.7, seed });
      return pruneTargets(model).map((t) => [Array.from(t.param.mask!), Array.from(t.param.data)]);
    };
    const a = masks(1);
    expect(masks(1)).toEqual(a);
    const b = masks(2);
    expect(b[0]![0]).not.toEqual(a[0]![0]);
    // spread over the whole layer: kept share of the first half ~ 1/2 (2,400 kept: s.e. 1%)
    const m = a[0]![0] as number[];
    const firstHalf = m.slice(0, m.length / 2).reduce((x, y) => x + y, 0);
    expect(firstHalf / m.reduce((x, y) => x + y, 0)).toBeCloseTo(0.5, 1);
  });

  it('honours target options (keepDense) and explicit targets', () => {
    const model = mlp([30, 20, 10], 8);
    const last = pruneTargets(model)[1]!.param.data.slice();
    const res = sparseInit(model, { sparsity: 0.5, keepDense: 'last' });
    expect(res.layers.map((l) => l.name)).toEqual(['0.weight']);
    expect(pruneTargets(model)[1]!.param.mask).toBeNull();
    expect(pruneTargets(model)[1]!.param.data).toEqual(last);
  });

  it('the connectivity guard keeps a 10x100 layer at density 0.1 under 99% sparsity, with a warning; minFanOut 0 turns it off', () => {
    const guarded = new Sequential(new Linear(100, 10));
    const res = sparseInit(guarded, { sparsity: 0.99 });
    expect(res.layers[0]!.kept).toBe(100);
    expect(res.warnings).toHaveLength(1);
    expect(res.warnings[0]).toContain('0.weight');
    const off = new Sequential(new Linear(100, 10));
    expect(sparseInit(off, { sparsity: 0.99, minFanOut: 0 }).layers[0]!.kept).toBe(10);
  });

  // a requested density equal to the floor up to rounding (1 - 0.9 = 0.09999999999999998 vs
  // 1/10) must not be reported as clamped
  it('does not warn when the requested density equals the guard floor (10x30 layer at s = 0.9)', () => {
    const res = sparseInit(new Sequential(new Linear(30, 10)), { sparsity: 0.9 });
    expect(res.layers[0]!.kept).toBe(30);
    expect(res.warnings).toEqual([]);
  });

  it('rejects sparsities outside [0, 1] with ERR_RANGE', () => {
    for (const s of [-0.1, 1.5, NaN]) expectThrows(() => sparseInit(mlp([4, 3]), { sparsity: s }), IndexRangeError, 'ERR_RANGE', `sparsity ${s}`);
  });
});

describe('sparseInit, ERK', () => {
  it.each([0.9, 0.6])('keeps round(d_l * n_l) with ERK densities (total within rounding), variance from each layer’s density (s = %s)', (s) => {
    const dims = [400, 200, 100, 10];
    const model = mlp(dims, 9);
    const ts = pruneTargets(model);
    const shapes = ts.map((t) => [...t.param.shape]);
    const d = refErk(shapes, 1 - s);
    const res = sparseInit(model, { sparsity: s, distribution: 'erk', seed: 10 });
    const sizes = ts.map((t) => t.param.size);
    res.layers.forEach((l, i) => expect(l.kept, l.name).toBe(Math.round(d[i]! * sizes[i]!)));
    const N = sizes.reduce((a, b) => a + b, 0);
    expect(Math.abs(res.layers.reduce((a, l) => a + l.kept, 0) - (1 - s) * N)).toBeLessThanOrEqual(ts.length / 2);
    // ERK keeps small layers denser: densities fall with layer size here
    const dens = res.layers.map((l) => l.kept / l.size);
    expect(dens[0]!).toBeLessThan(dens[1]!);
    expect(dens[1]!).toBeLessThan(dens[2]!);
    if (s === 0.6) expect(dens[2]).toBe(1);
    const [a] = ts;
    expectVariance(a!.param.data, a!.param.mask!, 2 / (dens[0]! * 400), 'ERK layer 1');
  });
});
