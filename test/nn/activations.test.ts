import { describe, expect, it } from 'vitest';
import { IndexRangeError, ShapeError, SparsennTypeError } from '../../lib/errors.js';
import { manualSeed } from '../../lib/nn/init.js';
import {
  Dropout,
  GELU,
  HardSigmoid,
  HardSwish,
  LeakyReLU,
  ReLU,
  Sigmoid,
  Softmax,
  Tanh,
} from '../../lib/nn/layers/activations.js';
import type { Module, ModuleConfig } from '../../lib/nn/module.js';
import {
  dropout,
  dropoutWithMask,
  erf,
  erfc,
  gelu,
  hardsigmoid,
  hardswish,
  leakyRelu,
  relu,
  sigmoid,
  softmax,
  tanh,
} from '../../lib/nn/ops/elementwise.js';
import { Random } from '../../lib/nn/random.js';
import { noGrad, Tensor } from '../../lib/nn/tensor.js';
import { expectThrows } from '../helpers/errors.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { mulberry32 } from '../helpers/random.js';
import { expectNear, fixture, fixtures, type Enc, type FixtureCase } from '../helpers/layer-fixtures.js';

// --- PyTorch fixtures (test/fixtures/nn/layers.json, batch-last activations) -----------------


/** Loads the case's parameters, runs forward and backward(upstream), compares with PyTorch. */
function runFixture(c: FixtureCase, layer: Module): void {
  layer.train(c.training);
  const state: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [k, v] of Object.entries(c.params)) state[k] = { shape: v.shape, data: Float32Array.from(v.data) };
  layer.loadStateDict(state);
  const inputs = c.inputs.map((e, i) => Tensor.from(e.data, e.shape, `input${i}` in c.grads));
  const out = layer.forward(...inputs);
  expect([...out.shape], `${c.name} output shape`).toEqual(c.output.shape);
  expectNear(out.data, c.output.data, `${c.name} output`);
  out.backward(Float32Array.from(c.upstream.data));
  inputs.forEach((t, i) => {
    const g = c.grads[`input${i}`];
    if (g) expectNear(t.grad!, g.data, `${c.name} d input${i}`);
  });
}

const activationLayers: Record<string, (c: ModuleConfig) => Module> = {
  ReLU: () => ReLU.fromConfig(),
  LeakyReLU: (c) => LeakyReLU.fromConfig(c),
  GELU: (c) => GELU.fromConfig(c),
  Tanh: () => Tanh.fromConfig(),
  Sigmoid: () => Sigmoid.fromConfig(),
  HardSwish: () => HardSwish.fromConfig(),
  HardSigmoid: () => HardSigmoid.fromConfig(),
  Softmax: (c) => Softmax.fromConfig(c),
};

describe('activation layers against PyTorch', () => {
  for (const name of ['relu', 'leaky_relu', 'gelu', 'gelu_tanh', 'tanh', 'sigmoid', 'hardswish', 'hardsigmoid', 'softmax'])
    it(name, () => {
      const c = fixture(name);
      runFixture(c, activationLayers[c.layer]!(c.config));
    });
});

// --- gradients -------------------------------------------------------------------------------

/** Uniform values in [-range, range] kept at least `margin` away from each kink. */
function input(shape: number[], seed: number, range: number, kinks: number[] = [], margin = 0.05): Tensor {
  const rng = mulberry32(seed);
  const t = Tensor.zeros(shape, true);
  for (let i = 0; i < t.size; i++) {
    let v = (rng() * 2 - 1) * range;
    for (const k of kinks) if (Math.abs(v - k) < margin) v = k + (v >= k ? 2 * margin : -2 * margin);
    t.data[i] = v;
  }
  return t;
}

