/**
 * flopsReport / formatFlopsReport (lib/analysis/flops.ts): MACs and FLOPs per sample, dense and
 * with masks, for a conv net with a strided padded conv, a grouped dilated conv, batch norm,
 * activations, max and average pooling with padding (window inputs inside the image counted
 * by hand), a masked Linear and softmax — every number worked out by hand below; the cheap
 * layers' costs (the table in the file note) on small models; a Linear called twice counts
 * twice; agreement with sparsityReport's FLOPs on Pruner-made masks; unknown layers and
 * computation outside modules are reported, not silently counted as 0; typed errors; the model
 * is left as it was.
 */
import { describe, expect, it } from 'vitest';
import { flopsReport, formatFlopsReport, type LayerFlops } from '../../lib/analysis/flops.js';
import { ShapeError, SparsennTypeError } from '../../lib/errors.js';
import { Graph } from '../../lib/nn/graph.js';
import { scale } from '../../lib/nn/functional.js';
import {
  Add,
  Concat,
  Dropout,
  Flatten,
  GELU,
  HardSigmoid,
  HardSwish,
  LeakyReLU,
  ReLU,
  Sigmoid,
  Softmax,
  Tanh,
} from '../../lib/nn/layers/activations.js';
import { Conv2d } from '../../lib/nn/layers/conv.js';
import { Linear } from '../../lib/nn/layers/linear.js';
import { BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm } from '../../lib/nn/layers/norm.js';
import { AvgPool2d, GlobalAvgPool, MaxPool2d } from '../../lib/nn/layers/pool.js';
import { Sequential } from '../../lib/nn/layers/sequential.js';
import { Module, type ModuleConfig } from '../../lib/nn/module.js';
import { Random } from '../../lib/nn/random.js';
import type { Tensor } from '../../lib/nn/tensor.js';
import { Pruner } from '../../lib/prune/pruner.js';
import { sparsityReport } from '../../lib/prune/report.js';
import { expectThrows } from '../helpers/errors.js';
import { cnn } from '../helpers/prune-models.js';

type Expected = Pick<LayerFlops, 'name' | 'outputShape' | 'macsDense' | 'macsSparse' | 'flopsDense' | 'flopsSparse' | 'transcendentals'>;

function pick(l: LayerFlops): Expected {
  const { name, outputShape, macsDense, macsSparse, flopsDense, flopsSparse, transcendentals } = l;
  return { name, outputShape, macsDense, macsSparse, flopsDense, flopsSparse, transcendentals };
}

/** A cheap layer: the same cost dense and sparse. */
function cheap(name: string, outputShape: number[], flops: number, transcendentals = 0): Expected {
  return { name, outputShape, macsDense: 0, macsSparse: 0, flopsDense: flops, flopsSparse: flops, transcendentals };
}

