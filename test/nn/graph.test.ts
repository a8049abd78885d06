/**
 * Graph: a residual block against the same computation written with the functional ops, its
 * gradients (skip connection included) against finite differences, a two-input two-output
 * graph run by name and by position, and the typed errors of building and running graphs.
 */
import { describe, expect, it } from 'vitest';
import {
  Add,
  Concat,
  Conv2d,
  FormatError,
  functional,
  Graph,
  Linear,
  manualSeed,
  noGrad,
  ReLU,
  Sequential,
  ShapeError,
  SparsennTypeError,
  Tanh,
  Tensor,
  type Module,
} from '../../lib/index.js';
import { expectThrows } from '../helpers/errors.js';
import { expectSameBits } from '../helpers/expect.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { mulberry32 } from '../helpers/random.js';

function randomTensor(shape: number[], seed: number, requiresGrad = false): Tensor {
  const rng = mulberry32(seed);
  const t = Tensor.zeros(shape, requiresGrad);
  for (let i = 0; i < t.size; i++) t.data[i] = rng() * 2 - 1;
  return t;
}

function residualBlock(channels: number): { g: Graph; conv: Conv2d } {
  const g = new Graph();
  const x = g.input('image');
  const conv = new Conv2d(channels, channels, 3, { padding: 1 });
  const h = g.add('conv', conv, x);
  const r = g.add('relu', new ReLU(), h);
  const s = g.add('residual', new Add(), r, x);
  g.output('features', s);
  return { g, conv };
}

/**
 * Finite differences step over ReLU's kink when a pre-activation lies within the step's reach
 * (one weight, bias or input element enters each pre-activation through at most one term with
 * a coefficient below 1 in magnitude here, so a step of eps moves it by less than eps). The
 * checks use eps = 1e-3 and assert that no pre-activation is that close to zero, so they stay
 * deterministic and meaningful.
 */
const EPS = 1e-3;
function expectAwayFromKink(conv: Conv2d, x: Tensor): void {
  const z = noGrad(() => functional.conv2d(x, conv.weight, conv.bias, { padding: 1 }));
  let min = Infinity;
  for (const v of z.data) min = Math.min(min, Math.abs(v));
  expect(min, 'smallest |pre-activation|').toBeGreaterThan(EPS);
}

describe('residual block (x -> conv -> relu -> add(x))', () => {
  it('equals the functional computation, bit for bit', () => {
    manualSeed(1);
    const { g, conv } = residualBlock(3);
    const x = randomTensor([3, 5, 6, 2], 2);
    const got = noGrad(() => g.forward(x));
    const want = noGrad(() => functional.add(functional.relu(functional.conv2d(x, conv.weight, conv.bias, { padding: 1 })), x));
    expect(got.shape).toEqual([3, 5, 6, 2]);
    expectSameBits(got.data, want.data, 'residual');
    // run() gives the same under the output's name
    const out = noGrad(() => g.run({ image: x }));
    expect(Object.keys(out)).toEqual(['features']);
    expectSameBits(out['features']!.data, want.data, 'run');
    expect(g.namedParameters().map(([n]) => n)).toEqual(['conv.weight', 'conv.bias']);
  });

  it('gradients match finite differences for the input (both paths) and the conv parameters', () => {
    manualSeed(3);
    const { g, conv } = residualBlock(2);
    const x = randomTensor([2, 4, 4, 2], 4, true);
    expectAwayFromKink(conv, x);
    gradCheck(() => g.forward(x), [x, conv.weight, conv.bias!], { eps: EPS });
    // both branches really are exercised: some units are active, some are not
    const z = noGrad(() => functional.conv2d(x, conv.weight, conv.bias, { padding: 1 })).data;
    expect(z.some((v) => v > 0)).toBe(true);
    expect(z.some((v) => v < 0)).toBe(true);
  });

  it('the skip connection alone carries the gradient when the conv branch is dead', () => {
    manualSeed(5);
    const { g, conv } = residualBlock(2);
    conv.weight.data.fill(0);
    conv.bias!.data.fill(-1); // relu(conv(x)) = relu(-1) = 0: no gradient through the branch
    const x = randomTensor([2, 3, 3, 2], 6, true);
    const seed = randomTensor([2, 3, 3, 2], 7).data;
    g.forward(x).backward(seed);
    expectSameBits(x.grad!, seed, 'identity gradient');
    expect(conv.weight.grad === null || conv.weight.grad.every((v) => v === 0)).toBe(true);
  });

  it('with a live branch the input gradient is the branch gradient plus the seed', () => {
    manualSeed(8);
    const { g, conv } = residualBlock(2);
    const x = randomTensor([2, 3, 3, 2], 9, true);
    const seed = randomTensor([2, 3, 3, 2], 10).data;
    g.forward(x).backward(seed);
    const viaGraph = x.grad!.slice();
    x.grad = null;
    functional.relu(functional.conv2d(x, conv.weight, conv.bias, { padding: 1 })).backward(seed);
    const branch = x.grad!;
    for (let i = 0; i < seed.length; i++) expect(viaGraph[i]).toBeCloseTo(branch[i]! + seed[i]!, 6);
  });

  it('a masked conv inside the graph keeps zero gradients for pruned weights', () => {
    manualSeed(11);
    const { g, conv } = residualBlock(2);
    const mask = new Uint8Array(conv.weight.size).map((_, i) => (i % 3 === 0 ? 0 : 1));
    conv.weight.setMask(mask);
    const x = randomTensor([2, 4, 4, 1], 12, true);
    expectAwayFromKink(conv, x);
    gradCheck(() => g.forward(x), [x, conv.weight, conv.bias!], { eps: EPS });
  });
});

