/**
 * flopsReport / formatFlopsReport (lib/analysis/flops.ts): MACs and FLOPs per sample, dense and
 * with masks, for a conv net with a strided padded conv, a grouped dilated conv, batch norm,
 * activations, max and average pooling with padding (window inputs inside the image counted
 * by hand), a masked Linear and softmax — every number worked out by hand below; the cheap
 * layers' costs (the table in the file note) on small models; a Linear called twice counts
 * twice; agreement with sparsityReport's FLOPs on Pruner-made masks; unknown layers and
 * computation outside modules are reported, not silently counted as 0; typed errors; the model
 * is left as it was. The ONNX importer's modules: AlongAxis (a Linear or LayerNorm per position,
 * cross-checked against the equivalent 1x1 Conv2d), MatMulActs, Elementwise, Unary, Clip, the
 * data-movement ops, ReduceMean, Resize and ConvTranspose2d (cross-checked against its adjoint
 * Conv2d), each by hand; every imported fixture counted in full.
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
import { AlongAxis, ConstantPad } from '../../lib/nn/layers/axis.js';
import { Clip, ConvTranspose2d, Elementwise, Gather, Identity, MatMulActs, ReduceMean, Resize, Slice, Transpose, Unary } from '../../lib/nn/layers/tensor-ops.js';
import { importOnnx } from '../../lib/io/onnx/import.js';
import { Module, type ModuleConfig } from '../../lib/nn/module.js';
import { Random } from '../../lib/nn/random.js';
import type { Tensor } from '../../lib/nn/tensor.js';
import { Pruner } from '../../lib/prune/pruner.js';
import { sparsityReport } from '../../lib/prune/report.js';
import { expectThrows } from '../helpers/errors.js';
import { cnn } from '../helpers/prune-models.js';
import { fixture } from '../io/onnx-helpers.js';

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

// ------------------------------------------------------------- the ONNX importer's modules --

/** A Linear whose mask keeps the weights where keep(i) holds. */
function maskedLinear(inF: number, outF: number, keep: (i: number) => boolean, bias = true, seed = 1): Linear {
  const l = new Linear(inF, outF, { bias, rng: new Random(seed) });
  l.weight.setMask(Uint8Array.from({ length: inF * outF }, (_, i) => (keep(i) ? 1 : 0)));
  return l;
}

const scalar = (v: number) => ({ data: Float32Array.of(v), shape: [] as number[] });

