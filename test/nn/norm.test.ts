import { describe, expect, it } from 'vitest';
import { IndexRangeError, ShapeError, SparsennTypeError } from '../../lib/errors.js';
import { BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm } from '../../lib/nn/layers/norm.js';
import type { Module, ModuleConfig } from '../../lib/nn/module.js';
import { batchNorm, groupNorm, layerNorm } from '../../lib/nn/ops/norm.js';
import { Parameter } from '../../lib/nn/parameter.js';
import { noGrad, Tensor } from '../../lib/nn/tensor.js';
import { expectThrows } from '../helpers/errors.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { mulberry32 } from '../helpers/random.js';
import { expectNear, fixture, fixtures, type Enc, type FixtureCase } from '../helpers/layer-fixtures.js';

// --- PyTorch fixtures (test/fixtures/nn/layers.json, batch-last activations) -----------------


/** The fixture's buffer keys (camelCase) to the module's, which are PyTorch's names. */
function bufferName(k: string): string {
  return ({ runningMean: 'running_mean', runningVar: 'running_var' } as Record<string, string>)[k] ?? k;
}

/**
 * Loads the case's parameters and buffers ("before"), runs forward and backward(upstream), and
 * compares the output, the gradients and the buffers ("after") with PyTorch.
 */
function runFixture(c: FixtureCase, layer: Module): void {
  layer.train(c.training);
  const state: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [k, v] of Object.entries(c.params)) state[k] = { shape: v.shape, data: Float32Array.from(v.data) };
  for (const [k, v] of Object.entries(c.buffers?.before ?? {})) state[bufferName(k)] = { shape: v.shape, data: Float32Array.from(v.data) };
  // the fixture has no num_batches_tracked (it does not affect the outputs)
  layer.loadStateDict(state, { strict: !c.buffers });
  const inputs = c.inputs.map((e, i) => Tensor.from(e.data, e.shape, `input${i}` in c.grads));
  const out = layer.forward(...inputs);
  expect([...out.shape], `${c.name} output shape`).toEqual(c.output.shape);
  expectNear(out.data, c.output.data, `${c.name} output`);
  out.backward(Float32Array.from(c.upstream.data));
  inputs.forEach((t, i) => {
    const g = c.grads[`input${i}`];
    if (g) expectNear(t.grad!, g.data, `${c.name} d input${i}`);
  });
  const params = new Map(layer.namedParameters());
  for (const [k, g] of Object.entries(c.grads)) {
    if (k.startsWith('input')) continue;
    const p = params.get(k);
    expect(p, `${c.name}: parameter ${k}`).toBeDefined();
    expectNear(p!.grad!, g.data, `${c.name} d ${k}`);
  }
  const buffers = new Map(layer.namedBuffers());
  for (const [k, b] of Object.entries(c.buffers?.after ?? {})) expectNear(buffers.get(bufferName(k))!.data, b.data, `${c.name} buffer ${k} after`);
}

const normLayers: Record<string, (c: ModuleConfig) => Module> = {
  BatchNorm1d: (c) => BatchNorm1d.fromConfig(c),
  BatchNorm2d: (c) => BatchNorm2d.fromConfig(c),
  LayerNorm: (c) => LayerNorm.fromConfig(c),
  GroupNorm: (c) => GroupNorm.fromConfig(c),
};

describe('norm layers against PyTorch', () => {
  const names = [
    'batchnorm1d_train',
    'batchnorm1d_eval',
    'batchnorm2d_train',
    'batchnorm2d_eval',
    'layernorm_1d',
    'layernorm_3d',
    'groupnorm_2groups',
    'groupnorm_1group',
    'groupnorm_per_channel',
  ];
  for (const name of names)
    it(name, () => {
      const c = fixture(name);
      runFixture(c, normLayers[c.layer]!(c.config));
    });

  it('batch norm buffers change in training and stay put in eval', () => {
    for (const name of ['batchnorm2d_train', 'batchnorm2d_eval']) {
      const c = fixture(name);
      const before = c.buffers!.before['runningMean']!.data;
      const after = c.buffers!.after['runningMean']!.data;
      expect(after.some((v, i) => v !== before[i])).toBe(c.training);
    }
  });
});

// --- gradients -------------------------------------------------------------------------------

function randomTensor(shape: number[], seed: number, requiresGrad = true, scale = 1, offset = 0): Tensor {
  const rng = mulberry32(seed);
  const t = Tensor.zeros(shape, requiresGrad);
  for (let i = 0; i < t.size; i++) t.data[i] = (rng() * 2 - 1) * scale + offset;
  return t;
}

