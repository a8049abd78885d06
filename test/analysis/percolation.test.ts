/**
 * percolationThreshold() and criticalSparsity() (lib/analysis/percolation.ts).
 *
 * - Per layer: fan-in / fan-out as the unit graph sees them (Linear: in / out features; Conv2d:
 *   channels per group, taps = kh * kw), the critical sparsities 1 - 1/fanOut (forward),
 *   1 - 1/fanIn (backward) and (1 - 1/fanOut)^(1/taps) at the weight level, branching factors
 *   of the current masks, worked out by hand.
 * - The chain prediction against an independent float64 Markov chain with binomial
 *   coefficients from Pascal's triangle: with n of w units reached, the next layer's count is
 *   Binomial(w, 1 - p^n).
 * - The empirical check the threshold is about: random MLPs of width w = 32 and depth 16 with
 *   independent Bernoulli masks at sparsities p = 1 - k / w for k = w (1 - p) from 3 down to
 *   0.5, i.e. across p_c = 1 - 1/w (k = 1). The fraction of trials in which connectivity() finds
 *   input and output connected must match the exact finite-size probability within 4 binomial
 *   standard errors; it is >= 0.95 for k >= 1.5 and <= 0.05 for k <= 0.67 — a sharp but not a
 *   step transition, centred slightly above k = 1 at this depth (at k = 1 about 57% survive).
 *   The median layer at which the reached set dies matches the predicted collapse layer.
 */
import { describe, expect, it } from 'vitest';
import { connectivity } from '../../lib/analysis/connectivity.js';
import { criticalSparsity, percolationThreshold } from '../../lib/analysis/percolation.js';
import { IndexRangeError } from '../../lib/errors.js';
import { Graph } from '../../lib/nn/graph.js';
import { Add, Flatten, ReLU } from '../../lib/nn/layers/activations.js';
import { Conv2d } from '../../lib/nn/layers/conv.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import { Random } from '../../lib/nn/random.js';
import { expectThrows } from '../helpers/errors.js';

/** P(the output is reached) after each of `depth` layers of width w, unit sparsity p: float64 Markov chain. */
function chainReference(w: number, depth: number, p: number): number[] {
  const binom: number[][] = [[1]];
  for (let n = 1; n <= w; n++) binom.push(Array.from({ length: n + 1 }, (_, k) => (k === 0 || k === n ? 1 : binom[n - 1]![k - 1]! + binom[n - 1]![k]!)));
  let dist = new Array<number>(w + 1).fill(0);
  dist[w] = 1;
  const reached: number[] = [];
  for (let l = 0; l < depth; l++) {
    const next = new Array<number>(w + 1).fill(0);
    dist.forEach((mass, n) => {
      const pi = n === 0 ? 0 : 1 - p ** n;
      for (let k = 0; k <= w; k++) next[k] += mass * binom[w]![k]! * pi ** k * (1 - pi) ** (w - k);
    });
    dist = next;
    reached.push(1 - dist[0]!);
  }
  return reached;
}

function mlp(widths: number[]): Sequential {
  const layers: Record<string, Linear> = {};
  for (let l = 0; l + 1 < widths.length; l++) layers[`fc${l}`] = new Linear(widths[l]!, widths[l + 1]!, { bias: false, execution: 'dense', rng: new Random(l) });
  return new Sequential(layers);
}

describe('criticalSparsity', () => {
  it('is 1 - 1/fan, and (1 - 1/fan)^(1/taps) when a unit pair has several weights', () => {
    expect(criticalSparsity(16)).toBe(1 - 1 / 16);
    expect(criticalSparsity(1)).toBe(0);
    expect(criticalSparsity(8, 9)).toBeCloseTo((7 / 8) ** (1 / 9), 15);
    // at that weight sparsity, a pair is cut with probability p^9 = 1 - 1/8
    expect(criticalSparsity(8, 9) ** 9).toBeCloseTo(1 - 1 / 8, 14);
    for (const bad of [0, 1.5, -2, NaN]) expectThrows(() => criticalSparsity(bad), IndexRangeError, 'ERR_RANGE', `fan ${bad}`);
    expectThrows(() => criticalSparsity(4, 0), IndexRangeError, 'ERR_RANGE', 'taps 0');
  });
});

