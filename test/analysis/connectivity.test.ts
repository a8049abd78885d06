/**
 * connectivity() (lib/analysis/connectivity.ts) on hand-made masks: path counts, reachable /
 * output-reaching / dead units per layer, checked against counts worked out by hand and against
 * brute-force path enumeration on random masks; channel-level wiring of grouped convolutions
 * through Flatten into a Linear; residual adds; exact BigInt counts past 2^53 and past the
 * float64 range; disconnection; refusal of layers the unit graph cannot follow.
 */
import { describe, expect, it } from 'vitest';
import { connectivity } from '../../lib/analysis/connectivity.js';
import { ShapeError, SparsennTypeError } from '../../lib/errors.js';
import { Graph } from '../../lib/nn/graph.js';
import { Add, Flatten, ReLU, Tanh } from '../../lib/nn/layers/activations.js';
import { Conv2d } from '../../lib/nn/layers/conv.js';
import { Embedding } from '../../lib/nn/layers/embedding.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { LayerNorm } from '../../lib/nn/layers/norm.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import { AlongAxis, ConstantPad } from '../../lib/nn/layers/axis.js';
import { Clip, ConvTranspose2d, Elementwise, Gather, Identity, MatMulActs, ReduceMean, Slice, Transpose, Unary } from '../../lib/nn/layers/tensor-ops.js';
import { importOnnx } from '../../lib/io/onnx/import.js';
import { Module, type ModuleConfig } from '../../lib/nn/module.js';
import { Random } from '../../lib/nn/random.js';
import { scale } from '../../lib/nn/functional.js';
import type { Tensor } from '../../lib/nn/tensor.js';
import { expectThrows } from '../helpers/errors.js';
import { fixture } from '../io/onnx-helpers.js';

/** A Linear whose weight has the given 0/1 rows as its mask. */
function masked(rows: number[][], rng = new Random(1)): Linear {
  const l = new Linear(rows[0]!.length, rows.length, { rng });
  l.weight.setMask(Uint8Array.from(rows.flat()));
  return l;
}