/** Parameters away from their defaults (weight ~1, bias ~0), so every term of the gradient shows. */
function randomizeParams(m: Module, seed: number): void {
  const rng = mulberry32(seed);
  for (const [name, p] of m.namedParameters()) for (let i = 0; i < p.size; i++) p.data[i] = (name.endsWith('weight') ? 1 : 0) + (rng() - 0.5);
}

describe('norm gradients match finite differences', () => {
  for (const training of [true, false]) {
    const mode = training ? 'train' : 'eval';
    it(`BatchNorm1d [C, n] (${mode})`, () => {
      const bn = new BatchNorm1d(3);
      randomizeParams(bn, 1);
      bn.runningMean!.set([0.1, -0.2, 0.3]);
      bn.runningVar!.set([0.5, 1.5, 2]);
      bn.train(training);
      const x = randomTensor([3, 5], 2, true, 1.5, 0.3);
      gradCheck(() => bn.forward(x), [x, bn.weight!, bn.bias!]);
    });
    it(`BatchNorm1d [C, L, n] (${mode})`, () => {
      const bn = new BatchNorm1d(2);
      randomizeParams(bn, 3);
      bn.train(training);
      const x = randomTensor([2, 3, 4], 4, true, 1.5);
      gradCheck(() => bn.forward(x), [x, bn.weight!, bn.bias!]);
    });
    it(`BatchNorm2d (${mode})`, () => {
      const bn = new BatchNorm2d(3);
      randomizeParams(bn, 5);
      bn.train(training);
      const x = randomTensor([3, 3, 2, 4], 6, true, 2, -0.5);
      gradCheck(() => bn.forward(x), [x, bn.weight!, bn.bias!], { maxPerInput: 40 });
    });
  }
  it('BatchNorm without affine, and without running stats in eval (batch statistics)', () => {
    const bn = new BatchNorm2d(2, { affine: false, trackRunningStats: false }).eval();
    const x = randomTensor([2, 2, 3, 3], 7, true, 2);
    gradCheck(() => bn.forward(x), [x]);
  });
  it('LayerNorm [F] and [C, H, W], with and without affine', () => {
    const ln = new LayerNorm([5]);
    randomizeParams(ln, 8);
    const x = randomTensor([5, 3], 9, true, 2, 0.4);
    gradCheck(() => ln.forward(x), [x, ln.weight!, ln.bias!]);
    const ln3 = new LayerNorm([2, 3, 2]);
    randomizeParams(ln3, 10);
    const x3 = randomTensor([2, 3, 2, 3], 11, true, 2);
    gradCheck(() => ln3.forward(x3), [x3, ln3.weight!, ln3.bias!], { maxPerInput: 40 });
    const plain = new LayerNorm(4, { elementwiseAffine: false });
    expect(plain.parameters()).toEqual([]);
    const x4 = randomTensor([4, 2], 12, true, 2);
    gradCheck(() => plain.forward(x4), [x4]);
  });
  it('GroupNorm [C, H, W, n] and [C, n], with and without affine', () => {
    const gn = new GroupNorm(2, 6);
    randomizeParams(gn, 13);
    const x = randomTensor([6, 2, 2, 3], 14, true, 2, 0.2);
    gradCheck(() => gn.forward(x), [x, gn.weight!, gn.bias!], { maxPerInput: 40 });
    const gn1 = new GroupNorm(3, 6);
    randomizeParams(gn1, 15);
    const x1 = randomTensor([6, 4], 16, true, 2);
    gradCheck(() => gn1.forward(x1), [x1, gn1.weight!, gn1.bias!]);
    const plain = new GroupNorm(1, 4, { affine: false });
    expect(plain.parameters()).toEqual([]);
    const x2 = randomTensor([4, 3, 2], 17, true, 2);
    gradCheck(() => plain.forward(x2), [x2]);
  });
  it('ops with parameters only (input without gradient)', () => {
    const x = randomTensor([4, 2, 3], 18, false, 2);
    const w = new Parameter(Float32Array.from([1.2, 0.7, 0.9, 1.1]), [4]);
    const b = new Parameter(Float32Array.from([0.1, -0.3, 0.2, 0]), [4]);
    gradCheck(() => groupNorm(x, 2, w, b), [w, b]);
    gradCheck(() => batchNorm(x, w, b, { training: true }), [w, b]);
    expect(x.grad).toBeNull();
  });
  it('a pruned norm weight gets a zero gradient', () => {
    const ln = new LayerNorm([4]);
    ln.weight!.setMask(Uint8Array.from([1, 0, 1, 1]));
    const x = randomTensor([4, 3], 19);
    ln.forward(x).backward(new Float32Array(12).fill(1).map((_, i) => i - 5));
    expect(ln.weight!.grad![1]).toBe(0);
    expect(ln.weight!.grad![0]).not.toBe(0);
  });
});