describe('percolationThreshold per layer', () => {
  it('uses the fan-out for the forward threshold and the fan-in for the backward one', () => {
    const model = mlp([64, 16, 64]);
    const [fc0, fc1] = [model.at(0) as Linear, model.at(1) as Linear];
    // fc0 keeps 4 of 64 inputs for each of its 16 outputs: 64 of 1024 pairs
    fc0.weight.setMask(Uint8Array.from({ length: 1024 }, (_, i) => (i % 64 < 4 ? 1 : 0)));
    fc1.weight.setMask(Uint8Array.from({ length: 1024 }, (_, i) => (i % 2 ? 1 : 0)));
    const r = percolationThreshold(model);
    const [l0, l1] = r.layers as [NonNullable<(typeof r.layers)[0]>, NonNullable<(typeof r.layers)[0]>];
    expect([l0.name, l0.unitsIn, l0.unitsOut, l0.fanIn, l0.fanOut, l0.taps, l0.groups]).toEqual(['fc0', 64, 16, 64, 16, 1, 1]);
    expect(l0.criticalSparsity).toBe(1 - 1 / 16);
    expect(l0.criticalSparsityBackward).toBe(1 - 1 / 64);
    expect(l0.weightSparsity).toBe(1 - 64 / 1024);
    expect(l0.unitSparsity).toBe(1 - 64 / 1024);
    // 64 kept pairs over 64 input units: one outgoing link per input unit, not more
    expect(l0.branching).toBeCloseTo(1, 12);
    expect(l0.supercritical).toBe(false);
    expect([l1.fanIn, l1.fanOut, l1.criticalSparsity, l1.criticalSparsityBackward]).toEqual([16, 64, 1 - 1 / 64, 1 - 1 / 16]);
    expect(l1.branching).toBe(32);
    expect(r.firstSubcritical).toBe('fc0');
    expect(r.chain).toBe(true);
  });

  it('sees a Conv2d at the channel level: channels per group, kh * kw taps per pair', () => {
    const conv = new Conv2d(8, 12, 3, { groups: 4, padding: 1, rng: new Random(1) });
    // weight [12, 2, 3, 3]: cut every tap of the pairs (o, 0) for even o: 6 of 24 pairs
    const mask = new Uint8Array(216).fill(1);
    for (let o = 0; o < 12; o += 2) mask.fill(0, o * 18, o * 18 + 9);
    conv.weight.setMask(mask);
    const model = new Sequential(conv, new ReLU(), new Flatten(), new Linear(12 * 16, 5, { rng: new Random(2) }));
    const r = percolationThreshold(model, { sampleShape: [8, 4, 4] });
    const c = r.layers[0]!;
    expect([c.unitsIn, c.unitsOut, c.fanIn, c.fanOut, c.groups, c.taps]).toEqual([8, 12, 2, 3, 4, 9]);
    expect(c.unitSparsity).toBe(6 / 24);
    expect(c.weightSparsity).toBe(54 / 216);
    expect(c.branching).toBeCloseTo(3 * 0.75, 12);
    expect(c.criticalSparsity).toBeCloseTo(1 - 1 / 3, 15);
    expect(c.criticalWeightSparsity).toBeCloseTo((2 / 3) ** (1 / 9), 15);
    // the Linear reads 12 channels * 16 positions as 192 feature units
    expect([r.layers[1]!.unitsIn, r.layers[1]!.fanIn, r.layers[1]!.fanOut]).toEqual([192, 192, 5]);
    // with the sparsity option, a pair is cut when all its 9 taps are: p^9
    const opt = percolationThreshold(model, { sampleShape: [8, 4, 4], sparsity: [0.9, 0] });
    expect(opt.layers[0]!.unitSparsity).toBeCloseTo(0.9 ** 9, 15);
    expect(opt.layers[1]!.unitSparsity).toBe(0);
  });

  it('gives no chain prediction for a residual model, and checks its options', () => {
    const g = new Graph();
    const x = g.input('x');
    const h = g.add('fc', new Linear(4, 4, { rng: new Random(1) }), x);
    g.output('y', g.add('res', new Add(), h, x));
    const r = percolationThreshold(g, { sampleShape: [4] });
    expect(r.chain).toBe(false);
    expect(r.reason).toMatch(/res/);
    expect([r.pConnected, r.collapseLayer, r.layers[0]!.pReached]).toEqual([null, null, null]);
    const m = mlp([4, 4, 4]);
    expectThrows(() => percolationThreshold(m, { sparsity: 1.5 }), IndexRangeError, 'ERR_RANGE', 'sparsity > 1');
    expectThrows(() => percolationThreshold(m, { sparsity: [0.5] }), IndexRangeError, 'ERR_RANGE', 'one value for two layers');
  });
});

