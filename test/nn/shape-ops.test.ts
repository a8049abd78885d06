import { describe, expect, it } from 'vitest';
import { ShapeError, SparsennTypeError } from '../../lib/errors.js';
import { Add, Concat, Flatten, Reshape } from '../../lib/nn/layers/activations.js';
import type { Module, ModuleConfig } from '../../lib/nn/module.js';
import { add, concat, flatten, mul, reshape, scale, tanh } from '../../lib/nn/ops/elementwise.js';
import { Tensor } from '../../lib/nn/tensor.js';
import { expectThrows } from '../helpers/errors.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { mulberry32 } from '../helpers/random.js';

function randomTensor(shape: number[], seed: number, requiresGrad = true): Tensor {
  const rng = mulberry32(seed);
  const t = Tensor.zeros(shape, requiresGrad);
  for (let i = 0; i < t.size; i++) t.data[i] = rng() * 2 - 1;
  return t;
}

/** 0, 1, 2, ... in a tensor of the given shape. */
function iota(shape: number[], requiresGrad = false): Tensor {
  const t = Tensor.zeros(shape, requiresGrad);
  for (let i = 0; i < t.size; i++) t.data[i] = i;
  return t;
}

describe('add, mul, scale', () => {
  it('compute element-wise and pass gradient checks', () => {
    const a = randomTensor([4, 3], 1);
    const b = randomTensor([4, 3], 2);
    expect([...add(a, b).data]).toEqual([...a.data].map((v, i) => Math.fround(v + b.data[i]!)));
    expect([...mul(a, b).data]).toEqual([...a.data].map((v, i) => Math.fround(v * b.data[i]!)));
    expect([...scale(a, -2).data]).toEqual([...a.data].map((v) => Math.fround(v * -2)));
    gradCheck(() => add(a, b), [a, b]);
    gradCheck(() => mul(a, b), [a, b]);
    gradCheck(() => scale(a, 0.7), [a]);
  });

  it('a tensor used twice gets both gradients (add(x, x) = 2x, mul(x, x) = x^2)', () => {
    const x = randomTensor([3, 2], 3);
    gradCheck(() => add(x, x), [x]);
    gradCheck(() => mul(x, x), [x]);
    x.grad = null;
    add(x, x).backward(new Float32Array(6).fill(1));
    expect([...x.grad!]).toEqual([2, 2, 2, 2, 2, 2]);
  });

  it('only the operand that needs a gradient gets one', () => {
    const a = randomTensor([2, 2], 4);
    const b = randomTensor([2, 2], 5, false);
    mul(a, b).backward(new Float32Array(4).fill(1));
    expect([...a.grad!]).toEqual([...b.data]);
    expect(b.grad).toBeNull();
  });

  it('typed errors', () => {
    expectThrows(() => add(Tensor.zeros([2, 3]), Tensor.zeros([3, 2])), ShapeError, 'ERR_SHAPE', 'add shapes');
    expectThrows(() => mul(Tensor.zeros([6]), Tensor.zeros([2, 3])), ShapeError, 'ERR_SHAPE', 'mul shapes');
    expectThrows(() => add(Tensor.zeros([2]), null as never), SparsennTypeError, 'ERR_TYPE', 'add null');
    expectThrows(() => scale(Tensor.zeros([2]), Number.NaN), SparsennTypeError, 'ERR_TYPE', 'scale NaN');
  });
});