describe('activation gradients match finite differences', () => {
  const cases: Array<[string, (x: Tensor) => Tensor, number, number[]]> = [
    ['relu', relu, 2, [0]],
    ['leakyRelu', (x) => leakyRelu(x, 0.2), 2, [0]],
    ['leakyRelu default slope', (x) => leakyRelu(x), 2, [0]],
    ['gelu', (x) => gelu(x), 4, []],
    ['gelu tanh', (x) => gelu(x, 'tanh'), 4, []],
    ['tanh', tanh, 3, []],
    ['sigmoid', sigmoid, 6, []],
    ['hardswish', hardswish, 5, [-3, 3]],
    ['hardsigmoid', hardsigmoid, 5, [-3, 3]],
  ];
  for (const [name, f, range, kinks] of cases)
    it(name, () => {
      const x = input([7, 5], 11, range, kinks);
      gradCheck(() => f(x), [x]);
    });

  for (const [shape, axis] of [
    [[6, 4], 0],
    [[3, 4, 5, 2], 0],
    [[3, 4, 5, 2], 1],
    [[3, 4, 5, 2], 2],
    [[3, 4, 5, 2], -1],
  ] as Array<[number[], number]>)
    it(`softmax [${shape}] axis ${axis}`, () => {
      const x = input(shape, 5, 2);
      gradCheck(() => softmax(x, axis), [x], { maxPerInput: 60 });
    });

  it('layers through Module.forward', () => {
    const x = input([4, 3], 3, 2, [0]);
    for (const layer of [new ReLU(), new LeakyReLU(0.3), new GELU(), new GELU('tanh'), new Tanh(), new Sigmoid(), new Softmax()])
      gradCheck(() => layer.forward(x), [x]);
    const h = input([4, 3], 4, 5, [-3, 3]);
    for (const layer of [new HardSwish(), new HardSigmoid()]) gradCheck(() => layer.forward(h), [h]);
  });
});

describe('activation values', () => {
  it('relu, leakyRelu, hard functions at their branches', () => {
    const x = Tensor.from([-5, -3, -1, 0, 1, 3, 5], [7, 1]);
    expect([...relu(x).data]).toEqual([0, 0, 0, 0, 1, 3, 5]);
    expect([...leakyRelu(x, 0.5).data]).toEqual([-2.5, -1.5, -0.5, 0, 1, 3, 5]);
    expect([...hardsigmoid(x).data].map((v) => Math.round(v * 1e6) / 1e6)).toEqual([0, 0, 0.333333, 0.5, 0.666667, 1, 1]);
    expect([...hardswish(x).data].map((v) => Math.round(v * 1e6) / 1e6)).toEqual([0, 0, -0.333333, 0, 0.666667, 3, 5]);
  });

  it('sigmoid and tanh saturate without overflow', () => {
    const x = Tensor.from([-1000, -50, 0, 50, 1000], [5, 1]);
    expect([...sigmoid(x).data]).toEqual([0, Math.fround(1 / (1 + Math.exp(50))), 0.5, 1, 1]);
    expect([...tanh(x).data]).toEqual([-1, -1, 0, 1, 1]);
  });

  it('gelu tails: exact GELU is x * Phi(x), tiny but exact-signed for large negative x', () => {
    const y = gelu(Tensor.from([-10, -6, 0, 6, 10], [5, 1])).data;
    // x * erfc(-x / sqrt 2) / 2 from Python's math.erfc: Phi(-10) = 7.619853024160593e-24, Phi(-6) = 9.865876450377012e-10
    expect(Math.abs(y[0]! / (-10 * 7.619853024160593e-24) - 1)).toBeLessThan(1e-6);
    expect(Math.abs(y[1]! / (-6 * 9.865876450377012e-10) - 1)).toBeLessThan(1e-6);
    expect([y[2], y[3], y[4]]).toEqual([0, 6, 10]);
  });

  it('softmax sums to one along the axis and ignores a shift', () => {
    const x = input([3, 4, 2], 9, 3);
    for (const axis of [0, 1]) {
      const y = softmax(x, axis).data;
      const [A, B, n] = [3, 4, 2];
      for (let i = 0; i < (axis === 0 ? B : A); i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < (axis === 0 ? A : B); k++) s += y[axis === 0 ? (k * B + i) * n + j : (i * B + k) * n + j]!;
          expect(s).toBeCloseTo(1, 6);
        }
    }
    const big = Tensor.from([1000, 1001, 1002, -1000, 0, 1000], [3, 2]);
    const y = softmax(big).data;
    expect([...y].every(Number.isFinite)).toBe(true);
    expect(y[4]! + y[2]! + y[0]!).toBeCloseTo(1, 6);
  });
});