describe('BatchNorm running statistics and modes', () => {
  it('updates running stats with momentum and the unbiased variance; eval uses them', () => {
    const bn = new BatchNorm1d(2, { momentum: 0.25 });
    const x = Tensor.from([1, 2, 3, 6, -2, 4, 0, 2], [2, 4]);
    bn.forward(x);
    // channel 0: mean 3, unbiased var 14/3; channel 1: mean 1, unbiased var 20/3
    expect(bn.runningMean![0]).toBeCloseTo(0.75 * 0 + 0.25 * 3, 6);
    expect(bn.runningMean![1]).toBeCloseTo(0.25 * 1, 6);
    expect(bn.runningVar![0]).toBeCloseTo(0.75 + 0.25 * (14 / 3), 5);
    expect(bn.runningVar![1]).toBeCloseTo(0.75 + 0.25 * (20 / 3), 5);
    const saved = [...bn.runningMean!, ...bn.runningVar!];
    bn.eval();
    const y = bn.forward(x).data;
    expect([...bn.runningMean!, ...bn.runningVar!]).toEqual(saved);
    const expected = [...x.data].map((v, i) => {
      const c = i < 4 ? 0 : 1;
      return (v - bn.runningMean![c]!) / Math.sqrt(bn.runningVar![c]! + 1e-5);
    });
    expectNear(y, expected, 'eval output');
  });

  it('training normalises with the biased batch variance (mean 0, variance 1 per channel)', () => {
    const bn = new BatchNorm2d(3);
    const y = bn.forward(randomTensor([3, 4, 4, 5], 20, false, 3, 1)).data;
    const M = 80;
    for (let c = 0; c < 3; c++) {
      let s = 0;
      let sq = 0;
      for (let i = 0; i < M; i++) s += y[c * M + i]!;
      for (let i = 0; i < M; i++) sq += (y[c * M + i]! - s / M) ** 2;
      expect(s / M).toBeCloseTo(0, 5);
      expect(sq / M).toBeCloseTo(1, 3);
    }
  });

  it('updates running stats under noGrad too (as PyTorch does), and buffers are in the state dict', () => {
    const bn = new BatchNorm1d(2);
    noGrad(() => bn.forward(Tensor.from([1, 3, 5, 7], [2, 2])));
    expect([...bn.runningMean!]).toEqual([Math.fround(0.2), Math.fround(0.6)]);
    const sd = bn.stateDict();
    expect(Object.keys(sd).sort()).toEqual(['bias', 'num_batches_tracked', 'running_mean', 'running_var', 'weight']);
    const other = new BatchNorm1d(2);
    other.loadStateDict(sd);
    expect([...other.runningMean!]).toEqual([...bn.runningMean!]);
    bn.resetRunningStats();
    expect([...bn.runningMean!, ...bn.runningVar!]).toEqual([0, 0, 1, 1]);
  });

  it('without trackRunningStats has no buffers and uses batch statistics in eval', () => {
    const bn = new BatchNorm1d(2, { trackRunningStats: false });
    expect(bn.namedBuffers()).toEqual([]);
    expect(bn.runningMean).toBeNull();
    const x = randomTensor([2, 6], 21, false, 2);
    const a = bn.forward(x).data;
    const b = bn.eval().forward(x).data;
    expect([...b]).toEqual([...a]);
  });
});