describe('two inputs, two outputs', () => {
  function build(): { g: Graph; fa: Linear; fb: Linear } {
    manualSeed(20);
    const g = new Graph();
    const a = g.input('a');
    const b = g.input('b');
    const fa = new Linear(4, 5);
    const fb = new Linear(3, 5);
    const ha = g.add('fa', fa, a);
    const hb = g.add('fb', fb, b);
    const sum = g.add('sum', new Add(), ha, hb);
    const cat = g.add('cat', new Concat(), ha, b);
    const act = g.add('act', new Tanh(), cat);
    g.output('sum', sum);
    g.output('features', act);
    return { g, fa, fb };
  }

  function byHand(fa: Linear, fb: Linear, a: Tensor, b: Tensor): { sum: Tensor; features: Tensor } {
    const ha = fa.forward(a);
    return { sum: functional.add(ha, fb.forward(b)), features: functional.tanh(functional.concat([ha, b], 0)) };
  }

  it('declares inputs and outputs in order', () => {
    const { g } = build();
    expect(g.inputs).toEqual(['a', 'b']);
    expect(g.outputs).toEqual(['sum', 'features']);
  });

  it('run() by name and by position gives every output; forward() gives the first', () => {
    const { g, fa, fb } = build();
    const a = randomTensor([4, 3], 21);
    const b = randomTensor([3, 3], 22);
    const want = noGrad(() => byHand(fa, fb, a, b));
    const named = noGrad(() => g.run({ b, a })); // key order does not matter
    const positional = noGrad(() => g.run([a, b]));
    for (const out of [named, positional]) {
      expect(Object.keys(out)).toEqual(['sum', 'features']);
      expect(out['sum']!.shape).toEqual([5, 3]);
      expect(out['features']!.shape).toEqual([8, 3]);
      expectSameBits(out['sum']!.data, want.sum.data, 'sum');
      expectSameBits(out['features']!.data, want.features.data, 'features');
    }
    const first = noGrad(() => g.forward(a, b));
    expectSameBits(first.data, want.sum.data, 'forward');
    // extra named inputs are ignored
    const extra = noGrad(() => g.run({ a, b, c: randomTensor([1, 1], 1) }));
    expectSameBits(extra['sum']!.data, want.sum.data, 'extra input');
  });

  it('gradients through both outputs accumulate where a value fans out', () => {
    const { g, fa, fb } = build();
    const a = randomTensor([4, 2], 23, true);
    const b = randomTensor([3, 2], 24, true);
    const both = () => {
      const out = g.run({ a, b });
      return functional.concat([out['sum']!, out['features']!], 0);
    };
    gradCheck(both, [a, b, fa.weight, fa.bias!, fb.weight, fb.bias!]);
  });

  it('an output that is also consumed by a later node is still returned', () => {
    const g = new Graph();
    const x = g.input('x');
    const h = g.add('h', new Linear(3, 3), x);
    const y = g.add('y', new ReLU(), h);
    g.output('y', y);
    g.output('h', h);
    const xt = randomTensor([3, 4], 25);
    const out = noGrad(() => g.run([xt]));
    expect(out['h']).toBeInstanceOf(Tensor);
    expectSameBits(out['y']!.data, functional.relu(out['h']!).data, 'y from h');
  });

  it('an input may itself be an output, and a node may consume a value twice', () => {
    const g = new Graph();
    const x = g.input('x');
    const d = g.add('double', new Add(), x, x);
    g.output('double', d);
    g.output('x', x);
    const xt = randomTensor([2, 3], 26, true);
    const out = g.run([xt]);
    expect(out['x']).toBe(xt);
    for (let i = 0; i < xt.size; i++) expect(out['double']!.data[i]).toBe(xt.data[i]! * 2);
    out['double']!.backward(new Float32Array(6).fill(1));
    expect(Array.from(xt.grad!)).toEqual(new Array(6).fill(2));
  });
});