describe('erf', () => {
  // math.erf / math.erfc from CPython (correctly rounded to ~1 ulp).
  const ref: Array<[number, number, number]> = [
    [-3.5, -0.9999992569016276, 1.9999992569016276],
    [-2, -0.9953222650189527, 1.9953222650189528],
    [-1, -0.8427007929497149, 1.842700792949715],
    [-0.5, -0.5204998778130465, 1.5204998778130465],
    [-0.001, -0.0011283787909692365, 1.0011283787909693],
    [0, 0, 1],
    [1e-8, 1.1283791670955126e-8, 0.9999999887162083],
    [0.3, 0.3286267594591274, 0.6713732405408726],
    [0.99, 0.8385080695553698, 0.1614919304446302],
    [1, 0.8427007929497149, 0.15729920705028513],
    [1.5, 0.9661051464753108, 0.033894853524689274],
    [2.5, 0.999593047982555, 0.0004069520174449589],
    [3, 0.9999779095030014, 2.2090496998585438e-5],
    [4, 0.9999999845827421, 1.541725790028002e-8],
    [5, 0.9999999999984626, 1.5374597944280351e-12],
    [6, 1, 2.1519736712498916e-17],
    [8, 1, 1.1224297172982928e-29],
    [10, 1, 2.088487583762545e-45],
  ];
  it('matches reference values to ~1e-15 relative (erf and erfc)', () => {
    for (const [x, e, c] of ref) {
      expect(Math.abs(erf(x) - e), `erf(${x})`).toBeLessThanOrEqual(1e-15 * Math.abs(e));
      expect(Math.abs(erfc(x) - c), `erfc(${x})`).toBeLessThanOrEqual(2e-15 * Math.abs(c));
    }
  });

  it('matches an independent series on a dense grid (error < 1e-13, far below the 1e-7 needed)', () => {
    // erf(x) = 2/sqrt(pi) exp(-x^2) sum_k (2x^2)^k x / (1 * 3 * ... * (2k + 1)): all terms positive.
    const series = (x: number): number => {
      let term = x;
      let sum = x;
      for (let k = 1; k < 400 && Math.abs(term) > 1e-18 * Math.abs(sum); k++) {
        term *= (2 * x * x) / (2 * k + 1);
        sum += term;
      }
      return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
    };
    let worst = 0;
    for (let i = -4000; i <= 4000; i++) {
      const x = i / 1000;
      worst = Math.max(worst, Math.abs(erf(x) - series(x)));
    }
    expect(worst).toBeLessThan(1e-13);
  });

  it('is odd, monotone, and handles infinities and NaN', () => {
    for (const x of [0.1, 0.7, 1, 1.3, 2.2, 5]) expect(erf(-x)).toBe(-erf(x));
    let prev = -1;
    for (let i = -600; i <= 600; i++) {
      const v = erf(i / 100);
      expect(v).toBeGreaterThanOrEqual(prev);
      prev = v;
    }
    expect(erf(Infinity)).toBe(1);
    expect(erf(-Infinity)).toBe(-1);
    expect(erfc(Infinity)).toBe(0);
    expect(erfc(-Infinity)).toBe(2);
    expect(erf(NaN)).toBeNaN();
    expect(erfc(NaN)).toBeNaN();
  });
});

describe('Dropout', () => {
  it('drops a fraction p of 1e5 elements (within 1%) and scales the rest by 1 / (1 - p)', () => {
    const x = Tensor.from(new Float32Array(100_000).fill(1), [1000, 100]);
    for (const p of [0.1, 0.5, 0.8]) {
      const y = dropout(x, p, new Random(42)).data;
      const kept = Math.fround(1 / (1 - p));
      let dropped = 0;
      let wrong = 0;
      for (const v of y) {
        if (v === 0) dropped++;
        else if (v !== kept) wrong++;
      }
      expect(wrong, 'kept values not equal to 1 / (1 - p)').toBe(0);
      expect(Math.abs(dropped / y.length - p)).toBeLessThan(0.01);
    }
  });

  it('gradient equals mask * scale', () => {
    const p = 0.3;
    const x = input([50, 20], 2, 1, [0]);
    const y = dropout(x, p, new Random(1));
    y.backward(new Float32Array(y.size).fill(1));
    for (let i = 0; i < x.size; i++) expect(x.grad![i]).toBe(y.data[i] === 0 ? 0 : Math.fround(1 / (1 - p)));
  });

  it('with a fixed mask passes a gradient check', () => {
    const x = input([6, 4], 3, 1);
    const keep = new Uint8Array(24).map((_, i) => (i % 3 === 0 ? 0 : 1));
    gradCheck(() => dropoutWithMask(x, keep, 1.5), [x]);
  });

  it('is the identity in eval mode and active in training mode', () => {
    const layer = new Dropout(0.5, { rng: new Random(3) });
    const x = input([10, 10], 4, 1, [0]);
    layer.eval();
    const y = layer.forward(x);
    expect(y).toBe(x);
    layer.train();
    const z = layer.forward(x);
    expect(z.data.some((v) => v === 0)).toBe(true);
    expect(noGrad(() => layer.forward(x)).requiresGrad).toBe(false);
  });

  it('is reproducible from its seed (rng option or manualSeed)', () => {
    const x = Tensor.from(new Float32Array(1000).fill(1), [100, 10]);
    const a = new Dropout(0.4, { rng: new Random(9) }).forward(x).data;
    const b = new Dropout(0.4, { rng: new Random(9) }).forward(x).data;
    expect([...a]).toEqual([...b]);
    manualSeed(123);
    const c = new Dropout(0.4).forward(x).data;
    manualSeed(123);
    const d = new Dropout(0.4).forward(x).data;
    expect([...c]).toEqual([...d]);
    expect([...c]).not.toEqual([...a]);
  });

  it('p = 0 returns the input; p = 1 zeroes everything with a zero gradient', () => {
    const x = input([5, 2], 6, 1);
    expect(dropout(x, 0)).toBe(x);
    const y = dropout(x, 1, new Random(0));
    expect(y.data.every((v) => v === 0)).toBe(true);
    y.backward(new Float32Array(10).fill(1));
    expect(x.grad!.every((v) => v === 0)).toBe(true);
  });

  it('rejects bad p', () => {
    expectThrows(() => new Dropout(1.5), IndexRangeError, 'ERR_RANGE', 'p > 1');
    expectThrows(() => new Dropout(-0.1), IndexRangeError, 'ERR_RANGE', 'p < 0');
    expectThrows(() => new Dropout(Number.NaN), SparsennTypeError, 'ERR_TYPE', 'p NaN');
    expectThrows(() => dropout(Tensor.zeros([2, 2]), 2), IndexRangeError, 'ERR_RANGE', 'op p > 1');
    expectThrows(() => dropoutWithMask(Tensor.zeros([2, 2]), new Uint8Array(3), 2), ShapeError, 'ERR_SHAPE', 'mask length');
  });
});