describe('flopsReport on a conv net, by hand', () => {
  it('counts weight products per output position, biases, and each cheap layer', () => {
    // input [3, 9, 9]
    const conv1 = new Conv2d(3, 4, 3, { stride: 2, padding: 1, rng: new Random(1) });
    conv1.weight.setMask(Uint8Array.from({ length: 108 }, (_, i) => (i % 3 === 0 ? 1 : 0))); // 36 kept
    const conv2 = new Conv2d(4, 6, 3, { groups: 2, dilation: 2, padding: 2, bias: false, rng: new Random(2) });
    for (let i = 0; i < 8; i++) conv2.weight.data[i * 13] = 0; // no mask: 8 exact zeros, 100 nonzeros
    const fc = new Linear(54, 10, { rng: new Random(3) });
    fc.weight.setMask(Uint8Array.from({ length: 540 }, (_, i) => (i < 200 ? 1 : 0)));
    const model = new Sequential({
      conv1,
      bn: new BatchNorm2d(4),
      act: new LeakyReLU(0.1),
      conv2,
      relu: new ReLU(),
      pool: new MaxPool2d(2, { stride: 2, padding: 1 }),
      avg: new AvgPool2d(3, { stride: 1, padding: 1 }),
      gelu: new GELU(),
      flat: new Flatten(),
      fc,
      sm: new Softmax(),
    });
    const r = flopsReport(model, { sampleShape: [3, 9, 9] });
    const expected: Expected[] = [
      // OH = floor((9 + 2 - 2 - 1) / 2) + 1 = 5: 25 positions; 108 weights, 36 kept; bias 100 adds
      { name: 'conv1', outputShape: [4, 5, 5], macsDense: 2700, macsSparse: 900, flopsDense: 5500, flopsSparse: 1900, transcendentals: 0 },
      cheap('bn', [4, 5, 5], 200),
      cheap('act', [4, 5, 5], 200),
      // dilation 2, padding 2: OH = (5 + 4 - 4 - 1) + 1 = 5; weight [6, 2, 3, 3] = 108, 100 nonzero; no bias
      { name: 'conv2', outputShape: [6, 5, 5], macsDense: 2700, macsSparse: 2500, flopsDense: 5400, flopsSparse: 5000, transcendentals: 0 },
      cheap('relu', [6, 5, 5], 150),
      // OH = floor((5 + 2 - 2) / 2) + 1 = 3; windows hold 1, 2, 2 rows (and columns) inside: 5 * 5 = 25
      // inputs per channel, 150 in all, minus one per output (54): 96 compares
      cheap('pool', [6, 3, 3], 96),
      // 3x3 windows with padding 1 on 3x3: 2, 3, 2 rows inside: 7 * 7 = 49 per channel
      cheap('avg', [6, 3, 3], 294),
      cheap('gelu', [6, 3, 3], 4 * 54, 54),
      cheap('flat', [54], 0),
      { name: 'fc', outputShape: [10], macsDense: 540, macsSparse: 200, flopsDense: 1090, flopsSparse: 410, transcendentals: 0 },
      // max 9, subtract 10, sum 9, divide 10; 10 exp
      cheap('sm', [10], 38, 10),
    ];
    expect(r.layers.map(pick)).toEqual(expected);
    const sum = (f: (e: Expected) => number) => expected.reduce((a, e) => a + f(e), 0);
    expect(r.macsDense).toBe(5940);
    expect(r.macsSparse).toBe(3600);
    expect(r.flopsDense).toBe(sum((e) => e.flopsDense));
    expect(r.flopsDense).toBe(13184);
    expect(r.flopsSparse).toBe(8504);
    expect(r.transcendentals).toBe(64);
    expect(r.speedup).toBeCloseTo(13184 / 8504, 12);
    expect(r.uncounted).toEqual([]);
    expect(r.complete).toBe(true);
    const c1 = r.layers[0]!;
    // i % 3 === 0 over rows of 27 keeps the same columns in all 4 rows: sparsityReport calls it 'block 4x1'
    expect([c1.type, c1.params, c1.nnz, c1.positions, c1.structure, c1.counted]).toEqual(['Conv2d', 108, 36, 25, 'block 4x1', true]);
    expect(c1.inputShapes).toEqual([[3, 9, 9]]);
    expect([r.layers[1]!.params, r.layers[1]!.positions, r.layers[1]!.structure]).toEqual([0, null, null]);

    const text = formatFlopsReport(r);
    for (const name of ['conv1', 'bn', 'pool', 'fc', 'sm', 'total']) expect(text).toContain(name);
    expect(text).toContain('13.18 k'); // FLOPs dense total
    expect(text).toContain(`${(13184 / 8504).toFixed(2)}x`);
  });

  it('weight FLOPs equal sparsityReport\'s on Pruner-made masks', () => {
    const model = cnn();
    new Pruner(model, { sampleShape: [3, 8, 8], onWarning: () => {} }).pruneTo(0.7);
    const r = flopsReport(model, { sampleShape: [3, 8, 8] });
    const s = sparsityReport(model, { sampleShape: [3, 8, 8] });
    const weighted = r.layers.filter((l) => l.params > 0);
    expect(weighted.map((l) => `${l.name}.weight`)).toEqual(s.layers.map((l) => l.name));
    weighted.forEach((l, i) => {
      expect(2 * l.macsDense).toBe(s.layers[i]!.flopsDense);
      expect(2 * l.macsSparse).toBe(s.layers[i]!.flopsSparse);
      expect([l.nnz, l.positions, l.structure]).toEqual([s.layers[i]!.nnz, s.layers[i]!.positions, s.layers[i]!.structure]);
    });
    expect(2 * r.macsSparse).toBe(s.flopsSparse);
    expect(r.macsSparse).toBeLessThan(r.macsDense);
  });
});