describe('the chain prediction', () => {
  it('matches an independent Markov chain for every layer', () => {
    const w = 32;
    const depth = 16;
    const model = mlp(new Array<number>(depth + 1).fill(w));
    for (const k of [3, 1.25, 1, 0.8, 0.5]) {
      const p = 1 - k / w;
      const ref = chainReference(w, depth, p);
      const r = percolationThreshold(model, { sparsity: p });
      r.layers.forEach((l, i) => expect(Math.abs(l.pReached! - ref[i]!), `k ${k} layer ${i}`).toBeLessThan(1e-9));
      expect(Math.abs(r.pConnected! - ref[depth - 1]!)).toBeLessThan(1e-9);
      const median = ref.findIndex((v) => v < 0.5);
      expect(r.collapseLayer).toBe(median < 0 ? null : `fc${median}`);
    }
  });

  it('predicts the connected fraction of random sparse MLPs across p_c = 1 - 1/w', () => {
    const w = 32;
    const depth = 16;
    const trials = 150;
    const model = mlp(new Array<number>(depth + 1).fill(w));
    const linears = Array.from({ length: depth }, (_, l) => model.at(l) as Linear);
    const rng = new Random(2024);
    const fraction = new Map<number, number>();
    for (const k of [3, 1.5, 1, 0.8, 0.67, 0.5]) {
      const p = 1 - k / w;
      const predicted = percolationThreshold(model, { sparsity: p });
      let connected = 0;
      const deathLayers: number[] = [];
      for (let t = 0; t < trials; t++) {
        for (const lin of linears) {
          const mask = new Uint8Array(w * w);
          for (let i = 0; i < mask.length; i++) mask[i] = rng.next() < p ? 0 : 1;
          lin.weight.setMask(mask);
        }
        const r = connectivity(model);
        if (!r.disconnected) connected++;
        // layers[0] is the input; the first weight layer with nothing reached is where the signal died
        const died = r.layers.slice(1).findIndex((l) => l.reachable === 0);
        deathLayers.push(died < 0 ? depth : died);
        expect(r.disconnected).toBe(died >= 0);
      }
      const emp = connected / trials;
      fraction.set(k, emp);
      const P = predicted.pConnected!;
      expect(Math.abs(emp - P), `k = ${k}: measured ${emp}, predicted ${P.toFixed(4)}`).toBeLessThanOrEqual(4 * Math.sqrt((P * (1 - P)) / trials) + 1.5 / trials);
      if (predicted.collapseLayer !== null) {
        deathLayers.sort((a, b) => a - b);
        const median = deathLayers[trials / 2 - 1]!;
        const at = predicted.layers.findIndex((l) => l.name === predicted.collapseLayer);
        expect(Math.abs(median - at), `k = ${k}: median death layer ${median}, predicted ${at}`).toBeLessThanOrEqual(1);
      }
    }
    // well below p_c almost every network stays connected, well above almost none does
    for (const k of [3, 1.5]) expect(fraction.get(k)!).toBeGreaterThanOrEqual(0.95);
    for (const k of [0.67, 0.5]) expect(fraction.get(k)!).toBeLessThanOrEqual(0.05);
    const order = [3, 1.5, 1, 0.8, 0.67, 0.5].map((k) => fraction.get(k)!);
    order.forEach((f, i) => i > 0 && expect(f).toBeLessThanOrEqual(order[i - 1]! + 0.05));
  });
});