describe('configs and errors', () => {
  it('config() round-trips through fromConfig', () => {
    const layers: Array<[Module, (c: ModuleConfig) => Module]> = [
      [new ReLU(), () => ReLU.fromConfig()],
      [new LeakyReLU(0.2), (c) => LeakyReLU.fromConfig(c)],
      [new GELU('tanh'), (c) => GELU.fromConfig(c)],
      [new Tanh(), () => Tanh.fromConfig()],
      [new Sigmoid(), () => Sigmoid.fromConfig()],
      [new HardSwish(), () => HardSwish.fromConfig()],
      [new HardSigmoid(), () => HardSigmoid.fromConfig()],
      [new Softmax(-1), (c) => Softmax.fromConfig(c)],
      [new Dropout(0.25), (c) => Dropout.fromConfig(c)],
    ];
    for (const [layer, from] of layers) {
      const c = layer.config();
      expect(c.type).toBe(layer.constructor.name);
      expect(from(c).config()).toEqual(c);
    }
    expect(new LeakyReLU().config()).toEqual({ type: 'LeakyReLU', negativeSlope: 0.01 });
    expect(new GELU().config()).toEqual({ type: 'GELU', approximate: 'none' });
    expect(new Softmax().config()).toEqual({ type: 'Softmax', axis: 0 });
    expect(new Dropout(0.1).config()).toEqual({ type: 'Dropout', p: 0.1 });
  });

  it('typed errors for bad options and shapes', () => {
    expectThrows(() => new GELU('erf' as never), SparsennTypeError, 'ERR_TYPE', 'GELU approximate');
    expectThrows(() => gelu(Tensor.zeros([2, 2]), 'fast' as never), SparsennTypeError, 'ERR_TYPE', 'gelu approximate');
    expectThrows(() => new LeakyReLU(Number.NaN), SparsennTypeError, 'ERR_TYPE', 'LeakyReLU slope');
    expectThrows(() => new Softmax(0.5), SparsennTypeError, 'ERR_TYPE', 'Softmax axis');
    expectThrows(() => softmax(Tensor.zeros([4, 3]), 1), ShapeError, 'ERR_SHAPE', 'softmax over the batch');
    expectThrows(() => softmax(Tensor.zeros([2, 3, 4, 5]), 3), ShapeError, 'ERR_SHAPE', 'softmax axis 3 of rank 4');
    expectThrows(() => softmax(Tensor.zeros([2, 3, 4, 5]), -4), ShapeError, 'ERR_SHAPE', 'softmax axis -4');
    expectThrows(() => new Softmax().forward(Tensor.zeros([5])), ShapeError, 'ERR_SHAPE', 'softmax of [n]');
    expectThrows(() => new ReLU().forward(undefined as never), SparsennTypeError, 'ERR_TYPE', 'no input');
  });
});