describe('connectivity of an MLP', () => {
  it('counts paths and finds reachable, output-reaching and dead units, as worked out by hand', () => {
    // inputs i0..i2 -> hidden h0..h3 -> outputs o0, o1
    const fc1 = masked([
      [1, 0, 0], // h0 <- i0
      [1, 1, 0], // h1 <- i0, i1
      [0, 0, 0], // h2: no input
      [0, 0, 1], // h3 <- i2
    ]);
    const fc2 = masked([
      [1, 1, 1, 0], // o0 <- h0, h1, h2
      [0, 0, 0, 0], // o1: no input
    ]);
    const r = connectivity(new Sequential({ fc1, relu: new ReLU(), fc2 }), { exact: true });
    // o0 gets 1 path through h0 and 2 through h1; h2 carries none; o1 none
    expect(r.paths).toBe(3);
    expect(r.pathsExact).toBe('3');
    expect(r.log10Paths).toBeCloseTo(Math.log10(3), 12);
    expect(r.disconnected).toBe(false);
    expect(r.layers).toEqual([
      // i2 only feeds h3, which feeds nothing
      { name: 'input', type: 'input', units: 3, reachable: 3, reachesOutput: 2, alive: 2, dead: [2] },
      // h2 has no input, h3 no consumer
      { name: 'fc1', type: 'Linear', units: 4, reachable: 3, reachesOutput: 3, alive: 2, dead: [2, 3] },
      // o1 has no input; every output unit reaches the output
      { name: 'fc2', type: 'Linear', units: 2, reachable: 1, reachesOutput: 2, alive: 1, dead: [1] },
    ]);
    expect(r.units).toBe(9);
    expect(r.deadUnits).toBe(4);
  });

  it('matches brute-force path enumeration on random masks, and exact zeros count as pruned without a mask', () => {
    const rng = new Random(7);
    for (let trial = 0; trial < 20; trial++) {
      const sizes = [5, 6, 4, 3];
      const keep = 0.2 + 0.6 * rng.next();
      const kept = sizes.slice(1).map((out, l) => Array.from({ length: out }, () => Array.from({ length: sizes[l]! }, () => (rng.next() < keep ? 1 : 0))));
      const layers = kept.map((rows, l) => {
        const lin = new Linear(sizes[l]!, sizes[l + 1]!, { rng });
        // layer 1 without a mask: pruned weights are exact zeros
        if (l === 1) lin.weight.data.forEach((_, i) => (lin.weight.data[i] = rows.flat()[i] ? 0.5 : 0));
        else lin.weight.setMask(Uint8Array.from(rows.flat()));
        return lin;
      });
      const model = new Sequential(layers[0]!, new Tanh(), layers[1]!, new ReLU(), layers[2]!);
      // enumerate every input -> output path
      let paths = 0;
      const onPath = sizes.map((n) => new Uint8Array(n));
      for (let a = 0; a < 5; a++)
        for (let b = 0; b < 6; b++)
          for (let c = 0; c < 4; c++)
            for (let d = 0; d < 3; d++)
              if (kept[0]![b]![a] && kept[1]![c]![b] && kept[2]![d]![c]) {
                paths++;
                onPath[0]![a] = onPath[1]![b] = onPath[2]![c] = onPath[3]![d] = 1;
              }
      const r = connectivity(model, { exact: true });
      expect(r.paths, `trial ${trial}`).toBe(paths);
      expect(r.pathsExact).toBe(String(paths));
      expect(r.disconnected).toBe(paths === 0);
      r.layers.forEach((l, i) => expect(l.dead, `trial ${trial} layer ${i}`).toEqual([...onPath[i]!.keys()].filter((u) => !onPath[i]![u])));
    }
  });

  it('keeps exact counts past 2^53 and log10 past the float64 range', () => {
    // 16 dense Linear(20, 20): 20^16 paths, exactly representable in float64 (2^64 * 5^16)
    const wide = new Sequential(...Array.from({ length: 15 }, () => new Linear(20, 20, { rng: new Random(3) })));
    const r = connectivity(wide, { exact: true });
    expect(r.pathsExact).toBe((20n ** 16n).toString());
    expect(r.paths).toBe(20 ** 16);
    // 520 dense Linear(4, 4): 4^521 = 2^1042 paths, beyond float64
    const deep = new Sequential(...Array.from({ length: 520 }, () => new Linear(4, 4, { bias: false, rng: new Random(4) })));
    const d = connectivity(deep, { exact: true });
    expect(d.pathsExact).toBe((4n ** 521n).toString());
    expect(d.paths).toBe(Infinity);
    expect(d.log10Paths).toBeCloseTo(521 * Math.log10(4), 9);
    expect(d.disconnected).toBe(false);
  });

  it('a fully pruned layer disconnects the network', () => {
    const model = new Sequential(masked([[1, 1], [1, 0]]), new ReLU(), masked([[0, 0], [0, 0]]), new ReLU(), masked([[1, 1]]));
    const r = connectivity(model);
    expect(r.disconnected).toBe(true);
    expect(r.paths).toBe(0);
    expect(r.log10Paths).toBe(-Infinity);
    expect(r.layers.map((l) => l.alive)).toEqual([0, 0, 0, 0]);
    expect(r.layers.map((l) => l.reachable)).toEqual([2, 2, 0, 0]);
    expect(r.layers.map((l) => l.reachesOutput)).toEqual([0, 0, 2, 1]);
  });
});