describe('graph errors', () => {
  it('consuming a value of another graph is a FormatError, and nothing is added', () => {
    const g1 = new Graph();
    const x1 = g1.input('x');
    const g2 = new Graph();
    g2.input('x');
    const err = expectThrows(() => g2.add('r', new ReLU(), x1), FormatError, 'ERR_FORMAT', 'foreign value');
    expect(err.message).toContain("'r'");
    expect(g2.children()).toEqual([]);
    // and the name was not claimed: it can still be used
    expect(() => g2.add('r', new ReLU(), { graph: g2, name: 'x' })).not.toThrow();
    expectThrows(() => g2.output('y', x1), FormatError, 'ERR_FORMAT', 'foreign output');
  });

  it('consuming an undefined value is a FormatError', () => {
    const g = new Graph();
    const x = g.input('x');
    expectThrows(() => g.add('r', new ReLU(), { graph: g, name: 'nope' }), FormatError, 'ERR_FORMAT', 'unknown name');
    expectThrows(() => g.add('r', new ReLU(), undefined as unknown as typeof x), FormatError, 'ERR_FORMAT', 'undefined');
    expectThrows(() => g.add('r', new ReLU(), x, null as unknown as typeof x), FormatError, 'ERR_FORMAT', 'null');
    expectThrows(() => g.output('y', { graph: g, name: 'nope' }), FormatError, 'ERR_FORMAT', 'undefined output');
    expect(g.children()).toEqual([]);
  });

  it('duplicate names are FormatErrors (inputs, nodes, outputs)', () => {
    const g = new Graph();
    const x = g.input('x');
    expectThrows(() => g.input('x'), FormatError, 'ERR_FORMAT', 'input twice');
    const r = g.add('r', new ReLU(), x);
    expectThrows(() => g.add('r', new Tanh(), x), FormatError, 'ERR_FORMAT', 'node twice');
    expectThrows(() => g.add('x', new Tanh(), x), FormatError, 'ERR_FORMAT', 'node named like an input');
    expectThrows(() => g.input('r'), FormatError, 'ERR_FORMAT', 'input named like a node');
    g.output('y', r);
    expectThrows(() => g.output('y', x), FormatError, 'ERR_FORMAT', 'output twice');
    expect(g.children().map(([n, m]) => [n, m.constructor.name])).toEqual([['r', 'ReLU']]);
    expect(g.inputs).toEqual(['x']);
  });

  it('bad names, non-modules and nodes without inputs are SparsennTypeErrors', () => {
    const g = new Graph();
    const x = g.input('x');
    expectThrows(() => g.input('a.b'), SparsennTypeError, 'ERR_TYPE', 'dotted input');
    expectThrows(() => g.input(''), SparsennTypeError, 'ERR_TYPE', 'empty input');
    expectThrows(() => g.add('a.b', new ReLU(), x), SparsennTypeError, 'ERR_TYPE', 'dotted node');
    expectThrows(() => g.add('m', {} as unknown as Module, x), SparsennTypeError, 'ERR_TYPE', 'not a module');
    expectThrows(() => g.add('m', new ReLU()), SparsennTypeError, 'ERR_TYPE', 'no inputs');
  });

  it('a graph without outputs cannot run', () => {
    const g = new Graph();
    const x = g.input('x');
    g.add('r', new ReLU(), x);
    const xt = randomTensor([2, 2], 30);
    expectThrows(() => g.run([xt]), FormatError, 'ERR_FORMAT', 'run');
    expectThrows(() => g.forward(xt), FormatError, 'ERR_FORMAT', 'forward');
  });

  it('the wrong number of positional inputs is a ShapeError naming the inputs', () => {
    const g = new Graph();
    const a = g.input('a');
    const b = g.input('b');
    g.output('s', g.add('s', new Add(), a, b));
    const t = randomTensor([2, 2], 31);
    const err = expectThrows(() => g.run([t]), ShapeError, 'ERR_SHAPE', 'one of two');
    expect(err.message).toContain('a, b');
    expectThrows(() => g.run([t, t, t]), ShapeError, 'ERR_SHAPE', 'three of two');
    expectThrows(() => g.forward(t), ShapeError, 'ERR_SHAPE', 'forward one of two');
  });

  it('a missing named input is a ShapeError naming it', () => {
    const g = new Graph();
    const a = g.input('a');
    const b = g.input('b');
    g.output('s', g.add('s', new Add(), a, b));
    const t = randomTensor([2, 2], 32);
    const err = expectThrows(() => g.run({ a: t }), ShapeError, 'ERR_SHAPE', 'missing b');
    expect(err.message).toContain("'b'");
  });

  it('a shape error inside a node propagates with its type', () => {
    const g = new Graph();
    const x = g.input('x');
    g.output('y', g.add('fc', new Linear(3, 2), x));
    expectThrows(() => g.forward(randomTensor([4, 2], 33)), ShapeError, 'ERR_SHAPE');
  });

  it('a Graph nests inside a Sequential and keeps its node names in parameter paths', () => {
    const { g } = residualBlock(2);
    const s = new Sequential({ block: g });
    expect(s.namedParameters().map(([n]) => n)).toEqual(['block.conv.weight', 'block.conv.bias']);
    const x = randomTensor([2, 3, 3, 1], 34);
    expectSameBits(noGrad(() => s.forward(x)).data, noGrad(() => g.forward(x)).data, 'nested');
  });
});