describe('flopsReport on the cheap layers', () => {
  it('activations and normalisations, per the table in the file note', () => {
    const model = new Sequential(
      new Linear(8, 8, { bias: false, rng: new Random(1) }),
      new Tanh(),
      new Sigmoid(),
      new HardSwish(),
      new HardSigmoid(),
      new GELU('tanh'),
      new LayerNorm(8),
      new LayerNorm(8, { elementwiseAffine: false }),
      new Dropout(0.5),
      new BatchNorm1d(8, { trackRunningStats: false }),
    );
    const r = flopsReport(model, { sampleShape: [8] });
    expect(r.layers.map((l) => [l.type, l.flopsDense, l.transcendentals])).toEqual([
      ['Linear', 128, 0],
      ['Tanh', 0, 8],
      ['Sigmoid', 16, 8],
      ['HardSwish', 40, 0],
      ['HardSigmoid', 32, 0],
      ['GELU', 64, 8],
      // one group of 8: 5 * 8 + 1, plus 2 * 8 affine; one rsqrt
      ['LayerNorm', 57, 1],
      ['LayerNorm', 41, 1],
      ['Dropout', 0, 0],
      // batch statistics: 8 groups of 1 value, affine
      ['BatchNorm1d', 8 * (5 + 1 + 2), 8],
    ]);
  });

  it('a Graph: a Linear used twice counts twice; Add, Concat, GroupNorm, GlobalAvgPool', () => {
    const g = new Graph();
    const x = g.input('x');
    const fc = new Linear(6, 6, { rng: new Random(1) });
    fc.weight.setMask(Uint8Array.from({ length: 36 }, (_, i) => (i % 2 ? 1 : 0)));
    const a = g.add('fc', fc, x);
    const b = g.add('again', fc, a);
    const s = g.add('sum', new Add(), a, b);
    g.output('y', g.add('cat', new Concat(), s, b));
    const r = flopsReport(g, { sampleShape: [6] });
    expect(r.layers.map((l) => [l.name, l.macsDense, l.macsSparse, l.flopsDense, l.flopsSparse])).toEqual([
      ['fc', 36, 18, 78, 42],
      ['fc', 36, 18, 78, 42],
      ['sum', 0, 0, 6, 6],
      ['cat', 0, 0, 0, 0],
    ]);
    expect(r.macsDense).toBe(72);

    const conv = new Sequential(new GroupNorm(2, 4), new GlobalAvgPool());
    const c = flopsReport(conv, { sampleShape: [4, 3, 3] });
    // 2 groups of 2 * 9 = 18 values: 5 * 18 + 1 + 2 * 18 each; the pool adds up 36 inputs
    expect(c.layers.map((l) => [l.flopsDense, l.transcendentals])).toEqual([
      [2 * (90 + 1 + 36), 2],
      [36, 0],
    ]);
  });
});

class Custom extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
  config(): ModuleConfig {
    return { type: 'Custom' };
  }
}

class Outside extends Module {
  readonly fc = this.registerModule('fc', new Linear(3, 3, { rng: new Random(1) }));
  forward(x: Tensor): Tensor {
    return scale(this.fc.forward(x), 2);
  }
  config(): ModuleConfig {
    return { type: 'Outside' };
  }
}

describe('flopsReport tells what it could not count', () => {
  it('lists unknown layers and flags computation outside modules', () => {
    const r = flopsReport(new Sequential({ fc: new Linear(3, 3, { rng: new Random(1) }), odd: new Custom() }), { sampleShape: [3] });
    expect(r.uncounted).toEqual(['odd (Custom)']);
    expect(r.layers[1]!.counted).toBe(false);
    expect(r.flopsDense).toBe(2 * 9 + 3);
    expect(formatFlopsReport(r)).toMatch(/not counted.*odd \(Custom\)/);
    const o = flopsReport(new Outside(), { sampleShape: [3] });
    expect(o.complete).toBe(false);
    expect(formatFlopsReport(o)).toMatch(/outside its modules/);
  });

  it('typed errors for bad arguments; the model is left as it was', () => {
    const fc = new Linear(3, 3, { rng: new Random(1) });
    const model = new Sequential(fc, new Dropout(0.5));
    expectThrows(() => flopsReport(new Sequential(new Conv2d(1, 1, 1))), SparsennTypeError, 'ERR_TYPE', 'conv without sampleShape');
    // an MLP needs no shape: [inFeatures] of its first Linear
    expect(flopsReport(model)).toEqual(flopsReport(model, { sampleShape: [3] }));
    expectThrows(() => flopsReport(model, null as never), SparsennTypeError, 'ERR_TYPE', 'null options');
    expectThrows(() => flopsReport(model, { sampleShape: [0] }), ShapeError, 'ERR_SHAPE', 'zero dimension');
    expectThrows(() => flopsReport(model, { sampleShape: [4] }), ShapeError, 'ERR_SHAPE', 'wrong width');
    expectThrows(() => flopsReport(null as never, { sampleShape: [3] }), SparsennTypeError, 'ERR_TYPE', 'no model');
    model.train();
    flopsReport(model, { sampleShape: [3] });
    expect(model.training && fc.training).toBe(true);
    expect(Object.prototype.hasOwnProperty.call(fc, 'forward')).toBe(false);
  });
});