describe('configs and errors', () => {
  it('config() round-trips through fromConfig, with PyTorch defaults', () => {
    const layers: Array<[Module, (c: ModuleConfig) => Module]> = [
      [new BatchNorm1d(4, { eps: 1e-3, momentum: 0.2, affine: false }), (c) => BatchNorm1d.fromConfig(c)],
      [new BatchNorm2d(3, { trackRunningStats: false }), (c) => BatchNorm2d.fromConfig(c)],
      [new LayerNorm([2, 3], { elementwiseAffine: false }), (c) => LayerNorm.fromConfig(c)],
      [new GroupNorm(2, 4, { eps: 1e-4 }), (c) => GroupNorm.fromConfig(c)],
    ];
    for (const [layer, from] of layers) {
      const c = layer.config();
      expect(c.type).toBe(layer.constructor.name);
      expect(from(c).config()).toEqual(c);
    }
    expect(new BatchNorm2d(8).config()).toEqual({ type: 'BatchNorm2d', numFeatures: 8, eps: 1e-5, momentum: 0.1, affine: true, trackRunningStats: true });
    expect(new LayerNorm(5).config()).toEqual({ type: 'LayerNorm', normalizedShape: [5], eps: 1e-5, elementwiseAffine: true });
    expect(new GroupNorm(2, 4).config()).toEqual({ type: 'GroupNorm', numGroups: 2, numChannels: 4, eps: 1e-5, affine: true });
    const bn = new BatchNorm2d(3);
    expect([...bn.weight!.data, ...bn.bias!.data, ...bn.runningMean!, ...bn.runningVar!]).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
    expect(bn.namedParameters().map(([n]) => n)).toEqual(['weight', 'bias']);
    expect(bn.namedBuffers().map(([n, b]) => [n, b.shape])).toEqual([
      ['running_mean', [3]],
      ['running_var', [3]],
      ['num_batches_tracked', []],
    ]);
  });

  it('typed errors for bad shapes', () => {
    expectThrows(() => new BatchNorm1d(3).forward(Tensor.zeros([4, 2])), ShapeError, 'ERR_SHAPE', 'BN1d channels');
    expectThrows(() => new BatchNorm1d(3).forward(Tensor.zeros([3, 2, 2, 2])), ShapeError, 'ERR_SHAPE', 'BN1d rank 4');
    expectThrows(() => new BatchNorm2d(3).forward(Tensor.zeros([3, 2])), ShapeError, 'ERR_SHAPE', 'BN2d rank 2');
    expectThrows(() => new BatchNorm1d(3).forward(Tensor.zeros([3, 1])), ShapeError, 'ERR_SHAPE', 'BN one value per channel');
    expect(new BatchNorm1d(3).eval().forward(Tensor.zeros([3, 1])).shape).toEqual([3, 1]);
    const err = expectThrows(() => new LayerNorm([4, 5]).forward(Tensor.zeros([4, 6, 2])), ShapeError, 'ERR_SHAPE', 'LN shape');
    expect(err.message).toContain('LayerNorm([4, 5]) needs input [4, 5, batch], got [4, 6, 2]');
    expectThrows(() => new LayerNorm([4]).forward(Tensor.zeros([4])), ShapeError, 'ERR_SHAPE', 'LN without batch');
    expectThrows(() => new GroupNorm(2, 4).forward(Tensor.zeros([6, 2, 2, 1])), ShapeError, 'ERR_SHAPE', 'GN channels');
    expectThrows(() => new GroupNorm(3, 4), ShapeError, 'ERR_SHAPE', 'GN groups do not divide channels');
    expectThrows(() => groupNorm(Tensor.zeros([4, 2]), 3, null, null), ShapeError, 'ERR_SHAPE', 'groupNorm op groups');
    expectThrows(() => layerNorm(Tensor.zeros([4, 2]), [4], Tensor.zeros([3]), null), ShapeError, 'ERR_SHAPE', 'layerNorm weight size');
    expectThrows(
      () => batchNorm(Tensor.zeros([2, 3]), null, null, { training: true, runningMean: new Float32Array(3), runningVar: new Float32Array(3) }),
      ShapeError,
      'ERR_SHAPE',
      'running stats size',
    );
    expectThrows(() => batchNorm(Tensor.zeros([2, 3]), null, null, { training: false }), SparsennTypeError, 'ERR_TYPE', 'eval without stats');
  });

  it('typed errors for bad options', () => {
    expectThrows(() => new BatchNorm1d(0), IndexRangeError, 'ERR_RANGE', 'numFeatures 0');
    expectThrows(() => new BatchNorm1d(2.5), IndexRangeError, 'ERR_RANGE', 'numFeatures 2.5');
    expectThrows(() => new BatchNorm1d(2, { momentum: 1.5 }), IndexRangeError, 'ERR_RANGE', 'momentum');
    expectThrows(() => new BatchNorm2d(2, { eps: 0 }), IndexRangeError, 'ERR_RANGE', 'eps 0');
    expectThrows(() => new BatchNorm2d(2, { eps: 'x' as never }), SparsennTypeError, 'ERR_TYPE', 'eps string');
    expectThrows(() => new BatchNorm2d(2, { affine: 1 as never }), SparsennTypeError, 'ERR_TYPE', 'affine not boolean');
    expectThrows(() => new LayerNorm([]), SparsennTypeError, 'ERR_TYPE', 'LN empty shape');
    expectThrows(() => new LayerNorm([3, 0]), IndexRangeError, 'ERR_RANGE', 'LN zero dim');
    expectThrows(() => new GroupNorm(0, 4), IndexRangeError, 'ERR_RANGE', 'GN 0 groups');
    expectThrows(() => new GroupNorm(2, 4, { eps: -1 }), IndexRangeError, 'ERR_RANGE', 'GN eps');
  });
});