describe('flopsReport on AlongAxis and the tensor-op modules, by hand', () => {
  it('an attention-like graph: Linear and LayerNorm per position, MatMulActs, element-wise ops, softmax, mean', () => {
    const g = new Graph();
    const x = g.input('x'); // [4 tokens, 6 features]
    const q = g.add('q', new AlongAxis(maskedLinear(6, 5, (i) => i < 12), -1), x); // [4, 5]
    const ln = g.add('ln', new AlongAxis(new LayerNorm(5), 1), q);
    const t = g.add('t', new AlongAxis(maskedLinear(4, 3, (i) => i % 12 < 5, false), 0), ln); // along the tokens: [3, 5]
    const tr = g.add('tr', new Transpose([1, 0]), t); // [5, 3]
    const mm = g.add('mm', new MatMulActs(), tr, t); // [5, 3] x [3, 5] -> [5, 5]
    const sq = g.add('sq', new Elementwise('pow', { constant: scalar(2) }), mm);
    const cube = g.add('cube', new Elementwise('pow', { constant: scalar(3) }), mm);
    const sum = g.add('sum', new Elementwise('add'), sq, cube);
    const div = g.add('div', new Elementwise('div', { constant: { data: Float32Array.from([1, 2, 3, 4, 5]), shape: [5] } }), sum);
    const sm = g.add('sm', new Softmax(-1), div);
    g.output('y', g.add('mean', new ReduceMean([1], false), sm)); // [5]
    const r = flopsReport(g, { sampleShape: [4, 6] });
    expect(r.layers.map(pick)).toEqual([
      // 30 weights (12 kept) at each of 4 tokens; 20 bias adds
      { name: 'q', outputShape: [4, 5], macsDense: 120, macsSparse: 48, flopsDense: 260, flopsSparse: 116, transcendentals: 0 },
      // 4 groups of 5: 5 * 5 + 1 + 2 * 5 each, one rsqrt each
      cheap('ln', [4, 5], 144, 4),
      // 12 weights (5 kept) at each of 5 feature columns, no bias
      { name: 't', outputShape: [3, 5], macsDense: 60, macsSparse: 25, flopsDense: 120, flopsSparse: 50, transcendentals: 0 },
      cheap('tr', [5, 3], 0),
      // 25 outputs, each a dot product over 3: no mask on activations
      { name: 'mm', outputShape: [5, 5], macsDense: 75, macsSparse: 75, flopsDense: 150, flopsSparse: 150, transcendentals: 0 },
      cheap('sq', [5, 5], 25), // x^2: one multiply
      cheap('cube', [5, 5], 0, 25), // x^3 as exp(3 log x)
      cheap('sum', [5, 5], 25),
      cheap('div', [5, 5], 25), // the [5] constant broadcast over 25 outputs
      cheap('sm', [5, 5], 5 * (4 * 5 - 2), 25),
      cheap('mean', [5], 25), // 5 means of 5: 4 adds and a scale each
    ]);
    expect([r.macsDense, r.macsSparse, r.flopsDense, r.flopsSparse, r.transcendentals]).toEqual([255, 148, 864, 650, 54]);
    // the AlongAxis is one call: no computation outside modules, its Linear's weight reported
    expect([r.complete, r.uncounted]).toEqual([true, []]);
    const [lq, , lt] = r.layers;
    expect([lq!.type, lq!.params, lq!.nnz, lq!.positions, lq!.inputShapes]).toEqual(['AlongAxis', 30, 12, 4, [[4, 6]]]);
    expect([lt!.params, lt!.nnz, lt!.positions]).toEqual([12, 5, 5]);
  });

  it('a Linear along the channel axis costs what the 1x1 Conv2d with the same mask costs', () => {
    const keep = (i: number) => (i * 7) % 5 < 2;
    const along = flopsReport(new Sequential(new AlongAxis(maskedLinear(3, 5, keep), 0)), { sampleShape: [3, 4, 6] });
    const conv = new Conv2d(3, 5, 1, { rng: new Random(2) });
    conv.weight.setMask(Uint8Array.from({ length: 15 }, (_, i) => (keep(i) ? 1 : 0)));
    const c = flopsReport(new Sequential(conv), { sampleShape: [3, 4, 6] });
    expect([along.macsDense, along.macsSparse, along.flopsDense, along.flopsSparse]).toEqual([c.macsDense, c.macsSparse, c.flopsDense, c.flopsSparse]);
    // 15 weights, 6 kept, at 24 positions, plus 120 bias adds
    expect([along.macsDense, along.macsSparse, along.flopsSparse]).toEqual([360, 144, 408]);
    expect(along.layers[0]!.positions).toBe(24);
  });

  it('unary ops, clip, pow of a constant base, data movement and means of several axes', () => {
    const model = new Sequential({
      exp: new Unary('exp'),
      neg: new Unary('neg'),
      rec: new Unary('reciprocal'),
      abs: new Unary('abs'),
      sqrt: new Unary('sqrt'),
      log: new Unary('log'),
      erf: new Unary('erf'),
      relu6: new Clip(0, 6),
      lo: new Clip(0, Infinity),
      open: new Clip(),
      exp2: new Elementwise('pow', { constant: scalar(2), constantFirst: true }), // 2^x
      id: new Identity(),
      pad: new ConstantPad([0, 1, 0, 0, 0, 2], -Infinity), // [2, 3, 4] -> [2, 4, 6]
      slice: new Slice([0], [1]), // [1, 4, 6]
      gather: new Gather([0, 5], [2], 2), // [1, 4, 2]
      tr: new Transpose([2, 1, 0]), // [2, 4, 1]
      none: new ReduceMean([], true), // no axis: a copy
      mean: new ReduceMean([0, 1], true), // [1, 1, 1]: one mean of 8
      bcast: new Elementwise('mul', { constant: { data: Float32Array.of(1, 2, 3), shape: [3, 1, 1, 1] } }), // [3, 1, 1, 1]
    });
    const r = flopsReport(model, { sampleShape: [2, 3, 4] });
    expect(r.layers.map((l) => [l.name, l.outputShape, l.flopsDense, l.transcendentals])).toEqual([
      ['exp', [2, 3, 4], 0, 24],
      ['neg', [2, 3, 4], 0, 0],
      ['rec', [2, 3, 4], 24, 0],
      ['abs', [2, 3, 4], 0, 0],
      ['sqrt', [2, 3, 4], 0, 24],
      ['log', [2, 3, 4], 0, 24],
      ['erf', [2, 3, 4], 0, 24],
      ['relu6', [2, 3, 4], 48, 0],
      ['lo', [2, 3, 4], 24, 0],
      ['open', [2, 3, 4], 0, 0],
      ['exp2', [2, 3, 4], 0, 24],
      ['id', [2, 3, 4], 0, 0],
      ['pad', [2, 4, 6], 0, 0],
      ['slice', [1, 4, 6], 0, 0],
      ['gather', [1, 4, 2], 0, 0],
      ['tr', [2, 4, 1], 0, 0],
      ['none', [2, 4, 1], 0, 0],
      ['mean', [1, 1, 1], 8, 0],
      ['bcast', [3, 1, 1, 1], 3, 0],
    ]);
    expect([r.macsDense, r.flopsDense, r.transcendentals, r.uncounted, r.complete]).toEqual([0, 24 + 48 + 24 + 8 + 3, 120, [], true]);
  });

  it('ConvTranspose2d: every weight at every input position (as its adjoint Conv2d), masks and exact zeros; Resize', () => {
    // input [4, 3, 3]; weight [4, 6 / 2, 3, 3] = 108; output (3 - 1) * 2 - 2 + 3 = 5: [6, 5, 5]
    const up = new ConvTranspose2d(4, 6, 3, { stride: 2, padding: 1, groups: 2, rng: new Random(4) });
    up.weight.setMask(Uint8Array.from({ length: 108 }, (_, i) => (i % 3 === 0 ? 1 : 0))); // 36 kept
    const model = new Sequential({
      up,
      lin: new Resize({ mode: 'linear', scales: [2, 2] }), // [6, 10, 10]
      near: new Resize({ mode: 'nearest', sizes: [7, 9] }),
    });
    const r = flopsReport(model, { sampleShape: [4, 3, 3] });
    expect(r.layers.map(pick)).toEqual([
      // 108 weights (36 kept) at 9 input positions; 150 bias adds
      { name: 'up', outputShape: [6, 5, 5], macsDense: 972, macsSparse: 324, flopsDense: 2094, flopsSparse: 798, transcendentals: 0 },
      cheap('lin', [6, 10, 10], 7 * 600), // 4 taps: 4 multiplies and 3 adds per output
      cheap('near', [6, 7, 9], 0),
    ]);
    const l = r.layers[0]!;
    // the same columns kept in all 4 rows of [4, 27]: sparsityReport's 'block 4x1'
    expect([l.type, l.params, l.nnz, l.positions, l.structure, l.counted]).toEqual(['ConvTranspose2d', 108, 36, 9, 'block 4x1', true]);
    // the adjoint: Conv2d(6, 4, 3, stride 2, padding 1, groups 2) maps [6, 5, 5] to [4, 3, 3] with as many products
    const adj = flopsReport(new Sequential(new Conv2d(6, 4, 3, { stride: 2, padding: 1, groups: 2, rng: new Random(5) })), { sampleShape: [6, 5, 5] });
    expect(adj.layers[0]!.outputShape).toEqual([4, 3, 3]);
    expect(adj.macsDense).toBe(r.layers[0]!.macsDense);
    // without a mask, exact zeros count as pruned
    const bare = new ConvTranspose2d(2, 2, [1, 2], { bias: false, rng: new Random(6) });
    bare.weight.data.set([0, 1, 0, 2, 3, 0, 0, 0]); // 3 nonzero of 8
    const b = flopsReport(new Sequential(bare), { sampleShape: [2, 4, 5] });
    // output [2, 4, 6]; 8 weights at 20 input positions
    expect(pick(b.layers[0]!)).toEqual({ name: '0', outputShape: [2, 4, 6], macsDense: 160, macsSparse: 60, flopsDense: 320, flopsSparse: 120, transcendentals: 0 });
    expect(b.layers[0]!.nnz).toBe(3);
  });

  it('an AlongAxis of a layer it cannot count is listed as uncounted', () => {
    const r = flopsReport(new Sequential({ fc: new Linear(3, 3, { rng: new Random(1) }), odd: new AlongAxis(new Custom(), 0) }), { sampleShape: [3] });
    expect(r.uncounted).toEqual(['odd (AlongAxis of Custom)']);
    expect(r.layers[1]!.counted).toBe(false);
    expect(r.flopsDense).toBe(2 * 9 + 3);
  });

  it('every module of the imported ONNX fixtures is counted, with nothing computed outside modules', () => {
    const cases: Array<[string, number[]]> = [
      ['attention_opset17.onnx', [6, 16]],
      ['decoder_opset13.onnx', [4, 5, 6]],
      ['misc_opset17.onnx', [2, 5, 6]],
      ['misc_opset13.onnx', [10]],
      ['misc_opset11.onnx', [2, 8]],
      ['legacy_opset9.onnx', [2, 6, 6]],
      ['resblock_opset17.onnx', [3, 10, 10]],
    ];
    for (const [file, sample] of cases) {
      const r = flopsReport(importOnnx(fixture(file)), { sampleShape: sample });
      expect([r.uncounted, r.complete], file).toEqual([[], true]);
      expect(r.flopsDense, file).toBeGreaterThan(0);
    }
  });
});