describe('connectivity of conv nets at the channel level', () => {
  it('follows grouped convolutions, 1x1 convolutions and Flatten into a Linear', () => {
    // conv1: 2 groups; output channel o reads input channel floor(o / 2); o = 1 loses all 9 taps
    const conv1 = new Conv2d(2, 4, 3, { groups: 2, padding: 1, rng: new Random(1) });
    const m1 = new Uint8Array(36).fill(1);
    m1.fill(0, 9, 18);
    m1[0] = 0; // o = 0 keeps 8 of its taps: still connected
    conv1.weight.setMask(m1);
    // conv2 (1x1): u0 <- o0, o1; u1 <- o2
    const conv2 = new Conv2d(4, 2, 1, { rng: new Random(2) });
    conv2.weight.setMask(Uint8Array.from([1, 1, 0, 0, 0, 0, 1, 0]));
    // fc over 2 * 25 features: out0 <- feature 3 (channel u0), out1 <- feature 30 (u1), out2 <- nothing
    const fc = new Linear(50, 3, { rng: new Random(3) });
    const m3 = new Uint8Array(150);
    m3[3] = 1;
    m3[50 + 30] = 1;
    fc.weight.setMask(m3);
    const model = new Sequential({ conv1, relu: new ReLU(), conv2, flat: new Flatten(), fc });
    const r = connectivity(model, { sampleShape: [2, 5, 5], exact: true });
    // two paths: c0 -> o0 -> u0 -> feature 3 -> out0 and c1 -> o2 -> u1 -> feature 30 -> out1
    expect(r.paths).toBe(2);
    expect(r.pathsExact).toBe('2');
    expect(r.layers).toEqual([
      { name: 'input', type: 'input', units: 2, reachable: 2, reachesOutput: 2, alive: 2, dead: [] },
      // o1 has no kept tap (but would reach the output); o3 feeds nothing
      { name: 'conv1', type: 'Conv2d', units: 4, reachable: 3, reachesOutput: 3, alive: 2, dead: [1, 3] },
      { name: 'conv2', type: 'Conv2d', units: 2, reachable: 2, reachesOutput: 2, alive: 2, dead: [] },
      { name: 'fc', type: 'Linear', units: 3, reachable: 2, reachesOutput: 3, alive: 2, dead: [2] },
    ]);
    // dense: each input channel feeds the 2 outputs of its group, each of which feeds both u,
    // each u spreads to 25 features, each feeding 3 outputs
    for (const p of [conv1.weight, conv2.weight, fc.weight]) p.setMask(null);
    conv1.weight.data.fill(0.1);
    conv2.weight.data.fill(0.1);
    fc.weight.data.fill(0.1);
    expect(connectivity(model, { sampleShape: [2, 5, 5] }).paths).toBe(2 * 2 * 2 * 25 * 3);
  });

  it('adds the paths on both sides of a residual Add, and mixes all units through LayerNorm', () => {
    const g = new Graph();
    const x = g.input('x');
    const h = g.add('fc1', masked([[1, 1, 0], [0, 0, 0], [0, 0, 1]]), x);
    const a = g.add('relu', new ReLU(), h);
    const s = g.add('res', new Add(), a, x);
    g.output('y', g.add('fc2', new Linear(3, 2, { rng: new Random(5) }), s));
    const r = connectivity(g, { sampleShape: [3], exact: true });
    // paths into the sum: fc1 gives [2, 0, 1], the skip 1 each -> [3, 1, 2]; fc2 is dense: 2 * 6
    expect(r.paths).toBe(12);
    expect(r.layers.map((l) => [l.name, l.dead])).toEqual([
      ['x', []],
      ['fc1', [1]],
      ['fc2', []],
    ]);
    // a LayerNorm makes each output unit depend on every input unit: 3 paths reach each of 3 units
    const ln = new Sequential(masked([[1, 0], [1, 0], [0, 0]]), new LayerNorm(3), new Linear(3, 1, { rng: new Random(6) }));
    expect(connectivity(ln).paths).toBe(2 * 3);
  });
});

class Scale2 extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
  config(): ModuleConfig {
    return { type: 'Scale2' };
  }
}

class Outside extends Module {
  readonly fc = this.registerModule('fc', new Linear(3, 3, { rng: new Random(1) }));
  forward(x: Tensor): Tensor {
    return this.fc.forward(scale(x, 2));
  }
  config(): ModuleConfig {
    return { type: 'Outside' };
  }
}

describe('connectivity refuses what it cannot follow', () => {
  it('unknown layers, embeddings, computation outside modules, bad options', () => {
    const e1 = expectThrows(() => connectivity(new Sequential(new Linear(3, 3), new Scale2())), SparsennTypeError, 'ERR_TYPE', 'custom layer');
    expect(e1.message).toMatch(/Scale2/);
    expectThrows(() => connectivity(new Sequential(new Embedding(10, 4)), { sampleShape: [1] }), SparsennTypeError, 'ERR_TYPE', 'embedding');
    expectThrows(() => connectivity(new Outside()), SparsennTypeError, 'ERR_TYPE', 'outside modules');
    expectThrows(() => connectivity(new Sequential(new Conv2d(1, 1, 1))), SparsennTypeError, 'ERR_TYPE', 'conv without sampleShape');
    expectThrows(() => connectivity(new Sequential(new Conv2d(1, 1, 1)), { sampleShape: [1, 0, 2] }), ShapeError, 'ERR_SHAPE', 'zero dimension');
    expectThrows(() => connectivity(new Sequential(new Linear(3, 3)), { sampleShape: [4] }), ShapeError, 'ERR_SHAPE', 'wrong width');
    expectThrows(() => connectivity({} as Module), SparsennTypeError, 'ERR_TYPE', 'not a module');
  });

  it('leaves the model as it was (mode, forward methods)', () => {
    const fc = new Linear(3, 3, { rng: new Random(1) });
    const model = new Sequential(fc, new ReLU());
    model.train();
    connectivity(model);
    expect(model.training && fc.training).toBe(true);
    expect(Object.prototype.hasOwnProperty.call(fc, 'forward')).toBe(false);
  });
});