describe('concat', () => {
  it('joins [F, n] tensors along the features', () => {
    const a = Tensor.from([1, 2, 3, 4], [2, 2]);
    const b = Tensor.from([5, 6], [1, 2]);
    const y = concat([a, b]);
    expect([...y.shape]).toEqual([3, 2]);
    expect([...y.data]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('joins [C, H, W, n] tensors along channels, rows and columns', () => {
    const a = iota([2, 2, 3, 2]);
    const b = iota([1, 2, 3, 2]).data.map((v) => 100 + v);
    const bt = Tensor.from(b, [1, 2, 3, 2]);
    const c0 = concat([a, bt], 0);
    expect([...c0.shape]).toEqual([3, 2, 3, 2]);
    expect([...c0.data]).toEqual([...a.data, ...b]);
    // along W (axis 2): each (c, h) row of a (3 x n values) then the matching row of a second tensor
    const d = Tensor.from(iota([2, 2, 1, 2]).data.map((v) => -1 - v), [2, 2, 1, 2]);
    const c2 = concat([a, d], -1);
    expect([...c2.shape]).toEqual([2, 2, 4, 2]);
    const expected: number[] = [];
    for (let r = 0; r < 4; r++) expected.push(...a.data.slice(r * 6, r * 6 + 6), ...d.data.slice(r * 2, r * 2 + 2));
    expect([...c2.data]).toEqual(expected);
  });

  for (const axis of [0, 1, 2])
    it(`gradients match finite differences (axis ${axis}, three inputs, one without gradient)`, () => {
      const shapes = [
        [2, 3, 2, 2],
        [2, 3, 2, 2],
        [2, 3, 2, 2],
      ];
      shapes[1]![axis] = 1;
      shapes[2]![axis] = 3;
      const xs = shapes.map((s, i) => randomTensor(s, 10 + i, i !== 1));
      gradCheck(() => concat(xs, axis), [xs[0]!, xs[2]!]);
      expect(xs[1]!.grad).toBeNull();
    });

  it('Concat layer forwards its inputs', () => {
    const a = randomTensor([3, 2], 20);
    const b = randomTensor([4, 2], 21);
    const layer = new Concat();
    gradCheck(() => layer.forward(a, b), [a, b]);
    expect(layer.forward(a).data).toEqual(a.data);
  });

  it('typed errors', () => {
    expectThrows(() => concat([]), SparsennTypeError, 'ERR_TYPE', 'empty');
    expectThrows(() => concat([Tensor.zeros([2, 3]), Tensor.zeros([2, 4])]), ShapeError, 'ERR_SHAPE', 'batch differs');
    expectThrows(() => concat([Tensor.zeros([2, 3, 2]), Tensor.zeros([2, 4, 2])], 0), ShapeError, 'ERR_SHAPE', 'other axis differs');
    expectThrows(() => concat([Tensor.zeros([2, 3]), Tensor.zeros([2, 3, 1])]), ShapeError, 'ERR_SHAPE', 'rank differs');
    expectThrows(() => concat([Tensor.zeros([2, 3])], 1), ShapeError, 'ERR_SHAPE', 'batch axis');
    expectThrows(() => concat([Tensor.zeros([3])]), ShapeError, 'ERR_SHAPE', 'no sample axis');
    expectThrows(() => new Concat(0.5), SparsennTypeError, 'ERR_TYPE', 'Concat axis');
    expectThrows(() => new Concat().forward(), SparsennTypeError, 'ERR_TYPE', 'Concat no inputs');
  });
});

describe('reshape and flatten', () => {
  it('keep the batch last and the data in order', () => {
    const x = iota([2, 3, 4, 5]);
    const f = flatten(x);
    expect([...f.shape]).toEqual([24, 5]);
    expect(f.data).toEqual(x.data);
    const r = reshape(x, [4, -1]);
    expect([...r.shape]).toEqual([4, 6, 5]);
    expect([...reshape(f, [2, 3, 4]).shape]).toEqual([2, 3, 4, 5]);
    expect([...flatten(Tensor.zeros([7])).shape]).toEqual([1, 7]);
    expect([...reshape(Tensor.zeros([6, 0]), [2, 3]).shape]).toEqual([2, 3, 0]);
  });

  it('gradients pass through unchanged', () => {
    const x = randomTensor([2, 3, 2, 2], 30);
    gradCheck(() => flatten(x), [x]);
    gradCheck(() => reshape(x, [3, 4]), [x]);
    // through a following op, so the gradient really flows back through the view
    const w = randomTensor([12, 2], 32);
    gradCheck(() => tanh(mul(flatten(x), w)), [x, w]);
    gradCheck(() => concat([reshape(x, [12]), scale(flatten(x), 2)]), [x]);
  });

  it('Flatten and Reshape layers, config round trip', () => {
    const x = randomTensor([2, 2, 3, 2], 31);
    const flat = new Flatten().forward(x);
    expect([...flat.shape]).toEqual([12, 2]);
    const back = new Reshape([2, 2, 3]).forward(flat);
    expect([...back.shape]).toEqual([2, 2, 3, 2]);
    expect(back.data).toEqual(x.data);
    gradCheck(() => new Reshape([-1, 3]).forward(x), [x]);
    const layers: Array<[Module, (c: ModuleConfig) => Module]> = [
      [new Flatten(), () => Flatten.fromConfig()],
      [new Reshape([4, -1]), (c) => Reshape.fromConfig(c)],
      [new Add(), () => Add.fromConfig()],
      [new Concat(1), (c) => Concat.fromConfig(c)],
    ];
    for (const [layer, from] of layers) {
      const c = layer.config();
      expect(c.type).toBe(layer.constructor.name);
      expect(from(c).config()).toEqual(c);
    }
    expect(new Reshape([4, -1]).config()).toEqual({ type: 'Reshape', shape: [4, -1] });
    expect(new Concat().config()).toEqual({ type: 'Concat', axis: 0 });
  });

  it('typed errors', () => {
    const x = Tensor.zeros([2, 3, 4]);
    const err = expectThrows(() => reshape(x, [5]), ShapeError, 'ERR_SHAPE', 'size mismatch');
    expect(err.message).toContain('[2, 3, 4]');
    expectThrows(() => reshape(x, [4, -1]), ShapeError, 'ERR_SHAPE', 'cannot infer');
    expectThrows(() => reshape(x, [-1, -1]), ShapeError, 'ERR_SHAPE', 'two -1');
    expectThrows(() => reshape(x, [2.5, 2]), ShapeError, 'ERR_SHAPE', 'fractional dim');
    expectThrows(() => reshape(new Tensor(new Float32Array(1), []), [1]), ShapeError, 'ERR_SHAPE', 'scalar');
    expectThrows(() => new Reshape([2, -2]), ShapeError, 'ERR_SHAPE', 'Reshape -2');
    expectThrows(() => new Reshape('2,3' as never), SparsennTypeError, 'ERR_TYPE', 'Reshape string');
    expectThrows(() => new Flatten().forward(new Tensor(new Float32Array(1), [])), ShapeError, 'ERR_SHAPE', 'flatten scalar');
  });
});

describe('Add layer', () => {
  it('adds a residual and passes a gradient check', () => {
    const a = randomTensor([3, 2, 2], 40);
    const b = randomTensor([3, 2, 2], 41);
    const layer = new Add();
    gradCheck(() => layer.forward(a, b), [a, b]);
    gradCheck(() => layer.forward(a, tanh(a)), [a]);
  });

  it('typed errors', () => {
    expectThrows(() => new Add().forward(Tensor.zeros([2, 2]), Tensor.zeros([2, 3])), ShapeError, 'ERR_SHAPE', 'shapes');
    expectThrows(() => (new Add() as Module).forward(Tensor.zeros([2, 2])), SparsennTypeError, 'ERR_TYPE', 'one input');
  });
});