// ------------------------------------------------------------- the ONNX importer's modules --

describe('connectivity through the ONNX importer\'s modules', () => {
  it('ConvTranspose2d wires channels through its [in, out / groups, kh, kw] weight, group by group', () => {
    // 2 groups: input channel 0 feeds outputs 0, 1; input channel 1 feeds outputs 2, 3
    const up = new ConvTranspose2d(2, 4, 3, { groups: 2, stride: 2, rng: new Random(1) });
    const m = new Uint8Array(36); // entry (i, o % 2, tap) at (i * 2 + o % 2) * 9 + tap
    m.fill(1, 1, 9); // i0 -> o0: 8 of 9 taps kept
    m[(1 * 2 + 0) * 9 + 4] = 1; // i1 -> o2: one tap
    up.weight.setMask(m); // i0 -> o1 and i1 -> o3: no tap
    const head = new Conv2d(4, 1, 1, { rng: new Random(2) });
    const model = new Sequential({ up, relu: new ReLU(), head });
    const r = connectivity(model, { sampleShape: [2, 3, 3], exact: true });
    // i0 -> o0 -> y and i1 -> o2 -> y
    expect([r.paths, r.pathsExact]).toEqual([2, '2']);
    expect(r.layers).toEqual([
      { name: 'input', type: 'input', units: 2, reachable: 2, reachesOutput: 2, alive: 2, dead: [] },
      { name: 'up', type: 'ConvTranspose2d', units: 4, reachable: 2, reachesOutput: 4, alive: 2, dead: [1, 3] },
      { name: 'head', type: 'Conv2d', units: 1, reachable: 1, reachesOutput: 1, alive: 1, dead: [] },
    ]);
    // dense: each input channel feeds the 2 outputs of its group only
    up.weight.setMask(null);
    up.weight.data.fill(0.1);
    expect(connectivity(model, { sampleShape: [2, 3, 3] }).paths).toBe(4);
    // two input channels per group, weight [4, 2, 1, 1]: entry i * 2 + o % 2 (a Conv2d's
    // [out, in / groups] layout would read entry 2 as o1 <- i0 and entry 7 as o3 <- i1)
    const two = new ConvTranspose2d(4, 4, 1, { groups: 2, rng: new Random(3) });
    two.weight.setMask(Uint8Array.from([0, 0, 1, 0, 0, 0, 0, 1])); // o0 <- i1, o3 <- i3
    const t = connectivity(new Sequential({ two }), { sampleShape: [4, 2, 2] });
    expect(t.layers.map((l) => [l.name, l.reachable, l.reachesOutput, l.dead])).toEqual([
      ['input', 4, 2, [0, 2]],
      ['two', 2, 4, [1, 2]],
    ]);
  });

  it('AlongAxis of a Linear on the unit axis is wired like its mask; layers on other axes pass units through', () => {
    const g = new Graph();
    const x = g.input('x'); // [3 units, 4 positions]
    const h = g.add('a', new AlongAxis(masked([[1, 0, 0], [1, 1, 0], [0, 0, 0]]), 0), x); // h0 <- i0; h1 <- i0, i1; h2 <- nothing
    const n = g.add('ln', new AlongAxis(new LayerNorm(4), -1), h); // within each unit
    const p = g.add('pad', new ConstantPad([0, 0, 0, 2], -Infinity), n); // [3, 6]
    const s = g.add('slice', new Slice([1], [5], [1]), p); // [3, 4]
    const t = g.add('tr', new Transpose([0, 1]), s);
    const e = g.add('scale', new Elementwise('mul', { constant: { data: Float32Array.from([1, 2, 3, 4]), shape: [1, 4] } }), t);
    const c = g.add('clip', new Clip(-1, 1), g.add('neg', new Unary('neg'), g.add('id', new Identity(), e)));
    const r2 = g.add('res', new Elementwise('add'), c, x); // residual: merges units of equal index
    const gat = g.add('gather', new Gather([0, 3], [2], 1), r2); // [3, 2]
    const mean = g.add('mean', new ReduceMean([1], false), gat); // [3]
    g.output('y', g.add('f', new AlongAxis(new Linear(3, 2, { rng: new Random(5) }), 0), mean)); // dense
    const r = connectivity(g, { sampleShape: [3, 4], exact: true });
    // paths into the sum: [1, 2, 0] through a, 1 each through the skip -> [2, 3, 1]; f dense to 2 outputs
    expect([r.paths, r.pathsExact]).toEqual([12, '12']);
    expect(r.layers).toEqual([
      { name: 'x', type: 'input', units: 3, reachable: 3, reachesOutput: 3, alive: 3, dead: [] },
      // h2 has no input (it still reaches the output through the sum)
      { name: 'a', type: 'AlongAxis', units: 3, reachable: 2, reachesOutput: 3, alive: 2, dead: [2] },
      { name: 'f', type: 'AlongAxis', units: 2, reachable: 2, reachesOutput: 2, alive: 2, dead: [] },
    ]);
    // a LayerNorm along the unit axis mixes all units: 3 paths reach each of 3 units
    const ln = new Sequential(new AlongAxis(masked([[1, 0], [1, 0], [0, 0]]), 0), new AlongAxis(new LayerNorm(3), 0), new Linear(3, 1, { rng: new Random(6) }));
    expect(connectivity(ln, { sampleShape: [2] }).paths).toBe(2 * 3);
  });

  it('refuses, with ERR_TYPE naming the layer, what mixes units in ways the unit graph cannot express', () => {
    const refused: Array<[string, Module, number[], RegExp]> = [
      ['Transpose of the unit axis', (() => {
        const g = new Graph();
        const x = g.input('x');
        g.output('y', g.add('attn', new MatMulActs(), x, g.add('xt', new Transpose([1, 0]), x)));
        return g;
      })(), [3, 4], /'xt' \(Transpose\): it moves the first sample axis/],
      ['MatMulActs', (() => {
        const g = new Graph();
        const x = g.input('x');
        g.output('y', g.add('attn', new MatMulActs(), x, x));
        return g;
      })(), [3, 3], /'attn' \(MatMulActs\): it multiplies two activations/],
      ['Gather', new Sequential({ pick: new Gather([2, 0], [2], 0) }), [3, 4], /'pick' \(Gather\): it gathers along the first sample axis/],
      ['Slice', new Sequential({ cut: new Slice([0], [2]) }), [3, 4], /'cut' \(Slice\): it selects or reorders units/],
      ['reversing Slice', new Sequential({ rev: new Slice([-1], [-Infinity], [0], [-1]) }), [3, 4], /'rev' \(Slice\)/],
      ['ReduceMean', new Sequential({ avg: new ReduceMean([0], true) }), [3, 4], /'avg' \(ReduceMean\): it averages over the first sample axis/],
      ['ReduceMean of all', new Sequential({ avg: new ReduceMean(null, false) }), [3, 4], /'avg' \(ReduceMean\)/],
      ['ConstantPad', new Sequential({ pad: new ConstantPad([1, 0, 0, 0], 0) }), [3, 4], /'pad' \(ConstantPad\): it pads the first sample axis/],
      ['AlongAxis on features', new Sequential({ q: new AlongAxis(new Linear(4, 4), -1) }), [3, 4], /'q' \(AlongAxis\): its Linear works along sample axis 1/],
      ['AlongAxis of ReLU', new Sequential({ q: new AlongAxis(new ReLU(), 0) }), [3, 4], /'q' \(AlongAxis\): it applies a ReLU/],
      ['a constant of higher rank', new Sequential({ b: new Elementwise('add', { constant: { data: Float32Array.of(1, 2), shape: [2, 1, 1] } }) }), [3, 4], /'b' \(Elementwise\): it broadcasts a constant over/],
    ];
    for (const [label, model, sample, message] of refused) {
      const err = expectThrows(() => connectivity(model, { sampleShape: sample }), SparsennTypeError, 'ERR_TYPE', label);
      expect(err.message, label).toMatch(message);
    }
    // two activations broadcast over the unit axis: [1, 4] + [3, 4]
    const g2 = new Graph();
    const a = g2.input('a');
    const b = g2.input('b');
    g2.output('y', g2.add('sum', new Elementwise('add'), a, b));
    expect(expectThrows(() => connectivity(g2, { sampleShape: [[1, 4], [3, 4]] }), SparsennTypeError, 'ERR_TYPE', 'broadcast').message).toMatch(/'sum' \(Elementwise\): its inputs differ/);
    // an imported transformer block: its projections work along the features of each token
    expect(expectThrows(() => connectivity(importOnnx(fixture('attention_opset17.onnx')), { sampleShape: [6, 16] }), SparsennTypeError, 'ERR_TYPE', 'attention').message).toMatch(
      /AlongAxis/,
    );
  });
});
